import { SERVICE_NAMES } from '../simulator';
import type { FleetKillMeasurement, FleetOrder } from './measure';
import { FLOOR_CHAIN_CALLS, type FloorBound, floorBound } from './floor';
import { WARM_UP_KILLS } from './fleet';
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
  /** Whether each size's kill ran after a one-agent warm-up kill in the same process. */
  readonly warmUp: boolean;
}

/** One fleet size: what was measured, the model's bound, and the reading of the two. */
export interface BenchRow {
  readonly measurement: FleetKillMeasurement;
  /** Peak resident memory of the process that seeded and killed this fleet (synthesis included). */
  readonly peakRssMb: number;
  readonly bound: ContainBound;
  /** The independent bound (floor.ts): what no kill path could beat on this fleet. */
  readonly floor: FloorBound;
  /** Time to contain over the independent bound. */
  readonly floorRatio?: number;
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
  agentsPerAccount: number,
): BenchRow {
  const m = measurement;
  const bound = containBound(m.buckets, m.latencyMs, criticalPath.calls);
  const floor = floorBound(Math.min(m.agents, agentsPerAccount), m.latencyMs);
  const measured = m.timeToContainMs ?? m.phases.cutEndMs;
  const ratio = measured !== undefined && bound.boundMs > 0 ? measured / bound.boundMs : undefined;
  const floorRatio = measured !== undefined && floor.boundMs > 0 ? measured / floor.boundMs : undefined;
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
  if (m.work.childExecutions > 0) {
    notes.push(
      `a fleet kill: ${m.work.childExecutions} child executions (the distributed Map), each cutting at most ${limit} agents at once (${m.maxAgentsInFlight} seen in flight over all of them); the longest history held ${m.work.maxHistoryEvents} events of 25,000`,
    );
  } else if (limit > 0 && m.agents > limit) {
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
    floor,
    ...(ratio !== undefined ? { ratio, ratioFromMapEnd } : {}),
    ...(floorRatio !== undefined ? { floorRatio } : {}),
    notes,
  };
}

/** Every line of the report fits this many columns. */
export const REPORT_WIDTH = 100;

/** Words of `text` in lines of at most `width` columns, each after the first indented by `indent`. */
export function wrap(text: string, width = REPORT_WIDTH, indent = '    '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    const next = line === '' ? word : `${line} ${word}`;
    if (next.length > width && line !== '') {
      lines.push(line);
      line = `${indent}${word}`;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** A plain table: a header row and right-aligned cells (left-aligned where `left`), two spaces apart. */
function table(
  head: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  left: readonly number[] = [],
): string[] {
  const cells = [head, ...rows].map((r) => r.map(String));
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (left.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(cells[0] ?? []), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)];
}

function worstBySeries(buckets: readonly BucketLoad[]): Map<string, BucketLoad> {
  const worst = new Map<string, BucketLoad>();
  for (const b of buckets) {
    const cur = worst.get(b.label);
    if (!cur || b.drainMs > cur.drainMs || (b.drainMs === cur.drainMs && b.tokens > cur.tokens))
      worst.set(b.label, b);
  }
  return worst;
}

/** Bucket labels short enough for the phases table. */
const SHORT_LABELS: Readonly<Record<string, string>> = {
  'IAM writes': 'IAM',
  'ec2 ModifyNetworkInterfaceAttribute': 'EC2',
};

const ratioText = (r: number | undefined, star = false) =>
  r !== undefined ? `${r.toFixed(2)}x${star ? '*' : ''}` : '-';

/** The report as a person reads it, in 100 columns: three tables and the notes of each fleet size. */
export function formatBenchReport(report: BenchReport): string {
  const { settings: s, criticalPath: cp, rows } = report;
  const out: string[] = [];
  out.push(
    ...wrap(
      `Backstop kill benchmark: full_stop of a fleet on the embedded simulator, published quotas (IAM writes 10/s, Lambda 15/s, EventBridge 50/s, EC2 ModifyNetworkInterfaceAttribute 100 then 5/s), ${s.latencyMs} ms per call; ${s.agentsPerAccount} agents per workload account, request in ${s.order} order; wait scale ${s.waitScale}, retry scale ${s.retryScale}, SDK retry quota ${s.retryQuota}; ${s.warmUp ? `each kill after ${WARM_UP_KILLS} one-agent warm-up kills in its process (another account)` : 'each kill the first in its process (no warm-up)'}.`,
      REPORT_WIDTH,
      '',
    ),
    ...wrap(
      `Floor: the independent bound (README): the busiest account's slowest quota for the fewest calls an agent needs, + ${FLOOR_CHAIN_CALLS} dependent calls x ${s.latencyMs} ms. Own: the same buckets for the calls this kill path made, + its ${cp.calls}-call critical path (counted unthrottled at ${cp.latencyMs} ms per call).`,
      REPORT_WIDTH,
      '',
    ),
    '',
  );

  out.push(
    'Time to authority cut (cut) and to contain (TTC), against the two bounds (* = from the Map end)',
    ...table(
      ['agents', 'accts', 'status', 'cut s', 'TTC s', 'floor s', 'TTC/floor', 'own s', 'TTC/own', 'binds'],
      rows.map((r) => {
        const m = r.measurement;
        return [
          m.agents,
          m.accounts,
          m.status ?? m.executionStatus,
          seconds(m.timeToAuthorityCutMs, 2),
          seconds(m.timeToContainMs ?? m.phases.cutEndMs, 2),
          seconds(r.floor.boundMs, 2),
          ratioText(r.floorRatio, r.ratioFromMapEnd),
          seconds(r.bound.boundMs, 2),
          ratioText(r.ratio, r.ratioFromMapEnd),
          r.bound.binding?.label ?? 'latency',
        ];
      }),
      [2, 9],
    ),
    '',
  );

  out.push(
    'Work per agent (calls: attempts, SDK retries included) and of the whole kill',
    ...table(
      [
        'agents',
        'calls',
        'thrott.',
        'transit.',
        'payload KB',
        'children',
        'max hist.',
        'max KB',
        'wall s',
        'CPU s',
        'RSS MB',
      ],
      rows.map((r) => {
        const m = r.measurement;
        const per = (n: number) => (n / m.agents).toFixed(1);
        return [
          m.agents,
          per(m.totalCalls),
          per(m.throttledCalls),
          per(m.work.transitions),
          (m.work.payloadBytes / 1024 / m.agents).toFixed(1),
          m.work.childExecutions,
          m.work.maxHistoryEvents,
          (m.work.largestPayloadBytes / 1024).toFixed(1),
          seconds(m.wallMs, 1),
          seconds(m.cpuMs),
          Math.round(r.peakRssMb),
        ];
      }),
    ),
    '',
  );

  out.push(
    'Where the time goes: the phases of the execution (s), and the slowest token bucket',
    ...table(
      [
        'agents',
        'prepare',
        'cut+verify',
        'finalize',
        'retries',
        'flight',
        'worst bucket: drain s (through/throttled)',
      ],
      rows.map((r) => {
        const m = r.measurement;
        const worst = [...worstBySeries(m.buckets).values()]
          .sort((a, b) => b.drainMs - a.drainMs)
          .slice(0, 1)
          .map(
            (b) => `${SHORT_LABELS[b.label] ?? b.label} ${seconds(b.drainMs)} (${b.tokens}/${b.throttled})`,
          )
          .join(', ');
        return [
          m.agents,
          seconds(m.phases.prepareEndMs, 2),
          seconds(span(m.phases.prepareEndMs, m.phases.cutEndMs), 2),
          seconds(span(m.phases.cutEndMs, m.phases.finalizeEndMs), 2),
          m.branchRetries,
          m.maxAgentsInFlight,
          worst || '-',
        ];
      }),
      [6],
    ),
    '',
  );

  for (const r of rows) {
    const m = r.measurement;
    const services = SERVICE_NAMES.filter((svc) => m.callsByService[svc]).map((svc) => {
      const c = m.callsByService[svc] as { calls: number; throttled: number };
      return c.throttled > 0 ? `${svc} ${c.calls} (${c.throttled})` : `${svc} ${c.calls}`;
    });
    out.push(`${m.agents} agents:`);
    out.push(
      ...wrap(`- calls per service (throttled): ${services.join(', ')}`, REPORT_WIDTH - 2, '    ').map(
        (l) => `  ${l}`,
      ),
    );
    for (const note of r.notes) out.push(...wrap(`- ${note}`, REPORT_WIDTH - 2, '    ').map((l) => `  ${l}`));
  }
  return out.join('\n');
}
