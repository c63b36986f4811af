import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { type ClientFactory, createClientFactory } from '../../lambda/shared/clients';
import type { KillResult } from '../../lambda/shared/kill-types';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { StateStore } from '../../lambda/shared/state-store';
import { isKillMode, KILL_MODES, type KillMode, type KillRequest } from '../../lambda/shared/types';
import { type BackstopConfig, ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from '../config';
import { CONTROL_PLANE_STACK_NAME } from '../stacks/backstop-app';
import { addCanaryCommand } from './canary';
import { registerAuditCommands } from './audit';
import { runDeployedKill } from './deployed';
import { OutputsError, readControlPlaneOutputs } from './outputs';
import { progressFromEngine } from './progress';
import {
  auditSummary,
  changesTable,
  colourStatus,
  progressLine,
  recordLines,
  resultTable,
  statusMeaning,
} from './render';

/** A command used wrongly: said plainly, nothing started. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Exit codes: 0 contained (or planned), 2 not contained or refused, 1 bad usage or an error. */
export const EXIT = { ok: 0, error: 1, notContained: 2 } as const;

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /**
   * Builds the SDK clients of every command (endpoints from AWS_ENDPOINT_URL, credentials from
   * the standard chain). @default createClientFactory
   */
  readonly clients?: (region: string) => ClientFactory;
}

const stdio: Io = { out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`) };

const clientsFor = (io: Io, region: string): ClientFactory =>
  io.clients ? io.clients(region) : createClientFactory({ region });

function parseMode(value: string): KillMode {
  if (!isKillMode(value))
    throw new InvalidArgumentError(`unknown mode "${value}" (one of ${KILL_MODES.join(', ')})`);
  return value;
}

interface TargetOptions {
  config: string;
  outputs?: string;
  endpoint?: string;
  local?: boolean;
  json?: boolean;
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'Backstop configuration', DEFAULT_CONFIG_PATH)
    .option('--outputs <file>', 'the file `cdk deploy --outputs-file` wrote for the control plane')
    .option('--endpoint <url>', 'an AWS-compatible endpoint for every SDK call (sets AWS_ENDPOINT_URL)')
    .option('--json', 'print the result as JSON for scripts');
}

function useEndpoint(endpoint: string | undefined): void {
  if (endpoint === undefined) return;
  try {
    new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint ${endpoint}: not a URL (for example http://localhost:4566)`);
  }
  process.env.AWS_ENDPOINT_URL = endpoint;
}

function exitFor(result: KillResult | undefined): number {
  if (!result) return EXIT.error;
  return ['CONTAINED', 'PLANNED', 'JOINED'].includes(result.status) ? EXIT.ok : EXIT.notContained;
}

function printResult(
  io: Io,
  result: KillResult | undefined,
  json: boolean | undefined,
  extra: Record<string, unknown> = {},
) {
  if (json) {
    io.out(JSON.stringify({ ...extra, result }, null, 2));
    return;
  }
  if (!result) {
    io.err(pc.red('the kill path ended without a result; see the execution events above'));
    return;
  }
  io.out('');
  io.out(
    `${pc.bold(`Incident ${result.incidentId}`)}: ${colourStatus(result.status)}${result.mode ? ` (${result.mode})` : ''}`,
  );
  io.out(statusMeaning(result.status));
  if (result.rejection) io.out(pc.red(`${result.rejection.code}: ${result.rejection.message}`));
  for (const j of result.joined) io.out(`${j.agentId}: joined incident ${j.incidentId} (${j.mode})`);
  const total = Object.values(result.counts ?? {}).reduce((n, c) => n + (c ?? 0), 0);
  if (total > 1) {
    const byStatus = Object.entries(result.counts).map(([status, n]) => `${n} ${colourStatus(status)}`);
    io.out(
      `${total} agents: ${byStatus.join(', ')}${total > result.agents.length ? ' (listed: the ones not contained)' : ''}`,
    );
  }
  if (result.agents.length > 0) io.out(resultTable(result));
  if (result.timeToAuthorityCutMs !== null)
    io.out(`Time to authority cut: ${(result.timeToAuthorityCutMs / 1000).toFixed(2)} s`);
  if (result.timeToContainMs !== null)
    io.out(`Time to contain: ${(result.timeToContainMs / 1000).toFixed(2)} s`);
  if (result.manifestKey) io.out(`Signed manifest: ${result.manifestKey}`);
}

async function killCommand(
  io: Io,
  agents: string[],
  opts: TargetOptions & { mode: KillMode; reason?: string; incidentId?: string; wait: boolean },
  dryRun: boolean,
): Promise<number> {
  useEndpoint(opts.endpoint);
  const config = loadConfig(opts.config);
  const request: KillRequest = {
    ...(agents.length === 1 ? { agentId: agents[0] } : { agentIds: agents }),
    mode: opts.mode,
    reason: opts.reason ?? (dryRun ? 'plan: what would a kill cut?' : undefined),
    ...(opts.incidentId ? { incidentId: opts.incidentId } : {}),
    ...(dryRun ? { dryRun: true } : {}),
  };
  const executionName =
    opts.incidentId ?? `${dryRun ? 'plan' : 'cli'}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const onProgress = opts.json ? undefined : (line: string) => io.out(line);

  if (opts.local) {
    if (!opts.outputs) {
      throw new UsageError(
        '--local needs --outputs <file>: the deployed names of the control plane (cdk deploy --outputs-file)',
      );
    }
    // Loaded on demand: it synthesizes the app, which plain deployed commands never need.
    const { LocalKillRunner } = require('../local/kill-runner') as typeof import('../local/kill-runner');
    const outputs = readStackOutputs(opts.outputs);
    const cp = readControlPlaneOutputs(opts.outputs);
    const runner = new LocalKillRunner({
      config,
      clients: clientsFor(io, config.controlPlane.region),
      stackOutputs: outputs,
    });
    const outcome = await runner.kill(request, {
      executionName,
      onEvent: (e) => {
        const p = progressFromEngine(e);
        if (p && onProgress) onProgress(progressLine(p));
      },
    });
    printResult(io, outcome.result, opts.json, {
      executionArn: outcome.execution.executionArn,
      controlPlane: cp.killStateMachineArn,
    });
    return exitFor(outcome.result);
  }

  const stateMachineArn = opts.outputs
    ? readControlPlaneOutputs(opts.outputs).killStateMachineArn
    : killStateMachineArn(config);
  const outcome = await runDeployedKill(request, {
    sfn: clientsFor(io, config.controlPlane.region).controlPlane().sfn,
    stateMachineArn,
    executionName,
    wait: opts.wait,
    onProgress: (p) => onProgress?.(progressLine(p)),
  });
  if (!opts.wait) {
    io.out(
      opts.json ? JSON.stringify({ executionArn: outcome.executionArn }) : `started ${outcome.executionArn}`,
    );
    return EXIT.ok;
  }
  if (outcome.status !== 'SUCCEEDED' && !outcome.result) {
    if (opts.json) io.out(JSON.stringify(outcome, null, 2));
    else io.err(pc.red(`kill execution ${outcome.status}: ${outcome.error ?? ''} ${outcome.cause ?? ''}`));
    return outcome.error === 'Backstop.KillRejected' ? EXIT.notContained : EXIT.error;
  }
  printResult(io, outcome.result, opts.json, { executionArn: outcome.executionArn });
  return exitFor(outcome.result);
}

function killStateMachineArn(config: BackstopConfig): string {
  const partition = config.partition ?? 'aws';
  return `arn:${partition}:states:${config.controlPlane.region}:${config.controlPlane.accountId}:stateMachine:${CONTROL_PLANE.killStateMachineName}`;
}

function readStackOutputs(file: string): Record<string, string> {
  readControlPlaneOutputs(file);
  const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  return all[CONTROL_PLANE_STACK_NAME] as Record<string, string>;
}

async function drillCommand(
  io: Io,
  opts: { mode: KillMode; json?: boolean; throttle?: boolean; latency?: number },
) {
  const { runDrill } = require('../local/drill/run') as typeof import('../local/drill/run');
  if (!opts.json) {
    io.out(pc.bold('Backstop drill: the kill path end to end on the embedded simulator'));
    io.out(
      'Seeding a control plane (111111111111) and a workload account (222222222222, us-east-1) with the sample agent support-bot...',
    );
  }
  const report = await runDrill({
    mode: opts.mode,
    throttling: opts.throttle ? 'design' : undefined,
    latencyMs: opts.latency,
    onEvent: opts.json
      ? undefined
      : (e) => {
          const p = progressFromEngine(e);
          if (p) io.out(progressLine(p));
        },
  });
  const result = report.outcome.result;
  // The reviewer's hand-over: export the incident, verify the bundle offline (lib/local/drill/evidence.ts).
  const { drillEvidence } = require('../local/drill/evidence') as typeof import('../local/drill/evidence');
  const evidence = await drillEvidence(report);
  if (opts.json) {
    io.out(
      JSON.stringify(
        {
          result,
          audit: report.audit,
          evidence: { ok: evidence.ok, directory: evidence.directory, archive: evidence.archive },
          records: report.records.map((r) => ({ key: r.key, type: r.record.type })),
        },
        null,
        2,
      ),
    );
  } else {
    const s = report.inventory;
    io.out('');
    io.out(
      `Seeded: ${s.roles.length} roles, ${s.functions.length} functions, ${s.mappings.length} event source mappings, ${s.rules.length} rules, ${s.schedules.length} schedule, ${s.networkInterfaces.length} network interface, ${s.executions.length} running execution`,
    );
    io.out(pc.bold('\nWhat the kill changed (from the audit log: before -> after)'));
    io.out(changesTable(report.records.map((r) => r.record)));
    printResult(io, result, false);
    io.out(pc.bold('\nAudit log'));
    const byType = new Map<string, number>();
    for (const r of report.records) byType.set(r.record.type, (byType.get(r.record.type) ?? 0) + 1);
    io.out(`${report.records.length} records: ${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')}`);
    for (const line of recordLines(report.records)) io.out(line);
    io.out(auditSummary(report.audit));
    io.out(pc.bold('\nEvidence for the compliance reviewer'));
    for (const line of evidence.lines) io.out(line);
  }
  if (!report.audit.ok || !evidence.ok) return EXIT.notContained;
  return result?.status === 'CONTAINED' || result?.status === 'PLANNED' ? EXIT.ok : EXIT.notContained;
}

async function statusCommand(io: Io, agents: string[], opts: TargetOptions) {
  useEndpoint(opts.endpoint);
  const config = loadConfig(opts.config);
  if (!opts.outputs) throw new UsageError('status needs --outputs <file> to find the state table');
  const outputs = readControlPlaneOutputs(opts.outputs);
  const store = new StateStore({
    doc: clientsFor(io, config.controlPlane.region).controlPlane().dynamo,
    tableName: outputs.stateTableName,
  });
  const ids = agents.length > 0 ? agents : config.agents.map((a) => a.id);
  const rows = [];
  for (const id of ids) {
    const mode = await store.getMode(id);
    rows.push({
      agentId: id,
      mode: mode?.mode ?? 'normal',
      incidentId: mode?.incidentId ?? null,
      updatedAt: mode?.updatedAt ?? null,
    });
  }
  if (opts.json) io.out(JSON.stringify(rows, null, 2));
  else
    for (const r of rows)
      io.out(`${r.agentId.padEnd(24)} ${colourStatus(r.mode).padEnd(16)} ${r.incidentId ?? ''}`);
  return EXIT.ok;
}

/** Builds the `backstop` command line. `run` resolves with the exit code. */
export function buildCli(io: Io = stdio): { program: Command; run: (argv: string[]) => Promise<number> } {
  let code: number = EXIT.ok;
  const set = (p: Promise<number>) =>
    p.then((c) => {
      code = c;
    });
  const program = new Command('backstop')
    .description('Kill switch and backstop control plane for AI agents running in AWS')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride();

  const modeOption = () =>
    new Option('--mode <mode>', `kill mode: ${KILL_MODES.join(', ')}`)
      .argParser(parseMode)
      .makeOptionMandatory();

  targetOptions(
    program
      .command('kill')
      .description("cut an agent's authority now, prove it, and audit every step")
      .argument('<agents...>', 'agent id(s) from the configuration')
      .addOption(modeOption())
      .requiredOption('--reason <text>', 'why (goes in the audit log; at most 1024 characters)')
      .option('--incident-id <id>', 'incident id, also the execution name (idempotency key)')
      .option('--no-wait', 'start the kill and return its execution ARN')
      .option(
        '--local',
        'run the kill path here with the local engine against --endpoint, not in Step Functions',
      ),
  ).action((agents: string[], opts) => set(killCommand(io, agents, opts, false)));

  targetOptions(
    program
      .command('plan')
      .description('dry run: discover and report what a kill would cut, change nothing')
      .argument('<agents...>', 'agent id(s) from the configuration')
      .addOption(new Option('--mode <mode>', 'kill mode to plan').argParser(parseMode).default('full_stop'))
      .option('--local', 'run the kill path here with the local engine against --endpoint'),
  ).action((agents: string[], opts) => set(killCommand(io, agents, { ...opts, wait: true }, true)));

  targetOptions(
    program
      .command('status')
      .description("show each agent's current mode (the control flag)")
      .argument('[agents...]', 'agent id(s); default every configured agent'),
  ).action((agents: string[], opts) => set(statusCommand(io, agents, opts)));

  registerAuditCommands(program, io, set);

  program
    .command('drill')
    .description('seed a sample agent in the embedded simulator, kill it, verify, and print the timeline')
    .addOption(new Option('--mode <mode>', 'kill mode').argParser(parseMode).default('full_stop'))
    .option('--throttle', 'apply the AWS API quotas of DESIGN.md section 11')
    .option('--latency <ms>', 'per-call latency in milliseconds', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0)
        throw new InvalidArgumentError('--latency takes a number of milliseconds');
      return n;
    })
    .option('--json', 'print the result as JSON')
    .action((opts) => set(drillCommand(io, opts)));

  addCanaryCommand(program, io, (region) => clientsFor(io, region), set);

  const run = async (argv: string[]): Promise<number> => {
    try {
      await program.parseAsync(argv, { from: 'user' });
      return code;
    } catch (e) {
      const err = e as Error & { code?: string; exitCode?: number };
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      if (err.code?.startsWith('commander.')) return err.exitCode ?? EXIT.error;
      if (e instanceof ConfigError || e instanceof OutputsError || e instanceof UsageError) {
        io.err(pc.red(err.message));
        return EXIT.error;
      }
      io.err(pc.red(`${err.name}: ${err.message}`));
      return EXIT.error;
    }
  };
  return { program, run };
}
