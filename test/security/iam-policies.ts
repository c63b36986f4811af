/**
 * Extracts IAM policies from synthesized templates as concrete JSON and evaluates requests against
 * them with @cloud-copilot/iam-simulate. Intrinsics are resolved by the project's one template
 * resolver (the local engine's `createIntrinsicContext`/`resolveIntrinsics`), with the stack's
 * partition, account and region: what is evaluated is exactly what CloudFormation would deploy,
 * with the names and ARNs the resources would get.
 */
import { type EvaluationResult, runSimulation } from '@cloud-copilot/iam-simulate';
import type { Template } from 'aws-cdk-lib/assertions';
import {
  type CfnResource,
  type CfnTemplate,
  createIntrinsicContext,
  type IntrinsicContext,
  resolveIntrinsics,
} from '../../lib/local/engine';

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: Statement[];
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export interface NamedPolicy {
  readonly name: string;
  readonly policy: PolicyDocument;
}

/** A synthesized template with the values its intrinsics resolve to. */
export class ResolvedTemplate {
  private readonly resources: Readonly<Record<string, CfnResource>>;
  private readonly context: IntrinsicContext;

  constructor(
    template: Template,
    readonly partition: string,
    readonly account: string,
    readonly region: string,
    /** Physical names of resources whose ids a deployment (or the simulator) chose. @default - derived */
    physicalNames?: Readonly<Record<string, Readonly<Record<string, string>>>>,
  ) {
    const json = template.toJSON() as CfnTemplate;
    this.resources = json.Resources ?? {};
    this.context = createIntrinsicContext(json, { partition, accountId: account, region, physicalNames });
  }

  /** Evaluates every intrinsic in `value` (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split`...). */
  resolve<T = unknown>(value: unknown): T {
    return resolveIntrinsics(value, this.context) as T;
  }

  /** The physical id (`Ref`) or an attribute (`Fn::GetAtt`) the resource with this logical id gets. */
  physical(logicalId: string, attribute?: string): string {
    return this.context.physical(logicalId, attribute);
  }

  /** The resource with the given logical id. */
  resource(logicalId: string): CfnResource {
    const resource = this.resources[logicalId];
    if (!resource) throw new Error(`ResolvedTemplate: no resource ${logicalId}`);
    return resource;
  }

  /** Logical ids and resources of one type whose properties satisfy `match`. */
  find(
    type: string,
    match: (props: Readonly<Record<string, unknown>>) => boolean = () => true,
  ): [string, CfnResource][] {
    return Object.entries(this.resources).filter(([, r]) => r.Type === type && match(r.Properties ?? {}));
  }

  /** The document of the managed policy with this name. */
  managedPolicy(name: string): PolicyDocument {
    const found = this.find('AWS::IAM::ManagedPolicy', (p) => p.ManagedPolicyName === name);
    if (found.length !== 1)
      throw new Error(`ResolvedTemplate: ${found.length} managed policies named ${name}`);
    return this.resolve(found[0][1].Properties!.PolicyDocument);
  }

  /** The trust policy and every identity policy (inline, attached, DefaultPolicy) of the role with this name. */
  role(roleName: string): { arn: string; trust: PolicyDocument; identity: NamedPolicy[] } {
    const found = this.find('AWS::IAM::Role', (p) => p.RoleName === roleName);
    if (found.length !== 1) throw new Error(`ResolvedTemplate: ${found.length} roles named ${roleName}`);
    const [logicalId, role] = found[0];
    const props = role.Properties!;
    const identity: NamedPolicy[] = [];
    for (const inline of (props.Policies ?? []) as { PolicyName: string; PolicyDocument: unknown }[]) {
      identity.push({ name: inline.PolicyName, policy: this.resolve(inline.PolicyDocument) });
    }
    for (const [id, policy] of this.find('AWS::IAM::Policy')) {
      const roles = (policy.Properties!.Roles ?? []) as unknown[];
      if (roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: logicalId }))) {
        identity.push({ name: id, policy: this.resolve(policy.Properties!.PolicyDocument) });
      }
    }
    for (const attached of (props.ManagedPolicyArns ?? []) as unknown[]) {
      const ref = (attached as { Ref?: string }).Ref;
      if (!ref) throw new Error(`ResolvedTemplate: role ${roleName} attaches a policy outside the template`);
      identity.push({ name: ref, policy: this.resolve(this.resource(ref).Properties!.PolicyDocument) });
    }
    return {
      arn: this.physical(logicalId, 'Arn'),
      trust: this.resolve(props.AssumeRolePolicyDocument),
      identity,
    };
  }
}

/** Keeps only the statements with the given effect (to test one layer of a policy on its own). */
export function onlyEffect(policies: readonly NamedPolicy[], effect: 'Allow' | 'Deny'): NamedPolicy[] {
  return policies.map((p) => ({
    name: p.name,
    policy: { ...p.policy, Statement: p.policy.Statement.filter((s) => s.Effect === effect) },
  }));
}

/** An identity policy that allows everything: the worst case an identity can hold. */
export const ALLOW_EVERYTHING: NamedPolicy = {
  name: 'AllowEverything',
  policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
};

export interface Request {
  /** ARN of the calling role. */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  /** Account that owns the resource. @default - the principal's account */
  readonly resourceAccount?: string;
  /** Request context; `aws:PrincipalArn` is added from `principal`. @default {} */
  readonly context?: Record<string, string | string[]>;
  readonly identity: readonly NamedPolicy[];
  /** @default - none */
  readonly resourcePolicy?: PolicyDocument;
  /** @default - none */
  readonly boundary?: PolicyDocument;
  /** Service control policies that apply to the account (one level of the organization). @default - none */
  readonly scps?: readonly PolicyDocument[];
}

/** Evaluates one request. A simulation the library refuses (bad policy, bad key) fails the test. */
export async function evaluate(request: Request): Promise<EvaluationResult> {
  const principalAccount = /^arn:[^:]+:(?:iam|sts)::(\d{12}):/.exec(request.principal)?.[1];
  if (!principalAccount) throw new Error(`evaluate: cannot read the account of ${request.principal}`);
  const result = await runSimulation(
    {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: request.resourceAccount ?? principalAccount },
        contextVariables: { 'aws:PrincipalArn': request.principal, ...(request.context ?? {}) },
      },
      identityPolicies: request.identity.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: request.scps
        ? [
            {
              orgIdentifier: 'r-root',
              policies: [
                { name: 'FullAWSAccess', policy: ALLOW_EVERYTHING.policy },
                ...request.scps.map((policy, i) => ({ name: `scp-${i}`, policy })),
              ],
            },
          ]
        : [],
      resourceControlPolicies: [],
      resourcePolicy: request.resourcePolicy,
      permissionBoundaryPolicies: request.boundary
        ? [{ name: 'boundary', policy: request.boundary }]
        : undefined,
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`evaluate: the simulator refused the request: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult;
}
