/**
 * What every restore handler opens: the restore items, the audit chain, the metrics.
 */
import type { AuditActor, AuditChain } from '../shared/audit';
import { type HandlerDeps, putMetric } from '../shared/deps';
import { openChain } from '../shared/kill-io';
import { RestoreStore } from './store';

export function openRestoreStore(deps: Pick<HandlerDeps, 'clients' | 'env' | 'clock'>): RestoreStore {
  return new RestoreStore(deps.clients.controlPlane().dynamo, deps.env.tableName, deps.clock);
}

/** One audit chain of the restore's records, in the kill's incident. */
export function restoreChain(
  deps: HandlerDeps,
  incidentId: string,
  prefix: string,
  actor: AuditActor,
): AuditChain {
  return openChain(deps, incidentId, prefix, actor);
}

/** Publishes how many restores wait or run now (the dashboard's `RestoresPending`). */
export async function adjustPendingMetric(deps: HandlerDeps, delta: number): Promise<void> {
  try {
    const pending = await openRestoreStore(deps).adjustPending(delta);
    await putMetric(deps, 'RestoresPending', pending, 'Count');
  } catch (e) {
    deps.log.warn('RestoresPending not updated', { error: (e as Error).name, message: (e as Error).message });
  }
}

/** Asks the audit sealer to seal an incident's new records (for refusals no restore run will seal). */
export type SealRequester = (incidentId: string) => Promise<void>;
