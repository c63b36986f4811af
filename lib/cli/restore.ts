/**
 * `backstop restore`: ask for a governed restore of a killed agent (issue 9), and wait for it.
 * Registered on the CLI by lib/cli/index.ts through {@link registerRestoreCommands}.
 *
 * Deployed, the request goes to the restore endpoint (a function URL with AWS_IAM auth, signed with
 * the caller's credentials), which records who asks and starts `backstop-restore`; the command
 * then follows the restore through the endpoint until it ends. With `--local --endpoint <url>` the
 * restore path runs in this process (lib/local/restore-runner.ts) against the endpoint, the caller
 * being the identity STS reports for the credentials, and waits for approvals given with
 * `backstop approve --local` from anywhere that reaches the same state table.
 *
 * `--json` prints `{"restoreId": "..."}` on its own line on stderr as soon as the request is
 * recorded, and the final result on stdout. Exit code 0 only when the restore COMPLETED.
 */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClientFactory } from '../../lambda/shared/clients';
import { iamRoleArn } from '../../lambda/shared/naming';
import { StateStore } from '../../lambda/shared/state-store';
import { MODES, type Mode, SURFACE_NAMES, type SurfaceName } from '../../lambda/shared/types';
import { RestoreRefusedError } from '../../lambda/restore-shared/request';
import { RestoreStore } from '../../lambda/restore-shared/store';
import type { RestoreSettings } from '../../lambda/restore-shared/settings';
import {
  type CallerIdentity,
  isFinished,
  type RestoreInput,
  type RestoreResult,
  type RestoreStatus,
} from '../../lambda/restore-shared/types';
import type { BackstopConfig } from '../config';
import { BREAK_GLASS_ROLE_NAME } from '../constructs/break-glass-role';
import { CONTROL_PLANE_STACK_NAME } from '../stacks/backstop-app';
import { EXIT, type Io } from './index';
import { checkIncident, checkReason, UsageError } from './inputs';
import { awsOptions, type CommonOptions, connect, resolve, type Resolved } from './options';
import { readStackOutputs } from './outputs';
import { callEndpoint, type Fetch, restoreEndpointUrl } from './restore-endpoint';
import { clip, fitTable, printable, wrap } from './text';

export interface RestoreTarget extends CommonOptions {
  local?: boolean;
}

const OUTPUTS_HELP =
  'the file `cdk deploy --outputs-file` wrote (required: it holds the restore endpoint URL)';

/** The options of restore, approve and reject: main's AWS options, plus --local. */
export function restoreTargetOptions(cmd: Command): Command {
  return awsOptions(
    cmd.option('--local', 'do it here, against --endpoint, instead of through the deployed restore endpoint'),
    OUTPUTS_HELP,
  );
}

/**
 * What every restore command needs, checked before any AWS call: the configuration, the agents
 * named, the endpoint, profile and region (lib/cli/options.ts), and the outputs file (the restore
 * endpoint's URL is only known from it; `--local` maps the deployed names from it).
 */
export function restoreResolve(
  cmd: Command,
  opts: RestoreTarget,
  agents: readonly string[],
  command: string,
): Resolved & { readonly outputsFile: string } {
  if (!opts.outputs) {
    throw new UsageError(
      `${command} needs --outputs <file>: the deployed names of the control plane and the restore endpoint URL (cdk deploy --outputs-file)`,
    );
  }
  const r = resolve(cmd, opts, agents);
  // The deployed path needs the endpoint's URL: say so now, before any call.
  if (!opts.local) restoreEndpointUrl(opts.outputs);
  return { ...r, outputsFile: opts.outputs };
}

/** The restore settings the deployed functions get, from the configuration (for `--local`). */
export function restoreSettingsOf(config: BackstopConfig): RestoreSettings {
  const breakGlassRole = iamRoleArn(
    config.partition ?? 'aws',
    config.controlPlane.accountId,
    BREAK_GLASS_ROLE_NAME,
  );
  return {
    approvers: config.restore.approvers,
    quorum: config.restore.quorum,
    requesters: [...config.restore.approvers, ...config.breakGlass.principals, breakGlassRole],
    approvalTimeoutSeconds: config.restore.approvalTimeoutHours * 3600,
  };
}

/** The caller as STS reports it for the credentials in use (`--local`). */
export async function stsIdentity(clients: ClientFactory): Promise<CallerIdentity> {
  const out = await clients.controlPlane().sts.send(new GetCallerIdentityCommand({}));
  if (!out.Arn) throw new Error('STS GetCallerIdentity returned no ARN for these credentials');
  return { arn: out.Arn, source: 'sts' };
}

function parseToMode(value: string): Mode {
  if (!(MODES as readonly string[]).includes(value) || value === 'full_stop') {
    throw new InvalidArgumentError(
      `unknown mode "${value}": normal, or a kill mode below the agent's (${MODES.filter((m) => m !== 'normal' && m !== 'full_stop').join(', ')})`,
    );
  }
  return value as Mode;
}

function parseSurfaces(value: string): SurfaceName[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = list.filter((s) => !(SURFACE_NAMES as readonly string[]).includes(s));
  if (list.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown surface(s) ${unknown.join(', ') || '(none)'}: a comma-separated list of ${SURFACE_NAMES.join(', ')}`,
    );
  }
  return list as SurfaceName[];
}

const COLOUR: Record<string, (s: string) => string> = {
  COMPLETED: pc.green,
  PARTIAL: pc.yellow,
  REJECTED: pc.red,
  TIMED_OUT: pc.red,
  CANCELLED: pc.yellow,
  REFUSED: pc.red,
  FAILED: pc.red,
};

/** The result the way the person who asked reads it (lines of at most 100 columns). */
export function restoreLines(r: RestoreResult): string[] {
  const lines = [
    clip(
      `${pc.bold(`Restore ${r.restoreId}`)}: ${(COLOUR[r.status] ?? ((s: string) => s))(r.status)}${r.toMode ? ` (to ${r.toMode})` : ''}`,
    ),
    ...wrap(printable(r.message)),
  ];
  if (r.requester) lines.push(...wrap(`Requested by ${printable(r.requester)}`));
  if (r.approvers.length > 0) lines.push(...wrap(`Approved by ${r.approvers.map(printable).join(', ')}`));
  const o = r.outcome;
  if (o && o.surfaces.length > 0) {
    lines.push(
      fitTable(
        ['surface', 'resources', 'changes', 'not back'],
        o.surfaces.map((s) => [
          s.surface,
          String(s.resources),
          String(s.changes),
          s.skipped
            ? `not touched: ${printable(s.skipped)}`
            : s.notBack
                .map(
                  (n) =>
                    `${printable(n.resource.split(':').slice(5).join(':') || n.resource)}: ${printable(n.reason)}`,
                )
                .join('\n') || '-',
        ]),
        { minWidths: [10, 11, 9, 30] },
      ),
    );
  }
  for (const e of o?.stoppedExecutions ?? [])
    lines.push(...wrap(`Stopped by the kill, re-drive by hand if needed: ${printable(e.executionArn)}`));
  if (o?.flag)
    lines.push(
      ...wrap(
        `Control flag: ${o.flag.before} -> ${o.flag.after}${o.flag.note ? ` (${printable(o.flag.note)})` : ''}`,
      ),
    );
  if (o?.timeToRestoreMs !== undefined)
    lines.push(`Time to restore: ${(o.timeToRestoreMs / 1000).toFixed(2)} s after quorum`);
  if (r.manifestKey) lines.push(clip(`Signed manifest: ${r.manifestKey}`));
  return lines;
}

function printResult(io: Io, result: RestoreResult, json: boolean | undefined): number {
  if (json) io.out(JSON.stringify(result, null, 2));
  else for (const line of restoreLines(result)) io.out(line);
  return result.status === 'COMPLETED' ? EXIT.ok : EXIT.notContained;
}

function refused(io: Io, json: boolean | undefined, code: string, message: string): number {
  if (json) io.out(JSON.stringify({ error: code, message }, null, 2));
  else for (const line of wrap(`${code}: ${printable(message)}`)) io.err(pc.red(line));
  return EXIT.notContained;
}

interface RestoreOptions extends RestoreTarget {
  incident?: string;
  toMode: Mode;
  reason?: string;
  surfaces?: SurfaceName[];
  wait: boolean;
  poll: number;
}

async function restoreCommand(
  io: Io,
  cmd: Command,
  agentId: string,
  opts: RestoreOptions,
  fetchFn?: Fetch,
): Promise<number> {
  const r = restoreResolve(cmd, opts, [agentId], 'restore');
  const incidentId = checkIncident(opts.incident, '--incident');
  if (!incidentId)
    throw new UsageError('--incident <id> is required: the kill to undo (backstop status shows it)');
  const reason = checkReason(opts.reason, true) as string;
  const input: RestoreInput = {
    incidentId,
    agentId,
    toMode: opts.toMode,
    ...(opts.surfaces && { surfaces: opts.surfaces }),
    reason,
  };
  const announce = (restoreId: string) => {
    if (opts.json) io.err(JSON.stringify({ restoreId }));
    else {
      io.out(clip(`Restore ${restoreId} requested: it waits for ${r.config.restore.quorum} approvals.`));
      io.out(clip(`Approvers run: backstop approve ${restoreId}`));
      io.out(clip(`Or stop it:    backstop reject ${restoreId} --reason "..."`));
    }
  };
  const clients = await connect(io, r);

  if (opts.local) {
    const { LocalRestoreRunner } =
      require('../local/restore-runner') as typeof import('../local/restore-runner');
    const runner = new LocalRestoreRunner({
      config: r.config,
      clients,
      stackOutputs: readStackOutputs(r.outputsFile, CONTROL_PLANE_STACK_NAME),
      pollMs: opts.poll,
    });
    const caller = await stsIdentity(clients);
    try {
      const outcome = await runner.restore(caller, input, {
        onRequested: (req) => announce(req.record.restoreId),
      });
      if (!outcome.result) {
        const why = `${outcome.execution.status}: ${outcome.execution.error ?? ''}`;
        for (const line of wrap(`the restore path ended without a result (${why})`)) io.err(pc.red(line));
        return EXIT.error;
      }
      return printResult(io, outcome.result, opts.json);
    } catch (e) {
      if (e instanceof RestoreRefusedError) return refused(io, opts.json, e.code, e.message);
      throw e;
    }
  }

  const region = r.target.region;
  const url = restoreEndpointUrl(r.outputsFile);
  const started = await callEndpoint(clients, region, url, { action: 'request', ...input }, fetchFn);
  if (started.status !== 202 || typeof started.body.restoreId !== 'string') {
    return refused(
      io,
      opts.json,
      String(started.body.error ?? started.status),
      String(started.body.message ?? ''),
    );
  }
  const restoreId = started.body.restoreId;
  announce(restoreId);
  if (!opts.wait) return EXIT.ok;
  for (;;) {
    const status = await callEndpoint(clients, region, url, { action: 'status', restoreId }, fetchFn);
    if (status.status !== 200) {
      return refused(
        io,
        opts.json,
        String(status.body.error ?? status.status),
        String(status.body.message ?? ''),
      );
    }
    const record = status.body as { status: RestoreStatus } & Record<string, unknown>;
    if (isFinished(record.status)) return printResult(io, resultOf(restoreId, record), opts.json);
    await new Promise((done) => setTimeout(done, opts.poll));
  }
}

/** The final result from the endpoint's `status` answer (the restore's record, no token). */
function resultOf(restoreId: string, record: Record<string, unknown>): RestoreResult {
  const decision = record.decision as { status?: string; by?: string[] } | undefined;
  const requester = record.requester as { arn?: string } | undefined;
  return {
    restoreId,
    incidentId: (record.incidentId as string) ?? null,
    agentId: (record.agentId as string) ?? null,
    status: record.status as RestoreResult['status'],
    toMode: (record.toMode as Mode) ?? null,
    requester: requester?.arn ?? null,
    approvers: decision?.status === 'APPROVED' ? (decision.by ?? []) : [],
    message: (record.message as string) ?? '',
    outcome: (record.outcome as RestoreResult['outcome']) ?? null,
    manifestKey: null,
  };
}

export interface PendingRestore {
  readonly restoreId: string;
  readonly status: RestoreStatus;
  readonly toMode: Mode;
  readonly approvals: number;
  readonly requester: string;
}

/** The live restore of each agent (for `backstop status`), read from the state table. */
export async function pendingRestores(
  doc: DynamoDBDocumentClient,
  tableName: string,
  agentIds: readonly string[],
): Promise<Map<string, PendingRestore>> {
  const restores = new RestoreStore(doc, tableName);
  const state = new StateStore({ doc, tableName });
  const found = new Map<string, PendingRestore>();
  for (const agentId of agentIds) {
    const lock = await restores.getAgentLock(agentId);
    const record = lock && (await restores.get(lock.restoreId));
    if (!record || isFinished(record.status)) continue;
    const approvals = await state.listApprovals(record.incidentId, record.restoreId);
    found.set(agentId, {
      restoreId: record.restoreId,
      status: record.status,
      toMode: record.toMode,
      approvals: approvals.length,
      requester: record.requester.arn,
    });
  }
  return found;
}

/** `restore <agent> --incident <id> --to-mode <mode|normal> --reason <text>`. */
export function registerRestoreCommands(
  program: Command,
  io: Io,
  set: (p: Promise<number>) => Promise<void>,
  fetchFn?: Fetch,
): void {
  restoreTargetOptions(
    program
      .command('restore')
      .description('ask for a governed restore of a killed agent: two approvers, exact, audited')
      .argument('<agent>', 'agent id from the configuration')
      .option('--incident <id>', 'the kill to undo (backstop status shows it)')
      .addOption(
        new Option('--to-mode <mode>', 'normal, or a kill mode below the current one')
          .argParser(parseToMode)
          .makeOptionMandatory(),
      )
      .option('--reason <text>', 'why (goes in the audit log; at most 1024 characters)')
      .option(
        '--surfaces <list>',
        `only these surfaces, comma-separated: ${SURFACE_NAMES.join(', ')}`,
        parseSurfaces,
      )
      .option('--no-wait', 'return once the request is recorded')
      .addOption(
        new Option('--poll <ms>', 'how often to look at the restore while waiting')
          .default(5000)
          .argParser(Number)
          .hideHelp(),
      ),
  ).action(function (this: Command, agent: string, opts: RestoreOptions) {
    return set(restoreCommand(io, this, agent, opts, fetchFn));
  });
}
