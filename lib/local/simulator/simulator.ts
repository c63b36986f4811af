/**
 * The embedded simulator: an in-memory model of AWS accounts (a control plane account and
 * workload accounts) that answers the SDK v3 commands Backstop's handlers send, with the shapes
 * and errors AWS returns. Handlers get it through the same client injection they use in
 * production: `createClientFactory({ plugins: [sim.plugin()], credentials: sim.credentialsFor(arn) })`.
 *
 * Every call, in order: optional latency on the simulator clock; the caller resolved from the
 * client's access key (unknown or expired keys are refused); the per-account, per-service token
 * buckets; injected faults (`failNext`); injected denies (`denyAction`); the service model.
 * Each is recorded in `calls`.
 *
 * Authorization: the simulator checks role trust on AssumeRole and S3 bucket-policy denies on
 * object deletion and retention changes. It does not evaluate identity policies, permission
 * boundaries or SCPs for other calls: tests that need a call refused inject a deny.
 */
import type { ClientPlugin } from '../../../lambda/shared/clients';
import { CloudWatchService } from './cloudwatch';
import type { Out, Services, Settings, SimCore } from './core';
import { DynamoDbService } from './dynamodb';
import { Ec2Service } from './ec2';
import {
  accessDeniedError,
  type ErrorKindName,
  injectedError,
  SERVICE_NAMES,
  SERVICES,
  type ServiceName,
  SimError,
  serviceOfClient,
  throttlingError,
  toSdkError,
} from './errors';
import { EventsService } from './events';
import { IamService } from './iam';
import { KmsService } from './kms';
import { LambdaService } from './lambda';
import { type SimulatedRequest, type SimulatedResponse, simulatorPlugin } from './middleware';
import type { PageSize } from './pagination';
import { S3Service } from './s3';
import { SchedulerService } from './scheduler';
import { SfnService } from './sfn';
import { outputProblems } from './shapes';
import { SnsService } from './sns';
import { StsService } from './sts';
import { TaggingService } from './tagging';
import { DESIGN_QUOTAS, Throttler, type ThrottlingConfig } from './throttle';
import {
  type CallContext,
  checkAccountId,
  globMatch,
  Ids,
  type Principal,
  parseArn,
  partitionOf,
  realClock,
  type SimClock,
  type SimCredentials,
} from './world';

export interface SimulatorOptions {
  /**
   * Token buckets per account (and region) and service; `'design'` is docs/design.md section 11's
   * quotas (`DESIGN_QUOTAS`). @default - no throttling
   */
  readonly throttling?: ThrottlingConfig | 'design';
  /** Delay of every call, in ms of the simulator clock, for all services or per service. @default 0 */
  readonly latencyMs?: number | Partial<Record<ServiceName, number>>;
  /** @default - wall-clock time and real timers */
  readonly clock?: SimClock;
  /**
   * Largest page any list call returns (callers' page sizes are capped by it), so that
   * pagination is exercised; `'aws'` uses each API's own defaults. @default 3
   */
  readonly pageSize?: PageSize;
  /** Reads of an event source mapping that still show its transitional state after a change. @default 1 */
  readonly esmSettleReads?: number;
  /** When set, mappings settle this many ms (simulator clock) after a change instead of by reads. @default - by reads */
  readonly esmSettleMs?: number;
  /** Reads of a function that still show `LastUpdateStatus: 'InProgress'` after UpdateFunctionConfiguration. @default 0 */
  readonly functionUpdateSettleReads?: number;
  /** Managed policies a role may have attached (AWS default quota). @default 10 */
  readonly managedPolicyLimit?: number;
  /** Seed of the identifier generator: the same seed gives the same ids. @default 1 */
  readonly seed?: number;
  /** Checks every output against the SDK's model of the operation and throws on a mismatch. @default false */
  readonly checkOutputShapes?: boolean;
}

/** One command the simulator answered (or refused). */
export interface CallRecord {
  readonly seq: number;
  /** Simulator clock (ms) when the call arrived. */
  readonly at: number;
  readonly durationMs: number;
  readonly accountId: string;
  readonly region: string;
  readonly service: ServiceName;
  readonly action: string;
  /** The caller as GetCallerIdentity would name it (`unknown` when the access key was not recognised). */
  readonly caller: string;
  /** The input with blobs and long strings shortened. */
  readonly input: unknown;
  /** `ok`, or the error code answered. */
  readonly outcome: string;
  readonly httpStatusCode: number;
  readonly message?: string;
}

/** A call to refuse with the service's AccessDenied error. Patterns accept `*` and `?`. */
/** One call, as an authorizer sees it (after the caller is known). */
export interface AuthorizedCall {
  readonly service: ServiceName;
  readonly action: string;
  readonly caller: Principal;
  readonly region: string;
  readonly input: unknown;
}

/** true allows the call; false, or a resource name to put in the message, refuses it. */
export type Authorizer = (call: AuthorizedCall) => Promise<true | false | string>;

export interface DenyRule {
  readonly accountId: string;
  readonly service: ServiceName;
  /** Action name, e.g. `AttachRolePolicy` or `Put*`. */
  readonly action: string;
  /** Matched against every top-level string (or string list element) of the input. @default - any resource */
  readonly resource?: string;
  /** Matched against the caller's principal ARN and session ARN. @default - any caller */
  readonly principalArn?: string;
}

/** Faults to answer the next matching calls with (throttling that clears after retries, 5xx...). */
export interface FaultRule {
  /** @default - any account */
  readonly accountId?: string;
  /** @default - any region */
  readonly region?: string;
  readonly service: ServiceName;
  /** Action name or pattern. */
  readonly action: string;
  /** `throttle`, `internal`, `accessDenied` (the service's own codes), or any error code. */
  readonly error: ErrorKindName | string;
  /** How many matching calls fail. @default 1 */
  readonly times?: number;
  readonly message?: string;
  /** @default - the status AWS uses for the code */
  readonly httpStatusCode?: number;
}

type Handler = (input: unknown, ctx: CallContext) => unknown;

/** The AWS actions of a service model (its PascalCase methods), callable with their SDK input. */
export type ActionsOf<S> = {
  [
    K in keyof S as K extends string
      ? K extends Capitalize<K>
        ? S[K] extends (input: never, ctx: CallContext) => unknown
          ? K
          : never
        : never
      : never
  ]: S[K] extends (input: infer I, ctx: CallContext) => infer O ? (input: I) => Promise<Awaited<O>> : never;
};

/** Seeding API: every action of every service, called as the account's root user. */
export type AccountApi = { readonly [N in ServiceName]: ActionsOf<Services[N]> };

/** Responses that AWS answers with a status other than 200. */
const STATUS: Readonly<Record<string, number>> = {
  'lambda:CreateFunction': 201,
  'lambda:CreateEventSourceMapping': 202,
  'lambda:UpdateEventSourceMapping': 202,
  'lambda:DeleteFunctionConcurrency': 204,
  'lambda:TagResource': 204,
  'lambda:UntagResource': 204,
  's3:DeleteObject': 204,
};

function summarize(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string')
    return value.length > 300 ? `${value.slice(0, 300)}...(${value.length} chars)` : value;
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object') return value;
  if (
    typeof (value as { pipe?: unknown }).pipe === 'function' ||
    typeof (value as Blob).arrayBuffer === 'function'
  ) {
    return '<stream>';
  }
  if (depth > 6) return '<...>';
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => summarize(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, summarize(v, depth + 1)]));
}

function inputStrings(input: unknown): string[] {
  if (typeof input !== 'object' || input === null) return [];
  const out: string[] = [];
  for (const v of Object.values(input)) {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') out.push(x);
  }
  return out;
}

export class Simulator implements SimCore, Services {
  readonly clock: SimClock;
  readonly ids: Ids;
  readonly settings: Settings;
  /** Every command answered or refused through the plugin, in arrival order. */
  readonly calls: CallRecord[] = [];

  // The service models. Field initializers run before the constructor body, so a model must not
  // read the clock, ids or settings while it is being built (none does: they read them per call).
  readonly sts = new StsService(this);
  readonly iam = new IamService(this);
  readonly lambda = new LambdaService(this);
  readonly events = new EventsService(this);
  readonly scheduler = new SchedulerService(this);
  readonly ec2 = new Ec2Service(this);
  readonly states = new SfnService(this);
  readonly tag = new TaggingService(this);
  readonly s3 = new S3Service(this);
  readonly dynamodb = new DynamoDbService(this);
  readonly sns = new SnsService(this);
  readonly cloudwatch = new CloudWatchService(this);
  readonly kms = new KmsService(this);
  /** The models by service name: the simulator holds them itself. */
  readonly services: Services = this;

  private readonly throttler: Throttler;
  private readonly latency: (service: ServiceName) => number;
  private readonly checkShapes: boolean;
  private readonly keys = new Map<string, { principal: Principal; credentials: SimCredentials }>();
  private readonly issuedFor = new Map<string, SimCredentials>();
  private readonly organizations = new Map<string, string>();
  private readonly denies = new Set<DenyRule>();
  private authorizer: Authorizer | undefined;
  private readonly faults: { rule: FaultRule; remaining: number }[] = [];
  private readonly listeners = new Set<(call: CallRecord) => void>();
  private seq = 0;

  constructor(options: SimulatorOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.ids = new Ids(options.seed ?? 1);
    const positive = (name: string, value: number | undefined, fallback: number) => {
      const v = value ?? fallback;
      if (!Number.isInteger(v) || v < 0)
        throw new Error(`SimulatorOptions.${name} must be an integer >= 0, got ${value}`);
      return v;
    };
    if (
      options.pageSize !== undefined &&
      options.pageSize !== 'aws' &&
      !(Number.isInteger(options.pageSize) && options.pageSize >= 1)
    ) {
      throw new Error(`SimulatorOptions.pageSize must be an integer >= 1 or 'aws', got ${options.pageSize}`);
    }
    if (options.esmSettleMs !== undefined && !(options.esmSettleMs >= 0)) {
      throw new Error(`SimulatorOptions.esmSettleMs must be >= 0, got ${options.esmSettleMs}`);
    }
    this.settings = {
      pageSize: options.pageSize ?? 3,
      esmSettleReads: positive('esmSettleReads', options.esmSettleReads, 1),
      esmSettleMs: options.esmSettleMs,
      functionUpdateSettleReads: positive('functionUpdateSettleReads', options.functionUpdateSettleReads, 0),
      managedPolicyLimit: positive('managedPolicyLimit', options.managedPolicyLimit, 10),
    };
    this.throttler = new Throttler(
      options.throttling === 'design' ? DESIGN_QUOTAS : options.throttling,
      this.clock,
    );
    const latency = options.latencyMs ?? 0;
    this.latency = (service) => (typeof latency === 'number' ? latency : (latency[service] ?? 0));
    this.checkShapes = options.checkOutputShapes ?? false;
  }

  /** The client plugin to pass to `createClientFactory({ plugins: [sim.plugin()] })`. */
  plugin(): ClientPlugin {
    return simulatorPlugin((request) => this.handle(request));
  }

  // ---- identities ----

  /**
   * Static credentials under which calls act as `principalArn`: an account root
   * (`arn:aws:iam::<account>:root`), an IAM user, or a role (which must exist; the credentials are
   * a session of it, named `sessionName`, as a Lambda function's execution role session would be).
   * The same arguments give the same credentials.
   */
  credentialsFor(
    principalArn: string,
    options: { sessionName?: string; sourceIdentity?: string } = {},
  ): SimCredentials {
    const cacheKey = `${principalArn}|${options.sessionName ?? ''}|${options.sourceIdentity ?? ''}`;
    const cached = this.issuedFor.get(cacheKey);
    if (cached) return cached;
    const arn = parseArn(principalArn);
    if (!arn || (arn.service !== 'iam' && arn.service !== 'sts')) {
      throw new Error(`"${principalArn}" is not an IAM principal ARN (root, user, role or assumed-role)`);
    }
    checkAccountId(arn.account);
    const issuedAt = this.clock.now();
    let principal: Principal;
    if (arn.service === 'iam' && arn.resource === 'root') {
      principal = this.rootPrincipal(arn.account, arn.partition);
    } else if (arn.service === 'iam' && arn.resource.startsWith('user/')) {
      principal = {
        kind: 'user',
        accountId: arn.account,
        partition: arn.partition,
        principalArn,
        arn: principalArn,
        userId: `AIDA${this.ids.upper(17)}`,
        issuedAt,
      };
    } else {
      const roleName =
        arn.service === 'sts' && arn.resource.startsWith('assumed-role/')
          ? arn.resource.split('/')[1]
          : arn.resource.startsWith('role/')
            ? (arn.resource.split('/').pop() ?? '')
            : '';
      const role =
        arn.service === 'iam' ? this.iam.roleByArn(principalArn) : this.iam.roleByName(arn.account, roleName);
      if (!role) throw new Error(`role ${principalArn} does not exist in the simulator: create it first`);
      const sessionName =
        options.sessionName ??
        (arn.service === 'sts' ? arn.resource.split('/')[2] : undefined) ??
        role.roleName;
      principal = {
        kind: 'role-session',
        accountId: arn.account,
        partition: arn.partition,
        principalArn: role.arn,
        arn: `arn:${arn.partition}:sts::${arn.account}:assumed-role/${role.roleName}/${sessionName}`,
        userId: `${role.roleId}:${sessionName}`,
        roleName: role.roleName,
        sessionName,
        sourceIdentity: options.sourceIdentity,
        issuedAt,
      };
    }
    const credentials = this.issueCredentials(principal);
    this.issuedFor.set(cacheKey, credentials);
    return credentials;
  }

  issueCredentials(principal: Principal): SimCredentials {
    const session = principal.kind === 'role-session';
    const accessKeyId = `${session ? 'ASIA' : 'AKIA'}${this.ids.upper(16)}`;
    const credentials: SimCredentials = {
      accessKeyId,
      secretAccessKey: this.ids.secret(40),
      sessionToken: session ? `IQoJb3JpZ2luX2VjE${this.ids.secret(120)}` : undefined,
      expiration: principal.expiresAt !== undefined ? new Date(principal.expiresAt) : undefined,
    };
    this.keys.set(accessKeyId, { principal, credentials });
    return credentials;
  }

  /** Who an access key id belongs to, for tests and the drill timeline. */
  principalOf(accessKeyId: string): Principal | undefined {
    return this.keys.get(accessKeyId)?.principal;
  }

  private rootPrincipal(accountId: string, partition: string): Principal {
    const arn = `arn:${partition}:iam::${accountId}:root`;
    return {
      kind: 'root',
      accountId,
      partition,
      principalArn: arn,
      arn,
      userId: accountId,
      issuedAt: this.clock.now(),
    };
  }

  /** Puts accounts in an AWS Organization (`aws:PrincipalOrgID` in trust policies). */
  setOrganization(organizationId: string, accountIds: readonly string[]): void {
    if (!/^o-[a-z0-9]{10,32}$/.test(organizationId))
      throw new Error(`"${organizationId}" is not an organization id (o-...)`);
    for (const id of accountIds) {
      checkAccountId(id);
      this.organizations.set(id, organizationId);
    }
  }

  organizationOf(accountId: string): string | undefined {
    return this.organizations.get(accountId);
  }

  // ---- seeding ----

  /**
   * The seeding API: every modelled action of every service, called as the account's root user
   * in `region`, with the SDK input type, answering the output (without `$metadata`) or throwing
   * the SDK error. No latency, throttling, faults, denies or call log; resources are created in
   * their settled state (an event source mapping is Enabled at once, not Creating).
   */
  as(accountId: string, region: string): AccountApi {
    checkAccountId(accountId);
    const api: Record<string, unknown> = {};
    for (const service of SERVICE_NAMES) {
      api[service] = new Proxy(
        {},
        {
          get: (_target, action) =>
            // Only action names: `then` must stay undefined, or awaiting the object would hang.
            typeof action === 'string' && /^[A-Z]/.test(action)
              ? (input: unknown) => this.seedCall(accountId, region, service, action, input)
              : undefined,
        },
      );
    }
    return api as AccountApi;
  }

  private async seedCall(
    accountId: string,
    region: string,
    service: ServiceName,
    action: string,
    input: unknown,
  ) {
    const ctx: CallContext = {
      service,
      action,
      caller: this.rootPrincipal(accountId, partitionOf(region)),
      accountId,
      region,
      partition: partitionOf(region),
      now: new Date(this.clock.now()),
      headers: {},
      seeding: true,
    };
    try {
      return await this.handler(service, action)(input ?? {}, ctx);
    } catch (e) {
      if (e instanceof SimError) throw toSdkError(service, e, this.ids.uuid());
      throw e;
    }
  }

  // ---- test hooks ----

  /**
   * Decides every call as IAM would, after trust: `authorizer` gets the call and answers whether
   * it is allowed (a refusal is the service's AccessDenied error). The simulator has no model of
   * identity policies itself; tests plug one in (the red-team suite evaluates the synthesized
   * policies with an IAM policy simulator library). Returns a function that removes it.
   */
  authorize(authorizer: Authorizer): () => void {
    this.authorizer = authorizer;
    return () => {
      if (this.authorizer === authorizer) this.authorizer = undefined;
    };
  }

  /** Refuses matching calls with the service's AccessDenied error until the returned function is called. */
  denyAction(rule: DenyRule): () => void {
    checkAccountId(rule.accountId);
    if (!SERVICE_NAMES.includes(rule.service)) throw new Error(`unknown service ${rule.service}`);
    const entry = { ...rule };
    this.denies.add(entry);
    return () => {
      this.denies.delete(entry);
    };
  }

  /** Answers the next `times` matching calls with an error instead of the model's answer. */
  failNext(rule: FaultRule): void {
    if (!SERVICE_NAMES.includes(rule.service)) throw new Error(`unknown service ${rule.service}`);
    const times = rule.times ?? 1;
    if (!Number.isInteger(times) || times < 1)
      throw new Error(`failNext.times must be an integer >= 1, got ${times}`);
    this.faults.push({ rule, remaining: times });
  }

  /** Calls `listener` with each call record as it completes; returns a function that stops it. */
  onCall(listener: (call: CallRecord) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- dispatch ----

  private handler(service: ServiceName, action: string): Handler {
    const model = this.services[service] as unknown as Record<string, unknown>;
    const fn = model[action];
    if (!/^[A-Z]/.test(action) || typeof fn !== 'function') {
      throw new SimError(
        'UnknownOperationException',
        `The embedded simulator does not model ${service}:${action}. Add it to lib/local/simulator/${service}.ts or use a real endpoint.`,
        400,
      );
    }
    return (input, ctx) => (fn as Handler).call(model, input, ctx);
  }

  private principalFor(service: ServiceName, accessKeyId: string): Principal {
    const entry = this.keys.get(accessKeyId);
    if (!entry) {
      const k = SERVICES[service].unknownKey;
      throw new SimError(k.code, 'The security token included in the request is invalid.', k.status);
    }
    const expiresAt = entry.principal.expiresAt;
    if (expiresAt !== undefined && this.clock.now() >= expiresAt) {
      const k = SERVICES[service].expired;
      throw new SimError(k.code, 'The security token included in the request is expired', k.status);
    }
    return entry.principal;
  }

  private takeFault(
    service: ServiceName,
    action: string,
    accountId: string,
    region: string,
  ): SimError | undefined {
    const index = this.faults.findIndex(
      ({ rule }) =>
        rule.service === service &&
        globMatch(rule.action, action) &&
        (rule.accountId === undefined || rule.accountId === accountId) &&
        (rule.region === undefined || rule.region === region),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults.splice(index, 1);
    return injectedError(service, fault.rule.error, fault.rule.message, fault.rule.httpStatusCode);
  }

  private deniedBy(
    service: ServiceName,
    action: string,
    caller: Principal,
    input: unknown,
  ): SimError | undefined {
    for (const rule of this.denies) {
      if (rule.accountId !== caller.accountId || rule.service !== service || !globMatch(rule.action, action))
        continue;
      if (
        rule.principalArn &&
        !globMatch(rule.principalArn, caller.principalArn) &&
        !globMatch(rule.principalArn, caller.arn)
      ) {
        continue;
      }
      const strings = inputStrings(input);
      const resource = rule.resource ? strings.find((s) => globMatch(rule.resource!, s)) : (strings[0] ?? '');
      if (resource === undefined) continue;
      return accessDeniedError(service, caller.arn, action, resource);
    }
    return undefined;
  }

  /** Answers one attempt of one command (the plugin's middleware calls this). */
  async handle(request: SimulatedRequest): Promise<SimulatedResponse> {
    const service = serviceOfClient(request.clientName);
    if (!service) throw new Error(`The embedded simulator does not model the ${request.clientName} client`);
    const action = request.commandName.replace(/Command$/, '');
    const at = this.clock.now();
    const seq = ++this.seq;
    const requestId = this.ids.uuid();
    let caller: Principal | undefined;
    const record = (outcome: string, httpStatusCode: number, message?: string) => {
      const call: CallRecord = {
        seq,
        at,
        durationMs: this.clock.now() - at,
        accountId: caller?.accountId ?? 'unknown',
        region: request.region,
        service,
        action,
        caller: caller?.arn ?? 'unknown',
        input: summarize(request.input),
        outcome,
        httpStatusCode,
        message,
      };
      this.calls.push(call);
      for (const listener of this.listeners) listener(call);
    };
    try {
      const delay = this.latency(service);
      if (delay > 0) await this.clock.sleep(delay);
      caller = this.principalFor(service, request.accessKeyId);
      if (!this.throttler.take(caller.accountId, request.region, service, action))
        throw throttlingError(service);
      const fault = this.takeFault(service, action, caller.accountId, request.region);
      if (fault) throw fault;
      const denied = this.deniedBy(service, action, caller, request.input);
      if (denied) throw denied;
      if (this.authorizer) {
        const verdict = await this.authorizer({
          service,
          action,
          caller,
          region: request.region,
          input: request.input ?? {},
        });
        if (verdict !== true)
          throw accessDeniedError(service, caller.arn, action, verdict === false ? '' : verdict);
      }
      const handler = this.handler(service, action);
      const ctx: CallContext = {
        service,
        action,
        caller,
        accountId: caller.accountId,
        region: request.region,
        partition: partitionOf(request.region),
        now: new Date(this.clock.now()),
        headers: request.headers,
        seeding: false,
      };
      const output = (await handler(request.input ?? {}, ctx)) as Out<Record<string, unknown>>;
      if (this.checkShapes) {
        const problems = outputProblems(service, action, output);
        if (problems.length > 0)
          throw new Error(`simulator output does not match the SDK model:\n${problems.join('\n')}`);
      }
      const status = STATUS[`${service}:${action}`] ?? 200;
      record('ok', status);
      return { output, status, requestId, extendedRequestId: service === 's3' ? requestId : undefined };
    } catch (e) {
      if (e instanceof SimError) {
        record(e.code, e.status, e.message);
        throw toSdkError(service, e, requestId);
      }
      record('SimulatorError', 0, (e as Error).message);
      throw e;
    }
  }
}
