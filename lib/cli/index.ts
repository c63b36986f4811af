import { Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import { version } from '../../package.json';
import type { ClientFactory } from '../../lambda/shared/clients';
import type { KillResult } from '../../lambda/shared/kill-types';
import { CONTROL_PLANE, stateTableName } from '../../lambda/shared/naming';
import { PlanStore, type StoredSurfacePlan } from '../../lambda/shared/plan-store';
import { StateStore } from '../../lambda/shared/state-store';
import { isKillMode, KILL_MODES, type KillMode, type KillRequest } from '../../lambda/shared/types';
import { type BackstopConfig, ConfigError } from '../config';
import { CONTROL_PLANE_STACK_NAME } from '../stacks/backstop-app';
import { type AwsTarget, CredentialsError, explainAwsError, profileOf } from './aws';
import { registerApprovalCommands } from './approve';
import { registerAuditCommands } from './audit';
import { addCanaryCommand } from './canary';
import { runDeployedKill } from './deployed';
import { awsOptions, type CommonOptions, connect, type Resolved, resolve } from './options';
import { drillCommand } from './drill';
import { checkIncident, checkReason, checkTargets, UsageError } from './inputs';
import { OutputsError, readStackOutputs } from './outputs';
import { type FlagPlan, planJson, planReport, renderPlan } from './plan';
import { pendingRestores, registerRestoreCommands } from './restore';
import { FleetProgress } from './fleet-progress';
import { errorDetail, progressFromEngine } from './progress';
import { colourStatus, outcomeSummary, type ProgressEvent, progressLine, resultTable } from './render';
import { clip, fitTable, printable, wrap } from './text';

export { UsageError };

/** Exit codes: 0 contained (or planned, verified), 2 not contained, refused or incomplete, 1 bad usage or an error. */
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

export const EXIT_CODES_HELP = `
Exit codes:
  0  done: contained (kill), planned (plan), shown (status), verified (audit verify, drill)
  1  nothing started: bad usage or configuration, no credentials, or an error before an answer
  2  not contained (PARTIAL, FAILED), refused (REJECTED), plan incomplete, audit log not verified`;

const ENVIRONMENT_HELP = `
Environment:
  AWS_PROFILE       the profile when --profile is not given (else the SDK's default chain)
  AWS_REGION        honoured when it is the control plane's region; another region is noted, unused
  AWS_ENDPOINT_URL  an AWS-compatible endpoint for every call (what --endpoint sets)
The design and the runbook: docs/design.md, docs/operations.md.`;

function parseMode(value: string): KillMode {
  if (!isKillMode(value))
    throw new InvalidArgumentError(`unknown mode "${value.slice(0, 40)}" (one of ${KILL_MODES.join(', ')})`);
  return value;
}

function exitFor(result: KillResult | undefined): number {
  if (!result) return EXIT.error;
  return ['CONTAINED', 'PLANNED', 'JOINED'].includes(result.status) ? EXIT.ok : EXIT.notContained;
}

function printResult(io: Io, result: KillResult | undefined, json: boolean | undefined, extra: object = {}) {
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
    clip(
      `${pc.bold(`Incident ${result.incidentId}`)}: ${colourStatus(result.status)}${result.mode ? ` (${result.mode})` : ''}`,
    ),
  );
  for (const line of outcomeSummary(result)) io.out(line);
  if (result.rejection) {
    for (const line of wrap(printable(`${result.rejection.code}: ${result.rejection.message}`))) {
      io.out(pc.red(line));
    }
  }
  for (const j of result.joined) io.out(clip(`${j.agentId}: joined incident ${j.incidentId} (${j.mode})`));
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
  if (result.manifestKey) io.out(clip(`Signed manifest: ${result.manifestKey}`));
}

interface KillOptions extends CommonOptions {
  mode: KillMode;
  reason?: string;
  incident?: string;
  incidentId?: string;
  account?: string;
  wait: boolean;
  local?: boolean;
}

function incidentOption(opts: KillOptions): string | undefined {
  if (opts.incident !== undefined && opts.incidentId !== undefined && opts.incident !== opts.incidentId) {
    throw new UsageError('--incident and --incident-id name two different incidents: give --incident only');
  }
  return opts.incident !== undefined
    ? checkIncident(opts.incident, '--incident')
    : checkIncident(opts.incidentId, '--incident-id');
}

async function killCommand(io: Io, cmd: Command, named: string[], opts: KillOptions, dryRun: boolean) {
  const r = resolve(cmd, opts, named);
  const { agents, accountId } = checkTargets(r.config, named, opts.account, opts.config);
  const reason = checkReason(opts.reason, !dryRun) ?? 'plan: what would a kill cut?';
  const incidentId = incidentOption(opts);
  if (opts.local && !r.outputs) {
    throw new UsageError(
      '--local needs --outputs <file>: the deployed names of the control plane (cdk deploy --outputs-file)',
    );
  }
  const request: KillRequest = {
    ...(accountId ? { accountId } : agents.length === 1 ? { agentId: agents[0] } : { agentIds: [...agents] }),
    mode: opts.mode,
    reason,
    ...(incidentId ? { incidentId } : {}),
    ...(dryRun ? { dryRun: true } : {}),
  };
  const executionName =
    incidentId ?? `${dryRun ? 'plan' : 'cli'}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const onProgress = opts.json ? undefined : (line: string) => io.out(line);
  // A fleet's progress is counted, not printed agent by agent (lib/cli/fleet-progress.ts).
  const fleet =
    onProgress && FleetProgress.wanted(agents.length)
      ? new FleetProgress(agents.length, (p) => onProgress(progressLine(p)))
      : undefined;
  const show = (p: ProgressEvent | undefined) => {
    if (!p) return;
    if (fleet) fleet.take(p);
    else onProgress?.(progressLine(p));
  };
  const clients = await connect(io, r);

  let result: KillResult | undefined;
  let executionArn: string;
  if (opts.local) {
    // Loaded on demand: it synthesizes the app, which plain deployed commands never need.
    const { LocalKillRunner } = require('../local/kill-runner') as typeof import('../local/kill-runner');
    const runner = new LocalKillRunner({
      config: r.config,
      clients,
      stackOutputs: readStackOutputs(opts.outputs as string, CONTROL_PLANE_STACK_NAME),
    });
    const outcome = await runner.kill(request, {
      executionName,
      onEvent: (e) => show(progressFromEngine(e)),
    });
    result = outcome.result;
    executionArn = outcome.execution.executionArn;
  } else {
    const stateMachineArn = r.outputs?.killStateMachineArn ?? killStateMachineArn(r.config);
    const outcome = await runDeployedKill(request, {
      sfn: clients.controlPlane().sfn,
      stateMachineArn,
      executionName,
      wait: opts.wait || dryRun,
      onProgress: show,
      ...(fleet ? { onBatches: (counts, at) => fleet.takeBatches(counts, at) } : {}),
    });
    executionArn = outcome.executionArn;
    if (!opts.wait && !dryRun) {
      io.out(opts.json ? JSON.stringify({ executionArn }) : clip(`started ${executionArn}`));
      return EXIT.ok;
    }
    if (outcome.status !== 'SUCCEEDED' && !outcome.result) {
      if (opts.json) io.out(JSON.stringify(outcome, null, 2));
      else {
        const why = errorDetail(outcome.error, outcome.cause) ?? 'no error reported';
        for (const line of wrap(`kill execution ${outcome.status}: ${why}`)) io.err(pc.red(line));
      }
      return outcome.error === 'Backstop.KillRejected' ? EXIT.notContained : EXIT.error;
    }
    result = outcome.result;
  }

  fleet?.flush();
  if (dryRun && result?.status === 'PLANNED') {
    return showPlan(io, clients, r, result, opts, executionArn);
  }
  printResult(io, result, opts.json, { executionArn });
  return exitFor(result);
}

/** Reads the dry run's plan back from the state table and shows it. */
async function showPlan(
  io: Io,
  clients: ClientFactory,
  r: Resolved,
  result: KillResult,
  opts: KillOptions,
  executionArn: string,
): Promise<number> {
  const tableName = r.outputs?.stateTableName ?? stateTableName();
  const doc = clients.controlPlane().dynamo;
  let plans: StoredSurfacePlan[] = [];
  let readError: string | undefined;
  try {
    plans = await new PlanStore(doc, tableName).list(result.incidentId);
  } catch (e) {
    readError = `the plan could not be read from the state table ${tableName}: ${explainAwsError(e, r.target)}`;
  }
  const store = new StateStore({ doc, tableName });
  const flags: FlagPlan[] = await Promise.all(
    result.agents.map(async (a) => {
      try {
        return {
          agentId: a.agentId,
          now: (await store.getMode(a.agentId))?.mode ?? 'normal',
          after: opts.mode,
        };
      } catch {
        return { agentId: a.agentId, after: opts.mode };
      }
    }),
  );
  const report = planReport(result, plans, flags, opts.mode);
  const incomplete = readError ? [readError, ...report.incomplete] : report.incomplete;
  const full = { ...report, incomplete };
  if (opts.json) {
    io.out(planJson(full, { executionArn, result }));
  } else {
    io.out('');
    io.out(
      clip(
        `${pc.bold(`Plan ${result.incidentId}`)}: ${colourStatus('PLANNED')} (${opts.mode}): a dry run, nothing was changed`,
      ),
    );
    for (const line of renderPlan(full)) io.out(line);
  }
  return incomplete.length === 0 ? EXIT.ok : EXIT.notContained;
}

function killStateMachineArn(config: BackstopConfig): string {
  const partition = config.partition ?? 'aws';
  return `arn:${partition}:states:${config.controlPlane.region}:${config.controlPlane.accountId}:stateMachine:${CONTROL_PLANE.killStateMachineName}`;
}

async function statusCommand(io: Io, cmd: Command, agents: string[], opts: CommonOptions) {
  const r = resolve(cmd, opts, agents);
  const tableName = r.outputs?.stateTableName ?? stateTableName();
  const clients = await connect(io, r);
  const store = new StateStore({ doc: clients.controlPlane().dynamo, tableName });
  const ids = agents.length > 0 ? agents : r.config.agents.map((a) => a.id);
  const restores = await pendingRestores(clients.controlPlane().dynamo, tableName, ids);
  const rows = [];
  for (const id of ids) {
    const mode = await store.getMode(id);
    rows.push({
      agentId: id,
      mode: mode?.mode ?? 'normal',
      incidentId: mode?.incidentId ?? null,
      updatedAt: mode?.updatedAt ?? null,
      restore: restores.get(id) ?? null,
    });
  }
  if (opts.json) io.out(JSON.stringify(rows, null, 2));
  else {
    io.out(
      fitTable(
        ['agent', 'mode (control flag)', 'incident', 'since'],
        rows.map((row) => [
          row.agentId,
          row.mode === 'normal' ? row.mode : pc.yellow(row.mode),
          printable(row.incidentId ?? '-'),
          printable(row.updatedAt ?? '-'),
        ]),
      ),
    );
    const pending = rows.filter((row) => row.restore);
    if (pending.length > 0) {
      io.out('');
      io.out(
        fitTable(
          ['agent', 'pending restore', 'status', 'to mode', 'approvals', 'requested by'],
          pending.map(({ agentId, restore: p }) => [
            agentId,
            printable(p?.restoreId ?? ''),
            p?.status ?? '',
            p?.toMode ?? '',
            `${p?.approvals ?? 0} of ${r.config.restore.quorum}`,
            printable(p?.requester ?? ''),
          ]),
        ),
      );
    }
  }
  return EXIT.ok;
}

/** The message a failed command leaves on the terminal: never a stack trace unless --debug. */
function failureMessage(e: unknown, debug: boolean): string {
  const err = e as Error;
  if (
    e instanceof ConfigError ||
    e instanceof OutputsError ||
    e instanceof UsageError ||
    e instanceof CredentialsError
  ) {
    return err.message;
  }
  const target: AwsTarget = {
    region: process.env.AWS_REGION ?? '',
    ...(process.env.AWS_ENDPOINT_URL ? { endpoint: process.env.AWS_ENDPOINT_URL } : {}),
    profile: profileOf(undefined),
  };
  const text = explainAwsError(e, target);
  return debug && err?.stack ? `${text}\n${err.stack}` : `${text}\n(run with --debug for the stack trace)`;
}

/** Builds the `backstop` command line. `run` resolves with the exit code and never throws. */
export function buildCli(io: Io = stdio): { program: Command; run: (argv: string[]) => Promise<number> } {
  let code: number = EXIT.ok;
  const set = (p: Promise<number>) =>
    p.then((c) => {
      code = c;
    });
  const program = new Command('backstop')
    .description('Kill switch and backstop control plane for AI agents running in AWS')
    .version(`backstop ${version}`, '--version', 'print the version')
    .option('--debug', 'show the stack trace of an unexpected error')
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ helpWidth: 100 })
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => {
        for (const line of s.trimEnd().split('\n')) for (const l of wrap(line)) io.err(l);
      },
    })
    .addHelpText('after', `${EXIT_CODES_HELP}\n${ENVIRONMENT_HELP}`)
    .exitOverride();

  const modeOption = () =>
    new Option('--mode <mode>', `kill mode: ${KILL_MODES.join(', ')}`)
      .argParser(parseMode)
      .makeOptionMandatory();
  const incident = () =>
    new Option('--incident <id>', 'incident id, also the execution name (idempotency key)');
  const deprecatedIncident = () => new Option('--incident-id <id>', 'old name of --incident').hideHelp();
  const outputsHelp =
    'the file `cdk deploy --outputs-file` wrote (default: the names the configuration gives)';

  awsOptions(
    program
      .command('kill')
      .description("cut an agent's authority now, prove it, and audit every step")
      .argument('[agents...]', 'agent id(s) from the configuration')
      .option('--account <id>', 'instead of agent ids: every agent the configuration has in this account')
      .addOption(modeOption())
      .requiredOption('--reason <text>', 'why (goes in the audit log; at most 1024 characters)')
      .addOption(incident())
      .addOption(deprecatedIncident())
      .option('--no-wait', 'start the kill and return its execution ARN')
      .option('--local', 'run the kill path here with the local engine against --endpoint (needs --outputs)'),
    outputsHelp,
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(function (this: Command, agents: string[], opts: KillOptions) {
      return set(killCommand(io, this, agents, opts, false));
    });

  awsOptions(
    program
      .command('plan')
      .description('dry run: list what a kill in the mode would cut and leave, resource by resource')
      .argument('[agents...]', 'agent id(s) from the configuration')
      .option('--account <id>', 'instead of agent ids: every agent the configuration has in this account')
      .addOption(new Option('--mode <mode>', 'kill mode to plan').argParser(parseMode).default('full_stop'))
      .option('--reason <text>', 'why (goes in the audit log)')
      .addOption(incident())
      .addOption(deprecatedIncident())
      .option('--local', 'run the kill path here with the local engine against --endpoint (needs --outputs)'),
    outputsHelp,
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(function (this: Command, agents: string[], opts: KillOptions) {
      return set(killCommand(io, this, agents, { ...opts, wait: true }, true));
    });

  awsOptions(
    program
      .command('status')
      .description("show each agent's current mode (the control flag)")
      .argument('[agents...]', 'agent id(s); default every configured agent'),
    outputsHelp,
  )
    .addHelpText('after', EXIT_CODES_HELP)
    .action(function (this: Command, agents: string[], opts: CommonOptions) {
      return set(statusCommand(io, this, agents, opts));
    });

  registerAuditCommands(program, io, set);
  addCanaryCommand(program, io, set);
  registerRestoreCommands(program, io, set);
  registerApprovalCommands(program, io, set);

  program
    .command('drill')
    .description('seed a sample agent in the embedded simulator, kill it, verify, and print the timeline')
    .addOption(new Option('--mode <mode>', 'kill mode').argParser(parseMode).default('full_stop'))
    .option('--plan', 'a dry run: what a kill in the mode would cut, on the simulator')
    .option('--throttle', 'apply the AWS API quotas of the performance model (docs/design.md)')
    .option('--latency <ms>', 'per-call latency in milliseconds', (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of milliseconds');
      return n;
    })
    .option('--verbose', 'list every audit record, not just the count of each type')
    .option('--no-restore', 'stop after the kill (by default a governed restore follows it)')
    .option('--json', 'print the report as JSON only')
    .addHelpText('after', EXIT_CODES_HELP)
    .action((opts) => set(drillCommand(io, opts)));

  const run = async (argv: string[]): Promise<number> => {
    const debug = argv.includes('--debug');
    try {
      await program.parseAsync(argv, { from: 'user' });
      return code;
    } catch (e) {
      const err = e as Error & { code?: string; exitCode?: number };
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      if (err.code === 'commander.help') return EXIT.ok;
      if (err.code?.startsWith('commander.')) return err.exitCode === 0 ? EXIT.ok : EXIT.error;
      for (const line of failureMessage(e, debug).split('\n')) {
        if (debug) io.err(line);
        else {
          // A wrapped `  - field: reason` continues under the reason, not under the dash.
          const indent = (line.match(/^\s*(?:- )?/)?.[0] ?? '').replace('-', ' ');
          for (const l of wrap(line, undefined, indent)) io.err(pc.red(l));
        }
      }
      return EXIT.error;
    }
  };
  return { program, run };
}
