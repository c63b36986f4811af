import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  type GetItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import {
  BackstopGuardConfigError,
  BackstopRefusedError,
  GUARD_MODES,
  type GuardMode,
  type RefusalDetail,
} from './errors';

/** What the agent is about to do. */
export interface GuardCheck {
  /** The tool or API action, e.g. `s3:PutObject`, `send_email`, `searchTickets`. */
  readonly action: string;
  /** ARN (or any identifier) of what the action touches; `draft_only` writes must name a draft resource. */
  readonly resource?: string;
  /** `high`: refused in every kill mode unless a verified approval token comes with it. @default 'low' */
  readonly risk?: 'low' | 'high';
  /**
   * Whether the action only reads. @default - read when the action's verb says so (`Get`, `List`,
   * `Describe`, `Head`, `BatchGet`, `Search`, `Query`, `Scan`, `Select`, `Lookup`, `Read`, `View`,
   * `Fetch`), a write otherwise
   */
  readonly access?: 'read' | 'write';
  /** Proof that a person approved this high-risk action (checked by `verifyApproval`). */
  readonly approvalToken?: string;
}

/** The control flag as the guard last read it. */
export interface FlagState {
  readonly mode: GuardMode;
  readonly highRiskToolsEnabled: boolean;
  readonly incidentId?: string;
  readonly updatedAt?: string;
  readonly version: number;
}

export interface GuardWarning {
  /**
   * - `FLAG_UNAVAILABLE`: a read of the flag failed (the control plane is unreachable, or the
   *   agent's role may no longer read it).
   * - `READ_WITHOUT_FLAG`: a read was let through although the flag is older than the staleness bound.
   */
  readonly code: 'FLAG_UNAVAILABLE' | 'READ_WITHOUT_FLAG';
  readonly message: string;
  readonly agentId: string;
  readonly action?: string;
  readonly error?: { readonly name: string; readonly message: string };
}

/** The one DynamoDB call the guard makes. */
export interface FlagReader {
  send(command: GetItemCommand, options?: { abortSignal?: AbortSignal }): Promise<GetItemCommandOutput>;
}

export interface BackstopGuardOptions {
  /** The agent's id in backstop.config.json. */
  readonly agentId: string;
  /** ARN of the control plane's state table (stack output `StateTableArn`). */
  readonly tableArn: string;
  /** @default - the table ARN's region (it must be that region) */
  readonly region?: string;
  /** Oldest flag a decision may rest on, in ms. @default 2000 */
  readonly maxStalenessMs?: number;
  /** Longest one read of the flag may take before it counts as failed, in ms. @default 1000 */
  readonly readTimeoutMs?: number;
  /** Resources (`*` and `?` wildcards) the agent may still write in `draft_only`. @default [] */
  readonly draftResources?: readonly string[];
  /** Actions (wildcards allowed, case-insensitive) that are high-risk whatever `risk` says. @default [] */
  readonly highRiskActions?: readonly string[];
  /**
   * Verifies the approval token of a high-risk action. Without it no token is accepted: a token the
   * agent could make up itself proves nothing. @default - every token is refused
   */
  readonly verifyApproval?: (token: string, check: GuardCheck) => boolean | Promise<boolean>;
  /** Modes whose arrival aborts `signal` (in-flight work is cancelled). @default ['read_only', 'full_stop'] */
  readonly abortOn?: readonly GuardMode[];
  /** @default - process.emitWarning */
  readonly onWarning?: (warning: GuardWarning) => void;
  /** @default - a DynamoDB client for the region, credentials from the standard chain */
  readonly client?: FlagReader;
}

const AGENT_ID = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const TABLE_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):dynamodb:([a-z0-9-]+):(\d{12}):table\/([A-Za-z0-9_.-]{3,255})$/;
const READ_VERBS = [
  'batchget',
  'describe',
  'fetch',
  'get',
  'head',
  'list',
  'lookup',
  'query',
  'read',
  'scan',
  'search',
  'select',
  'view',
];
const DEFAULT_ABORT_ON: readonly GuardMode[] = ['read_only', 'full_stop'];
/** After a failed read, checks decide without reading again for this long (never hammer a control plane that is down). */
const MAX_RETRY_PAUSE_MS = 1000;

const rank = (mode: GuardMode) => GUARD_MODES.indexOf(mode);

function globToRegExp(pattern: string, flags = ''): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

/** Whether an action's name says it only reads (its verb, after the service prefix). */
export function isReadAction(action: string): boolean {
  const verb = (action.split(':').pop() ?? '').replace(/[-_\s]/g, '').toLowerCase();
  return READ_VERBS.some((v) => verb.startsWith(v));
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number) {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new BackstopGuardConfigError(
      `${name} must be a whole number of milliseconds from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return v;
}

function toFlag(item: Record<string, AttributeValue> | undefined): FlagState {
  if (!item) return { mode: 'normal', highRiskToolsEnabled: true, version: 0 };
  const mode = item.mode?.S;
  if (!mode || !(GUARD_MODES as readonly string[]).includes(mode)) {
    throw new Error(`the control flag holds ${JSON.stringify(mode)}, which is not a mode this guard knows`);
  }
  const version = Number(item.version?.N ?? '0');
  return {
    mode: mode as GuardMode,
    highRiskToolsEnabled: item.highRiskToolsEnabled?.BOOL === true,
    ...(item.incidentId?.S ? { incidentId: item.incidentId.S } : {}),
    ...(item.updatedAt?.S ? { updatedAt: item.updatedAt.S } : {}),
    version: Number.isFinite(version) ? version : 0,
  };
}

/**
 * The agent's own brake: reads the agent's control flag (the mode the kill path sets) from the
 * control plane's state table and refuses what the mode forbids, before the tool call is made.
 *
 * - `check()` throws {@link BackstopRefusedError} when the mode forbids the action: `full_stop`
 *   everything; `read_only` anything but reads; `draft_only` writes outside `draftResources`;
 *   `approval_gated` (and every stricter mode) high-risk actions without a verified approval token.
 * - A decision rests on a flag read at most `maxStalenessMs` earlier; checks within that time share
 *   the cached flag, and a poll keeps it fresh while the guard is in use.
 * - `signal` aborts when the mode becomes one of `abortOn`, so in-flight tool calls are cancelled.
 * - When the flag cannot be read within the bound, writes and high-risk actions fail closed and
 *   reads go on with a warning (a stricter mode read earlier still holds).
 *
 * This is the cooperative layer: an agent that skips it is still cut by the kill path's IAM deny
 * policies. It never writes.
 */
export class BackstopGuard {
  readonly agentId: string;
  readonly tableArn: string;
  readonly region: string;
  readonly maxStalenessMs: number;
  private readonly readTimeoutMs: number;
  private readonly drafts: RegExp[];
  private readonly highRisk: RegExp[];
  private readonly verifyApproval?: BackstopGuardOptions['verifyApproval'];
  private readonly abortOn: ReadonlySet<GuardMode>;
  private readonly warn: (warning: GuardWarning) => void;
  private readonly client: FlagReader;

  private known?: { readonly flag: FlagState; readonly readAt: number };
  private lastError?: Error;
  private retryAt = 0;
  private inflight?: Promise<void>;
  private controller = new AbortController();
  private timer?: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(options: BackstopGuardOptions) {
    if (typeof options?.agentId !== 'string' || !AGENT_ID.test(options.agentId)) {
      throw new BackstopGuardConfigError(
        `agentId must be the agent's id from backstop.config.json (lowercase letters, digits, dashes), got ${JSON.stringify(options?.agentId)}`,
      );
    }
    const arn = typeof options.tableArn === 'string' ? TABLE_ARN.exec(options.tableArn) : null;
    if (!arn) {
      throw new BackstopGuardConfigError(
        `tableArn must be the state table's ARN (arn:aws:dynamodb:<region>:<account>:table/<name>), got ${JSON.stringify(options.tableArn)}`,
      );
    }
    const tableRegion = arn[2] as string;
    if (options.region !== undefined && options.region !== tableRegion) {
      throw new BackstopGuardConfigError(
        `region ${options.region} is not the region of tableArn (${tableRegion}): leave region out or set it to ${tableRegion}`,
      );
    }
    this.agentId = options.agentId;
    this.tableArn = options.tableArn;
    this.region = tableRegion;
    this.maxStalenessMs = integerOption('maxStalenessMs', options.maxStalenessMs, 2000, 100, 300_000);
    this.readTimeoutMs = integerOption('readTimeoutMs', options.readTimeoutMs, 1000, 10, 60_000);
    for (const [name, list] of [
      ['draftResources', options.draftResources],
      ['highRiskActions', options.highRiskActions],
    ] as const) {
      if (
        list !== undefined &&
        (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || p === ''))
      ) {
        throw new BackstopGuardConfigError(`${name} must be a list of non-empty strings`);
      }
    }
    this.drafts = (options.draftResources ?? []).map((p) => globToRegExp(p));
    this.highRisk = (options.highRiskActions ?? []).map((p) => globToRegExp(p, 'i'));
    const abortOn = options.abortOn ?? DEFAULT_ABORT_ON;
    const unknown = abortOn.filter((m) => !(GUARD_MODES as readonly string[]).includes(m) || m === 'normal');
    if (unknown.length > 0) {
      throw new BackstopGuardConfigError(
        `abortOn: ${unknown.join(', ')} is not a kill mode (one of ${GUARD_MODES.slice(1).join(', ')})`,
      );
    }
    this.abortOn = new Set(abortOn);
    this.verifyApproval = options.verifyApproval;
    this.warn =
      options.onWarning ??
      ((w) => process.emitWarning(w.message, { type: 'BackstopGuardWarning', code: w.code }));
    this.client = options.client ?? new DynamoDBClient({ region: tableRegion, maxAttempts: 2 });
  }

  /**
   * Aborts when the agent's mode becomes one of `abortOn`: pass it to every tool call. After it
   * aborted, the next `signal` is a fresh one for the work that is still allowed.
   */
  get signal(): AbortSignal {
    this.startPolling();
    return this.controller.signal;
  }

  /** The flag as last read, and whether it is within the staleness bound. */
  state(): { readonly flag?: FlagState; readonly fresh: boolean; readonly ageMs?: number } {
    const ageMs = this.known ? Date.now() - this.known.readAt : undefined;
    return { flag: this.known?.flag, fresh: this.isFresh(), ageMs };
  }

  /** Reads the flag now and starts the poll that keeps it fresh (and drives `signal`). */
  async start(): Promise<void> {
    this.startPolling();
    await this.refresh();
  }

  /**
   * Stops the poll for good: the guard keeps answering checks, reading the flag on demand, but
   * `signal` no longer aborts by itself.
   */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Resolves when the agent may perform the action; throws {@link BackstopRefusedError} when its
   * mode forbids it or the flag cannot be read for a write or high-risk action.
   */
  async check(request: GuardCheck): Promise<void> {
    const check = this.validate(request);
    this.startPolling();
    if (!this.isFresh() && Date.now() >= this.retryAt) await this.refresh();
    await this.decide(check);
  }

  /** Checks the action, then runs it with the abort signal. */
  async run<T>(request: GuardCheck, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    await this.check(request);
    return fn(this.signal);
  }

  // ---- decisions ----

  private validate(request: GuardCheck): GuardCheck {
    if (typeof request !== 'object' || request === null) {
      throw new TypeError('check() takes { action, resource?, risk?, access?, approvalToken? }');
    }
    if (typeof request.action !== 'string' || request.action.trim() === '') {
      throw new TypeError('check(): action must name the tool or API action, e.g. "s3:PutObject"');
    }
    if (request.risk !== undefined && request.risk !== 'low' && request.risk !== 'high') {
      throw new TypeError(`check(): risk must be "low" or "high", got ${JSON.stringify(request.risk)}`);
    }
    if (request.access !== undefined && request.access !== 'read' && request.access !== 'write') {
      throw new TypeError(`check(): access must be "read" or "write", got ${JSON.stringify(request.access)}`);
    }
    if (request.resource !== undefined && typeof request.resource !== 'string') {
      throw new TypeError('check(): resource must be a string');
    }
    return request;
  }

  private isFresh(): boolean {
    return this.known !== undefined && Date.now() - this.known.readAt <= this.maxStalenessMs;
  }

  private async decide(check: GuardCheck): Promise<void> {
    const read = check.access ? check.access === 'read' : isReadAction(check.action);
    const highRisk = check.risk === 'high' || this.highRisk.some((re) => re.test(check.action));
    const flag = this.known?.flag;
    const fresh = this.isFresh();
    if (flag) await this.decideOnMode(flag, check, read, highRisk, fresh);
    if (fresh) return;
    // The flag is older than the bound: fail closed for what could do harm, warn for reads.
    const error = this.lastError;
    const why = error ? `${error.name}: ${error.message}` : 'not read yet';
    if (!read || highRisk) {
      throw this.refuse(
        check,
        'flag_unavailable',
        flag,
        `${check.action} refused: the control flag of ${this.agentId} could not be read within ${this.maxStalenessMs} ms (${why}), and ${highRisk ? 'high-risk actions' : 'writes'} fail closed`,
      );
    }
    this.warn({
      code: 'READ_WITHOUT_FLAG',
      agentId: this.agentId,
      action: check.action,
      message: `Backstop: ${check.action} allowed as a read although the control flag of ${this.agentId} could not be read within ${this.maxStalenessMs} ms (${why})`,
      ...(error ? { error: { name: error.name, message: error.message } } : {}),
    });
  }

  private async decideOnMode(
    flag: FlagState,
    check: GuardCheck,
    read: boolean,
    highRisk: boolean,
    fresh: boolean,
  ): Promise<void> {
    const mode = flag.mode;
    const since = flag.incidentId ? ` (incident ${flag.incidentId})` : '';
    const stale = fresh ? '' : ' (the last mode read; the flag is unavailable now)';
    if (mode === 'full_stop') {
      throw this.refuse(
        check,
        mode,
        flag,
        `${check.action} refused: ${this.agentId} is in full_stop${since}${stale}`,
      );
    }
    if (mode === 'read_only' && !read) {
      throw this.refuse(
        check,
        mode,
        flag,
        `${check.action} refused: ${this.agentId} is in read_only${since}${stale}: only reads are allowed`,
      );
    }
    if (mode === 'draft_only' && !read) {
      const resource = check.resource;
      if (resource === undefined || !this.drafts.some((re) => re.test(resource))) {
        throw this.refuse(
          check,
          mode,
          flag,
          `${check.action} refused: ${this.agentId} is in draft_only${since}${stale}: writes go only to draft resources, and ${resource === undefined ? 'no resource was named' : `${resource} is not one`}`,
        );
      }
    }
    if (highRisk && (mode !== 'normal' || !flag.highRiskToolsEnabled)) {
      const token = check.approvalToken;
      const approved =
        typeof token === 'string' &&
        token !== '' &&
        this.verifyApproval !== undefined &&
        (await this.verifyApproval(token, check)) === true;
      if (!approved) {
        throw this.refuse(
          check,
          mode === 'normal' ? 'approval_gated' : mode,
          flag,
          `${check.action} refused: ${this.agentId} is in ${mode}${since}${stale}: high-risk actions need an approval token${
            token
              ? this.verifyApproval
                ? ' that verifies'
                : ', and no verifyApproval is configured to check it'
              : ''
          }`,
        );
      }
    }
  }

  private refuse(
    check: GuardCheck,
    reason: RefusalDetail['reason'],
    flag: FlagState | undefined,
    message: string,
  ): BackstopRefusedError {
    return new BackstopRefusedError(message, {
      agentId: this.agentId,
      action: check.action,
      ...(check.resource !== undefined ? { resource: check.resource } : {}),
      reason,
      ...(flag ? { mode: flag.mode } : {}),
      ...(flag?.incidentId ? { incidentId: flag.incidentId } : {}),
    });
  }

  // ---- the flag ----

  private startPolling(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => {
      void this.refresh();
    }, this.maxStalenessMs);
    // A guard never keeps the process alive on its own.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** One read at a time; concurrent callers share it. Never throws. */
  private refresh(): Promise<void> {
    this.inflight ??= this.readOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async readOnce(): Promise<void> {
    const startedAt = Date.now();
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new Error(`no answer within ${this.readTimeoutMs} ms`)),
      this.readTimeoutMs,
    );
    try {
      const out = await Promise.race([
        this.client.send(
          new GetItemCommand({
            TableName: this.tableArn,
            Key: { pk: { S: `AGENT#${this.agentId}` }, sk: { S: 'MODE' } },
            ProjectionExpression: '#mode, #highRisk, #incident, #updated, #version',
            ExpressionAttributeNames: {
              '#mode': 'mode',
              '#highRisk': 'highRiskToolsEnabled',
              '#incident': 'incidentId',
              '#updated': 'updatedAt',
              '#version': 'version',
            },
            ConsistentRead: true,
          }),
          { abortSignal: timeout.signal },
        ),
        // A client that ignores the abort signal still counts as failed at the timeout.
        new Promise<never>((_, reject) => {
          timeout.signal.addEventListener('abort', () => reject(timeout.signal.reason as Error), {
            once: true,
          });
        }),
      ]);
      this.accept(toFlag(out.Item), startedAt);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      this.lastError = error;
      this.retryAt = Date.now() + Math.min(this.maxStalenessMs, MAX_RETRY_PAUSE_MS);
      this.warn({
        code: 'FLAG_UNAVAILABLE',
        agentId: this.agentId,
        message: `Backstop: the control flag of ${this.agentId} could not be read (${error.name}: ${error.message})`,
        error: { name: error.name, message: error.message },
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private accept(flag: FlagState, readAt: number): void {
    // A slower, older read never replaces a newer one.
    if (this.known && this.known.readAt > readAt) return;
    const previous = this.known?.flag.mode ?? 'normal';
    this.known = { flag, readAt };
    this.lastError = undefined;
    this.retryAt = 0;
    if (this.abortOn.has(flag.mode) && rank(flag.mode) > rank(previous)) {
      const since = flag.incidentId ? ` (incident ${flag.incidentId})` : '';
      this.controller.abort(
        new BackstopRefusedError(
          `${this.agentId} is now in ${flag.mode}${since}: in-flight work is cancelled`,
          {
            agentId: this.agentId,
            action: '*',
            reason: flag.mode as Exclude<GuardMode, 'normal'>,
            mode: flag.mode,
            ...(flag.incidentId ? { incidentId: flag.incidentId } : {}),
          },
        ),
      );
    }
    if (this.controller.signal.aborted) this.controller = new AbortController();
  }
}
