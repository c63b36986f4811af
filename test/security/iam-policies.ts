/**
 * Extracts IAM policies from synthesized templates as concrete JSON (intrinsics resolved with the
 * stack's partition, account and region) and evaluates requests against them with
 * @cloud-copilot/iam-simulate. What is evaluated is exactly what CloudFormation would deploy.
 */
import { type EvaluationResult, runSimulation } from '@cloud-copilot/iam-simulate';
import type { Template } from 'aws-cdk-lib/assertions';

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

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** A synthesized template with the values its intrinsics resolve to. */
export class ResolvedTemplate {
  private readonly resources: Record<string, CfnResource>;

  constructor(
    template: Template,
    readonly partition: string,
    readonly account: string,
    readonly region: string,
  ) {
    this.resources = (template.toJSON() as { Resources: Record<string, CfnResource> }).Resources;
  }

  /** Resolves `Ref`, `Fn::GetAtt`, `Fn::Join` (the intrinsics CDK emits in these policies). */
  resolve<T = unknown>(value: unknown): T {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v)) as T;
    if (value === null || typeof value !== 'object') return value as T;
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && keys[0] === 'Ref') return this.ref(obj.Ref as string) as T;
    if (keys.length === 1 && keys[0] === 'Fn::GetAtt') {
      const [logicalId, attribute] = obj['Fn::GetAtt'] as [string, string];
      return this.getAtt(logicalId, attribute) as T;
    }
    if (keys.length === 1 && keys[0] === 'Fn::Join') {
      const [separator, parts] = obj['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => String(this.resolve(part))).join(separator) as T;
    }
    if (keys.some((key) => key.startsWith('Fn::'))) {
      throw new Error(`ResolvedTemplate: unsupported intrinsic ${JSON.stringify(obj)}`);
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, this.resolve(v)])) as T;
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
    match: (props: Record<string, unknown>) => boolean = () => true,
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
      arn: this.getAtt(logicalId, 'Arn'),
      trust: this.resolve(props.AssumeRolePolicyDocument),
      identity,
    };
  }

  private ref(name: string): string {
    switch (name) {
      case 'AWS::Partition':
        return this.partition;
      case 'AWS::AccountId':
        return this.account;
      case 'AWS::Region':
        return this.region;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
    }
    const resource = this.resource(name);
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${this.partition}:iam::${this.account}:policy${props.Path ?? '/'}${props.ManagedPolicyName}`;
      case 'AWS::IAM::Role':
        return String(props.RoleName ?? name);
      case 'AWS::EC2::SecurityGroup':
        return fakeGroupId(name);
      case 'AWS::Events::EventBus':
        return String(props.Name);
      default:
        return name;
    }
  }

  private getAtt(logicalId: string, attribute: string): string {
    const resource = this.resource(logicalId);
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role' && attribute === 'Arn') {
      return `arn:${this.partition}:iam::${this.account}:role${props.Path ?? '/'}${props.RoleName ?? logicalId}`;
    }
    if (resource.Type === 'AWS::EC2::SecurityGroup' && attribute === 'GroupId') return fakeGroupId(logicalId);
    if (resource.Type === 'AWS::Events::EventBus' && attribute === 'Arn') {
      return `arn:${this.partition}:events:${this.region}:${this.account}:event-bus/${props.Name}`;
    }
    throw new Error(`ResolvedTemplate: unsupported Fn::GetAtt ${logicalId}.${attribute} (${resource.Type})`);
  }
}

/** The id a security group of the template gets in simulations. */
export function fakeGroupId(logicalId: string): string {
  return `sg-${logicalId.toLowerCase()}`;
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
      serviceControlPolicies: [],
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
