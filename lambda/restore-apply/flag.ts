/**
 * Lowers the agent's control flag for a restore, in one transaction with the check that the
 * restore is still APPLYING: a kill that cancelled it first (kill prepare cancels before it raises
 * the flag) makes the whole write fail, so the flag is never lowered under a kill. The flag's own
 * rule is `StateStore.lowerMode`'s (`lowerModeUpdate`): only the incident that set the flag may
 * lower it, and never upwards.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { HandlerDeps } from '../shared/deps';
import { openStore } from '../shared/kill-io';
import type { Mode } from '../shared/types';
import { openRestoreStore } from '../restore-shared/io';
import { restoreKey } from '../restore-shared/store';

export async function lowerFlagForRestore(
  deps: Pick<HandlerDeps, 'clients' | 'env' | 'clock'>,
  agentId: string,
  restoreId: string,
  change: { mode: Mode; incidentId: string; reason: string },
): Promise<{ lowered: true } | { lowered: false; why: 'restore-not-applying' | 'flag-changed' }> {
  const table = deps.env.tableName;
  try {
    await deps.clients.controlPlane().dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            ConditionCheck: {
              TableName: table,
              Key: restoreKey(restoreId),
              ConditionExpression: '#status = :applying',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':applying': 'APPLYING' },
            },
          },
          { Update: openStore(deps).lowerModeUpdate(agentId, { ...change, at: deps.clock() }) },
        ],
      }),
    );
    return { lowered: true };
  } catch (err) {
    if (
      !(err instanceof TransactionCanceledException) &&
      (err as Error)?.name !== 'TransactionCanceledException'
    )
      throw err;
    const restore = await openRestoreStore(deps).get(restoreId);
    return { lowered: false, why: restore?.status === 'APPLYING' ? 'flag-changed' : 'restore-not-applying' };
  }
}
