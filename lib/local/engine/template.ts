import { createHash } from 'node:crypto';

/**
 * CloudFormation template intrinsics, evaluated locally: what CDK emits in a state machine's
 * `DefinitionString` and in Lambda `Environment.Variables`. References resolve to the physical
 * names and ARNs the resources would have (or have, when `physicalNames` come from a real
 * deployment). Anything that cannot be resolved throws, naming the logical id and the intrinsic:
 * a placeholder is never substituted.
 */

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Condition?: string;
}

export interface CfnTemplate {
  readonly Resources?: Readonly<Record<string, CfnResource>>;
  readonly Parameters?: Readonly<Record<string, { readonly Type?: string; readonly Default?: unknown }>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Outputs?: Readonly<Record<string, { readonly Value: unknown }>>;
}

/**
 * Physical names known from outside the template, by logical id: a string is the value of
 * `Ref`; an object maps `Ref` and attribute names (`Arn`, `TopicName`, ...) to their values.
 */
export type PhysicalNames = Readonly<Record<string, string | Readonly<Record<string, string>>>>;

/** Resolves `Ref` (no attribute) and `Fn::GetAtt` (with attribute) of a logical id. */
export type PhysicalResolver = (logicalId: string, attribute?: string) => string;

/** What a caller-supplied resolver returns when it has no answer, so the next source is asked. */
export type PartialPhysicalResolver = (logicalId: string, attribute?: string) => string | undefined;

export interface TemplateEnvironment {
  /** Region of the stack (`AWS::Region`). */
  readonly region: string;
  /** Account of the stack (`AWS::AccountId`). */
  readonly accountId: string;
  /** `AWS::Partition`. @default - derived from the region (`aws`, `aws-cn`, `aws-us-gov`, ...) */
  readonly partition?: string;
  /** `AWS::URLSuffix`. @default - derived from the partition (`amazonaws.com`, `amazonaws.com.cn`, ...) */
  readonly urlSuffix?: string;
  /** `AWS::StackName`. @default - none: a reference to `AWS::StackName` or `AWS::StackId` throws */
  readonly stackName?: string;
}

export interface ResolveOptions extends TemplateEnvironment {
  /** Values of the template's `Parameters`. @default - each parameter's `Default`; none throws */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Names known from a deployment (see `physicalNamesFromOutputs`); asked first. @default - none */
  readonly physicalNames?: PhysicalNames;
  /** Asked after `physicalNames`; returning `undefined` falls through to the derived default. @default - none */
  readonly physical?: PartialPhysicalResolver;
  /**
   * How the derived default names a resource whose name property is absent (CloudFormation
   * would generate one at deploy time): `'logical-id'` names it after its logical id (a bucket:
   * the lower-cased logical id), `'error'` throws, which is right against a real deployment where
   * the generated name must come from `physicalNames`. @default 'logical-id'
   */
  readonly unnamedResources?: 'logical-id' | 'error';
  /** Values of `Fn::ImportValue` exports, by export name. @default - none: an import throws */
  readonly imports?: Readonly<Record<string, string>>;
}

/** Everything `resolveIntrinsics` needs: the template, its environment and a physical resolver. */
export interface IntrinsicContext {
  readonly template: CfnTemplate;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly urlSuffix: string;
  readonly stackName?: string;
  readonly parameters?: Readonly<Record<string, string>>;
  readonly imports?: Readonly<Record<string, string>>;
  readonly physical: PhysicalResolver;
}

/** A template value could not be resolved. Names the intrinsic, the logical id and where it sits. */
export class TemplateResolutionError extends Error {
  override readonly name = 'Backstop.TemplateResolutionError';
  constructor(
    message: string,
    readonly logicalId?: string,
    readonly intrinsic?: string,
  ) {
    super(message);
  }
}

const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('eu-isoe-')) return 'aws-iso-e';
  if (region.startsWith('us-isof-')) return 'aws-iso-f';
  return 'aws';
}

export function urlSuffixOf(partition: string): string {
  switch (partition) {
    case 'aws-cn':
      return 'amazonaws.com.cn';
    case 'aws-iso':
      return 'c2s.ic.gov';
    case 'aws-iso-b':
      return 'sc2s.sgov.gov';
    case 'aws-iso-e':
      return 'cloud.adc-e.uk';
    case 'aws-iso-f':
      return 'csp.hci.ic.gov';
    default:
      return 'amazonaws.com';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function fail(intrinsic: string, arg: unknown, where: string, reason: string, logicalId?: string): never {
  const at = where ? ` at ${where}` : '';
  throw new TemplateResolutionError(
    `cannot resolve ${intrinsic} ${show(arg)}${at}: ${reason}`,
    logicalId,
    intrinsic,
  );
}

function asString(value: unknown, intrinsic: string, arg: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return fail(intrinsic, arg, where, `expected a string, got ${show(value)}`);
}

/**
 * Evaluates every intrinsic function in `value` (objects and arrays are walked; the result is a
 * new value). `where` names the place in the template, for error messages.
 */
export function resolveIntrinsics(value: unknown, ctx: IntrinsicContext, where = ''): unknown {
  const resolved = resolveValue(value, ctx, where);
  return resolved === NO_VALUE ? undefined : resolved;
}

function resolveValue(value: unknown, ctx: IntrinsicContext, where: string): unknown {
  if (Array.isArray(value)) {
    return value.map((v, i) => resolveValue(v, ctx, `${where}[${i}]`)).filter((v) => v !== NO_VALUE);
  }
  if (isRecord(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      return evaluate(keys[0], value[keys[0]], ctx, where);
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const v = resolveValue(value[key], ctx, where ? `${where}.${key}` : key);
      if (v !== NO_VALUE) out[key] = v;
    }
    return out;
  }
  return value;
}

function evaluate(fn: string, arg: unknown, ctx: IntrinsicContext, where: string): unknown {
  switch (fn) {
    case 'Ref':
      return ref(arg, ctx, where);
    case 'Fn::GetAtt':
      return getAtt(arg, ctx, where);
    case 'Fn::Join': {
      if (!Array.isArray(arg) || arg.length !== 2) return fail(fn, arg, where, 'expected [delimiter, list]');
      const delimiter = asString(resolveValue(arg[0], ctx, where), fn, arg, where);
      const list = resolveValue(arg[1], ctx, where);
      if (!Array.isArray(list)) return fail(fn, arg, where, `expected a list, got ${show(list)}`);
      return list.map((item) => asString(item, fn, arg, where)).join(delimiter);
    }
    case 'Fn::Select': {
      if (!Array.isArray(arg) || arg.length !== 2) return fail(fn, arg, where, 'expected [index, list]');
      const index = Number(resolveValue(arg[0], ctx, where));
      const list = resolveValue(arg[1], ctx, where);
      if (!Array.isArray(list)) return fail(fn, arg, where, `expected a list, got ${show(list)}`);
      if (!Number.isInteger(index) || index < 0 || index >= list.length) {
        return fail(fn, arg, where, `index ${index} is out of range for a list of ${list.length}`);
      }
      return list[index];
    }
    case 'Fn::Split': {
      if (!Array.isArray(arg) || arg.length !== 2)
        return fail(fn, arg, where, 'expected [delimiter, string]');
      const delimiter = asString(resolveValue(arg[0], ctx, where), fn, arg, where);
      const source = asString(resolveValue(arg[1], ctx, where), fn, arg, where);
      return source.split(delimiter);
    }
    case 'Fn::Sub':
      return sub(arg, ctx, where);
    case 'Fn::FindInMap': {
      if (!Array.isArray(arg) || arg.length < 3) return fail(fn, arg, where, 'expected [map, key, key]');
      const [map, top, second] = arg
        .slice(0, 3)
        .map((a) => asString(resolveValue(a, ctx, where), fn, arg, where));
      const found = ctx.template.Mappings?.[map]?.[top]?.[second];
      if (found === undefined) return fail(fn, arg, where, `Mappings.${map}.${top}.${second} does not exist`);
      return found;
    }
    case 'Fn::If': {
      if (!Array.isArray(arg) || arg.length !== 3 || typeof arg[0] !== 'string') {
        return fail(fn, arg, where, 'expected [condition, ifTrue, ifFalse]');
      }
      return condition(arg[0], ctx, where)
        ? resolveValue(arg[1], ctx, where)
        : resolveValue(arg[2], ctx, where);
    }
    case 'Fn::Equals':
    case 'Fn::And':
    case 'Fn::Or':
    case 'Fn::Not':
      return conditionExpression({ [fn]: arg }, ctx, where, new Set());
    case 'Fn::ImportValue': {
      const name = asString(resolveValue(arg, ctx, where), fn, arg, where);
      const value = ctx.imports?.[name];
      if (value === undefined) return fail(fn, arg, where, `export ${name} is not known: pass it in imports`);
      return value;
    }
    case 'Fn::Base64':
      return Buffer.from(asString(resolveValue(arg, ctx, where), fn, arg, where), 'utf8').toString('base64');
    default:
      return fail(fn, arg, where, 'this intrinsic function is not supported by the local engine');
  }
}

function pseudo(name: string, ctx: IntrinsicContext, where: string): unknown {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Partition':
      return ctx.partition;
    case 'AWS::URLSuffix':
      return ctx.urlSuffix;
    case 'AWS::NoValue':
      return NO_VALUE;
    case 'AWS::NotificationARNs':
      return [];
    case 'AWS::StackName':
      if (ctx.stackName === undefined)
        return fail('Ref', name, where, 'the stack name is not known: pass stackName');
      return ctx.stackName;
    case 'AWS::StackId':
      if (ctx.stackName === undefined)
        return fail('Ref', name, where, 'the stack name is not known: pass stackName');
      return `arn:${ctx.partition}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/${stableUuid(
        `${ctx.accountId}/${ctx.region}/${ctx.stackName}`,
      )}`;
    default:
      return fail('Ref', name, where, 'unknown pseudo parameter');
  }
}

function ref(arg: unknown, ctx: IntrinsicContext, where: string): unknown {
  if (typeof arg !== 'string') return fail('Ref', arg, where, 'expected a logical id');
  if (arg.startsWith('AWS::')) return pseudo(arg, ctx, where);
  const parameter = ctx.template.Parameters?.[arg];
  if (parameter) {
    const value = ctx.parameters?.[arg] ?? parameter.Default;
    if (value === undefined)
      return fail('Ref', arg, where, `parameter ${arg} has no value and no Default`, arg);
    return value;
  }
  return physicalOf(arg, undefined, 'Ref', arg, ctx, where);
}

function getAtt(arg: unknown, ctx: IntrinsicContext, where: string): unknown {
  let parts: unknown[];
  if (typeof arg === 'string') {
    const dot = arg.indexOf('.');
    parts = dot < 0 ? [arg] : [arg.slice(0, dot), arg.slice(dot + 1)];
  } else if (Array.isArray(arg)) {
    parts = arg;
  } else {
    return fail('Fn::GetAtt', arg, where, 'expected [logicalId, attribute]');
  }
  if (parts.length !== 2 || typeof parts[0] !== 'string') {
    return fail('Fn::GetAtt', arg, where, 'expected [logicalId, attribute]');
  }
  const attribute = asString(resolveValue(parts[1], ctx, where), 'Fn::GetAtt', arg, where);
  return physicalOf(parts[0], attribute, 'Fn::GetAtt', arg, ctx, where);
}

function physicalOf(
  logicalId: string,
  attribute: string | undefined,
  intrinsic: string,
  arg: unknown,
  ctx: IntrinsicContext,
  where: string,
): string {
  try {
    return ctx.physical(logicalId, attribute);
  } catch (e) {
    if (e instanceof TemplateResolutionError && e.logicalId === logicalId && e.intrinsic === intrinsic)
      throw e;
    return fail(intrinsic, arg, where, (e as Error).message, logicalId);
  }
}

const SUB_VARIABLE = /\$\{([^}]*)\}/g;

function sub(arg: unknown, ctx: IntrinsicContext, where: string): string {
  let text: unknown = arg;
  let variables: Record<string, unknown> = {};
  if (Array.isArray(arg)) {
    if (arg.length !== 2 || !isRecord(arg[1]))
      return fail('Fn::Sub', arg, where, 'expected [string, variables]');
    text = arg[0];
    variables = arg[1];
  }
  if (typeof text !== 'string') return fail('Fn::Sub', arg, where, 'expected a string');
  return text.replace(SUB_VARIABLE, (_match, expression: string) => {
    if (expression.startsWith('!')) return `\${${expression.slice(1)}}`;
    const name = expression.trim();
    if (Object.hasOwn(variables, name)) {
      return asString(resolveValue(variables[name], ctx, where), 'Fn::Sub', arg, where);
    }
    if (name.startsWith('AWS::')) return asString(pseudo(name, ctx, where), 'Fn::Sub', arg, where);
    const dot = name.indexOf('.');
    if (dot > 0) {
      return physicalOf(name.slice(0, dot), name.slice(dot + 1), 'Fn::Sub', arg, ctx, where);
    }
    return asString(ref(name, ctx, where), 'Fn::Sub', arg, where);
  });
}

function condition(name: string, ctx: IntrinsicContext, where: string, seen = new Set<string>()): boolean {
  if (seen.has(name)) return fail('Condition', name, where, 'conditions refer to each other in a cycle');
  const expression = ctx.template.Conditions?.[name];
  if (expression === undefined) return fail('Condition', name, where, `condition ${name} does not exist`);
  return conditionExpression(expression, ctx, where, new Set([...seen, name]));
}

function conditionExpression(
  expression: unknown,
  ctx: IntrinsicContext,
  where: string,
  seen: Set<string>,
): boolean {
  if (!isRecord(expression) || Object.keys(expression).length !== 1) {
    return fail('Condition', expression, where, 'expected one condition function');
  }
  const [fn] = Object.keys(expression);
  const arg = expression[fn];
  const list = (n?: number): unknown[] => {
    if (!Array.isArray(arg) || (n !== undefined && arg.length !== n)) {
      return fail(fn, arg, where, n === undefined ? 'expected a list' : `expected a list of ${n}`);
    }
    return arg;
  };
  switch (fn) {
    case 'Condition':
      if (typeof arg !== 'string') return fail(fn, arg, where, 'expected a condition name');
      return condition(arg, ctx, where, seen);
    case 'Fn::Equals': {
      const [a, b] = list(2).map((v) => resolveValue(v, ctx, where));
      return show(a) === show(b);
    }
    case 'Fn::Not':
      return !conditionExpression(list(1)[0], ctx, where, seen);
    case 'Fn::And':
      return list().every((c) => conditionExpression(c, ctx, where, seen));
    case 'Fn::Or':
      return list().some((c) => conditionExpression(c, ctx, where, seen));
    default:
      return fail(fn, arg, where, 'not a condition function');
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A UUID-shaped id derived from `seed`: the same seed always gives the same id. */
export function stableUuid(seed: string): string {
  const h = hash(seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The names and ARNs CloudFormation would give a resource, derived from its type and its own name
 * properties (or its logical id where it has none). Throws for types and attributes it does not
 * know, naming them.
 */
export function derivePhysical(
  template: CfnTemplate,
  env: Required<Pick<TemplateEnvironment, 'region' | 'accountId' | 'partition' | 'urlSuffix'>>,
  logicalId: string,
  attribute: string | undefined,
  options: {
    readonly resolve: (value: unknown, where: string) => unknown;
    readonly unnamedResources?: 'logical-id' | 'error';
    readonly knownRef?: string;
  },
): string {
  const resource = template.Resources?.[logicalId];
  if (!resource)
    throw new TemplateResolutionError(`no resource or parameter ${logicalId} in the template`, logicalId);
  const { region: r, accountId: a, partition: p, urlSuffix } = env;
  const props = resource.Properties ?? {};
  const arn = (service: string, resourcePart: string, region = r, account = a) =>
    `arn:${p}:${service}:${region}:${account}:${resourcePart}`;
  const prop = (key: string): string | undefined => {
    if (props[key] === undefined) return undefined;
    const value = options.resolve(props[key], `Resources.${logicalId}.Properties.${key}`);
    if (typeof value !== 'string') {
      throw new TemplateResolutionError(`${logicalId}.${key} is not a string: ${show(value)}`, logicalId);
    }
    return value;
  };
  /** The resource's name: the known Ref (when Ref is the name), its name property, or its logical id. */
  const name = (key: string, fallback = logicalId, refIsName = true): string => {
    if (refIsName && options.knownRef !== undefined) return options.knownRef;
    const explicit = prop(key);
    if (explicit !== undefined) return explicit;
    if (options.unnamedResources === 'error') {
      throw new TemplateResolutionError(
        `${logicalId} (${resource.Type}) has no ${key}: CloudFormation generates its name at deploy time, ` +
          'so it must come from physicalNames',
        logicalId,
      );
    }
    return fallback;
  };
  const pick = (attributes: Record<string, () => string>): string => {
    const key = attribute ?? 'Ref';
    const get = attributes[key];
    if (!get) {
      const known = Object.keys(attributes).join(', ');
      throw new TemplateResolutionError(
        `${attribute === undefined ? 'Ref' : `attribute ${attribute}`} of ${logicalId} (${resource.Type}) ` +
          `cannot be derived locally (known: ${known}); pass it in physicalNames`,
        logicalId,
      );
    }
    return get();
  };
  const shortId = (prefix: string, length: number, salt = '') =>
    `${prefix}${hash(`${a}/${r}/${logicalId}${salt}`).slice(0, length)}`;

  switch (resource.Type) {
    case 'AWS::Lambda::Function': {
      const fn = () => name('FunctionName');
      const fnArn = () => arn('lambda', `function:${fn()}`);
      return pick({ Ref: fn, Arn: fnArn });
    }
    case 'AWS::Lambda::EventSourceMapping': {
      const id = () => stableUuid(`${a}/${r}/${logicalId}`);
      return pick({ Ref: id, Id: id });
    }
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable': {
      const table = () => name('TableName');
      const tableArn = () => arn('dynamodb', `table/${table()}`);
      return pick({
        Ref: table,
        Arn: tableArn,
        StreamArn: () => `${tableArn()}/stream/1970-01-01T00:00:00.000`,
      });
    }
    case 'AWS::S3::Bucket': {
      const bucket = () => name('BucketName', logicalId.toLowerCase());
      return pick({
        Ref: bucket,
        Arn: () => `arn:${p}:s3:::${bucket()}`,
        DomainName: () => `${bucket()}.s3.${urlSuffix}`,
        RegionalDomainName: () => `${bucket()}.s3.${r}.${urlSuffix}`,
        DualStackDomainName: () => `${bucket()}.s3.dualstack.${r}.${urlSuffix}`,
        WebsiteURL: () => `http://${bucket()}.s3-website-${r}.${urlSuffix}`,
      });
    }
    case 'AWS::SNS::Topic': {
      const topic = () => name('TopicName', logicalId, false);
      const topicArn = () => options.knownRef ?? arn('sns', topic());
      return pick({ Ref: topicArn, TopicArn: topicArn, TopicName: topic });
    }
    case 'AWS::SQS::Queue': {
      const queue = () => name('QueueName', logicalId, false);
      const url = () => options.knownRef ?? `https://sqs.${r}.${urlSuffix}/${a}/${queue()}`;
      return pick({ Ref: url, QueueUrl: url, QueueName: queue, Arn: () => arn('sqs', queue()) });
    }
    case 'AWS::IAM::Role':
    case 'AWS::IAM::User': {
      const kind = resource.Type === 'AWS::IAM::Role' ? 'role' : 'user';
      const own = () => name(kind === 'role' ? 'RoleName' : 'UserName');
      const path = () => prop('Path') ?? '/';
      return pick({
        Ref: own,
        Arn: () => arn('iam', `${kind}${path()}${own()}`, ''),
        RoleId: () => shortId('AROA', 17).toUpperCase(),
        UserId: () => shortId('AIDA', 17).toUpperCase(),
      });
    }
    case 'AWS::IAM::ManagedPolicy': {
      const policyArn = () =>
        options.knownRef ??
        arn('iam', `policy${prop('Path') ?? '/'}${name('ManagedPolicyName', logicalId, false)}`, '');
      return pick({ Ref: policyArn, PolicyArn: policyArn });
    }
    case 'AWS::KMS::Key': {
      const keyId = () => options.knownRef ?? stableUuid(`${a}/${r}/${logicalId}`);
      return pick({ Ref: keyId, KeyId: keyId, Arn: () => arn('kms', `key/${keyId()}`) });
    }
    case 'AWS::KMS::Alias': {
      const alias = () => name('AliasName');
      return pick({ Ref: alias });
    }
    case 'AWS::Events::EventBus': {
      const bus = () => name('Name');
      return pick({ Ref: bus, Name: bus, Arn: () => arn('events', `event-bus/${bus()}`) });
    }
    case 'AWS::Events::Rule': {
      const rule = () => name('Name', logicalId, false);
      const bus = () => {
        const value = prop('EventBusName');
        if (value === undefined || value === 'default') return undefined;
        const match = /^arn:[^:]+:events:[^:]*:\d*:event-bus\/(.+)$/.exec(value);
        return match ? match[1] : value;
      };
      return pick({
        Ref: () => options.knownRef ?? (bus() ? `${bus()}|${rule()}` : rule()),
        Arn: () => arn('events', `rule/${bus() ? `${bus()}/` : ''}${rule()}`),
      });
    }
    case 'AWS::Logs::LogGroup': {
      const group = () => name('LogGroupName');
      return pick({ Ref: group, Arn: () => arn('logs', `log-group:${group()}:*`) });
    }
    case 'AWS::StepFunctions::StateMachine': {
      const machine = () => name('StateMachineName', logicalId, false);
      const machineArn = () => options.knownRef ?? arn('states', `stateMachine:${machine()}`);
      return pick({ Ref: machineArn, Arn: machineArn, Name: machine });
    }
    case 'AWS::StepFunctions::Activity': {
      const activity = () => name('Name', logicalId, false);
      const activityArn = () => options.knownRef ?? arn('states', `activity:${activity()}`);
      return pick({ Ref: activityArn, Arn: activityArn, Name: activity });
    }
    case 'AWS::SSM::Parameter': {
      const parameter = () => name('Name');
      return pick({
        Ref: parameter,
        Type: () => prop('Type') ?? 'String',
        Value: () => {
          const value = prop('Value');
          if (value === undefined) throw new TemplateResolutionError(`${logicalId} has no Value`, logicalId);
          return value;
        },
      });
    }
    case 'AWS::CloudWatch::Alarm': {
      const alarm = () => name('AlarmName');
      return pick({ Ref: alarm, Arn: () => arn('cloudwatch', `alarm:${alarm()}`) });
    }
    case 'AWS::EC2::SecurityGroup': {
      const groupId = () => options.knownRef ?? shortId('sg-', 17);
      return pick({
        Ref: groupId,
        GroupId: groupId,
        VpcId: () => {
          const vpc = prop('VpcId');
          if (vpc === undefined) throw new TemplateResolutionError(`${logicalId} has no VpcId`, logicalId);
          return vpc;
        },
      });
    }
    case 'AWS::Scheduler::ScheduleGroup': {
      const group = () => name('Name');
      return pick({ Ref: group, Arn: () => arn('scheduler', `schedule-group/${group()}`) });
    }
    case 'AWS::Scheduler::Schedule': {
      const schedule = () => name('Name');
      return pick({
        Ref: schedule,
        Arn: () => arn('scheduler', `schedule/${prop('GroupName') ?? 'default'}/${schedule()}`),
      });
    }
    case 'AWS::SecretsManager::Secret': {
      const secretArn = () =>
        options.knownRef ??
        arn('secretsmanager', `secret:${name('Name', logicalId, false)}-${hash(logicalId).slice(0, 6)}`);
      return pick({ Ref: secretArn, Id: secretArn });
    }
    case 'AWS::ApiGateway::RestApi': {
      const apiId = () => options.knownRef ?? shortId('', 10);
      return pick({ Ref: apiId, RestApiId: apiId, RootResourceId: () => shortId('', 10, '/root') });
    }
    default:
      throw new TemplateResolutionError(
        `${logicalId} is a ${resource.Type}, whose physical names the local engine does not derive; ` +
          'pass them in physicalNames',
        logicalId,
      );
  }
}

/**
 * Builds the context of `resolveIntrinsics` for a template. References resolve, in order, from
 * `physicalNames`, the caller's `physical`, and the derived default (`derivePhysical`).
 */
export function createIntrinsicContext(template: CfnTemplate, options: ResolveOptions): IntrinsicContext {
  const partition = options.partition ?? partitionOf(options.region);
  const urlSuffix = options.urlSuffix ?? urlSuffixOf(partition);
  const env = { region: options.region, accountId: options.accountId, partition, urlSuffix };
  const resolving = new Set<string>();
  const known = (logicalId: string, attribute: string): string | undefined => {
    const entry = options.physicalNames?.[logicalId];
    if (entry === undefined) return undefined;
    if (typeof entry === 'string') return attribute === 'Ref' ? entry : undefined;
    return entry[attribute];
  };
  const ctx: IntrinsicContext = {
    template,
    ...env,
    stackName: options.stackName,
    parameters: options.parameters,
    imports: options.imports,
    physical: (logicalId, attribute) => {
      const key = attribute ?? 'Ref';
      const fromNames = known(logicalId, key);
      if (fromNames !== undefined) return fromNames;
      const fromCaller = options.physical?.(logicalId, attribute);
      if (fromCaller !== undefined) return fromCaller;
      const resource = template.Resources?.[logicalId];
      if (
        resource?.Condition !== undefined &&
        !condition(resource.Condition, ctx, `Resources.${logicalId}`)
      ) {
        throw new TemplateResolutionError(
          `${logicalId} is not created (its condition ${resource.Condition} is false)`,
          logicalId,
        );
      }
      const cycleKey = `${logicalId}.${key}`;
      if (resolving.has(cycleKey)) {
        throw new TemplateResolutionError(`${logicalId}.${key} refers to itself`, logicalId);
      }
      resolving.add(cycleKey);
      try {
        return derivePhysical(template, env, logicalId, attribute, {
          resolve: (value, where) => resolveIntrinsics(value, ctx, where),
          unnamedResources: options.unnamedResources,
          knownRef: known(logicalId, 'Ref'),
        });
      } finally {
        resolving.delete(cycleKey);
      }
    },
  };
  return ctx;
}

/**
 * Physical names from a deployed stack's outputs (one stack's entry of the file that
 * `cdk deploy --outputs-file` writes): every output of the template whose value is a plain
 * `Ref` or `Fn::GetAtt` tells the physical value of that logical id and attribute.
 */
export function physicalNamesFromOutputs(
  template: CfnTemplate,
  stackOutputs: Readonly<Record<string, string>>,
): Record<string, Record<string, string>> {
  const names: Record<string, Record<string, string>> = {};
  const put = (logicalId: string, attribute: string, value: string) => {
    names[logicalId] ??= {};
    names[logicalId][attribute] = value;
  };
  for (const [key, output] of Object.entries(template.Outputs ?? {})) {
    const value = stackOutputs[key];
    if (value === undefined || !isRecord(output.Value)) continue;
    const expression = output.Value;
    if (typeof expression.Ref === 'string' && Object.keys(expression).length === 1) {
      put(expression.Ref, 'Ref', value);
      continue;
    }
    const getAtt = expression['Fn::GetAtt'];
    if (Object.keys(expression).length !== 1 || getAtt === undefined) continue;
    if (
      Array.isArray(getAtt) &&
      getAtt.length === 2 &&
      typeof getAtt[0] === 'string' &&
      typeof getAtt[1] === 'string'
    ) {
      put(getAtt[0], getAtt[1], value);
    } else if (typeof getAtt === 'string' && getAtt.includes('.')) {
      const dot = getAtt.indexOf('.');
      put(getAtt.slice(0, dot), getAtt.slice(dot + 1), value);
    }
  }
  return names;
}
