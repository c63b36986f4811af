/**
 * First state of the restore path: the execution must be the restore the endpoint recorded (its
 * name is the restore id, its input what was asked). A restore started any other way (the console,
 * a script with `states:StartExecution`) has no recorded requester and is refused: who asks for a
 * restore is taken only from an identity AWS vouched for, at the endpoint.
 */
import { assertAuditId } from '../shared/audit';
import type { HandlerDeps } from '../shared/deps';
import { openStore } from '../shared/kill-io';
import { openRestoreStore, restoreChain } from '../restore-shared/io';
import type { RestoreSettings } from '../restore-shared/settings';
import type { RestorePrepareInput, RestorePrepareOutput } from '../restore-shared/types';

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function run(
  input: RestorePrepareInput,
  deps: HandlerDeps,
  _settings?: RestoreSettings,
): Promise<RestorePrepareOutput> {
  const restoreId = input.executionName;
  const request = (
    typeof input.request === 'object' && input.request !== null ? input.request : {}
  ) as Record<string, unknown>;
  const refused = (
    code: string,
    message: string,
    incidentId: string | null = null,
  ): RestorePrepareOutput => ({
    restoreId,
    incidentId,
    agentId: typeof request.agentId === 'string' ? request.agentId : null,
    toMode: null,
    executionId: input.executionId,
    status: 'REFUSED',
    refusal: { code, message },
  });
  const restores = openRestoreStore(deps);
  let record;
  try {
    assertAuditId('Restore id', restoreId);
    record = await restores.get(restoreId);
  } catch {
    record = undefined;
  }
  const actor = { type: 'execution' as const, arn: input.executionId };
  if (!record) {
    const message = `no restore ${restoreId} was requested: restores are asked for through the restore endpoint (backstop restore), which records who asks; this execution was started another way and changes nothing`;
    const incidentId = typeof request.incidentId === 'string' ? request.incidentId : null;
    let known = false;
    try {
      known = incidentId !== null && (await openStore(deps).getIncident(incidentId)) !== undefined;
    } catch {
      known = false;
    }
    if (known && incidentId) {
      const chain = restoreChain(deps, incidentId, 'restore-prepare', actor);
      void chain.write('RestoreRefused', {
        detail: { code: 'NOT_REQUESTED', message, request: input.request },
      });
      await chain.flush();
    }
    return refused('NOT_REQUESTED', message, known ? incidentId : null);
  }
  const wanted = {
    incidentId: record.incidentId,
    agentId: record.agentId,
    toMode: record.toMode,
    surfaces: record.surfaces,
    reason: record.reason,
  };
  const chain = restoreChain(deps, record.incidentId, 'restore-prepare', actor);
  if (!same(wanted, { ...wanted, ...request }) || Object.keys(request).some((k) => !(k in wanted))) {
    const message = `the execution input is not the restore ${restoreId} that was requested: nothing changes`;
    void chain.write('RestoreRefused', {
      agentId: record.agentId,
      detail: { code: 'INPUT_MISMATCH', message, request: input.request, requested: wanted },
    });
    await chain.flush();
    await restores.transition(restoreId, ['REQUESTED'], 'REFUSED', {
      finishedAt: deps.clock().toISOString(),
    });
    return refused('INPUT_MISMATCH', message, record.incidentId);
  }
  const bound = await restores.transition(restoreId, ['REQUESTED'], 'REQUESTED', {
    executionArn: input.executionId,
  });
  if (!bound.ok && record.executionArn !== input.executionId) {
    const message = `restore ${restoreId} is ${record.status}: this execution does not run it`;
    return refused('NOT_REQUESTED', message, record.incidentId);
  }
  return {
    restoreId,
    incidentId: record.incidentId,
    agentId: record.agentId,
    toMode: record.toMode,
    executionId: input.executionId,
    status: 'ACCEPTED',
    refusal: null,
  };
}
