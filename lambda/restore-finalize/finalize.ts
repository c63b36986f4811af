/**
 * The restore path's last step, run as `backstop-audit-sealer` (the only role that may sign): it
 * records how the restore ended (`RestoreCompleted`, `RestorePartial` naming what is not back,
 * `RestoreRejected`, `RestoreTimedOut`, `RestoreCancelled`, `RestoreRefused`, `RestoreFailed`),
 * ends the restore's record and lock, publishes `RestoresPending` and `RestoresCompleted`,
 * notifies the topic and seals the incident's new records in a `restore` manifest. On any outcome
 * but COMPLETED and PARTIAL nothing was changed: the agent stays exactly as the kill left it.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import type { AuditRecordType } from '../shared/audit';
import { errorMessage, errorName } from '../shared/aws-errors';
import { type HandlerDeps, putMetric } from '../shared/deps';
import { sealIncident } from '../shared/seal';
import { adjustPendingMetric, openRestoreStore, restoreChain } from '../restore-shared/io';
import type { RestoreSettings } from '../restore-shared/settings';
import {
  isFinished,
  RESTORE_ERRORS,
  type RestoreFinalizeInput,
  type RestoreRecord,
  type RestoreResult,
} from '../restore-shared/types';

type Final = RestoreResult['status'];

const RECORD_OF: Record<Final, AuditRecordType> = {
  COMPLETED: 'RestoreCompleted',
  PARTIAL: 'RestorePartial',
  REJECTED: 'RestoreRejected',
  TIMED_OUT: 'RestoreTimedOut',
  CANCELLED: 'RestoreCancelled',
  REFUSED: 'RestoreRefused',
  FAILED: 'RestoreFailed',
};

/** How the execution ended, from what each step handed on. */
export function finalStatus(
  input: RestoreFinalizeInput,
  record: RestoreRecord | undefined,
): { status: Final; message: string } {
  if (input.prepare.status === 'REFUSED') {
    return { status: 'REFUSED', message: input.prepare.refusal?.message ?? 'the restore was refused' };
  }
  if (input.apply) return { status: input.apply.status, message: input.apply.message ?? '' };
  const error = input.caught?.Error;
  const cause = input.caught?.Cause ?? '';
  if (error === RESTORE_ERRORS.rejected || record?.status === 'REJECTED') {
    const by = record?.decision?.by.join(', ') ?? 'an approver';
    return {
      status: 'REJECTED',
      message: `rejected by ${by}: ${record?.decision?.reason ?? cause}; nothing was changed`,
    };
  }
  if (error === RESTORE_ERRORS.cancelled || record?.status === 'CANCELLED') {
    return {
      status: 'CANCELLED',
      message: `cancelled by the kill of incident ${record?.cancelledBy ?? 'unknown'}: the kill wins; nothing was changed`,
    };
  }
  if (error === RESTORE_ERRORS.timeout) {
    return {
      status: 'TIMED_OUT',
      message: `no quorum of approvals before ${record?.approvalDeadline ?? 'the deadline'}: nothing was changed`,
    };
  }
  return {
    status: 'FAILED',
    message: `the restore path failed (${error ?? 'unknown'}: ${cause.slice(0, 500)})`,
  };
}

export async function run(
  input: RestoreFinalizeInput,
  deps: HandlerDeps,
  _settings?: RestoreSettings,
): Promise<RestoreResult> {
  const { prepare } = input;
  const restores = openRestoreStore(deps);
  const record = prepare.status === 'ACCEPTED' ? await restores.get(prepare.restoreId) : undefined;
  const { status, message } = finalStatus(input, record);
  const incidentId = prepare.incidentId;
  const approvers =
    input.approval?.approvers ?? (record?.decision?.status === 'APPROVED' ? record.decision.by : []);

  let manifestKey: string | null = null;
  if (record && incidentId) {
    const chain = restoreChain(deps, incidentId, 'restore-finalize', {
      type: 'execution',
      arn: prepare.executionId,
    });
    const alreadyRecorded = status === 'REFUSED'; // the step that refused wrote RestoreRefused
    if (!alreadyRecorded) {
      void chain.write(RECORD_OF[status], {
        agentId: record.agentId,
        mode: record.toMode,
        reason: record.reason,
        detail: {
          restoreId: record.restoreId,
          status,
          message,
          requester: record.requester.arn,
          approvers,
          fromMode: record.fromMode,
          toMode: record.toMode,
          ...(input.apply && {
            surfaces: input.apply.surfaces,
            notBack: input.apply.surfaces.filter((s) => s.notBack.length > 0),
            stoppedExecutions: input.apply.stoppedExecutions,
            flag: input.apply.flag,
            approvedAt: input.apply.approvedAt,
            restoredAt: input.apply.restoredAt,
            timeToRestoreMs: input.apply.timeToRestoreMs,
          }),
        },
      });
    }
    // A cancelled restore keeps CANCELLED (and who cancelled it); anything else ends as it ended.
    const from =
      record.status === 'CANCELLED'
        ? ['CANCELLED' as const]
        : (['REQUESTED', 'AWAITING_APPROVAL', 'APPROVED', 'APPLYING'] as const);
    if (!isFinished(record.status) || record.status === 'CANCELLED') {
      await restores.transition(
        record.restoreId,
        [...from],
        record.status === 'CANCELLED' ? 'CANCELLED' : status,
        { finishedAt: deps.clock().toISOString(), message, ...(input.apply && { outcome: input.apply }) },
        ['taskToken'],
      );
    }
    await restores.releaseAgent(record.agentId, record.restoreId);
    try {
      manifestKey = (await sealIncident(deps, { incidentId, kind: 'restore', chain })).key;
    } catch (e) {
      deps.log.error('manifest not written', { incidentId, error: errorName(e), message: errorMessage(e) });
      await putMetric(deps, 'AuditWriteFailures', 1, 'Count');
    }
    await adjustPendingMetric(deps, -1);
  } else if (incidentId) {
    // Refused at the first step: its refusal record still needs a seal, and a lock may need release.
    if (prepare.agentId) await restores.releaseAgent(prepare.agentId, prepare.restoreId).catch(() => false);
    try {
      manifestKey = (await sealIncident(deps, { incidentId, kind: 'restore' })).key;
    } catch (e) {
      deps.log.error('manifest not written', { incidentId, error: errorName(e) });
    }
  }

  const result: RestoreResult = {
    restoreId: prepare.restoreId,
    incidentId,
    agentId: prepare.agentId,
    status,
    toMode: prepare.toMode,
    requester: record?.requester.arn ?? null,
    approvers,
    message,
    outcome: input.apply ?? null,
    manifestKey,
  };
  await putMetric(deps, 'Restores', 1, 'Count', { Status: status });
  await putMetric(deps, 'RestoresCompleted', status === 'COMPLETED' ? 1 : 0, 'Count');
  if (input.apply?.timeToRestoreMs !== undefined && status === 'COMPLETED') {
    await putMetric(deps, 'TimeToRestore', input.apply.timeToRestoreMs, 'Milliseconds');
  }
  await notify(deps, result);
  return result;
}

async function notify(deps: HandlerDeps, r: RestoreResult): Promise<void> {
  const lines = [
    `Backstop restore ${r.restoreId} of ${r.agentId ?? 'an agent'} (incident ${r.incidentId ?? '-'}): ${r.status}`,
    r.message,
    ...(r.approvers.length > 0 ? [`Approved by: ${r.approvers.join(', ')}`] : []),
    ...(r.outcome?.surfaces ?? [])
      .filter((s) => s.notBack.length > 0)
      .map(
        (s) => `- ${s.surface}: not back: ${s.notBack.map((n) => `${n.resource} (${n.reason})`).join('; ')}`,
      ),
    ...(r.outcome?.stoppedExecutions ?? []).map((e) => `- execution to re-drive by hand: ${e.executionArn}`),
    r.outcome?.timeToRestoreMs !== undefined
      ? `Time to restore: ${(r.outcome.timeToRestoreMs / 1000).toFixed(1)} s`
      : '',
  ].filter(Boolean);
  try {
    await deps.clients.controlPlane().sns.send(
      new PublishCommand({
        TopicArn: deps.env.topicArn,
        Subject: `Backstop restore ${r.status}: ${r.agentId ?? r.restoreId}`.slice(0, 100),
        Message: lines.join('\n').slice(0, 200_000),
        MessageAttributes: { status: { DataType: 'String', StringValue: r.status } },
      }),
    );
  } catch (e) {
    deps.log.error('notification not sent', { restoreId: r.restoreId, error: errorName(e) });
  }
}
