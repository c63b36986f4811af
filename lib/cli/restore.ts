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
import { readFileSync } from 'node:fs';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { type Command, InvalidArgumentError, Option } from 'commander';
import pc from 'picocolors';
import Table from 'cli-table3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClientFactory } from '../../lambda/shared/clients';
import { createClientFactory } from '../../lambda/shared/clients';
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
import { type BackstopConfig, DEFAULT_CONFIG_PATH, loadConfig } from '../config';
import { BREAK_GLASS_ROLE_NAME } from '../constructs/break-glass-role';
import { EXIT, type Io, UsageError } from './index';
import { readControlPlaneOutputs } from './outputs';
import { callEndpoint, type Fetch, restoreEndpointUrl } from './restore-endpoint';

export interface RestoreTarget {
  config: string;
  outputs?: string;
  endpoint?: string;
  local?: boolean;
  json?: boolean;
}

export function restoreTargetOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'Backstop configuration', DEFAULT_CONFIG_PATH)
    .option('--outputs <file>', 'the file `cdk deploy --outputs-file` wrote for the control plane')
    .option('--endpoint <url>', 'an AWS-compatible endpoint for every SDK call (sets AWS_ENDPOINT_URL)')
    .option('--local', 'do it here, against --endpoint, instead of through the deployed restore endpoint')
    .option('--json', 'print the result as JSON for scripts');
}

/** What every restore command needs: the config, the outputs file, the clients. */
export function restoreContext(io: Io, opts: RestoreTarget, command: string) {
  if (opts.endpoint !== undefined) {
    try {
      new URL(opts.endpoint);
    } catch {
      throw new UsageError(`--endpoint ${opts.endpoint}: not a URL (for example http://localhost:4566)`);
    }
    process.env.AWS_ENDPOINT_URL = opts.endpoint;
  }
  const config = loadConfig(opts.config);
  if (!opts.outputs) {
    throw new UsageError(
      `${command} needs --outputs <file>: the deployed names of the control plane (cdk deploy --outputs-file)`,
    );
  }
  const region = config.controlPlane.region;
  const clients: ClientFactory = io.clients ? io.clients(region) : createClientFactory({ region });
  return { config, outputs: opts.outputs, clients, region };
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
    `${pc.bold(`Restore ${r.restoreId}`)}: ${(COLOUR[r.status] ?? ((s: string) => s))(r.status)}${r.toMode ? ` (to ${r.toMode})` : ''}`,
    r.message,
  ];
  if (r.requester) lines.push(`Requested by ${r.requester}`);
  if (r.approvers.length > 0) lines.push(`Approved by ${r.approvers.join(', ')}`);
  const o = r.outcome;
  if (o && o.surfaces.length > 0) {
    const table = new Table({
      head: ['surface', 'resources', 'changes', 'not back'],
      style: { head: [], border: [] },
    });
    for (const s of o.surfaces) {
      const notBack = s.skipped
        ? `not touched: ${s.skipped}`
        : s.notBack
            .map((n) => `${n.resource.split(':').slice(5).join(':') || n.resource}: ${n.reason}`)
            .join('; ');
      table.push([s.surface, String(s.resources), String(s.changes), notBack.slice(0, 60)]);
    }
    lines.push(table.toString());
  }
  for (const e of o?.stoppedExecutions ?? [])
    lines.push(`Stopped by the kill, re-drive by hand if needed: ${e.executionArn}`);
  if (o?.flag)
    lines.push(`Control flag: ${o.flag.before} -> ${o.flag.after}${o.flag.note ? ` (${o.flag.note})` : ''}`);
  if (o?.timeToRestoreMs !== undefined)
    lines.push(`Time to restore: ${(o.timeToRestoreMs / 1000).toFixed(2)} s after quorum`);
  if (r.manifestKey) lines.push(`Signed manifest: ${r.manifestKey}`);
  return lines;
}

function printResult(io: Io, result: RestoreResult, json: boolean | undefined): number {
  if (json) io.out(JSON.stringify(result, null, 2));
  else for (const line of restoreLines(result)) io.out(line);
  return result.status === 'COMPLETED' ? EXIT.ok : EXIT.notContained;
}

function refused(io: Io, json: boolean | undefined, code: string, message: string): number {
  if (json) io.out(JSON.stringify({ error: code, message }, null, 2));
  else io.err(pc.red(`${code}: ${message}`));
  return EXIT.notContained;
}

interface RestoreOptions extends RestoreTarget {
  incident: string;
  toMode: Mode;
  reason: string;
  surfaces?: SurfaceName[];
  wait: boolean;
  poll: number;
}

async function restoreCommand(
  io: Io,
  agentId: string,
  opts: RestoreOptions,
  fetchFn?: Fetch,
): Promise<number> {
  const { config, outputs, clients, region } = restoreContext(io, opts, 'restore');
  const input: RestoreInput = {
    incidentId: opts.incident,
    agentId,
    toMode: opts.toMode,
    ...(opts.surfaces && { surfaces: opts.surfaces }),
    reason: opts.reason,
  };
  const announce = (restoreId: string) => {
    if (opts.json) io.err(JSON.stringify({ restoreId }));
    else {
      io.out(`Restore ${restoreId} requested: it waits for ${config.restore.quorum} approvals.`);
      io.out(`Approvers: backstop approve ${restoreId}   (or: backstop reject ${restoreId} --reason "...")`);
    }
  };

  if (opts.local) {
    const { LocalRestoreRunner } =
      require('../local/restore-runner') as typeof import('../local/restore-runner');
    readControlPlaneOutputs(outputs);
    const stack = (JSON.parse(readFileSync(outputs, 'utf8')) as Record<string, Record<string, string>>)[
      'Backstop-ControlPlane'
    ] as Record<string, string>;
    const runner = new LocalRestoreRunner({ config, clients, stackOutputs: stack, pollMs: opts.poll });
    const caller = await stsIdentity(clients);
    try {
      const outcome = await runner.restore(caller, input, {
        onRequested: (r) => announce(r.record.restoreId),
      });
      if (!outcome.result) {
        io.err(
          pc.red(
            `the restore path ended without a result (${outcome.execution.status}: ${outcome.execution.error ?? ''})`,
          ),
        );
        return EXIT.error;
      }
      return printResult(io, outcome.result, opts.json);
    } catch (e) {
      if (e instanceof RestoreRefusedError) return refused(io, opts.json, e.code, e.message);
      throw e;
    }
  }

  const url = restoreEndpointUrl(outputs);
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
    await new Promise((r) => setTimeout(r, opts.poll));
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
      .requiredOption('--incident <id>', 'the kill to undo (backstop status shows it)')
      .addOption(
        new Option('--to-mode <mode>', 'normal, or a kill mode below the current one')
          .argParser(parseToMode)
          .makeOptionMandatory(),
      )
      .requiredOption('--reason <text>', 'why (goes in the audit log; at most 1024 characters)')
      .option(
        '--surfaces <list>',
        `only these surfaces (comma-separated: ${SURFACE_NAMES.join(',')})`,
        parseSurfaces,
      )
      .option('--no-wait', 'return once the request is recorded')
      .addOption(
        new Option('--poll <ms>', 'how often to look at the restore while waiting')
          .default(5000)
          .argParser(Number)
          .hideHelp(),
      ),
  ).action((agent: string, opts: RestoreOptions) => set(restoreCommand(io, agent, opts, fetchFn)));
}
