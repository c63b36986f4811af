import { randomBytes, randomUUID } from 'node:crypto';
import { type AslDefinition, isRecord, type ScopeStep } from './asl';
import {
  childExecutionTaskName,
  distributedProcessors,
  executableDefinition,
  LOCAL_EXECUTION_KEY,
  type LoadedStateMachine,
  type LoadOptions,
  loadStateMachine,
  StateMachineRefusedError,
  type TaskBinding,
} from './definition';
import { type InterpreterEvent, type InterpreterRunOptions, loadInterpreter } from './interpreter';
import type { CfnTemplate } from './template';

/** What a handler gets besides its event: the Lambda function's identity and environment. */
export interface HandlerContext {
  /** The function's resolved `Environment.Variables`. */
  readonly env: Readonly<Record<string, string>>;
  readonly functionLogicalId: string;
  readonly functionName: string;
  readonly stateName: string;
  readonly executionArn: string;
  /** Aborted when the execution is over (aborted, timed out, or finished while the handler still runs). */
  readonly signal: AbortSignal;
  /**
   * The run's waitScale: a handler that pauses while something settles scales its pauses by it,
   * as the engine scales the Wait states. @default 1
   */
  readonly waitScale: number;
}

/** Runs one Lambda function's code: gets the invocation payload, returns the function's result. */
export type EngineHandler = (event: unknown, ctx: HandlerContext) => Promise<unknown>;

/** Handlers by name: a Task runs `handlers[<its function's BACKSTOP_HANDLER>]`. */
export type EngineHandlers = Readonly<Record<string, EngineHandler>>;

export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export type EngineEventType =
  | 'ExecutionStarted'
  | 'ExecutionSucceeded'
  | 'ExecutionFailed'
  | 'ExecutionAborted'
  | 'ExecutionTimedOut'
  | 'StateEntered'
  | 'StateExited'
  | 'StateFailed'
  | 'StateRetried'
  | 'StateCaught'
  | 'TaskScheduled'
  | 'TaskSucceeded'
  | 'TaskFailed'
  | 'TaskTimedOut'
  | 'WaitStarted'
  | 'WaitEnded'
  | 'MapIterationStarted'
  | 'MapIterationSucceeded'
  | 'MapIterationFailed'
  | 'ParallelBranchStarted'
  | 'ParallelBranchSucceeded'
  | 'ParallelBranchFailed';

/** An enclosing Map or Parallel state of an event's state, outermost first. */
export interface EngineScope {
  readonly state: string;
  readonly type: 'Map' | 'Parallel';
  /** Parallel: the branch the state belongs to. */
  readonly branch?: number;
  /** Map: the iteration, known for the outermost Map only (the interpreter reports one index). */
  readonly index?: number;
}

export interface EngineEvent {
  readonly type: EngineEventType;
  /** Wall-clock time of the event (millisecond resolution: same-millisecond events keep arrival order). */
  readonly time: string;
  /** Milliseconds since the execution started. */
  readonly elapsedMs: number;
  readonly stateName?: string;
  readonly stateType?: string;
  readonly scope: readonly EngineScope[];
  /** MapIteration events: the iteration of the Map `stateName`. */
  readonly index?: number;
  /** StateRetried and the TaskScheduled after it: the retry number, from 1. */
  readonly attempt?: number;
  readonly error?: string;
  readonly cause?: string;
  /** StateEntered, TaskScheduled, ExecutionStarted. */
  readonly input?: unknown;
  /**
   * StateExited and TaskSucceeded: the state's output (after ResultSelector, ResultPath and
   * OutputPath). ExecutionSucceeded, MapIterationSucceeded, ParallelBranchSucceeded: the result.
   */
  readonly output?: unknown;
  /** Task events: the handler and function that ran. */
  readonly handler?: string;
  readonly functionLogicalId?: string;
  /**
   * The child execution the event belongs to (a distributed Map runs each item as one), by name;
   * absent for the events of the execution itself.
   */
  readonly childExecution?: string;
}

/** One execution's history, as Step Functions would keep it (the execution itself, or a child). */
export interface ExecutionHistory {
  /** The child execution's name; absent for the execution itself. */
  readonly childExecution?: string;
  /** The distributed Map that started it (child executions only). */
  readonly map?: string;
  /**
   * History events Step Functions would record: the engine's events plus one TaskStarted per
   * Task attempt (Step Functions records TaskScheduled, TaskStarted and TaskSucceeded).
   */
  readonly events: number;
  /** The largest input or output of a state in it, in bytes (Step Functions allows 256 KB). */
  readonly largestPayloadBytes: number;
}

export interface RunOptions {
  /** The execution's name, also its idempotency key within this engine (as with StartExecution). */
  readonly executionName: string;
  /** `$$.Execution.StartTime`. @default - the moment run() is called */
  readonly startTime?: Date;
  /** Multiplies every Wait: 0 skips waits, 1 is real time. @default 1 */
  readonly waitScale?: number;
  /** Multiplies every retry interval (backoff and jitter keep their shape). @default - waitScale */
  readonly retryScale?: number;
  /** Aborts the execution (status ABORTED). @default - not abortable */
  readonly signal?: AbortSignal;
  /**
   * Called with each event as it arrives (arrival order; `events` in the result is in time order).
   * An exception it throws does not disturb the execution; run() rejects with it once the
   * execution is over. @default - events are only returned in the result
   */
  readonly onEvent?: (event: EngineEvent) => void;
}

export interface ExecutionResult {
  readonly executionArn: string;
  readonly executionName: string;
  readonly stateMachineArn: string;
  readonly status: ExecutionStatus;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly startTime: Date;
  readonly stopTime: Date;
  /** Every event, in time order (child executions' too, marked `childExecution`). */
  readonly events: readonly EngineEvent[];
  /** The history of the execution, then of each child execution it started, in start order. */
  readonly histories: readonly ExecutionHistory[];
}

/** A `.waitForTaskToken` task waiting for `sendTaskSuccess` or `sendTaskFailure`. */
export interface PendingTaskToken {
  readonly token: string;
  readonly executionName: string;
  readonly executionArn: string;
  readonly stateName: string;
  readonly functionLogicalId: string;
  readonly since: Date;
}

/** StartExecution-style refusals, named after the Step Functions error codes. */
export class StartExecutionError extends Error {
  constructor(
    override readonly name:
      'InvalidName' | 'InvalidExecutionInput' | 'ExecutionAlreadyExists' | 'InvalidRunOptions',
    message: string,
  ) {
    super(message);
  }
}

/** SendTaskSuccess / SendTaskFailure refusals, named after the Step Functions error codes. */
export class TaskTokenError extends Error {
  constructor(
    override readonly name: 'TaskDoesNotExist' | 'TaskTimedOut' | 'InvalidOutput',
    message: string,
  ) {
    super(message);
  }
}

export interface LocalEngineOptions {
  readonly handlers: EngineHandlers;
}

export interface CreateLocalEngineOptions extends LoadOptions, LocalEngineOptions {}

/** Step Functions' quota on the size of an execution input and of a state's result, in bytes. */
export const MAX_PAYLOAD_BYTES = 262_144;

/** Step Functions' quota on the events of one execution's history (a child execution has its own). */
export const MAX_HISTORY_EVENTS = 25_000;

const FAIL_STATE_DEFAULT_ERROR = 'FailStateError';
const FAIL_STATE_DEFAULT_CAUSE = 'Execution failed because of a Fail state';

interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: Error) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface PendingToken extends PendingTaskToken {
  readonly settle: Deferred<unknown>;
}

interface ExecutionRecord {
  readonly inputKey: string;
  readonly result: Promise<ExecutionResult>;
}

type LocalTaskHandlers = NonNullable<
  NonNullable<InterpreterRunOptions['overrides']>['taskResourceLocalHandlers']
>;
/** The interpreter's JSON value type (results cross a JSON boundary in `call`, so they are JSON). */
type InterpreterJson = Awaited<ReturnType<LocalTaskHandlers[string]>>;

interface RunState {
  readonly executionName: string;
  readonly executionArn: string;
  readonly tokenSentinel: string;
  readonly signal: AbortSignal;
  /** Multiplies every Wait of the execution and its children. */
  readonly waitTimeOverrides: Record<string, number> | undefined;
  readonly waitScale: number;
  readonly retryScale: number;
  /** Takes every event of the execution and of its child executions. */
  readonly sink: (raw: InterpreterEvent, childExecution?: string) => void;
  /** Stops the execution: its history passed Step Functions' limit. */
  readonly historyExceeded: (history: string) => void;
  /** Child executions started so far, per distributed Map. */
  readonly children: Map<string, number>;
  readonly histories: Map<string, { map?: string; events: number; largestPayloadBytes: number }>;
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** A handler's exception as Lambda reports it: the error type is its name, the cause the runtime's JSON. */
function lambdaError(thrown: unknown): Error {
  const isError = isRecord(thrown) && typeof thrown.name === 'string' && typeof thrown.message === 'string';
  const errorType = isError ? (thrown.name as string) : typeof thrown;
  const errorMessage = isError ? (thrown.message as string) : String(thrown);
  const stack = isError && typeof thrown.stack === 'string' ? thrown.stack : '';
  return namedError(
    errorType,
    JSON.stringify({ errorType, errorMessage, trace: stack ? stack.split('\n') : [] }),
  );
}

function byteLength(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
}

function checkSize(value: unknown, stateName: string): unknown {
  const size = byteLength(value);
  if (size > MAX_PAYLOAD_BYTES) {
    const error = namedError(
      'States.DataLimitExceeded',
      `the result of ${stateName} is ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte payload quota of Step Functions`,
    );
    // The interpreter reads these: the error fails the execution, as in Step Functions.
    Object.assign(error, { isRetryable: false, isCatchable: false });
    throw error;
  }
  return value;
}

function replaceAll(value: unknown, search: string, replacement: string): unknown {
  if (typeof value === 'string')
    return value.includes(search) ? value.split(search).join(replacement) : value;
  if (Array.isArray(value)) return value.map((v) => replaceAll(v, search, replacement));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceAll(v, search, replacement)]));
  }
  return value;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function invalidNameCharacter(name: string): string | undefined {
  for (const ch of name) {
    const code = ch.codePointAt(0) ?? 0;
    if (
      code <= 0x1f ||
      (code >= 0x7f && code <= 0x9f) ||
      /\s/.test(ch) ||
      '<>{}[]?*"#%\\^|~`$&,;:/'.includes(ch)
    ) {
      return ch;
    }
  }
  return undefined;
}

function scaleOption(value: number | undefined, fallback: number, label: string): number {
  const scale = value ?? fallback;
  if (!Number.isFinite(scale) || scale < 0) {
    throw new StartExecutionError('InvalidRunOptions', `${label} must be a finite number >= 0, got ${value}`);
  }
  return scale;
}

function stringify(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Executes one state machine of a synthesized template with aws-local-stepfunctions, its Task
 * states running local handlers instead of Lambda functions.
 */
export class LocalEngine {
  readonly machine: LoadedStateMachine;
  private readonly handlers: EngineHandlers;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly tokens = new Map<string, PendingToken>();
  private readonly closedTokens = new Set<string>();
  private readonly executables = new Map<number, AslDefinition>();
  private readonly childProcessors = new Map<number, ReadonlyMap<string, AslDefinition>>();
  private readonly scopes = new Map<string, readonly ScopeStep[]>();

  constructor(machine: LoadedStateMachine, options: LocalEngineOptions) {
    const missing = Object.values(machine.tasks).filter(
      (t) => typeof options.handlers[t.handler] !== 'function',
    );
    if (missing.length) {
      throw new StateMachineRefusedError(
        `${machine.name} (${machine.logicalId})`,
        missing.map((t) => ({
          path: t.path,
          state: t.stateName,
          reason: `handler '${t.handler}' (BACKSTOP_HANDLER of function ${t.functionLogicalId}) is not registered with the engine`,
        })),
      );
    }
    this.machine = machine;
    this.handlers = options.handlers;
    for (const place of machine.states) {
      this.scopes.set(place.name, place.scope);
    }
  }

  /**
   * Starts an execution and resolves when it ends. A name already used in this engine returns
   * the first execution's result if the input is the same, and rejects with
   * `ExecutionAlreadyExists` otherwise.
   */
  run(input: unknown, options: RunOptions): Promise<ExecutionResult> {
    let normalized: unknown;
    let inputKey: string;
    let waitScale: number;
    let retryScale: number;
    let waitTimeOverrides: Record<string, number> | undefined;
    try {
      const name = options.executionName;
      if (typeof name !== 'string' || name.length < 1 || name.length > 80) {
        throw new StartExecutionError(
          'InvalidName',
          `execution name must be 1 to 80 characters, got ${JSON.stringify(name)}`,
        );
      }
      const bad = invalidNameCharacter(name);
      if (bad !== undefined) {
        throw new StartExecutionError(
          'InvalidName',
          `execution name ${JSON.stringify(name)} contains ${JSON.stringify(bad)}`,
        );
      }
      const text = JSON.stringify(input === undefined ? {} : input);
      if (text === undefined) throw new StartExecutionError('InvalidExecutionInput', 'the input is not JSON');
      if (Buffer.byteLength(text, 'utf8') > MAX_PAYLOAD_BYTES) {
        throw new StartExecutionError(
          'InvalidExecutionInput',
          `the input is over ${MAX_PAYLOAD_BYTES} bytes`,
        );
      }
      normalized = JSON.parse(text);
      inputKey = canonicalJson(normalized);
      waitScale = scaleOption(options.waitScale, 1, 'waitScale');
      retryScale = scaleOption(options.retryScale, waitScale, 'retryScale');
      waitTimeOverrides = this.waitOverrides(waitScale);
    } catch (e) {
      return Promise.reject(e);
    }
    const prior = this.executions.get(options.executionName);
    if (prior) {
      if (prior.inputKey === inputKey) return prior.result;
      return Promise.reject(
        new StartExecutionError(
          'ExecutionAlreadyExists',
          `execution ${options.executionName} already exists with a different input`,
        ),
      );
    }
    // Recorded before the first state runs, so a start from inside a handler finds it.
    const result = Promise.resolve().then(() =>
      this.execute(normalized, options, retryScale, waitTimeOverrides),
    );
    this.executions.set(options.executionName, { inputKey, result });
    return result;
  }

  /** The `.waitForTaskToken` tasks waiting now, optionally of one execution. */
  pendingTaskTokens(executionName?: string): PendingTaskToken[] {
    return [...this.tokens.values()]
      .filter((t) => executionName === undefined || t.executionName === executionName)
      .map(({ settle: _settle, ...info }) => info);
  }

  /** Completes a `.waitForTaskToken` task with `output` (a JSON document, as SendTaskSuccess takes it). */
  sendTaskSuccess(token: string, output: string): void {
    const pending = this.pendingToken(token);
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch (e) {
      throw new TaskTokenError('InvalidOutput', `output is not JSON: ${(e as Error).message}`);
    }
    this.closeToken(pending);
    pending.settle.resolve(value);
  }

  /** Fails a `.waitForTaskToken` task, as SendTaskFailure does. @default error 'States.TaskFailed' */
  sendTaskFailure(token: string, error?: string, cause?: string): void {
    const pending = this.pendingToken(token);
    this.closeToken(pending);
    pending.settle.reject(namedError(error ?? 'States.TaskFailed', cause ?? ''));
  }

  private pendingToken(token: string): PendingToken {
    const pending = this.tokens.get(token);
    if (pending) return pending;
    if (this.closedTokens.has(token)) {
      throw new TaskTokenError(
        'TaskTimedOut',
        'the task of this token has already completed, failed or timed out',
      );
    }
    throw new TaskTokenError('TaskDoesNotExist', 'no task of this engine is waiting for this token');
  }

  private closeToken(pending: PendingToken): void {
    this.tokens.delete(pending.token);
    this.closedTokens.add(pending.token);
  }

  private executable(retryScale: number): AslDefinition {
    let definition = this.executables.get(retryScale);
    if (!definition) {
      definition = executableDefinition(this.machine, retryScale);
      this.executables.set(retryScale, definition);
    }
    return definition;
  }

  /** Per Wait state, the scaled duration in ms (the interpreter applies overrides at any nesting depth, by name). */
  private waitOverrides(scale: number): Record<string, number> | undefined {
    if (scale === 1) return undefined;
    const overrides: Record<string, number> = {};
    for (const place of this.machine.states) {
      const { name, state } = place;
      if (state.Type !== 'Wait') continue;
      if (scale === 0) {
        overrides[name] = 0;
      } else if (typeof state.Seconds === 'number') {
        overrides[name] = state.Seconds * 1000 * scale;
      } else if (typeof state.Timestamp === 'string') {
        const until = Date.parse(state.Timestamp);
        Object.defineProperty(overrides, name, {
          enumerable: true,
          get: () => Math.max(0, (until - Date.now()) * scale),
        });
      } else {
        const field = state.SecondsPath !== undefined ? 'SecondsPath' : 'TimestampPath';
        throw new StartExecutionError(
          'InvalidRunOptions',
          `waitScale ${scale} cannot scale Wait state '${name}': its duration comes from ${field} at run time; use 0 or 1`,
        );
      }
    }
    return overrides;
  }

  private async execute(
    input: unknown,
    options: RunOptions,
    retryScale: number,
    waitTimeOverrides: Record<string, number> | undefined,
  ): Promise<ExecutionResult> {
    const { StateMachine, ExecutionError, ExecutionAbortedError, ExecutionTimeoutError } = loadInterpreter();
    const m = this.machine;
    const startedAt = Date.now();
    const startTime = options.startTime ?? new Date(startedAt);
    const executionArn = `arn:${m.partition}:states:${m.region}:${m.accountId}:execution:${m.name}:${options.executionName}`;
    const handlerAbort = new AbortController();

    const events: EngineEvent[] = [];
    let onEventError: unknown;
    let overLimit: string | undefined;
    const histories: RunState['histories'] = new Map([['', { events: 0, largestPayloadBytes: 0 }]]);
    const sink = (raw: InterpreterEvent, childExecution?: string) => {
      const history = histories.get(childExecution ?? '');
      for (const event of this.mapEvent(raw, startedAt)) {
        const marked = childExecution ? { ...event, childExecution } : event;
        events.push(marked);
        if (history) {
          history.events += event.type === 'TaskScheduled' ? 2 : 1;
          const payload =
            event.type === 'StateEntered'
              ? event.input
              : event.type === 'StateExited'
                ? event.output
                : undefined;
          if (payload !== undefined) {
            history.largestPayloadBytes = Math.max(history.largestPayloadBytes, byteLength(payload));
          }
          if (history.events > MAX_HISTORY_EVENTS && overLimit === undefined) {
            run.historyExceeded(childExecution ?? options.executionName);
          }
        }
        try {
          options.onEvent?.(marked);
        } catch (e) {
          onEventError ??= e;
        }
      }
    };
    let stop: () => void = () => {};
    const run: RunState = {
      executionName: options.executionName,
      executionArn,
      tokenSentinel: `backstop-local-task-token:${randomUUID()}`,
      signal: handlerAbort.signal,
      waitTimeOverrides,
      waitScale: options.waitScale ?? 1,
      retryScale,
      sink,
      historyExceeded: (name) => {
        overLimit = name;
        stop();
      },
      children: new Map(),
      histories,
    };
    const execution: Record<string, unknown> = {
      Id: executionArn,
      Name: options.executionName,
      StartTime: startTime.toISOString(),
      Input: structuredClone(input),
      RedriveCount: 0,
    };
    if (m.roleArn !== undefined) execution.RoleArn = m.roleArn;
    const context = {
      Execution: execution,
      [LOCAL_EXECUTION_KEY]: execution,
      StateMachine: { Id: m.arn, Name: m.name },
      Task: { Token: run.tokenSentinel },
    };
    const runOptions: InterpreterRunOptions = {
      overrides: { taskResourceLocalHandlers: this.taskHandlers(run), waitTimeOverrides },
      context,
    };
    const interpreterMachine = new StateMachine(this.executable(retryScale) as never, {
      validationOptions: { noValidate: true },
    });
    const started = interpreterMachine.run(input as never, runOptions);
    stop = () => started.abort();

    const consume = (async () => {
      for await (const raw of started.eventLogs) sink(raw);
    })();
    const onAbort = () => started.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) started.abort();

    let outcome: Pick<ExecutionResult, 'status' | 'output' | 'error' | 'cause'>;
    try {
      outcome = { status: 'SUCCEEDED', output: await started.result };
    } catch (e) {
      if (overLimit !== undefined) {
        outcome = {
          status: 'FAILED',
          error: 'States.Runtime',
          cause: `the history of execution ${overLimit} reached ${MAX_HISTORY_EVENTS} events, Step Functions' limit for one execution`,
        };
      } else if (e instanceof ExecutionAbortedError) {
        outcome = { status: 'ABORTED' };
      } else if (e instanceof ExecutionTimeoutError) {
        outcome = {
          status: 'TIMED_OUT',
          error: 'States.Timeout',
          cause: `the execution ran longer than the state machine's TimeoutSeconds (${m.definition.TimeoutSeconds})`,
        };
      } else if (e instanceof ExecutionError) {
        outcome = { status: 'FAILED', ...this.failure((e as Error).cause) };
      } else {
        throw e;
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      handlerAbort.abort();
      for (const pending of [...this.tokens.values()].filter((t) => t.executionName === run.executionName)) {
        this.closeToken(pending);
        pending.settle.reject(namedError('States.Runtime', `execution ${run.executionName} is over`));
      }
    }
    await consume;
    if (onEventError !== undefined) throw onEventError;
    return {
      executionArn,
      executionName: options.executionName,
      stateMachineArn: m.arn,
      ...outcome,
      input,
      startTime,
      stopTime: new Date(),
      events: [...events].sort((a, b) => a.elapsedMs - b.elapsedMs),
      histories: [...histories].map(([name, h]) => ({
        ...(name ? { childExecution: name, map: h.map } : {}),
        events: h.events,
        largestPayloadBytes: h.largestPayloadBytes,
      })),
    };
  }

  /**
   * One item of a distributed Map: a child execution of the Map's processor, with its own name,
   * `$$.Execution` and history (its events reach the parent's list, marked with its name), its
   * input and output held to Step Functions' 256 KB.
   */
  private async runChild(mapName: string, input: unknown, parent: RunState): Promise<unknown> {
    const { StateMachine, ExecutionError } = loadInterpreter();
    const processor = this.processors(parent.retryScale).get(mapName);
    if (!processor)
      throw namedError('States.Runtime', `${mapName} is not a distributed Map of this state machine`);
    checkSize(input, `the input of a child execution of ${mapName}`);
    const index = parent.children.get(mapName) ?? 0;
    parent.children.set(mapName, index + 1);
    const name = `${parent.executionName}/${mapName.replace(/[^A-Za-z0-9-]/g, '-')}-${index}`;
    const m = this.machine;
    const executionArn = `arn:${m.partition}:states:${m.region}:${m.accountId}:execution:${m.name}/${name}`;
    parent.histories.set(name, { map: mapName, events: 0, largestPayloadBytes: 0 });
    const child: RunState = { ...parent, executionName: name, executionArn };
    const execution: Record<string, unknown> = {
      Id: executionArn,
      Name: name,
      StartTime: new Date().toISOString(),
      Input: structuredClone(input),
      RedriveCount: 0,
    };
    const started = new StateMachine(processor as never, { validationOptions: { noValidate: true } }).run(
      input as never,
      {
        overrides: {
          taskResourceLocalHandlers: this.taskHandlers(child),
          waitTimeOverrides: parent.waitTimeOverrides,
        },
        context: {
          Execution: execution,
          [LOCAL_EXECUTION_KEY]: execution,
          StateMachine: { Id: m.arn, Name: m.name },
          Task: { Token: parent.tokenSentinel },
        } as InterpreterRunOptions['context'],
      },
    );
    const onAbort = () => started.abort();
    parent.signal.addEventListener('abort', onAbort, { once: true });
    const consume = (async () => {
      for await (const raw of started.eventLogs) parent.sink(raw, name);
    })();
    try {
      const output = await started.result;
      await consume;
      return checkSize(output, `the output of child execution ${name}`);
    } catch (e) {
      await consume.catch(() => undefined);
      // A failed child fails the Map (no tolerated failures), as Step Functions reports it.
      const cause = e instanceof ExecutionError ? (e as Error).cause : e;
      const message = isRecord(cause) && typeof cause.message === 'string' ? cause.message : String(cause);
      throw namedError(
        'States.ExceedToleratedFailureThreshold',
        `child execution ${name} failed: ${message}`,
      );
    } finally {
      parent.signal.removeEventListener('abort', onAbort);
    }
  }

  private processors(retryScale: number): ReadonlyMap<string, AslDefinition> {
    let found = this.childProcessors.get(retryScale);
    if (!found) {
      found = distributedProcessors(this.machine, retryScale);
      this.childProcessors.set(retryScale, found);
    }
    return found;
  }

  /** Error and cause of a failed execution, as Step Functions reports them. */
  private failure(cause: unknown): { error?: string; cause?: string } {
    const error = isRecord(cause) && typeof cause.name === 'string' ? cause.name : undefined;
    const message = isRecord(cause) && typeof cause.message === 'string' ? cause.message : stringify(cause);
    const failStates = this.machine.states.filter((p) => p.state.Type === 'Fail').map((p) => p.state);
    // A Fail state without Error or Cause fails with neither; the interpreter fills in placeholders.
    const errorless = failStates.some((s) => s.Error === undefined && s.ErrorPath === undefined);
    const causeless = failStates.some((s) => s.Cause === undefined && s.CausePath === undefined);
    return {
      error: errorless && error === FAIL_STATE_DEFAULT_ERROR ? undefined : error,
      cause: causeless && message === FAIL_STATE_DEFAULT_CAUSE ? undefined : message,
    };
  }

  private taskHandlers(run: RunState): LocalTaskHandlers {
    const handlers: LocalTaskHandlers = {};
    for (const binding of Object.values(this.machine.tasks)) {
      handlers[binding.stateName] = (input) => this.invoke(binding, input, run) as Promise<InterpreterJson>;
    }
    for (const mapName of this.processors(run.retryScale).keys()) {
      handlers[childExecutionTaskName(mapName)] = (input) =>
        this.runChild(mapName, input, run) as Promise<InterpreterJson>;
    }
    return handlers;
  }

  private async invoke(binding: TaskBinding, stateInput: unknown, run: RunState): Promise<unknown> {
    const handler = this.handlers[binding.handler];
    const ctx: HandlerContext = {
      env: binding.env,
      functionLogicalId: binding.functionLogicalId,
      functionName: binding.functionName,
      stateName: binding.stateName,
      executionArn: run.executionArn,
      signal: run.signal,
      waitScale: run.waitScale,
    };
    if (binding.integration === 'function-arn') {
      return checkSize(await this.call(handler, stateInput, ctx), binding.stateName);
    }
    const parameters = isRecord(stateInput) ? stateInput : {};
    const payload = parameters.Payload === undefined ? {} : parameters.Payload;
    if (binding.integration === 'lambda-invoke-callback') {
      const token = randomBytes(96).toString('base64');
      const settle = deferred<unknown>();
      const pending: PendingToken = {
        token,
        executionName: run.executionName,
        executionArn: run.executionArn,
        stateName: binding.stateName,
        functionLogicalId: binding.functionLogicalId,
        since: new Date(),
        settle,
      };
      this.tokens.set(token, pending);
      try {
        await this.call(handler, replaceAll(payload, run.tokenSentinel, token), ctx);
      } catch (e) {
        if (this.tokens.get(token) === pending) this.closeToken(pending);
        throw e;
      }
      return checkSize(await settle.promise, binding.stateName);
    }
    const result = await this.call(handler, payload, ctx);
    const qualifier = typeof parameters.Qualifier === 'string' ? parameters.Qualifier : undefined;
    const requestId = randomUUID();
    const executedVersion = qualifier !== undefined && /^\d+$/.test(qualifier) ? qualifier : '$LATEST';
    return checkSize(
      {
        ExecutedVersion: executedVersion,
        Payload: result,
        SdkHttpMetadata: {
          HttpHeaders: {
            'Content-Type': 'application/json',
            'X-Amz-Executed-Version': executedVersion,
            'x-amzn-RequestId': requestId,
          },
          HttpStatusCode: 200,
        },
        SdkResponseMetadata: { RequestId: requestId },
        StatusCode: 200,
      },
      binding.stateName,
    );
  }

  /** One Lambda invocation: the payload and the result cross a JSON boundary, errors become Lambda errors. */
  private async call(handler: EngineHandler, payload: unknown, ctx: HandlerContext): Promise<unknown> {
    const event = JSON.parse(JSON.stringify(payload) ?? 'null');
    let result: unknown;
    try {
      result = await handler(event, ctx);
    } catch (e) {
      throw lambdaError(e);
    }
    try {
      const text = JSON.stringify(result);
      return text === undefined ? null : JSON.parse(text);
    } catch (e) {
      throw lambdaError(e);
    }
  }

  private scope(stateName: string | undefined, index: number | undefined): EngineScope[] {
    const steps = stateName === undefined ? [] : (this.scopes.get(stateName) ?? []);
    let indexed = false;
    return steps.map((step) => {
      const out: EngineScope = { state: step.state, type: step.type };
      if (step.branch !== undefined) Object.assign(out, { branch: step.branch });
      if (step.type === 'Map' && !indexed && index !== undefined) {
        indexed = true;
        Object.assign(out, { index });
      }
      return out;
    });
  }

  private mapEvent(raw: InterpreterEvent, startedAt: number): EngineEvent[] {
    const at = { time: new Date(raw.timestamp).toISOString(), elapsedMs: raw.timestamp - startedAt };
    switch (raw.type) {
      case 'ExecutionStarted':
        return [{ type: 'ExecutionStarted', ...at, scope: [], input: raw.input }];
      case 'ExecutionSucceeded':
        return [{ type: 'ExecutionSucceeded', ...at, scope: [], output: raw.output }];
      case 'ExecutionFailed':
        return [{ type: 'ExecutionFailed', ...at, scope: [], error: raw.Error, cause: stringify(raw.Cause) }];
      case 'ExecutionAborted':
        return [{ type: 'ExecutionAborted', ...at, scope: [] }];
      case 'ExecutionTimeout':
        return [{ type: 'ExecutionTimedOut', ...at, scope: [], error: 'States.Timeout' }];
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
      case 'ParallelBranchStarted':
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed': {
        const parent = raw.parentState;
        const failed = raw.type === 'MapIterationFailed' || raw.type === 'ParallelBranchFailed';
        const event: EngineEvent = {
          type: raw.type,
          ...at,
          stateName: parent.name,
          stateType: parent.type,
          scope: this.scope(parent.name, undefined),
          ...(raw.type.startsWith('Map') ? { index: (raw as { index: number }).index } : {}),
          ...(failed
            ? { error: (raw as { Error: string }).Error, cause: stringify((raw as { Cause: unknown }).Cause) }
            : {}),
          ...('output' in raw ? { output: raw.output } : {}),
        };
        return [event];
      }
      default: {
        const { name, type } = raw.state;
        const base = { ...at, stateName: name, stateType: type, scope: this.scope(name, raw.index) };
        const binding = type === 'Task' ? this.machine.tasks[name] : undefined;
        const task = binding
          ? { handler: binding.handler, functionLogicalId: binding.functionLogicalId }
          : {};
        switch (raw.type) {
          case 'StateEntered': {
            const entered: EngineEvent = { type: 'StateEntered', ...base, input: raw.state.input };
            if (type === 'Task')
              return [entered, { type: 'TaskScheduled', ...base, ...task, input: raw.state.input }];
            if (type === 'Wait') return [entered, { type: 'WaitStarted', ...base }];
            return [entered];
          }
          case 'StateExited': {
            const exited: EngineEvent = { type: 'StateExited', ...base, output: raw.state.output };
            if (type === 'Task')
              return [{ type: 'TaskSucceeded', ...base, ...task, output: raw.state.output }, exited];
            if (type === 'Wait') return [{ type: 'WaitEnded', ...base }, exited];
            return [exited];
          }
          case 'StateFailed': {
            const failure = { error: raw.Error, cause: stringify(raw.Cause) };
            if (type !== 'Task') return [{ type: 'StateFailed', ...base, ...failure }];
            const timedOut = raw.Error === 'States.Timeout';
            return [{ type: timedOut ? 'TaskTimedOut' : 'TaskFailed', ...base, ...task, ...failure }];
          }
          case 'StateRetried': {
            const retried: EngineEvent = { type: 'StateRetried', ...base, attempt: raw.retry.attempt };
            if (type !== 'Task') return [retried];
            return [
              retried,
              { type: 'TaskScheduled', ...base, ...task, attempt: raw.retry.attempt, input: raw.state.input },
            ];
          }
          case 'StateCaught':
            return [{ type: 'StateCaught', ...base }];
          default:
            return [];
        }
      }
    }
  }
}

/** Loads the state machine from the template (refusing what cannot run faithfully) and builds its engine. */
export function createLocalEngine(template: CfnTemplate, options: CreateLocalEngineOptions): LocalEngine {
  const { handlers, ...load } = options;
  const machine = loadStateMachine(template, { ...load, handlerNames: Object.keys(handlers) });
  return new LocalEngine(machine, { handlers });
}
