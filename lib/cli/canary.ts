/**
 * `backstop canary --local`: the canary's rehearsal run here, with this machine's credentials
 * (they must be the kill worker's, or an endpoint's: the kill roles trust no one else). It prints
 * what would make a real kill PARTIAL or FAILED, per workload account and region, and exits 2 when
 * it found anything.
 */
import type { Command } from 'commander';
import pc from 'picocolors';
import { type CanaryFinding, type CanaryReport, runCanary } from '../../lambda/canary/canary';
import { realSleep } from '../../lambda/shared/deps';
import { toDirectory, workloadTargets } from '../config';
import type { Io } from './index';
import { awsOptions, type CommonOptions, connect, resolve } from './options';

/** The same codes as the other commands: 0 nothing found, 2 findings, 1 bad usage or an error. */
const EXIT = { ok: 0, error: 1, findings: 2 } as const;
const WIDTH = 100;

export interface CanaryOptions extends CommonOptions {
  readonly local?: boolean;
  readonly account?: string;
  /** Only this workload region (`--region` is the control plane's, as for every command). */
  readonly workloadRegion?: string;
}

const silent = { info: () => {}, warn: () => {}, error: () => {} };

/** Words wrapped to the terminal width, continuation lines indented. */
function wrap(text: string, indent = '  '): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line === '' ? word : `${line} ${word}`;
    if (next.length > WIDTH && line !== '') {
      lines.push(line);
      line = `${indent}${word}`;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => (l.length > WIDTH ? `${l.slice(0, WIDTH - 3)}...` : l));
}

function findingLines(f: CanaryFinding): string[] {
  const colour = f.effect === 'FAILED' ? pc.red : pc.yellow;
  return wrap(`- ${f.effect}: ${f.message}`, '    ').map((l, i) =>
    i === 0 ? l.replace(f.effect, colour(f.effect)) : l,
  );
}

/** Runs the rehearsal of every selected workload account and region; resolves with the exit code. */
export async function canaryCommand(io: Io, cmd: Command, opts: CanaryOptions): Promise<number> {
  if (!opts.local) {
    for (const line of wrap(
      'backstop canary runs in the control plane on its schedule (alarms CanaryFoundProblem and CanarySilent; findings on the Backstop topic). To rehearse here, add --local.',
      '',
    ))
      io.err(line);
    return EXIT.error;
  }
  const r = resolve(cmd, opts, []);
  const config = r.config;
  const all = workloadTargets(config);
  const targets = all.filter(
    (t) =>
      (opts.account === undefined || t.accountId === opts.account) &&
      (opts.workloadRegion === undefined || t.region === opts.workloadRegion),
  );
  if (targets.length === 0) {
    const asked = [
      opts.account && `--account ${opts.account}`,
      opts.workloadRegion && `--workload-region ${opts.workloadRegion}`,
    ]
      .filter(Boolean)
      .join(' ');
    const declared = all.map((t) => `${t.accountId}/${t.region}`).join(', ');
    for (const line of wrap(
      `${asked}: no workload account and region of the configuration matches (declared: ${declared})`,
      '',
    ))
      io.err(line);
    return EXIT.error;
  }
  const deps = {
    directory: toDirectory(config),
    clients: await connect(io, r),
    clock: () => new Date(),
    sleep: realSleep,
    log: silent,
  };
  const reports: CanaryReport[] = [];
  for (const target of targets) {
    if (!opts.json) io.out(pc.dim(`Rehearsing a kill in ${target.accountId}/${target.region}...`));
    const report = await runCanary(target, deps);
    reports.push(report);
    if (opts.json) continue;
    const head = `${report.accountId}/${report.region}: ${report.agents.length} agent(s), ${report.checks} permission check(s)`;
    if (report.findings.length === 0) {
      io.out(`${head}: ${pc.green('nothing would stop a kill')}`);
      continue;
    }
    io.out(`${head}: ${pc.red(`${report.findings.length} problem(s)`)}`);
    for (const f of report.findings) for (const line of findingLines(f)) io.out(line);
  }
  const found = reports.reduce((n, r) => n + r.findings.length, 0);
  if (opts.json) io.out(JSON.stringify(reports, null, 2));
  else if (found > 0)
    io.out('A real kill would not be CONTAINED until each problem above is fixed; run this again to check.');
  return found > 0 ? EXIT.findings : EXIT.ok;
}

/** Registers `backstop canary` on the CLI (lib/cli/index.ts). */
export function addCanaryCommand(
  program: Command,
  io: Io,
  set: (run: Promise<number>) => Promise<void>,
): void {
  awsOptions(
    program
      .command('canary')
      .description('rehearse a kill (no cut): what would make it PARTIAL or FAILED?')
      .option('--local', 'run the rehearsal here, with the kill worker’s credentials or against --endpoint')
      .option('--account <id>', 'only this workload account')
      .option('--workload-region <region>', 'only this workload region'),
    'the file `cdk deploy --outputs-file` wrote (default: the names the configuration gives)',
  ).action(function (this: Command, opts: CanaryOptions) {
    return set(canaryCommand(io, this, opts));
  });
}
