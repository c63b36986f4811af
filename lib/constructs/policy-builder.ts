import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct, IConstruct } from 'constructs';

/** IAM condition block: operator -> key -> value(s). */
export type Conditions = Record<string, Record<string, string | string[]>>;

export interface AllowStatement {
  /** Statement id: letters and digits only. */
  readonly sid: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /** @default - no conditions */
  readonly conditions?: Conditions;
  /**
   * Why a wildcard in `resources` is needed: becomes the cdk-nag acknowledgment of exactly that
   * finding. Required as soon as a resource contains `*`.
   * @default - no wildcard allowed
   */
  readonly wildcardReason?: string;
  /**
   * Why a wildcard in `actions` is needed (only the agent boundary's Allow has one). Required as
   * soon as an action contains `*`.
   * @default - no action wildcard allowed
   */
  readonly actionWildcardReason?: string;
}

export interface DenyStatement {
  readonly sid: string;
  /** Exactly one of `actions` and `notActions`. */
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  /** Exactly one of `resources` and `notResources`. @default ['*'] */
  readonly resources?: readonly string[];
  readonly notResources?: readonly string[];
  /** @default - no conditions */
  readonly conditions?: Conditions;
}

const SID = /^[A-Za-z0-9]+$/;
/** Characters per managed policy, under IAM's 6,144 with room for the document's envelope. */
const MANAGED_POLICY_BUDGET = 6000;
const OVERHEAD = 40;

export interface ManagedPoliciesOptions {
  /** Construct id prefix; policies get `<prefix>1`, `<prefix>2`... */
  readonly idPrefix: string;
  /** Policy name prefix; policies get `<prefix>-1`, `<prefix>-2`... */
  readonly namePrefix: string;
  readonly path: string;
  readonly description: string;
  /** @default 6000 */
  readonly maxChars?: number;
}

function acknowledge(scope: IConstruct, entries: readonly { acknowledgments: Map<string, string> }[]): void {
  const reasons = new Map<string, string[]>();
  for (const entry of entries) {
    for (const [id, reason] of entry.acknowledgments) {
      const list = reasons.get(id) ?? [];
      if (!list.includes(reason)) list.push(reason);
      reasons.set(id, list);
    }
  }
  for (const [id, list] of reasons) {
    Validations.of(scope).acknowledge({ id, reason: list.join(' ') });
  }
}

/**
 * Builds a policy document statement by statement and keeps, beside each statement that needs a
 * wildcard, the reason for it. {@link PolicyBuilder.acknowledgeOn} turns those reasons into cdk-nag
 * acknowledgments of exactly the findings they explain (`AwsSolutions-IAM5[Resource::...]`), on
 * exactly the resource that carries the policy, so nothing is acknowledged that was not argued for.
 *
 * It refuses what AWS would refuse or what Backstop never wants: a wildcard in an action's service
 * part (`*:Get*`, rejected by IAM), a wildcard Allow without a reason, a duplicate Sid.
 */
export class PolicyBuilder {
  private readonly entries: { statement: iam.PolicyStatement; acknowledgments: Map<string, string> }[] = [];
  private readonly sids = new Set<string>();

  allow(statement: AllowStatement): this {
    this.checkSid(statement.sid);
    checkActions(statement.sid, statement.actions);
    if (statement.resources.length === 0) {
      throw new Error(`PolicyBuilder: statement ${statement.sid} has no resources`);
    }
    const acknowledgments = new Map<string, string>();
    for (const action of statement.actions) {
      if (!action.includes('*')) continue;
      if (!statement.actionWildcardReason) {
        throw new Error(
          `PolicyBuilder: statement ${statement.sid} allows wildcard action ${action} without a reason`,
        );
      }
      acknowledgments.set(`AwsSolutions-IAM5[Action::${action}]`, statement.actionWildcardReason);
    }
    for (const resource of statement.resources) {
      if (!resource.includes('*')) continue;
      if (!statement.wildcardReason) {
        throw new Error(
          `PolicyBuilder: statement ${statement.sid} allows on wildcard resource ${resource} without a reason`,
        );
      }
      acknowledgments.set(`AwsSolutions-IAM5[Resource::${resource}]`, statement.wildcardReason);
    }
    this.entries.push({
      statement: new iam.PolicyStatement({
        sid: statement.sid,
        effect: iam.Effect.ALLOW,
        actions: [...statement.actions],
        resources: [...statement.resources],
        conditions: statement.conditions,
      }),
      acknowledgments,
    });
    return this;
  }

  deny(statement: DenyStatement): this {
    this.checkSid(statement.sid);
    if (Boolean(statement.actions) === Boolean(statement.notActions)) {
      throw new Error(`PolicyBuilder: deny ${statement.sid} needs exactly one of actions and notActions`);
    }
    if (statement.resources && statement.notResources) {
      throw new Error(`PolicyBuilder: deny ${statement.sid} cannot have both resources and notResources`);
    }
    checkActions(statement.sid, statement.actions ?? statement.notActions ?? []);
    this.entries.push({
      acknowledgments: new Map(),
      statement: new iam.PolicyStatement({
        sid: statement.sid,
        effect: iam.Effect.DENY,
        actions: statement.actions ? [...statement.actions] : undefined,
        notActions: statement.notActions ? [...statement.notActions] : undefined,
        resources: statement.notResources ? undefined : [...(statement.resources ?? ['*'])],
        notResources: statement.notResources ? [...statement.notResources] : undefined,
        conditions: statement.conditions,
      }),
    });
    return this;
  }

  /** The document built so far. */
  document(): iam.PolicyDocument {
    return new iam.PolicyDocument({ statements: this.entries.map((entry) => entry.statement) });
  }

  /** Records, on `scope`, one cdk-nag acknowledgment per wildcard finding, with its reasons. */
  acknowledgeOn(scope: IConstruct): void {
    acknowledge(scope, this.entries);
  }

  /**
   * The statements as managed policies of at most `maxChars` characters each (IAM's limit is
   * 6,144 without whitespace), in order, each carrying the acknowledgments of its own statements.
   * Used where a role's permissions outgrow the 10,240 characters IAM allows inline per role.
   */
  toManagedPolicies(scope: Construct, options: ManagedPoliciesOptions): iam.ManagedPolicy[] {
    const maxChars = options.maxChars ?? MANAGED_POLICY_BUDGET;
    const stack = Stack.of(scope);
    const chunks: (typeof this.entries)[] = [];
    let size = 0;
    for (const entry of this.entries) {
      const length = JSON.stringify(stack.resolve(entry.statement.toStatementJson())).length;
      if (length > maxChars)
        throw new Error(
          `PolicyBuilder: statement ${entry.statement.sid} alone exceeds ${maxChars} characters`,
        );
      if (chunks.length === 0 || size + length > maxChars) {
        chunks.push([]);
        size = OVERHEAD;
      }
      chunks[chunks.length - 1].push(entry);
      size += length + 1;
    }
    return chunks.map((entries, i) => {
      const policy = new iam.ManagedPolicy(scope, `${options.idPrefix}${i + 1}`, {
        managedPolicyName: `${options.namePrefix}-${i + 1}`,
        path: options.path,
        description: `${options.description} (${i + 1} of ${chunks.length})`,
        document: new iam.PolicyDocument({ statements: entries.map((entry) => entry.statement) }),
      });
      acknowledge(policy, entries);
      return policy;
    });
  }

  private checkSid(sid: string): void {
    if (!SID.test(sid))
      throw new Error(`PolicyBuilder: Sid ${JSON.stringify(sid)} must be letters and digits only`);
    if (this.sids.has(sid)) throw new Error(`PolicyBuilder: duplicate Sid ${sid}`);
    this.sids.add(sid);
  }
}

function checkActions(sid: string, actions: readonly string[]): void {
  if (actions.length === 0) throw new Error(`PolicyBuilder: statement ${sid} has no actions`);
  for (const action of actions) {
    if (action !== '*' && !/^[a-z0-9-]+:[A-Za-z0-9*?]+$/.test(action)) {
      throw new Error(
        `PolicyBuilder: statement ${sid} has action ${JSON.stringify(action)}; actions are service:Action and IAM rejects a wildcard in the service part`,
      );
    }
  }
}

/**
 * The cdk-nag finding of a wildcard resource, `AwsSolutions-IAM5[Resource::<resource>]`, with the
 * resource's tokens written as cdk-nag writes them in the id (`<LogicalId.Attribute>` for
 * `Fn::GetAtt`, `<LogicalId>` for `Ref`, `Fn::Join` joined), so that an acknowledgment names
 * exactly the finding it answers, also for ARNs that CloudFormation only knows at deploy time.
 */
export function wildcardResourceFinding(scope: IConstruct, resource: string): string {
  if (!resource.includes('*')) {
    throw new Error(
      `wildcardResourceFinding: ${resource} holds no wildcard: there is no finding to acknowledge`,
    );
  }
  return `AwsSolutions-IAM5[Resource::${flattenReference(Stack.of(scope).resolve(resource))}]`;
}

function flattenReference(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const value = node as Record<string, unknown>;
    if (value['Fn::Join']) {
      const [delimiter, items] = value['Fn::Join'] as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if (value['Fn::Sub']) return flattenReference(value['Fn::Sub']);
    if (value['Fn::GetAtt']) {
      const [resource, attribute] = value['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
    }
    if (value['Fn::ImportValue']) return flattenReference(value['Fn::ImportValue']);
    if (value.Ref) return `<${flattenReference(value.Ref)}>`;
  }
  return JSON.stringify(node);
}

/** Merges condition blocks (operator by operator, key by key); the same key twice is an error. */
export function mergeConditions(...blocks: (Conditions | undefined)[]): Conditions | undefined {
  const out: Conditions = {};
  for (const block of blocks) {
    for (const [operator, keys] of Object.entries(block ?? {})) {
      const merged = { ...(out[operator] ?? {}) };
      for (const [key, value] of Object.entries(keys)) {
        if (key in merged) throw new Error(`mergeConditions: ${operator} ${key} is set twice`);
        merged[key] = value;
      }
      out[operator] = merged;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A statement for a role's principal policy, with why its wildcard resources are acceptable. */
export type ReasonedStatement = readonly [statement: iam.PolicyStatementProps, wildcardReason: string];

/**
 * What every Backstop handler role writes besides its work, metrics in one namespace, with the
 * reason for its `*`. The Sid is the caller's (tests and reviewers name each role's statements).
 */
export function metricsStatement(sid: string, namespace: string): ReasonedStatement {
  return [
    {
      sid,
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': namespace } },
    },
    `cloudwatch:PutMetricData has no resource-level permissions (IAM accepts only *); the cloudwatch:namespace condition limits it to the ${namespace} namespace.`,
  ];
}

/** The other thing every handler role writes: the streams of its handlers' own log groups. */
export function logStreamsStatement(sid: string, logGroupArns: readonly string[]): ReasonedStatement {
  return [
    {
      sid,
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: logGroupArns.map((arn) => `${arn}:*`),
    },
    "Log streams are created by Lambda at run time under each handler's own log group (log-stream ARNs end in :*); no other log group is reachable.",
  ];
}

/** Why a role with active tracing may write X-Ray on `*` (`what`: whose traces). */
export function xrayReason(what: string): string {
  return `X-Ray (active tracing of ${what}): xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so IAM accepts only *; they write traces and read nothing.`;
}

/** The DefaultPolicy CDK keeps for a role's added statements, where cdk-nag findings are acknowledged. */
export function defaultPolicyOf(role: iam.IRole, owner: string): IConstruct {
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (!policy) {
    throw new Error(`${owner}: the role ${role.node.path} has no DefaultPolicy to acknowledge findings on`);
  }
  return policy;
}

/** cdk-nag acknowledgments gathered per construct and finding, applied once with all their reasons. */
export class Acknowledgments {
  private readonly byScope = new Map<IConstruct, Map<string, string[]>>();

  add(scope: IConstruct, id: string, reason: string): void {
    const ids = this.byScope.get(scope) ?? new Map<string, string[]>();
    const reasons = ids.get(id) ?? [];
    if (!reasons.includes(reason)) reasons.push(reason);
    ids.set(id, reasons);
    this.byScope.set(scope, ids);
  }

  apply(): void {
    for (const [scope, ids] of this.byScope) {
      for (const [id, reasons] of ids) Validations.of(scope).acknowledge({ id, reason: reasons.join(' ') });
    }
  }
}
