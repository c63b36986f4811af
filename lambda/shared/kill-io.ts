import { type AuditActor, AuditChain, newChainId, stateStoreFallback } from './audit';
import { type HandlerDeps, putMetric } from './deps';
import { StateStore } from './state-store';

/** The state table, under the handler's own identity. */
export function openStore(deps: Pick<HandlerDeps, 'clients' | 'env' | 'clock'>): StateStore {
  return new StateStore({
    doc: deps.clients.controlPlane().dynamo,
    tableName: deps.env.tableName,
    clock: deps.clock,
  });
}

/**
 * One audit chain for one handler invocation. Writes never block a cut for long and never fail
 * it: what cannot be delivered goes to the state table and raises the AuditWriteFailures alarm.
 */
export function openChain(
  deps: HandlerDeps,
  incidentId: string,
  prefix: string,
  actor: AuditActor,
): AuditChain {
  const store = openStore(deps);
  const fallback = stateStoreFallback(store);
  return new AuditChain({
    s3: deps.clients.controlPlane().s3,
    bucket: deps.env.auditBucketName,
    kmsKeyArn: deps.env.auditKmsKeyArn,
    incidentId,
    chainId: newChainId(prefix, deps.randomId),
    actor,
    clock: deps.clock,
    sleep: deps.sleep,
    onUndeliverable: async (records) => {
      deps.log.error('audit records not delivered; kept in the state table', {
        incidentId,
        keys: records.map((r) => r.key),
      });
      await putMetric(deps, 'AuditWriteFailures', records.length, 'Count');
      await fallback(records);
    },
  });
}
