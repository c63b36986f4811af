import { type CfnTemplate, createIntrinsicContext, resolveIntrinsics } from '../local/engine/template';

/**
 * The AWS limits a synthesized Backstop template must stay within, and a check of one template
 * against them. The values are AWS's defaults; where a quota can be raised, the raised value is
 * given beside it, but Backstop stays within the default.
 */
export const AWS_LIMITS = {
  /** CloudFormation: a template uploaded through S3. */
  templateBytes: 1_048_576,
  resources: 500,
  outputs: 200,
  /** IAM: a managed policy document, whitespace aside. */
  managedPolicyChars: 6_144,
  /** IAM: all inline policies of one role together, whitespace aside. */
  inlinePolicyCharsPerRole: 10_240,
  /** IAM: managed policies attached to one role (a quota increase allows 20; Backstop needs 10). */
  managedPoliciesPerRole: 10,
  /** IAM: a role's trust policy, whitespace aside (a quota increase allows 4,096). */
  trustPolicyChars: 2_048,
  /** Step Functions: a state machine definition. */
  stateMachineDefinitionBytes: 1_048_576,
  /** Lambda: a function's environment variables together. */
  lambdaEnvironmentBytes: 4_096,
} as const;

/** What one template measures against each limit (the largest instance of each). */
export interface TemplateMeasures {
  readonly stackName: string;
  /** The template as `cdk synth` writes it (1-space indentation). */
  readonly templateBytes: number;
  readonly resources: number;
  readonly outputs: number;
  readonly largestManagedPolicy: { readonly name: string; readonly chars: number };
  readonly largestInlinePerRole: { readonly role: string; readonly chars: number };
  readonly mostManagedPoliciesPerRole: { readonly role: string; readonly count: number };
  readonly largestTrustPolicy: { readonly role: string; readonly chars: number };
  readonly largestStateMachineDefinition: number;
  readonly largestLambdaEnvironment: number;
}

export interface LimitFinding {
  readonly stackName: string;
  readonly limit: keyof typeof AWS_LIMITS;
  readonly actual: number;
  readonly max: number;
  readonly where: string;
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** Characters of a JSON value without whitespace, as IAM counts a policy. */
function chars(value: unknown): number {
  return JSON.stringify(value).length;
}

/**
 * Measures a synthesized template against {@link AWS_LIMITS}, with every intrinsic resolved as
 * CloudFormation would deploy it in `accountId` and `region` (policy sizes count ARNs, not
 * `Fn::Join` objects). Returns the measures and every limit exceeded.
 */
export function checkTemplateLimits(
  stackName: string,
  template: CfnTemplate,
  env: { readonly accountId: string; readonly region: string; readonly partition?: string },
): { measures: TemplateMeasures; findings: LimitFinding[] } {
  const ctx = createIntrinsicContext(template, {
    accountId: env.accountId,
    region: env.region,
    partition: env.partition,
    stackName,
    unnamedResources: 'logical-id',
  });
  const resolve = (value: unknown): unknown => resolveIntrinsics(value, ctx);
  const resources = Object.entries((template.Resources ?? {}) as Record<string, Resource>);
  const roles = new Map<string, { inline: number; managed: number; trust: number }>();
  const role = (logicalId: string) => {
    let entry = roles.get(logicalId);
    if (!entry) {
      entry = { inline: 0, managed: 0, trust: 0 };
      roles.set(logicalId, entry);
    }
    return entry;
  };
  const roleIds = (value: unknown): string[] =>
    Array.isArray(value)
      ? value.flatMap((r) =>
          typeof r === 'object' && r !== null && 'Ref' in r ? [String((r as { Ref: unknown }).Ref)] : [],
        )
      : [];
  let largestManaged = { name: '', chars: 0 };
  let largestDefinition = 0;
  let largestEnvironment = 0;
  for (const [logicalId, resource] of resources) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::Role': {
        const entry = role(logicalId);
        entry.trust = chars(resolve(props.AssumeRolePolicyDocument));
        entry.managed += Array.isArray(props.ManagedPolicyArns) ? props.ManagedPolicyArns.length : 0;
        for (const p of (props.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) {
          entry.inline += chars(resolve(p.PolicyDocument));
        }
        break;
      }
      case 'AWS::IAM::ManagedPolicy': {
        const size = chars(resolve(props.PolicyDocument));
        if (size > largestManaged.chars) {
          largestManaged = { name: String(props.ManagedPolicyName ?? logicalId), chars: size };
        }
        for (const id of roleIds(props.Roles)) role(id).managed += 1;
        break;
      }
      case 'AWS::IAM::Policy': {
        const size = chars(resolve(props.PolicyDocument));
        for (const id of roleIds(props.Roles)) role(id).inline += size;
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const definition = resolve(props.DefinitionString ?? props.Definition);
        largestDefinition = Math.max(
          largestDefinition,
          Buffer.byteLength(typeof definition === 'string' ? definition : JSON.stringify(definition)),
        );
        break;
      }
      case 'AWS::Lambda::Function': {
        const variables = (props.Environment as { Variables?: unknown } | undefined)?.Variables;
        if (variables) {
          const resolved = resolve(variables) as Record<string, unknown>;
          const size = Object.entries(resolved).reduce(
            (sum, [k, v]) => sum + k.length + String(typeof v === 'string' ? v : JSON.stringify(v)).length,
            0,
          );
          largestEnvironment = Math.max(largestEnvironment, size);
        }
        break;
      }
      default:
        break;
    }
  }
  const most = <K extends 'inline' | 'managed' | 'trust'>(key: K) => {
    let best = { role: '', value: 0 };
    for (const [id, entry] of roles) if (entry[key] > best.value) best = { role: id, value: entry[key] };
    return best;
  };
  const inline = most('inline');
  const managed = most('managed');
  const trust = most('trust');
  const measures: TemplateMeasures = {
    stackName,
    templateBytes: Buffer.byteLength(JSON.stringify(template, undefined, 1)),
    resources: resources.length,
    outputs: Object.keys((template as { Outputs?: object }).Outputs ?? {}).length,
    largestManagedPolicy: largestManaged,
    largestInlinePerRole: { role: inline.role, chars: inline.value },
    mostManagedPoliciesPerRole: { role: managed.role, count: managed.value },
    largestTrustPolicy: { role: trust.role, chars: trust.value },
    largestStateMachineDefinition: largestDefinition,
    largestLambdaEnvironment: largestEnvironment,
  };
  const findings: LimitFinding[] = [];
  const over = (limit: keyof typeof AWS_LIMITS, actual: number, where: string) => {
    if (actual > AWS_LIMITS[limit])
      findings.push({ stackName, limit, actual, max: AWS_LIMITS[limit], where });
  };
  over('templateBytes', measures.templateBytes, 'the template');
  over('resources', measures.resources, 'the template');
  over('outputs', measures.outputs, 'the template');
  over('managedPolicyChars', largestManaged.chars, largestManaged.name);
  over('inlinePolicyCharsPerRole', inline.value, inline.role);
  over('managedPoliciesPerRole', managed.value, managed.role);
  over('trustPolicyChars', trust.value, trust.role);
  over('stateMachineDefinitionBytes', largestDefinition, 'the state machine');
  over('lambdaEnvironmentBytes', largestEnvironment, 'a function');
  return { measures, findings };
}
