/**
 * A restore request: who asks (an identity AWS vouched for), what is checked before anything is
 * recorded, and what is recorded. The approval endpoint calls it and then starts the restore
 * path; `backstop restore --local` calls it and runs the restore path in its own process.
 *
 * Refused, with every refusal named: an unknown field or value, a caller who may not ask, an
 * agent that is not configured, an incident that is not a recorded kill of the agent, an agent
 * whose flag another incident set (restore that one), a kill that is still running, a `toMode`
 * that is not below the agent's mode, an agent without snapshots, another restore of the agent
 * that is still live.
 */
import { randomBytes } from 'node:crypto';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { errorName, isErrorNamed } from '../shared/aws-errors';
import type { HandlerDeps } from '../shared/deps';
import { findAgent } from '../shared/env';
import { openStore } from '../shared/kill-io';
import {
  isKillMode,
  KILL_MODES,
  MODES,
  type Mode,
  modeRank,
  SURFACE_NAMES,
  type SurfaceName,
} from '../shared/types';
import { configuredAs } from './identity';
import { adjustPendingMetric, openRestoreStore, restoreChain, type SealRequester } from './io';
import type { RestoreSettings } from './settings';
import { type CallerIdentity, isFinished, type RestoreInput, type RestoreRecord } from './types';

export const MAX_REASON_LENGTH = 1024;
const FIELDS = new Set(['incidentId', 'agentId', 'toMode', 'surfaces', 'reason']);
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$/;

export type RestoreRefusalCode =
  | 'INVALID_REQUEST'
  | 'NOT_A_REQUESTER'
  | 'UNKNOWN_AGENT'
  | 'NO_RECORDED_KILL'
  | 'NOT_KILLED'
  | 'ANOTHER_INCIDENT'
  | 'KILL_RUNNING'
  | 'WOULD_RAISE'
  | 'NO_SNAPSHOT'
  | 'RESTORE_RUNNING';

/** A request refused before anything changed; `code` says which rule refused it. */
export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
  constructor(
    readonly code: RestoreRefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** Checks the shape of a request; every problem named at once, each with its field. */
export function validateRestoreInput(raw: unknown): RestoreInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RestoreRefusedError('INVALID_REQUEST', 'the restore request must be a JSON object');
  }
  const r = raw as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(r).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) {
    problems.push(`unknown field(s) ${unknown.join(', ')}: a restore takes ${[...FIELDS].join(', ')}`);
  }
  if (typeof r.incidentId !== 'string' || !ID.test(r.incidentId)) {
    problems.push('incidentId: the id of the kill to undo (backstop status shows it)');
  }
  if (typeof r.agentId !== 'string' || r.agentId.trim() === '') problems.push('agentId: missing');
  if (!(MODES as readonly unknown[]).includes(r.toMode)) {
    problems.push(`toMode: one of ${MODES.join(', ')}, got ${JSON.stringify(r.toMode ?? null)}`);
  }
  if (
    r.surfaces !== undefined &&
    (!Array.isArray(r.surfaces) ||
      r.surfaces.length === 0 ||
      !r.surfaces.every((s) => (SURFACE_NAMES as readonly unknown[]).includes(s)))
  ) {
    problems.push(`surfaces: a non-empty list of ${SURFACE_NAMES.join(', ')}`);
  }
  if (typeof r.reason !== 'string' || r.reason.trim() === '') {
    problems.push('reason: missing or empty (say why, it goes in the audit log)');
  } else if (r.reason.length > MAX_REASON_LENGTH) {
    problems.push(`reason: ${r.reason.length} characters, at most ${MAX_REASON_LENGTH}`);
  }
  if (problems.length > 0) throw new RestoreRefusedError('INVALID_REQUEST', problems.join('; '));
  return {
    incidentId: r.incidentId as string,
    agentId: r.agentId as string,
    toMode: r.toMode as Mode,
    ...(r.surfaces !== undefined && { surfaces: [...new Set(r.surfaces as SurfaceName[])] }),
    reason: (r.reason as string).trim(),
  };
}

/** A new restore id: the execution name too (at most 80 characters, unique). */
export function newRestoreId(
  agentId: string,
  now: Date,
  random: () => string = () => randomBytes(3).toString('hex'),
): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `restore-${agentId}-${stamp}-${random()}`.slice(0, 80);
}

export interface RequestRestoreOptions {
  readonly settings: RestoreSettings;
  readonly caller: CallerIdentity;
  /** @default newRestoreId */
  readonly restoreId?: string;
  /** Seals refusals that land in an incident (no restore run will seal them). @default - left for the next seal */
  readonly requestSeal?: SealRequester;
}

export interface RequestedRestore {
  readonly record: RestoreRecord;
  /** What the restore path's execution is started with (its name is the restore id). */
  readonly input: RestoreInput;
}

/** Seconds the agent's restore lock outlives the approval timeout (apply and finalize). */
const LOCK_MARGIN_SECONDS = 2 * 3600;

/**
 * Checks a request and records it: the agent's restore lock, the restore's record (REQUESTED) and
 * `RestoreRequested` with the caller as AWS reported it. Throws {@link RestoreRefusedError} and
 * records nothing but the refusal (into the incident, when it is a recorded kill) otherwise.
 */
export async function requestRestore(
  deps: HandlerDeps,
  raw: unknown,
  options: RequestRestoreOptions,
): Promise<RequestedRestore> {
  const { settings, caller } = options;
  const state = openStore(deps);
  const restores = openRestoreStore(deps);
  const actor = {
    type: 'iam' as const,
    arn: caller.arn,
    detail: {
      vouchedBy: caller.source === 'function-url' ? 'function URL (AWS_IAM)' : 'STS GetCallerIdentity',
    },
  };
  let knownIncident: string | undefined;
  const refuse = async (code: RestoreRefusalCode, message: string): Promise<never> => {
    if (knownIncident) {
      const chain = restoreChain(deps, knownIncident, 'restore-request', actor);
      void chain.write('RestoreRefused', {
        ...(typeof (raw as { agentId?: unknown })?.agentId === 'string' && {
          agentId: (raw as { agentId: string }).agentId,
        }),
        detail: { code, message, request: raw, caller: caller.arn },
      });
      await chain.flush();
      await options
        .requestSeal?.(knownIncident)
        .catch((e: unknown) =>
          deps.log.warn('refusal not sealed yet', { incidentId: knownIncident, error: errorName(e) }),
        );
    }
    deps.log.warn('restore refused', { code, message, caller: caller.arn });
    throw new RestoreRefusedError(code, message);
  };

  // A refusal is recorded in the incident the request names, whenever that incident exists.
  const named = (raw as { incidentId?: unknown } | null)?.incidentId;
  const incident = typeof named === 'string' && ID.test(named) ? await state.getIncident(named) : undefined;
  if (incident) knownIncident = incident.incidentId;
  let input: RestoreInput;
  try {
    input = validateRestoreInput(raw);
  } catch (e) {
    if (e instanceof RestoreRefusedError) return refuse(e.code, e.message);
    throw e;
  }
  const killed =
    incident !== undefined &&
    incident.agentIds.includes(input.agentId) &&
    !['REJECTED', 'PLANNED', 'JOINED'].includes(incident.status);

  if (!configuredAs(caller.arn, settings.requesters)) {
    await refuse(
      'NOT_A_REQUESTER',
      `${caller.arn} may not ask for a restore: only restore.approvers and the break-glass principals may`,
    );
  }
  const agent = findAgent(deps.env.directory, input.agentId);
  if (!agent) await refuse('UNKNOWN_AGENT', `agent ${input.agentId} is not in backstop.config.json`);
  if (!killed) {
    await refuse(
      'NO_RECORDED_KILL',
      `there is no recorded kill of agent ${input.agentId} in incident ${input.incidentId}: nothing to restore`,
    );
  }
  const flag = await state.getMode(input.agentId);
  if (!flag || flag.mode === 'normal' || !isKillMode(flag.mode)) {
    await refuse('NOT_KILLED', `agent ${input.agentId} is in normal mode: nothing to restore`);
    return never();
  }
  if (flag.incidentId !== input.incidentId) {
    await refuse(
      'ANOTHER_INCIDENT',
      `agent ${input.agentId} is held in ${flag.mode} by incident ${flag.incidentId}: restore that incident`,
    );
  }
  if (incident?.status === 'RUNNING') {
    await refuse(
      'KILL_RUNNING',
      `the kill of incident ${input.incidentId} is still running: restore it once it ends`,
    );
  }
  if (input.toMode !== 'normal' && modeRank(input.toMode) >= modeRank(flag.mode)) {
    await refuse(
      'WOULD_RAISE',
      `toMode ${input.toMode} is not below the agent's mode ${flag.mode}: a restore only lowers (normal or one of ${KILL_MODES.filter(
        (m) => modeRank(m) < modeRank(flag.mode),
      ).join(', ')}); to raise, kill`,
    );
  }
  const surfaces = input.surfaces ?? [...SURFACE_NAMES];
  let snapshotted = 0;
  for (const surface of surfaces) snapshotted += (await state.getSnapshot(input.agentId, surface)).length;
  if (snapshotted === 0) {
    await refuse(
      'NO_SNAPSHOT',
      `no snapshot of agent ${input.agentId} is stored for ${surfaces.join(', ')}: nothing to put back`,
    );
  }

  const now = deps.clock();
  const restoreId = options.restoreId ?? newRestoreId(input.agentId, now);
  const ttlSeconds = settings.approvalTimeoutSeconds + LOCK_MARGIN_SECONDS;
  let claim = await restores.claimAgent(input.agentId, {
    restoreId,
    incidentId: input.incidentId,
    ttlSeconds,
  });
  if (!claim.claimed) {
    const holder = await restores.get(claim.holder.restoreId);
    if (!holder || (await executionEnded(deps, holder))) {
      claim = await restores.claimAgent(input.agentId, {
        restoreId,
        incidentId: input.incidentId,
        ttlSeconds,
        takeOverFrom: claim.holder.restoreId,
      });
    }
    if (!claim.claimed) {
      await refuse(
        'RESTORE_RUNNING',
        `restore ${claim.holder.restoreId} of agent ${input.agentId} is still live: two restores of one agent never run at once`,
      );
    }
  }
  const record: RestoreRecord = {
    restoreId,
    incidentId: input.incidentId,
    agentId: input.agentId,
    fromMode: flag.mode,
    toMode: input.toMode,
    surfaces,
    reason: input.reason,
    requester: caller,
    requestedAt: now.toISOString(),
    status: 'REQUESTED',
    approvalDeadline: new Date(now.getTime() + settings.approvalTimeoutSeconds * 1000).toISOString(),
  };
  if (!(await restores.create(record))) {
    await restores.releaseAgent(input.agentId, restoreId);
    await refuse('RESTORE_RUNNING', `restore id ${restoreId} is taken: ask again`);
  }
  const chain = restoreChain(deps, input.incidentId, 'restore-request', actor);
  void chain.write('RestoreRequested', {
    agentId: input.agentId,
    accountId: agent?.accountId,
    region: agent?.region,
    mode: input.toMode,
    reason: input.reason,
    detail: {
      restoreId,
      requester: caller.arn,
      vouchedBy: actor.detail.vouchedBy,
      fromMode: flag.mode,
      toMode: input.toMode,
      surfaces,
      quorum: settings.quorum,
      approvers: settings.approvers,
      approvalDeadline: record.approvalDeadline,
    },
  });
  await chain.flush();
  await adjustPendingMetric(deps, 1);
  return {
    record,
    input: {
      incidentId: input.incidentId,
      agentId: input.agentId,
      toMode: input.toMode,
      surfaces,
      reason: input.reason,
    },
  };
}

/** Whether the restore holding a lock is over: finished, or its execution no longer runs. */
async function executionEnded(deps: HandlerDeps, holder: RestoreRecord): Promise<boolean> {
  if (isFinished(holder.status)) return true;
  if (!holder.executionArn) return false;
  try {
    const out = await deps.clients
      .controlPlane()
      .sfn.send(new DescribeExecutionCommand({ executionArn: holder.executionArn }));
    return out.status !== undefined && out.status !== 'RUNNING';
  } catch (e) {
    return isErrorNamed(e, 'ExecutionDoesNotExist');
  }
}

function never(): never {
  throw new Error('unreachable');
}
