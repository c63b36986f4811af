import { fork } from 'node:child_process';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_AGENTS_PER_ACCOUNT, MAX_FLEET_AGENTS } from './fleet';
import { type BenchJob, type BenchJobResult, runBenchJob } from './jobs';
import type { FleetOrder } from './measure';
import { type BenchReport, type BenchRow, benchRow, formatBenchReport } from './report';
import type { RetryQuotaScope } from './world';

/** The environment variable that carries a job to a benchmark child process. */
const secs = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s`);

export const BENCH_JOB_ENV = 'BACKSTOP_BENCH_JOB';

export interface BenchIo {
  readonly out: (text: string) => void;
  /** Progress lines (stderr), so that `--json` output stays clean. */
  readonly err: (text: string) => void;
  /** Runs one job, in a process of its own when wired by scripts/bench.ts. */
  readonly runJob: (job: BenchJob) => Promise<BenchJobResult>;
}

interface BenchOptions {
  sizes: number[];
  latency: number;
  json?: boolean;
  agentsPerAccount: number;
  order: FleetOrder;
  waitScale: number;
  retryScale: number;
  retryQuota: RetryQuotaScope;
  calibrationLatency: number;
  warmUp: boolean;
}

function parseSizes(value: string): number[] {
  const sizes = value.split(',').map((s) => s.trim());
  const numbers = sizes.map(Number);
  const bad = sizes.filter((s, i) => !/^\d+$/.test(s) || numbers[i] < 1 || numbers[i] > MAX_FLEET_AGENTS);
  if (bad.length > 0 || sizes.length === 0) {
    throw new InvalidArgumentError(
      `fleet sizes must be whole numbers from 1 to ${MAX_FLEET_AGENTS}, comma separated (got ${bad.map((b) => JSON.stringify(b)).join(', ') || 'nothing'})`,
    );
  }
  return numbers;
}

function nonNegative(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`${name} must be a number >= 0, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

function positive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a number > 0, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a whole number >= 1, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

function program(): Command {
  return new Command('bench')
    .description(
      'Kill fleets of agents (full_stop) on the embedded simulator with the docs/design.md quotas and a per-call latency; print time to contain against the lower bound of the same model',
    )
    .addOption(
      new Option('--sizes <list>', 'fleet sizes, comma separated')
        .default([1, 10, 100, 1000], '1,10,100,1000')
        .argParser(parseSizes),
    )
    .addOption(
      new Option('--latency <ms>', 'latency of every AWS call')
        .default(20)
        .argParser(nonNegative('--latency')),
    )
    .option('--json', 'print the report as JSON')
    .addOption(
      new Option('--agents-per-account <n>', 'agents per workload account')
        .default(DEFAULT_AGENTS_PER_ACCOUNT)
        .argParser(positiveInteger('--agents-per-account')),
    )
    .addOption(
      new Option('--order <order>', 'order of the agents in the kill request (Prepare orders the Map)')
        .choices(['grouped', 'interleaved'])
        .default('grouped'),
    )
    .addOption(
      new Option('--wait-scale <x>', "multiplies the kill path's Wait states")
        .default(0)
        .argParser(nonNegative('--wait-scale')),
    )
    .addOption(
      new Option('--retry-scale <x>', "multiplies the state machine's retry intervals")
        .default(1)
        .argParser(nonNegative('--retry-scale')),
    )
    .addOption(
      new Option(
        '--retry-quota <scope>',
        "whose SDK retry quota a call draws on (a Lambda container's, or one for the whole process)",
      )
        .choices(['per-invocation', 'shared'])
        .default('per-invocation'),
    )
    .addOption(
      new Option(
        '--calibration-latency <ms>',
        "per-call latency of the one-agent run that counts the critical path's calls",
      )
        .default(100)
        .argParser(positive('--calibration-latency')),
    )
    .option(
      '--no-warm-up',
      "measure each size's first kill in its process (the code compiling as it runs) instead of one after a warm-up kill",
    )
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
}

/**
 * `npm run bench`: calibrates the critical path, kills each fleet size in turn (each in its own
 * process), and prints the report. Returns the exit code: 0 when every job ran (whatever the kills'
 * outcome, which the report shows), 1 on bad usage or a job that crashed.
 */
export async function runBenchCli(argv: readonly string[], io: BenchIo): Promise<number> {
  const cmd = program();
  let opts: BenchOptions;
  try {
    cmd.parse([...argv], { from: 'user' });
    opts = cmd.opts<BenchOptions>();
  } catch (e) {
    const err = e as { code?: string; message: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') {
      io.out(cmd.helpInformation());
      return 0;
    }
    io.err(err.message.replace(/^error: /, 'bench: '));
    return 1;
  }

  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
  io.err(
    `[${elapsed()}] counting the critical path: one agent, unthrottled, ${opts.calibrationLatency} ms per call`,
  );
  let calibration: BenchJobResult;
  try {
    calibration = await io.runJob({ kind: 'critical-path', latencyMs: opts.calibrationLatency });
  } catch (e) {
    io.err(`bench: the calibration run failed: ${(e as Error).message}`);
    return 1;
  }
  if (calibration.kind !== 'critical-path') throw new Error('the calibration job returned a fleet result');
  const criticalPath = calibration.criticalPath;
  io.err(`[${elapsed()}] ${criticalPath.calls} calls on the critical path`);

  const rows: BenchRow[] = [];
  const failures: string[] = [];
  for (const agents of opts.sizes) {
    io.err(`[${elapsed()}] killing ${agents} agent${agents === 1 ? '' : 's'}...`);
    try {
      const result = await io.runJob({
        kind: 'fleet',
        options: {
          agents,
          agentsPerAccount: opts.agentsPerAccount,
          latencyMs: opts.latency,
          order: opts.order,
          waitScale: opts.waitScale,
          retryScale: opts.retryScale,
          retryQuota: opts.retryQuota,
          warmUp: opts.warmUp,
        },
      });
      if (result.kind !== 'fleet') throw new Error('the fleet job returned a calibration result');
      const row = benchRow(result.measurement, result.peakRssMb, criticalPath, opts.agentsPerAccount);
      rows.push(row);
      const m = row.measurement;
      io.err(
        `[${elapsed()}] ${agents}: ${m.status ?? m.executionStatus}, authority cut ${secs(m.timeToAuthorityCutMs)}, time to contain ${secs(m.timeToContainMs)}, wall ${secs(m.wallMs)} (setup ${secs(m.setupMs)})`,
      );
    } catch (e) {
      failures.push(`${agents} agents: ${(e as Error).message}`);
      io.err(`[${elapsed()}] ${agents} agents: the run failed: ${(e as Error).message}`);
    }
  }

  const report: BenchReport = {
    settings: {
      latencyMs: opts.latency,
      waitScale: opts.waitScale,
      retryScale: opts.retryScale,
      retryQuota: opts.retryQuota,
      agentsPerAccount: opts.agentsPerAccount,
      order: opts.order,
      warmUp: opts.warmUp,
    },
    criticalPath,
    rows,
  };
  if (opts.json) {
    io.out(JSON.stringify({ ...report, failures }, null, 2));
  } else {
    io.out(formatBenchReport(report));
    for (const f of failures) io.out(`FAILED RUN: ${f}`);
  }
  return failures.length > 0 ? 1 : 0;
}

/**
 * Runs each job in a child process of `scriptPath` (which must call `runJobFromEnv` when
 * BACKSTOP_BENCH_JOB is set), with the same Node flags (the TypeScript loader) and a larger heap.
 */
export function forkJobRunner(scriptPath: string): (job: BenchJob) => Promise<BenchJobResult> {
  return (job) =>
    new Promise((resolve, reject) => {
      const child = fork(scriptPath, [], {
        env: { ...process.env, [BENCH_JOB_ENV]: JSON.stringify(job) },
        execArgv: [...process.execArgv, '--max-old-space-size=8192', '--expose-gc'],
        // The child's stdout goes to stderr: the parent's stdout carries only the report.
        stdio: ['ignore', 2, 2, 'ipc'],
      });
      let result: BenchJobResult | undefined;
      child.on('message', (message) => {
        result = message as BenchJobResult;
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (result) resolve(result);
        else reject(new Error(`the job process ended (${signal ?? `exit code ${code}`}) without a result`));
      });
    });
}

/** In a child process: runs the job from the environment and sends its result to the parent. */
export async function runJobFromEnv(): Promise<void> {
  const text = process.env[BENCH_JOB_ENV];
  if (!text) throw new Error(`${BENCH_JOB_ENV} is not set`);
  const result = await runBenchJob(JSON.parse(text) as BenchJob, (line) => process.stderr.write(`${line}\n`));
  await new Promise<void>((resolve, reject) => {
    if (!process.send) {
      reject(new Error('not started as a benchmark child process (no IPC channel)'));
      return;
    }
    process.send(result, (e: Error | null) => (e ? reject(e) : resolve()));
  });
}
