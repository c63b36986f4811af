/**
 * IAM SimulatePrincipalPolicy for a role: every action on every resource, evaluated against the
 * role's inline and attached policies (plus `PolicyInputList`) and its permissions boundary (or
 * `PermissionsBoundaryPolicyInputList`), with the request context from `ContextEntries`. One
 * result per action and resource, in input order. `ResourcePolicy`, `CallerArn` and resource
 * handling options are not modelled and are refused by name; so is anything in a policy the
 * evaluator does not understand (identity-policy.ts).
 */
import type {
  EvaluationResult,
  PolicyEvaluationDecisionType,
  SimulatePrincipalPolicyCommandInput,
} from '@aws-sdk/client-iam';
import { SimError } from './errors';
import { type SimulationContext, type SourcePolicy, simulateIdentity } from './identity-policy';
import { MalformedPolicyError, type PolicyDocument, parsePolicy, UnsupportedPolicyError } from './policy';
import { parseArn } from './world';

export interface RolePolicies {
  /** Inline policies by name. */
  readonly inline: Readonly<Record<string, string>>;
  /** Attached managed policies, with their documents (undefined: the policy no longer exists). */
  readonly managed: readonly { readonly arn: string; readonly document: string | undefined }[];
  readonly boundary?: { readonly arn: string; readonly document: string | undefined };
}

const UNMODELLED = ['ResourcePolicy', 'ResourceOwner', 'CallerArn', 'ResourceHandlingOption'] as const;

function parse(text: string, where: string): PolicyDocument {
  try {
    return parsePolicy(text, 'identity');
  } catch (e) {
    if (e instanceof MalformedPolicyError) {
      throw new SimError('MalformedPolicyDocumentException', `${where}: ${e.message}`, 400);
    }
    throw e;
  }
}

function contextOf(input: SimulatePrincipalPolicyCommandInput): SimulationContext {
  const context = new Map<string, string[]>();
  for (const entry of input.ContextEntries ?? []) {
    const name = entry.ContextKeyName;
    if (!name) throw new SimError('InvalidInputException', 'A context entry has no ContextKeyName.', 400);
    const type = entry.ContextKeyType ?? 'string';
    if (!['string', 'stringList', 'boolean', 'booleanList'].includes(type)) {
      throw new SimError(
        'InvalidInputException',
        `The embedded simulator does not model context keys of type ${type} (${name}).`,
        400,
      );
    }
    const values = entry.ContextKeyValues ?? [];
    if (!type.endsWith('List') && values.length > 1) {
      throw new SimError(
        'InvalidInputException',
        `Context key ${name} of type ${type} takes one value.`,
        400,
      );
    }
    context.set(name.toLowerCase(), [...values]);
  }
  return context;
}

/** The results of one SimulatePrincipalPolicy call, each with a stable key for pagination. */
export function simulatePrincipalPolicy(
  input: SimulatePrincipalPolicyCommandInput,
  role: RolePolicies,
): { key: string; result: EvaluationResult }[] {
  for (const field of UNMODELLED) {
    if (input[field] !== undefined) {
      throw new SimError(
        'InvalidInputException',
        `The embedded simulator does not model SimulatePrincipalPolicy's ${field}.`,
        400,
      );
    }
  }
  const actions = input.ActionNames ?? [];
  if (actions.length === 0) {
    throw new SimError(
      'ValidationError',
      "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null",
    );
  }
  for (const action of actions) {
    if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) {
      throw new SimError('InvalidInputException', `Invalid action name ${action}.`, 400);
    }
  }
  const policies: SourcePolicy[] = [
    ...Object.entries(role.inline).map(([name, text]) => ({
      id: name,
      type: 'role' as const,
      document: parse(text, `inline policy ${name}`),
    })),
    ...role.managed.flatMap(({ arn, document }) =>
      document === undefined
        ? []
        : [
            {
              id: arn,
              type: parseArn(arn)?.account === 'aws' ? ('aws-managed' as const) : ('user-managed' as const),
              document: parse(document, arn),
            },
          ],
    ),
    ...(input.PolicyInputList ?? []).map((text, i) => ({
      id: `PolicyInputList.${i + 1}`,
      type: 'none' as const,
      document: parse(text, `PolicyInputList.${i + 1}`),
    })),
  ];
  const boundaries: SourcePolicy[] = input.PermissionsBoundaryPolicyInputList
    ? input.PermissionsBoundaryPolicyInputList.map((text, i) => ({
        id: `PermissionsBoundaryPolicyInputList.${i + 1}`,
        type: 'none' as const,
        document: parse(text, `PermissionsBoundaryPolicyInputList.${i + 1}`),
      }))
    : role.boundary?.document !== undefined
      ? [
          {
            id: role.boundary.arn,
            type: 'user-managed' as const,
            document: parse(role.boundary.document, role.boundary.arn),
          },
        ]
      : [];
  const context = contextOf(input);
  const resources = input.ResourceArns && input.ResourceArns.length > 0 ? input.ResourceArns : ['*'];
  const out: { key: string; result: EvaluationResult }[] = [];
  actions.forEach((action, a) => {
    resources.forEach((resource, r) => {
      let simulated;
      try {
        simulated = simulateIdentity(policies, boundaries, action, resource, context);
      } catch (e) {
        if (e instanceof UnsupportedPolicyError) {
          throw new SimError(
            'InvalidInputException',
            `The embedded simulator cannot evaluate the policies of this role: ${e.message}.`,
            400,
          );
        }
        throw e;
      }
      out.push({
        key: `${String(a).padStart(6, '0')}-${String(r).padStart(6, '0')}`,
        result: {
          EvalActionName: action,
          EvalResourceName: resource,
          EvalDecision: simulated.decision as PolicyEvaluationDecisionType,
          MatchedStatements: simulated.matched.map((p) => ({
            SourcePolicyId: p.id,
            SourcePolicyType: p.type,
          })),
          MissingContextValues: [...simulated.missing],
        },
      });
    });
  });
  return out;
}
