/**
 * ARNs: built from their parts, and read back with one parser. Surfaces never split an ARN by
 * hand; every ARN that AWS hands us goes through `parseArn` and the typed readers below it.
 */

export interface Arn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly accountId: string;
  /** Everything after the fifth colon, verbatim (`role/path/name`, `function:name:alias`, `my-queue`). */
  readonly resource: string;
}

export class ArnError extends Error {
  constructor(value: string, why: string) {
    super(`not a valid ARN: "${value}" (${why})`);
    this.name = 'ArnError';
  }
}

/** Parses `arn:partition:service:region:account:resource`; the resource part may itself contain colons. */
export function parseArn(value: string): Arn {
  if (typeof value !== 'string') throw new ArnError(String(value), 'not a string');
  const parts = value.split(':');
  if (parts.length < 6) throw new ArnError(value, 'expected six colon-separated fields');
  const [prefix, partition, service, region, accountId] = parts;
  if (prefix !== 'arn') throw new ArnError(value, 'does not start with "arn:"');
  if (!/^aws[a-z-]*$/.test(partition)) throw new ArnError(value, `unknown partition "${partition}"`);
  if (!/^[a-z0-9-]+$/.test(service)) throw new ArnError(value, `malformed service "${service}"`);
  const resource = parts.slice(5).join(':');
  if (resource === '') throw new ArnError(value, 'empty resource');
  return { partition, service, region, accountId, resource };
}

export function isArn(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    parseArn(value);
    return true;
  } catch {
    return false;
  }
}

export function formatArn(arn: Arn): string {
  return `arn:${arn.partition}:${arn.service}:${arn.region}:${arn.accountId}:${arn.resource}`;
}

/**
 * Splits the resource part into its type and the rest, at the first `/` or `:` (whichever comes
 * first): `role/app/agent` gives `role` + `app/agent`, `function:fn:live` gives `function` +
 * `fn:live`. A resource without either separator (an SQS queue name) has type '' and the whole
 * resource as id.
 */
export function arnResource(arn: Arn): { readonly type: string; readonly id: string } {
  const match = /^([^/:]*)[/:](.*)$/.exec(arn.resource);
  return match ? { type: match[1], id: match[2] } : { type: '', id: arn.resource };
}

function resourceIdOf(arn: Arn, value: string, service: string, type: string): string {
  const { type: actualType, id } = arnResource(arn);
  if (arn.service !== service || actualType !== type || id === '') {
    throw new ArnError(value, `expected a ${service} ${type} ARN`);
  }
  return id;
}

// IAM ---------------------------------------------------------------------------------------

/** Name, path and account of an IAM role ARN (`arn:aws:iam::123456789012:role/path/name`). */
export function parseRoleArn(value: string): {
  readonly accountId: string;
  readonly path: string;
  readonly roleName: string;
} {
  const arn = parseArn(value);
  const rest = resourceIdOf(arn, value, 'iam', 'role');
  const slash = rest.lastIndexOf('/');
  const roleName = rest.slice(slash + 1);
  if (roleName === '') throw new ArnError(value, 'empty role name');
  return { accountId: arn.accountId, path: `/${rest.slice(0, slash + 1)}`, roleName };
}

/** Path of a managed policy ARN (`/` for AWS managed `arn:aws:iam::aws:policy/Name`). */
export function parsePolicyArn(value: string): {
  readonly accountId: string;
  readonly path: string;
  readonly policyName: string;
} {
  const arn = parseArn(value);
  const rest = resourceIdOf(arn, value, 'iam', 'policy');
  const slash = rest.lastIndexOf('/');
  return {
    accountId: arn.accountId,
    path: `/${rest.slice(0, slash + 1)}`,
    policyName: rest.slice(slash + 1),
  };
}

// Lambda ------------------------------------------------------------------------------------

export function lambdaFunctionArn(
  partition: string,
  region: string,
  accountId: string,
  name: string,
): string {
  return formatArn({ partition, service: 'lambda', region, accountId, resource: `function:${name}` });
}

/** Name and qualifier (version or alias) of a Lambda function ARN. */
export function parseFunctionArn(value: string): {
  readonly functionName: string;
  readonly qualifier?: string;
} {
  const arn = parseArn(value);
  const rest = resourceIdOf(arn, value, 'lambda', 'function');
  const [functionName, qualifier, ...extra] = rest.split(':');
  if (extra.length > 0 || functionName === '') throw new ArnError(value, 'malformed function name');
  return qualifier === undefined ? { functionName } : { functionName, qualifier };
}

/** The function ARN without a version or alias: concurrency and VPC settings belong to the function. */
export function unqualifiedFunctionArn(value: string): string {
  const arn = parseArn(value);
  const { functionName } = parseFunctionArn(value);
  return lambdaFunctionArn(arn.partition, arn.region, arn.accountId, functionName);
}

/** UUID of an event source mapping ARN (`arn:aws:lambda:r:a:event-source-mapping:<uuid>`). */
export function eventSourceMappingUuid(value: string): string {
  return resourceIdOf(parseArn(value), value, 'lambda', 'event-source-mapping');
}

// EventBridge -------------------------------------------------------------------------------

export const DEFAULT_EVENT_BUS = 'default';

/** Rule ARN as EventBridge writes it: `rule/<name>` on the default bus, `rule/<bus>/<name>` elsewhere. */
export function eventRuleArn(
  partition: string,
  region: string,
  accountId: string,
  eventBusName: string,
  name: string,
): string {
  const resource = eventBusName === DEFAULT_EVENT_BUS ? `rule/${name}` : `rule/${eventBusName}/${name}`;
  return formatArn({ partition, service: 'events', region, accountId, resource });
}

/** Bus and rule name of a rule ARN. Rule names never contain `/`; partner bus names do. */
export function parseEventRuleArn(value: string): { readonly eventBusName: string; readonly name: string } {
  const rest = resourceIdOf(parseArn(value), value, 'events', 'rule');
  const slash = rest.lastIndexOf('/');
  const name = rest.slice(slash + 1);
  if (name === '') throw new ArnError(value, 'empty rule name');
  return { eventBusName: slash < 0 ? DEFAULT_EVENT_BUS : rest.slice(0, slash), name };
}

// Scheduler ---------------------------------------------------------------------------------

export function scheduleArn(
  partition: string,
  region: string,
  accountId: string,
  groupName: string,
  name: string,
): string {
  return formatArn({
    partition,
    service: 'scheduler',
    region,
    accountId,
    resource: `schedule/${groupName}/${name}`,
  });
}

export function parseScheduleArn(value: string): { readonly groupName: string; readonly name: string } {
  const rest = resourceIdOf(parseArn(value), value, 'scheduler', 'schedule');
  const [groupName, name, ...extra] = rest.split('/');
  if (!groupName || !name || extra.length > 0) throw new ArnError(value, 'expected schedule/<group>/<name>');
  return { groupName, name };
}

// EC2 ---------------------------------------------------------------------------------------

export function networkInterfaceArn(
  partition: string,
  region: string,
  accountId: string,
  eniId: string,
): string {
  return formatArn({ partition, service: 'ec2', region, accountId, resource: `network-interface/${eniId}` });
}

export function networkInterfaceId(value: string): string {
  return resourceIdOf(parseArn(value), value, 'ec2', 'network-interface');
}

// Step Functions ----------------------------------------------------------------------------

/** The state machine a Standard workflow execution ARN belongs to (`execution:<machine>:<name>`). */
export function parseExecutionArn(value: string): {
  readonly stateMachineArn: string;
  readonly name: string;
} {
  const arn = parseArn(value);
  const { type, id } = arnResource(arn);
  const [machine, name, ...extra] = id.split(':');
  if (arn.service !== 'states' || type !== 'execution' || !machine || !name || extra.length > 0) {
    throw new ArnError(value, 'expected a states execution ARN');
  }
  return { stateMachineArn: formatArn({ ...arn, resource: `stateMachine:${machine}` }), name };
}

/** What kind of resource an ARN names, for routing the agent's declared ARNs to surfaces. */
export type ResourceKind =
  | 'iam-role'
  | 'lambda-function'
  | 'event-source-mapping'
  | 'sqs-queue'
  | 'state-machine'
  | 'event-rule'
  | 'schedule'
  | 'network-interface'
  | 'other';

export function resourceKind(value: string): ResourceKind {
  if (!isArn(value)) return 'other';
  const arn = parseArn(value);
  const { type } = arnResource(arn);
  switch (`${arn.service}:${type}`) {
    case 'iam:role':
      return 'iam-role';
    case 'lambda:function':
      return 'lambda-function';
    case 'lambda:event-source-mapping':
      return 'event-source-mapping';
    case 'states:stateMachine':
      return 'state-machine';
    case 'events:rule':
      return 'event-rule';
    case 'scheduler:schedule':
      return 'schedule';
    case 'ec2:network-interface':
      return 'network-interface';
    default:
      return arn.service === 'sqs' && type === '' ? 'sqs-queue' : 'other';
  }
}
