/**
 * The restore itself, after the approvals. In order:
 *
 * 1. The quorum is counted again from the state table (distinct configured approvers, not the
 *    requester, not the kill's initiator): an APPROVED status alone proves nothing.
 * 2. Every snapshot it will use is checked against the kill's sealed `SnapshotTaken` records
 *    (lambda/restore-shared/snapshot-check.ts): one mismatch and nothing is changed.
 * 3. Under the workload restore role, each surface is put back, in reverse order of the kill
 *    (network first, IAM, which gives authority back, last). Before each surface the restore
 *    checks that it still runs and that no kill of the agent has started (a kill cancels it and
 *    wins): if one has, it stops there.
 * 4. The control flag is lowered to `toMode`, in one transaction with the check that the restore
 *    was not cancelled, and only when every requested surface went back without a failure and no
 *    other surface is still cut.
 * 5. Every surface is read back against its snapshot; what is not back is named.
 * 6. The snapshots of what is back are moved to the history (IAM's only when the agent returns to
 *    `normal`: a lower kill mode still holds a deny, and the next restore needs the snapshot).
 */
import { errorMessage, errorName } from '../shared/aws-errors';
import type { HandlerDeps } from '../shared/deps';
import { findAgent } from '../shared/env';
import { openStore } from '../shared/kill-io';
import { SnapshotIntegrityError, type StoredSnapshot } from '../shared/state-store';
import { SURFACE_NAMES, type SurfaceName } from '../shared/types';
import { getSurface } from '../surfaces';
import type { RestoreResult as SurfaceRestoreResult, SurfaceContext } from '../surfaces/types';
import { countApprovals } from '../approval-endpoint/decide';
import { killInitiator } from '../restore-shared/initiator';
import { openRestoreStore, restoreChain } from '../restore-shared/io';
import { assumeRestoreRole } from './assume';
import type { RestoreSettings } from '../restore-shared/settings';
import { checkSnapshots } from '../restore-shared/snapshot-check';
import type {
  FlagOutcome,
  RestoreApplyInput,
  RestoreOutcome,
  RestoreRecord,
  SurfaceRestore,
} from '../restore-shared/types';
import { lowerFlagForRestore } from './flag';
import { readBack } from './readback';

/** Entries of each list the execution carries (the audit log has every one). */
const MAX_LISTED = 25;

function outcome(
  status: RestoreOutcome['status'],
  message: string,
  rest: Partial<RestoreOutcome> = {},
): RestoreOutcome {
  return { status, message, surfaces: [], stoppedExecutions: [], ...rest };
}

export async function run(
  input: RestoreApplyInput,
  deps: HandlerDeps,
  settings: RestoreSettings,
): Promise<RestoreOutcome> {
  const restores = openRestoreStore(deps);
  const state = openStore(deps);
  const record = await restores.get(input.restoreId);
  if (!record) return outcome('FAILED', `there is no restore ${input.restoreId}`);
  if (record.status === 'CANCELLED') {
    return outcome(
      'CANCELLED',
      `cancelled by the kill of incident ${record.cancelledBy ?? 'unknown'} before it changed anything`,
    );
  }
  if (record.status !== 'APPROVED' && record.status !== 'APPLYING') {
    return outcome(
      'FAILED',
      `restore ${input.restoreId} is ${record.status}, not approved: nothing was changed`,
    );
  }
  const actor = { type: 'execution' as const, arn: input.executionId };
  const chain = restoreChain(deps, record.incidentId, 'restore-apply', actor);
  const agent = findAgent(deps.env.directory, record.agentId);
  const common = {
    agentId: record.agentId,
    ...(agent && { accountId: agent.accountId, region: agent.region }),
    mode: record.toMode,
  };
  const refuse = async (code: string, message: string, detail: Record<string, unknown> = {}) => {
    void chain.write('RestoreRefused', {
      ...common,
      detail: { restoreId: record.restoreId, code, message, ...detail },
    });
    await chain.flush();
    return outcome('REFUSED', message);
  };

  // 1. The quorum, counted again.
  const incident = await state.getIncident(record.incidentId);
  const initiator = incident ? await killInitiator(deps, incident) : undefined;
  if (!agent || !incident || !initiator?.known) {
    return refuse(
      'NOT_APPROVED',
      !agent
        ? `agent ${record.agentId} is not configured`
        : initiator && !initiator.known
          ? initiator.reason
          : 'the incident is gone',
    );
  }
  const approvers = await countApprovals(deps, settings, record, initiator.arns);
  if (approvers.length < settings.quorum) {
    return refuse(
      'NOT_APPROVED',
      `restore ${record.restoreId} has ${approvers.length} counted approvals of the ${settings.quorum} it needs: nothing was changed`,
      { approvers },
    );
  }
  const applying = await restores.transition(record.restoreId, ['APPROVED', 'APPLYING'], 'APPLYING');
  if (!applying.ok) {
    const now = applying.record;
    if (now?.status === 'CANCELLED') {
      return outcome(
        'CANCELLED',
        `cancelled by the kill of incident ${now.cancelledBy ?? 'unknown'} before it changed anything`,
      );
    }
    return outcome('FAILED', `restore ${record.restoreId} is ${now?.status ?? 'gone'}: nothing was changed`);
  }

  // 2. The snapshots, checked against the kill's sealed records.
  const snapshots = new Map<SurfaceName, StoredSnapshot[]>();
  const unreadable: { surface: SurfaceName; resource: string; reason: string }[] = [];
  for (const surface of record.surfaces) {
    try {
      const list = await state.getSnapshot(record.agentId, surface);
      if (list.length > 0) snapshots.set(surface, list);
    } catch (e) {
      if (!(e instanceof SnapshotIntegrityError)) throw e;
      unreadable.push({ surface, resource: surface, reason: e.message });
    }
  }
  const mismatches = [...unreadable, ...(await checkSnapshots(deps, record.agentId, snapshots))];
  if (mismatches.length > 0) {
    return refuse(
      'SNAPSHOT_MISMATCH',
      `${mismatches.length} stored snapshot(s) do not match what the kill recorded in the audit log: the restore stops and changes nothing`,
      { mismatches: mismatches.slice(0, 100) },
    );
  }

  // 3. Each surface, in reverse order of the kill, under the workload restore role.
  const killStartedAt = await earliestKillStart(deps, incident.requestedAt, snapshots);
  let ctx: SurfaceContext;
  try {
    ctx = {
      agent,
      incidentId: record.incidentId,
      killStartedAt,
      clients: await assumeRestoreRole(deps, agent, record.restoreId),
      clock: deps.clock,
      sleep: deps.sleep,
      log: deps.log,
    };
  } catch (e) {
    const message = `the restore role of ${agent.accountId}/${agent.region} cannot be assumed (${errorName(e)}: ${errorMessage(e)}): nothing was changed`;
    void chain.write('RestoreFailed', { ...common, detail: { restoreId: record.restoreId, message } });
    await chain.flush();
    return outcome('FAILED', message);
  }

  const order = [...SURFACE_NAMES].reverse().filter((s) => snapshots.has(s));
  const results = new Map<SurfaceName, SurfaceRestoreResult>();
  let stoppedBy: string | undefined;
  for (const surface of order) {
    stoppedBy = await stillMine(deps, record);
    if (stoppedBy) break;
    const snap = (snapshots.get(surface) ?? []).map((s) => ({ id: s.id, state: s.state }));
    let result: SurfaceRestoreResult;
    try {
      result = await getSurface(surface).restore(ctx, record.toMode, snap);
    } catch (e) {
      result = {
        changes: [],
        notRestorable: [],
        failures: [{ resource: surface, action: 'restore', error: errorName(e), message: errorMessage(e) }],
      };
    }
    results.set(surface, result);
    for (const c of result.changes)
      void chain.write('ResourceRestored', { ...common, surface, detail: { ...c } });
    for (const n of result.notRestorable)
      void chain.write('ResourceNotRestored', { ...common, surface, detail: { ...n } });
    for (const f of result.failures)
      void chain.write('SurfaceFailed', { ...common, surface, detail: { ...f } });
  }

  const surfaces: SurfaceRestore[] = order.map((surface) => {
    const r = results.get(surface);
    const resources = snapshots.get(surface)?.length ?? 0;
    if (!r) return { surface, resources, changes: 0, notBack: [], skipped: stoppedBy ?? 'not reached' };
    return {
      surface,
      resources,
      changes: r.changes.length,
      notBack: [
        ...(surface === 'executions' ? [] : r.notRestorable),
        ...r.failures.map((f) => ({ resource: f.resource, reason: `${f.action}: ${f.error}: ${f.message}` })),
      ],
    };
  });
  const stoppedExecutions = (results.get('executions')?.notRestorable ?? []).map((n) => ({
    executionArn: n.resource,
    reason: n.reason,
  }));
  const approvedAt = record.decision?.at;

  if (stoppedBy) {
    const message = `a kill of the agent took over (${stoppedBy}): the restore stopped; the kill wins`;
    void chain.write('RestoreCancelled', {
      ...common,
      detail: {
        restoreId: record.restoreId,
        message,
        restoredSurfaces: [...results.keys()],
        changes: [...results.values()].reduce((n, r) => n + r.changes.length, 0),
      },
    });
    await chain.flush();
    return outcome('CANCELLED', message, {
      surfaces: trim(surfaces),
      stoppedExecutions: stoppedExecutions.slice(0, MAX_LISTED),
      ...(approvedAt && { approvedAt }),
    });
  }

  // 4. The flag, when everything asked for went back and nothing else is still cut.
  const failed = surfaces.some((s) => s.notBack.length > 0);
  const stillCut: SurfaceName[] = [];
  for (const surface of SURFACE_NAMES) {
    if (record.surfaces.includes(surface) || surface === 'executions') continue;
    const left = await state.getSnapshot(record.agentId, surface).then(
      (list) => list.length,
      () => 1, // unreadable: count it as still cut
    );
    if (left > 0) stillCut.push(surface);
  }
  const flag = await lowerFlag(deps, record, failed, stillCut);
  void chain.write('ControlFlagSet', {
    ...common,
    detail: {
      restoreId: record.restoreId,
      before: { mode: flag.before },
      after: { mode: flag.after },
      changed: flag.lowered,
      note: flag.note,
    },
  });

  // 5. Read back.
  for (const s of surfaces) {
    try {
      const snap = (snapshots.get(s.surface) ?? []).map((x) => ({ id: x.id, state: x.state }));
      for (const m of await readBack(s.surface, ctx, record.toMode, snap)) {
        if (s.notBack.some((n) => n.resource === m.resource)) continue;
        s.notBack.push({
          resource: m.resource,
          reason: `read back: expected ${JSON.stringify(m.expected)}, found ${JSON.stringify(m.actual)}`,
        });
        void chain.write('ResourceNotRestored', {
          ...common,
          surface: s.surface,
          detail: {
            resource: m.resource,
            reason: 'the read-back does not match the snapshot',
            expected: m.expected,
            actual: m.actual,
          },
        });
      }
    } catch (e) {
      s.notBack.push({
        resource: s.surface,
        reason: `read back failed: ${errorName(e)}: ${errorMessage(e)}`,
      });
    }
  }

  // 6. Snapshots of what is back go to the history.
  for (const s of surfaces) {
    if (s.notBack.length > 0 || (s.surface === 'iam' && record.toMode !== 'normal')) continue;
    const ids = (snapshots.get(s.surface) ?? []).map((x) => x.id);
    try {
      await state.clearSnapshot(record.agentId, s.surface, ids);
    } catch (e) {
      deps.log.warn('snapshot not moved to the history', { surface: s.surface, error: errorName(e) });
    }
  }
  await chain.flush();

  const restoredAt = deps.clock().toISOString();
  const complete = !surfaces.some((s) => s.notBack.length > 0) && flag.lowered;
  return outcome(
    complete ? 'COMPLETED' : 'PARTIAL',
    complete
      ? `agent ${record.agentId} is back to ${record.toMode}: every surface read back as its snapshot`
      : `not everything is back: ${describeNotBack(surfaces, flag)}`,
    {
      surfaces: trim(surfaces),
      stoppedExecutions: stoppedExecutions.slice(0, MAX_LISTED),
      flag,
      ...(approvedAt && { approvedAt }),
      restoredAt,
      ...(approvedAt && {
        timeToRestoreMs: Math.max(0, new Date(restoredAt).getTime() - new Date(approvedAt).getTime()),
      }),
    },
  );
}

function trim(surfaces: SurfaceRestore[]): SurfaceRestore[] {
  return surfaces.map((s) => ({ ...s, notBack: s.notBack.slice(0, MAX_LISTED) }));
}

function describeNotBack(surfaces: readonly SurfaceRestore[], flag: FlagOutcome): string {
  const parts = surfaces
    .filter((s) => s.notBack.length > 0)
    .map(
      (s) =>
        `${s.surface} (${s.notBack.length}: ${s.notBack[0]?.resource ?? ''}${s.notBack.length > 1 ? ', ...' : ''})`,
    );
  if (!flag.lowered && flag.note) parts.push(`flag: ${flag.note}`);
  return parts.join('; ');
}

/**
 * Whether the restore may go on: it is still APPLYING (a kill cancels it first), no kill of the
 * agent holds its lock, and the flag is still the one the kill set. Answers why not, or undefined.
 */
async function stillMine(deps: HandlerDeps, record: RestoreRecord): Promise<string | undefined> {
  // The restore's own status is read last: a kill cancels it early in its prepare step, so a kill
  // that came and went between two of these reads is still seen there.
  const restores = openRestoreStore(deps);
  const kill = await restores.runningKill(record.agentId);
  const flag = await openStore(deps).getMode(record.agentId);
  const now = await restores.get(record.restoreId);
  if (now?.status !== 'APPLYING') {
    return now?.cancelledBy
      ? `cancelled by the kill of incident ${now.cancelledBy}`
      : `the restore is ${now?.status ?? 'gone'}`;
  }
  if (kill) return `the kill of incident ${kill} is running`;
  if (!flag || flag.incidentId !== record.incidentId || flag.mode !== record.fromMode) {
    return `the control flag is now ${flag?.mode ?? 'normal'} (incident ${flag?.incidentId ?? '-'})`;
  }
  return undefined;
}

async function lowerFlag(
  deps: HandlerDeps,
  record: RestoreRecord,
  failed: boolean,
  stillCut: readonly SurfaceName[],
): Promise<FlagOutcome> {
  const before = record.fromMode;
  if (failed) {
    return { before, after: before, lowered: false, note: 'kept: not every surface went back' };
  }
  if (stillCut.length > 0) {
    return {
      before,
      after: before,
      lowered: false,
      note: `kept: ${stillCut.join(', ')} still cut (not in this restore)`,
    };
  }
  const lowered = await lowerFlagForRestore(deps, record.agentId, record.restoreId, {
    mode: record.toMode,
    incidentId: record.incidentId,
    reason: `restore ${record.restoreId}: ${record.reason}`.slice(0, 1024),
  });
  if (lowered.lowered) return { before, after: record.toMode, lowered: true };
  return {
    before,
    after: before,
    lowered: false,
    note:
      lowered.why === 'restore-not-applying'
        ? 'kept: a kill cancelled the restore first'
        : 'kept: another incident set the flag since',
  };
}

/** The earliest start of the kills whose snapshots are restored: sessions from before it stay dead. */
async function earliestKillStart(
  deps: HandlerDeps,
  requestedAt: string,
  snapshots: ReadonlyMap<SurfaceName, readonly StoredSnapshot[]>,
): Promise<Date> {
  let earliest = new Date(requestedAt).getTime();
  const incidents = new Set<string>();
  for (const list of snapshots.values()) for (const s of list) incidents.add(s.incidentId);
  for (const id of incidents) {
    const other = await openStore(deps).getIncident(id);
    if (other) earliest = Math.min(earliest, new Date(other.requestedAt).getTime());
  }
  return new Date(earliest);
}
