/**
 * A kill wins over a restore. Kill prepare calls {@link cancelRestores} for every agent it is
 * about to cut, before it raises the control flag:
 *
 * - the agent's live restore (requested, waiting, approved or applying) is marked CANCELLED with
 *   one conditional write, naming the kill's incident; the kill's audit chain records it;
 * - a restore waiting for approvals has its task failed at once (`Backstop.RestoreCancelled`), so
 *   the restore path ends and records it;
 * - a restore that is applying checks its status before each surface and stops; its flag write is
 *   in one transaction with "still APPLYING", so it can never lower the flag after this.
 *
 * Nothing here can fail a kill: an error is logged and the kill goes on.
 */
import { SendTaskFailureCommand } from '@aws-sdk/client-sfn';
import type { AuditChain } from '../shared/audit';
import { errorMessage, errorName } from '../shared/aws-errors';
import { mapLimit } from '../shared/concurrency';
import type { HandlerDeps } from '../shared/deps';
import { RestoreStore } from './store';
import { LIVE_STATUSES, RESTORE_ERRORS } from './types';

export async function cancelRestores(
  deps: HandlerDeps,
  chain: AuditChain,
  agentIds: readonly string[],
  incidentId: string,
): Promise<void> {
  const restores = new RestoreStore(deps.clients.controlPlane().dynamo, deps.env.tableName, deps.clock);
  await mapLimit(agentIds, 25, async (agentId) => {
    try {
      const lock = await restores.getAgentLock(agentId);
      if (!lock) return;
      const cancelled = await restores.transition(lock.restoreId, LIVE_STATUSES, 'CANCELLED', {
        cancelledBy: incidentId,
        finishedAt: deps.clock().toISOString(),
      });
      if (!cancelled.ok) return; // over already
      const record = cancelled.record;
      void chain.write('RestoreCancelled', {
        agentId,
        detail: {
          restoreId: record.restoreId,
          restoreIncidentId: record.incidentId,
          cancelledBy: incidentId,
          note: 'a kill of the agent cancels its pending or running restore: the kill wins',
        },
      });
      if (!record.taskToken) return; // not waiting yet: its wait fails at once, seeing CANCELLED
      try {
        await deps.clients.controlPlane().sfn.send(
          new SendTaskFailureCommand({
            taskToken: record.taskToken,
            error: RESTORE_ERRORS.cancelled,
            cause: `cancelled by the kill of incident ${incidentId}: a kill wins over a restore`,
          }),
        );
      } catch (e) {
        // The restore path still stops: its next step reads CANCELLED (or its wait times out).
        deps.log.warn('the cancelled restore was not told directly', {
          restoreId: record.restoreId,
          error: errorName(e),
        });
      }
    } catch (e) {
      deps.log.error('restore not cancelled; the kill goes on', {
        agentId,
        error: errorName(e),
        message: errorMessage(e),
      });
    }
  });
}
