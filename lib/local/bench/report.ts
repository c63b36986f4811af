import Table from 'cli-table3';
import { SERVICE_NAMES, type ServiceName } from '../simulator';
import type { FleetKillMeasurement, FleetOrder } from './measure';
import { type BucketLoad, type ContainBound, containBound } from './model';
import type { RetryQuotaScope } from './world';

/** Step Functions' quota on a state's input or output (the local engine's MAX_PAYLOAD_BYTES). */
const STATE_PAYLOAD_QUOTA = 262_144;
/** A run longer than this is worth a word: it is the kill itself, in real time, not the harness. */
const SLOW_RUN_MS = 180_000;
/** Past this share of the wall time on the CPU, the benchmark process is part of what it measures. */
const HARNESS_BUSY = 0.6;

/** Calls on the critical path of a one-agent kill (see criticalPathCalls). */
export interface CriticalPath {
  readonly calls: number;
  /** The latency the calibration ran with. */
  readonly latencyMs: number;
  readonly wallMs: number;
}

export interface BenchSettings {
  readonly latencyMs: number;
  readonly waitScale: number;
  readonly retryScale: number;
  readonly retryQuota: RetryQuotaScope;
  readonly agentsPerAccount: number;
  readonly order: FleetOrder;
}

/** One fleet size: what was measured, the model's bound, and the reading of the two. */
export interface BenchRow {
  readonly measurement: FleetKillMeasurement;
  /** Peak resident memory of the process that seeded and killed this fleet (synthesis included). */
  readonly peakRssMb: number;
  readonly bound: ContainBound;
  /**
   * Time to contain over the bound. When Finalize did not decide CONTAINED, the Map's end (every
   * agent cut and read back, or given up on) stands in for it, and `ratioFromMapEnd` says so.
   */
  readonly ratio?: number;
  readonly ratioFromMapEnd?: boolean;
  readonly notes: readonly string[];
}

export interface BenchReport {
  readonly settings: BenchSettings;
  readonly criticalPath: CriticalPath;
  readonly rows: readonly BenchRow[];
}

const seconds = (ms: number | null | undefined, digits = 1) =>
  ms === null || ms === undefined ? '-' : (ms / 1000).toFixed(digits);

const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? undefined : to - from;

function bucketText(b: BucketLoad): string {
  const actions = Object.entries(b.actions)
    .slice(0, 4)
    .map(([action, n]) => `${action} ${n}`)
    .join(', ');
  return `${b.label} of account ${b.accountId}: ${b.tokens} calls (${actions}) past a burst of ${b.capacity} at ${b.refillPerSecond}/s = ${seconds(b.drainMs)} s, ${b.throttled} attempts throttled`;
}

/** The model's bound for a measurement, and what the numbers say. */
export function benchRow(
  measurement: FleetKillMeasurement,
  peakRssMb: number,
  criticalPath: CriticalPath,
): BenchRow {
  const m = measurement;
  const bound = containBound(m.buckets, m.latencyMs, criticalPath.calls);
  const measured = m.timeToContainMs ?? m.phases.cutEndMs;
  const ratio = measured !== undefined && bound.boundMs > 0 ? measured / bound.boundMs : undefined;
  const ratioFromMapEnd = m.timeToContainMs === null && ratio !== undefined;
  const notes: string[] = [];
  if (m.status !== 'CONTAINED') {
    const what = Object.entries(m.unverified)
      .map(([surface, n]) => `${surface} x${n}`)
      .join(', ');
    notes.push(
      `NOT CONTAINED: execution ${m.executionStatus}${m.status ? `, kill ${m.status}` : ''}${what ? `; not verified: ${what}` : ''}${m.executionError ? `; ${m.executionError}` : ''}`,
    );
  }
  if (bound.binding) notes.push(`binding throttle: ${bucketText(bound.binding)}`);
  const cutMs = span(m.phases.prepareEndMs, m.phases.cutEndMs);
  const limit = m.mapMaxConcurrency;
  if (limit > 0 && m.agents > limit) {
    const waves = Math.ceil(m.agents / limit);
    const k = m.accountsPerWave;
    // Accounts drain about k at a time, and every wave waits for its agents' critical path.
    const estimate =
      Math.max((m.accounts / k) * bound.drainMs, waves * bound.criticalPathMs) + bound.criticalPathMs;
    notes.push(
      `the per-agent Map runs at most ${limit} agents at once (MaxConcurrency; ${m.maxAgentsInFlight} seen in flight): ${waves} waves, each spanning ${k.toFixed(1)} of ${m.accounts} accounts in the order Prepare gave the Map; with that limit the model gives about ${seconds(estimate)} s (accounts draining ${k.toFixed(1)} at a time, or ${waves} waves of a critical path, whichever is longer)`,
    );
  }
  if (measured !== undefined && m.phases.prepareEndMs !== undefined) {
    const share = m.phases.prepareEndMs / measured;
    if (share >= 0.1) {
      notes.push(
        `Prepare took ${seconds(m.phases.prepareEndMs)} s (${Math.round(share * 100)}% of the time to contain) before the first agent was cut; cut and verify ${seconds(cutMs)} s`,
      );
    }
  }
  if (m.finalizeInputBytes !== undefined && m.finalizeInputBytes > STATE_PAYLOAD_QUOTA) {
    notes.push(
      `Finalize's input (the Map's result) is ${Math.round(m.finalizeInputBytes / 1024)} KB, over Step Functions' 256 KB state payload quota: deployed, this kill would fail with States.DataLimitExceeded (the local engine checks task results only)`,
    );
  }
  const cpuShare = m.cpuMs / m.wallMs;
  if (cpuShare >= HARNESS_BUSY) {
    notes.push(
      `this process was busy ${Math.round(cpuShare * 100)}% of the kill's wall time (${seconds(m.cpuMs)} s CPU, ${(m.cpuMs / m.totalCalls).toFixed(2)} ms per AWS call through the real SDK middleware, the engine and the simulator): at this size the single-threaded harness sets much of the pace, so the measured time overstates what the model allows`,
    );
  }
  if (m.wallMs > SLOW_RUN_MS) {
    notes.push(
      `this kill took ${seconds(m.wallMs / 60, 1)} min of real time: throttles and the SDK's and the state machine's backoff run on the wall clock, so the benchmark lasts as long as the kill it measures`,
    );
  }
  return {
    measurement,
    peakRssMb,
    bound,
    ...(ratio !== undefined ? { ratio, ratioFromMapEnd } : {}),
    notes,
  };
}

const TABLE_STYLE = { head: [], border: [] };

function worstBySeries(buckets: readonly BucketLoad[]): Map<string, BucketLoad> {
  const worst = new Map<string, BucketLoad>();
  for (const b of buckets) {
    const cur = worst.get(b.label);
    if (!cur || b.drainMs > cur.drainMs || (b.drainMs === cur.drainMs && b.tokens > cur.tokens))
      worst.set(b.label, b);
  }
  return worst;
}

/** The report as a person reads it: three tables and the notes of each fleet size. */
export function formatBenchReport(report: BenchReport): string {
  const { settings: s, criticalPath: cp, rows } = report;
  const out: string[] = [];
  out.push(
    `Backstop kill benchmark: full_stop of a fleet on the embedded simulator, docs/design.md quotas (IAM writes 10/s, Lambda 15/s, EventBridge 50/s, EC2 ModifyNetworkInterfaceAttribute 100 then 5/s), ${s.latencyMs} ms per call`,
    `Fleet: ${s.agentsPerAccount} agents per workload account (one account up to ${s.agentsPerAccount}), request in ${s.order} order. Wait scale ${s.waitScale}, state machine retry scale ${s.retryScale}, SDK retry quota ${s.retryQuota}.`,
    `Bound = slowest token bucket's (calls - burst) / refill + ${cp.calls} calls on a one-agent kill's critical path x ${s.latencyMs} ms (calibrated unthrottled at ${cp.latencyMs} ms per call).`,
    '',
  );

  const main = new Table({
    head: [
      'agents',
      'accounts',
      'status',
      'cut s',
      'TTC s',
      'Map end s',
      'wall s',
      'bound s (drain + path)',
      'binding',
      'TTC/bound',
      'CPU s',
      'peak RSS MB',
    ],
    colAligns: [
      'right',
      'right',
      'left',
      'right',
      'right',
      'right',
      'right',
      'right',
      'left',
      'right',
      'right',
      'right',
    ],
    style: TABLE_STYLE,
  });
  for (const r of rows) {
    const m = r.measurement;
    main.push([
      m.agents,
      m.accounts,
      m.status ?? m.executionStatus,
      seconds(m.timeToAuthorityCutMs, 2),
      seconds(m.timeToContainMs, 2),
      seconds(m.phases.cutEndMs, 2),
      seconds(m.wallMs, 2),
      `${seconds(r.bound.boundMs, 2)} (${seconds(r.bound.drainMs)} + ${seconds(r.bound.criticalPathMs)})`,
      r.bound.binding?.label ?? 'latency',
      r.ratio !== undefined ? `${r.ratio.toFixed(2)}x${r.ratioFromMapEnd ? '*' : ''}` : '-',
      seconds(m.cpuMs),
      Math.round(r.peakRssMb),
    ]);
  }
  out.push(
    'Time to authority cut (cut: the deny in force on every agent role, before any snapshot) and time to contain',
    '(TTC: the KillResult, Finalize started; Map end: every agent read back; * = no TTC, ratio from the Map end)',
    main.toString(),
    '',
  );

  const services = SERVICE_NAMES.filter((svc) => rows.some((r) => r.measurement.callsByService[svc]));
  const calls = new Table({
    head: ['agents', ...services, 'total'],
    colAligns: ['right', ...services.map(() => 'right' as const), 'right'],
    style: TABLE_STYLE,
  });
  for (const r of rows) {
    const m = r.measurement;
    const cell = (svc: ServiceName) => {
      const c = m.callsByService[svc];
      if (!c) return '0';
      return c.throttled > 0 ? `${c.calls} (${c.throttled})` : String(c.calls);
    };
    calls.push([m.agents, ...services.map(cell), `${m.totalCalls} (${m.throttledCalls})`]);
  }
  out.push(
    'AWS calls per service: attempts, SDK retries included (of which throttled)',
    calls.toString(),
    '',
  );

  const labels = [...new Set(rows.flatMap((r) => r.measurement.buckets.map((b) => b.label)))].sort();
  const buckets = new Table({
    head: [
      'agents',
      ...labels.map((l) => `${l} s`),
      'prepare s',
      'cut+verify s',
      'finalize s',
      'SFN retries',
      'in flight',
      'Map result KB',
    ],
    style: TABLE_STYLE,
  });
  for (const r of rows) {
    const m = r.measurement;
    const worst = worstBySeries(m.buckets);
    buckets.push([
      m.agents,
      ...labels.map((l) => {
        const b = worst.get(l);
        return b ? `${seconds(b.drainMs)} (${b.tokens}/${b.throttled})` : '-';
      }),
      seconds(m.phases.prepareEndMs, 2),
      seconds(span(m.phases.prepareEndMs, m.phases.cutEndMs), 2),
      seconds(span(m.phases.cutEndMs, m.phases.finalizeEndMs), 2),
      m.branchRetries,
      m.maxAgentsInFlight,
      m.finalizeInputBytes !== undefined ? Math.round(m.finalizeInputBytes / 1024) : '-',
    ]);
  }
  out.push(
    'Where the time goes: worst bucket per quota, drain s (calls let through / throttled); phases of the execution',
    buckets.toString(),
    '',
  );

  for (const r of rows) {
    if (r.notes.length === 0) continue;
    out.push(`${r.measurement.agents} agents:`);
    for (const note of r.notes) out.push(`  - ${note}`);
  }
  return out.join('\n');
}
