import type { KillResult } from '../../../lambda/shared/kill-types';
import { BATCH_SUFFIX, PER_AGENT_MAP, PER_BATCH_MAP } from '../../constructs/kill-path-states';
import type { KillMode, KillStatus } from '../../../lambda/shared/types';
import type { EngineEvent, ExecutionHistory, ExecutionStatus } from '../engine';
import { DESIGN_QUOTAS, type ServiceName } from '../simulator';
import { type BucketLoad, bucketLoads, isThrottled, longestDisjointChain } from './model';
import { createFleetWorld, type FleetWorld, type FleetWorldOptions } from './world';

/** The Map states that fan out over the agents: the execution's own, and each batch's (a fleet kill). */
const PER_AGENT_MAPS = new Set([PER_AGENT_MAP, `${PER_AGENT_MAP}${BATCH_SUFFIX}`]);
const isPerAgentMap = (name: string | undefined) => name !== undefined && PER_AGENT_MAPS.has(name);
const PREPARE = 'Prepare the kill';
const FINALIZE = 'Finalize the kill';

export interface FleetKillOptions extends Omit<FleetWorldOptions, 'throttling'> {
  /** @default 'full_stop' */
  readonly mode?: KillMode;
  /** Multiplies the kill path's Wait states (the 5 s read-back pause). @default 0 */
  readonly waitScale?: number;
  /** Multiplies the state machine's retry intervals (1 s, x2, full jitter). @default 1 (real time) */
  readonly retryScale?: number;
  /** @default 'design' (DESIGN_QUOTAS) */
  readonly throttling?: FleetWorldOptions['throttling'];
  /**
   * Order of the agents in the kill request: `grouped` as the config lists them (account by
   * account), `interleaved` one agent of each account in turn. Prepare decides the order the Map
   * takes them in (it interleaves them by account). @default 'grouped'
   */
  readonly order?: FleetOrder;
  /** Called each time the Map finishes an agent. @default - silent */
  readonly onAgentDone?: (done: number, total: number, elapsedMs: number) => void;
}

export type FleetOrder = 'grouped' | 'interleaved';

/** The agent ids of the fleet in the order the kill request lists them. */
export function requestOrder(
  accounts: readonly { agentIds: readonly string[] }[],
  order: FleetOrder,
): string[] {
  if (order === 'grouped') return accounts.flatMap((a) => a.agentIds);
  const out: string[] = [];
  const longest = Math.max(0, ...accounts.map((a) => a.agentIds.length));
  for (let i = 0; i < longest; i++) {
    for (const a of accounts) {
      const id = a.agentIds[i];
      if (id !== undefined) out.push(id);
    }
  }
  return out;
}

export interface ServiceCalls {
  /** Attempts, the SDK's retries included. */
  readonly calls: number;
  /** Attempts refused with the service's throttling error. */
  readonly throttled: number;
}

export interface FleetKillMeasurement {
  readonly agents: number;
  readonly accounts: number;
  readonly order: FleetOrder;
  readonly latencyMs: number;
  readonly executionStatus: ExecutionStatus;
  readonly executionError?: string;
  /** The kill's status as Finalize decided it; absent when the execution died before Finalize. */
  readonly status?: KillStatus;
  /** Agents per status (CONTAINED, PARTIAL, FAILED). */
  readonly agentStatuses: Readonly<Partial<Record<KillStatus, number>>>;
  /** Surfaces that did not verify, `surface: count`, for a kill that is not CONTAINED. */
  readonly unverified: Readonly<Record<string, number>>;
  /** The KillResult's time to contain (Finalize's clock minus the execution's start). */
  readonly timeToContainMs: number | null;
  /** The KillResult's time to authority cut: the deny in force on every agent role. */
  readonly timeToAuthorityCutMs: number | null;
  /** Wall clock from StartExecution to the execution's end. */
  readonly wallMs: number;
  /** CPU time this process spent during the kill (engine, handlers, SDK, simulator). */
  readonly cpuMs: number;
  /** Seeding the fleet, synthesizing the stack, building the runner. */
  readonly setupMs: number;
  /** Ends of the phases, in ms since the execution started. */
  readonly phases: {
    readonly prepareEndMs?: number;
    readonly cutEndMs?: number;
    readonly finalizeEndMs?: number;
  };
  readonly callsByService: Readonly<Partial<Record<ServiceName, ServiceCalls>>>;
  readonly totalCalls: number;
  readonly throttledCalls: number;
  /** Every token bucket that carried calls, in the model's terms. */
  readonly buckets: readonly BucketLoad[];
  /** Handler runs the state machine retried (`Backstop.Throttled` and Lambda's transient errors). */
  readonly branchRetries: number;
  /** Most agents the Map had in flight at once. */
  readonly maxAgentsInFlight: number;
  /** The per-agent Map's MaxConcurrency in the synthesized definition (0: unbounded). */
  readonly mapMaxConcurrency: number;
  /**
   * Distinct accounts among each MaxConcurrency agents in the order the Map takes them (Prepare's
   * targets, which Prepare may reorder), on average over the waves: how many accounts' buckets
   * work at a time.
   */
  readonly accountsPerWave: number;
  /** Size of the Map's result as Finalize receives it (Step Functions caps a state's input at 256 KB). */
  readonly finalizeInputBytes?: number;
  /** The work of the kill, summed over the execution and its child executions. */
  readonly work: KillWork;
}

export interface KillWork {
  /** States entered (Step Functions bills state transitions). */
  readonly transitions: number;
  /** Bytes of every state's input and output. */
  readonly payloadBytes: number;
  /** Child executions a fleet kill started (one per batch). */
  readonly childExecutions: number;
  /** The longest history of one execution, in Step Functions' events (its quota: 25,000). */
  readonly maxHistoryEvents: number;
  /** The largest input or output of one state (Step Functions' quota: 256 KB). */
  readonly largestPayloadBytes: number;
}

function countBy<T extends string>(items: readonly T[]): Partial<Record<T, number>> {
  const out: Partial<Record<T, number>> = {};
  for (const item of items) out[item] = (out[item] ?? 0) + 1;
  return out;
}

/** What the per-agent Map iterates over, as Prepare's state output carries it. */
interface PreparedTargets {
  readonly prepare?: { readonly targets?: readonly { readonly accountId: string }[] };
}

/** The output of the last successful run of a Task state. */
function taskOutput(events: readonly EngineEvent[], stateName: string): unknown {
  return [...events].reverse().find((e) => e.type === 'TaskSucceeded' && e.stateName === stateName)?.output;
}

function lastElapsed(events: readonly EngineEvent[], type: EngineEvent['type'], stateName: string) {
  return [...events].reverse().find((e) => e.type === type && e.stateName === stateName)?.elapsedMs;
}

/** A Lambda error's cause is the runtime's JSON (`errorMessage`, `trace`): its message is enough here. */
function causeMessage(cause: string | undefined): string {
  try {
    const parsed = JSON.parse(cause ?? '') as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause as it is
  }
  return (cause ?? '').slice(0, 500);
}

/** Mean distinct accounts per run of `size` consecutive targets. */
function accountsPerWave(targets: readonly { accountId: string }[], size: number): number {
  if (targets.length === 0) return 0;
  const step = size > 0 ? size : targets.length;
  let sum = 0;
  let waves = 0;
  for (let i = 0; i < targets.length; i += step) {
    sum += new Set(targets.slice(i, i + step).map((t) => t.accountId)).size;
    waves += 1;
  }
  return sum / waves;
}

const ends = (e: EngineEvent) => e.type === 'MapIterationSucceeded' || e.type === 'MapIterationFailed';

/** Most iterations of the per-agent Map running at once (an end and a start in the same ms: the end first). */
function mapInFlight(events: readonly EngineEvent[]): number {
  const marks = events
    .filter((e) => isPerAgentMap(e.stateName) && (e.type === 'MapIterationStarted' || ends(e)))
    .map((e) => ({ at: e.elapsedMs, delta: ends(e) ? -1 : 1 }))
    .sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let max = 0;
  for (const m of marks) {
    now += m.delta;
    max = Math.max(max, now);
  }
  return max;
}

/**
 * Seeds a fleet on the simulator with docs/design.md's quotas and a per-call latency, kills all of it
 * in one request through the local engine and the real handlers, and measures the kill: time to
 * contain, calls per service, the load of every token bucket, the state machine's retries.
 */
export async function runFleetKill(options: FleetKillOptions): Promise<FleetKillMeasurement> {
  const latencyMs = typeof options.latencyMs === 'number' ? options.latencyMs : 0;
  const setupStart = performance.now();
  const world = await createFleetWorld({ ...options, throttling: options.throttling ?? 'design' });
  if (world.warmUpAgentIds.length > 0) await warmUp(world, world.warmUpAgentIds);
  const setupMs = performance.now() - setupStart;
  const order = options.order ?? 'grouped';
  const agentIds = requestOrder(world.layout.accounts, order);
  // The measured kill's calls only: not the seeding's, not the warm-up's.
  const callsFrom = world.simulator.calls.length;

  let done = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const execution = await world.runner.engine.run(
    { agentIds, mode: options.mode ?? 'full_stop', reason: `benchmark: kill a fleet of ${agentIds.length}` },
    {
      executionName: `bench-${agentIds.length}-${Date.now()}`,
      waitScale: options.waitScale ?? 0,
      retryScale: options.retryScale ?? 1,
      onEvent: (e) => {
        if (
          isPerAgentMap(e.stateName) &&
          (e.type === 'MapIterationSucceeded' || e.type === 'MapIterationFailed')
        )
          options.onAgentDone?.(++done, agentIds.length, e.elapsedMs);
      },
    },
  );
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const { events } = execution;
  const result = taskOutput(events, FINALIZE) as KillResult | undefined;
  const finalizeInput = events.find((e) => e.type === 'TaskScheduled' && e.stateName === FINALIZE)?.input;
  const prepared = taskOutput(events, PREPARE) as PreparedTargets | undefined;
  const mapMaxConcurrency = Number(
    world.runner.engine.machine.states.find((p) => p.name === PER_AGENT_MAP)?.state.MaxConcurrency ?? 0,
  );

  const calls = world.simulator.calls.slice(callsFrom);
  const callsByService: Partial<Record<ServiceName, ServiceCalls>> = {};
  let throttledCalls = 0;
  for (const call of calls) {
    const throttled = isThrottled(call);
    if (throttled) throttledCalls += 1;
    const s = callsByService[call.service] ?? { calls: 0, throttled: 0 };
    callsByService[call.service] = { calls: s.calls + 1, throttled: s.throttled + (throttled ? 1 : 0) };
  }
  const unverified: Record<string, number> = {};
  for (const agent of result?.agents ?? []) {
    for (const s of agent.surfaces) {
      if (s.contain !== 'NOT_APPLICABLE' && s.verify !== 'VERIFIED') {
        unverified[s.surface] = (unverified[s.surface] ?? 0) + 1;
      }
    }
  }
  const quotas =
    options.throttling === undefined || options.throttling === 'design' ? DESIGN_QUOTAS : options.throttling;

  return {
    agents: agentIds.length,
    accounts: world.layout.accounts.length,
    order,
    latencyMs,
    executionStatus: execution.status,
    ...(execution.error ? { executionError: `${execution.error}: ${causeMessage(execution.cause)}` } : {}),
    ...(result ? { status: result.status } : {}),
    agentStatuses: result?.counts ?? countBy((result?.agents ?? []).map((a) => a.status)),
    unverified,
    timeToContainMs: result?.timeToContainMs ?? null,
    timeToAuthorityCutMs: result?.timeToAuthorityCutMs ?? null,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    setupMs,
    phases: {
      prepareEndMs: lastElapsed(events, 'TaskSucceeded', PREPARE),
      cutEndMs:
        lastElapsed(events, 'StateExited', PER_BATCH_MAP) ??
        lastElapsed(events, 'StateExited', PER_AGENT_MAP),
      finalizeEndMs: lastElapsed(events, 'TaskSucceeded', FINALIZE),
    },
    callsByService,
    totalCalls: calls.length,
    throttledCalls,
    buckets: bucketLoads(calls, quotas),
    branchRetries: events.filter((e) => e.type === 'StateRetried').length,
    maxAgentsInFlight: mapInFlight(events),
    mapMaxConcurrency,
    accountsPerWave: accountsPerWave(prepared?.prepare?.targets ?? [], mapMaxConcurrency),
    ...(finalizeInput !== undefined
      ? { finalizeInputBytes: Buffer.byteLength(JSON.stringify(finalizeInput), 'utf8') }
      : {}),
    work: killWork(execution),
  };
}

/**
 * Kills the warm-up agents one after the other (their own account: no fleet account's quota is
 * touched), so that the measured kill does not pay for compiling and optimizing the code it runs,
 * collects their garbage where the process allows it (`--expose-gc`, as the bench's jobs run), and
 * leaves the control plane's buckets a second to refill.
 */
async function warmUp(world: FleetWorld, agentIds: readonly string[]): Promise<void> {
  for (const agentId of agentIds) {
    const execution = await world.runner.engine.run(
      { agentId, mode: 'full_stop', reason: 'benchmark: warm up' },
      { executionName: `bench-${agentId}-${Date.now()}`, waitScale: 0, retryScale: 0 },
    );
    if (execution.status !== 'SUCCEEDED') {
      throw new Error(`the warm-up kill of ${agentId} ended ${execution.status}: ${execution.error ?? ''}`);
    }
  }
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');

/** State transitions, payload bytes and history sizes of an execution and its children. */
function killWork(execution: {
  events: readonly EngineEvent[];
  histories: readonly ExecutionHistory[];
}): KillWork {
  let transitions = 0;
  let payloadBytes = 0;
  for (const e of execution.events) {
    if (e.type === 'StateEntered') {
      transitions += 1;
      payloadBytes += bytes(e.input);
    } else if (e.type === 'StateExited') {
      payloadBytes += bytes(e.output);
    }
  }
  return {
    transitions,
    payloadBytes,
    childExecutions: execution.histories.filter((h) => h.childExecution !== undefined).length,
    maxHistoryEvents: Math.max(0, ...execution.histories.map((h) => h.events)),
    largestPayloadBytes: Math.max(0, ...execution.histories.map((h) => h.largestPayloadBytes)),
  };
}

/**
 * Calls on the critical path of a one-agent kill: the agent killed without throttling, every call
 * costing `latencyMs`, and the longest chain of calls that do not overlap counted. A large latency
 * keeps the engine's own CPU time from adding calls to the chain.
 */
export async function criticalPathCalls(
  options: { latencyMs?: number } = {},
): Promise<{ calls: number; latencyMs: number; wallMs: number }> {
  const latencyMs = options.latencyMs ?? 100;
  const world = await createFleetWorld({ agents: 1, throttling: undefined, latencyMs });
  const start = performance.now();
  const execution = await world.runner.engine.run(
    { agentIds: [world.layout.agents[0]?.agentId], mode: 'full_stop', reason: 'benchmark: critical path' },
    { executionName: `bench-critical-path-${Date.now()}`, waitScale: 0, retryScale: 0 },
  );
  const wallMs = performance.now() - start;
  if (execution.status !== 'SUCCEEDED') {
    throw new Error(`the one-agent calibration kill ended ${execution.status}: ${execution.error ?? ''}`);
  }
  // Time to contain ends where Finalize starts: its calls (manifest, notification, metrics) come after.
  const finalizeAt = execution.events.find(
    (e) => e.type === 'TaskScheduled' && e.stateName === FINALIZE,
  )?.time;
  const until = finalizeAt ? Date.parse(finalizeAt) : Number.POSITIVE_INFINITY;
  // From the execution's start: the world's own setup (seeding, the public key) is not the kill's.
  const since = Date.parse(execution.events[0]?.time ?? '') || Number.NEGATIVE_INFINITY;
  const beforeFinalize = world.simulator.calls.filter((c) => c.at >= since && c.at + c.durationMs <= until);
  return { calls: longestDisjointChain(beforeFinalize), latencyMs, wallMs };
}
