/**
 * What every restore handler opens: the restore items, the audit chain, the workload restore role,
 * the metrics, and the one place a decision reaches the waiting task (Step Functions task token).
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { AuditActor, AuditChain } from '../shared/audit';
import type { WorkloadClients } from '../shared/clients';
import { type HandlerDeps, putMetric } from '../shared/deps';
import { openChain } from '../shared/kill-io';
import { restoreExecutionRoleArn } from '../shared/naming';
import type { AgentTarget } from '../shared/types';
import { RestoreStore } from './store';
import { type ApprovalResult, RESTORE_ERRORS, type RestoreRecord } from './types';

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

/** The session name and source identity of a restore's workload session, for CloudTrail. */
export function restoreSessionName(restoreId: string): string {
  return `backstop-${restoreId}`.slice(0, 64);
}

/**
 * Assumes the restore execution role of the agent's account and region (`backstop-restore-<region>`),
 * with a session named after the restore and a source identity, and returns clients under it. Only
 * the restore path's apply function may do this: the worker role's policy pins
 * `sts:AssumeRole` to that function (`lambda:SourceFunctionArn`).
 */
export async function assumeRestoreRole(
  deps: Pick<HandlerDeps, 'clients'>,
  agent: AgentTarget,
  restoreId: string,
): Promise<WorkloadClients> {
  const { sts } = deps.clients.controlPlane();
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: restoreExecutionRoleArn(agent.partition, agent.accountId, agent.region),
      RoleSessionName: restoreSessionName(restoreId),
      SourceIdentity: restoreSessionName(restoreId),
      DurationSeconds: 3600,
    }),
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey) {
    throw new Error(`AssumeRole into ${agent.accountId}/${agent.region} returned no credentials`);
  }
  return deps.clients.workload(agent.region, {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: c.Expiration,
  });
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

/** What the waiting approval task is completed with, for a decided restore; undefined while it waits. */
export function taskOutcome(
  record: RestoreRecord,
):
  | { readonly kind: 'success'; readonly output: ApprovalResult }
  | { readonly kind: 'failure'; readonly error: string; readonly cause: string }
  | undefined {
  if (record.status === 'APPROVED' && record.decision) {
    return {
      kind: 'success',
      output: { decision: 'APPROVED', approvers: record.decision.by, approvedAt: record.decision.at },
    };
  }
  if (record.status === 'REJECTED') {
    return {
      kind: 'failure',
      error: RESTORE_ERRORS.rejected,
      cause: `rejected by ${record.decision?.by.join(', ') ?? 'an approver'}: ${record.decision?.reason ?? ''}`,
    };
  }
  if (record.status === 'CANCELLED') {
    return {
      kind: 'failure',
      error: RESTORE_ERRORS.cancelled,
      cause: `cancelled by the kill of incident ${record.cancelledBy ?? 'unknown'}: a kill wins over a restore`,
    };
  }
  return undefined;
}

/**
 * Tells the waiting Step Functions task how the wait ended (SendTaskSuccess / SendTaskFailure),
 * with the token read from the state table. The token is never part of any answer to a caller.
 * Returns false when there is nothing to send (no token, or not decided yet).
 */
export async function deliverDecision(
  deps: Pick<HandlerDeps, 'clients'>,
  record: RestoreRecord,
): Promise<boolean> {
  const outcome = taskOutcome(record);
  if (!outcome || !record.taskToken) return false;
  const { sfn } = deps.clients.controlPlane();
  if (outcome.kind === 'success') {
    await sfn.send(
      new SendTaskSuccessCommand({ taskToken: record.taskToken, output: JSON.stringify(outcome.output) }),
    );
  } else {
    await sfn.send(
      new SendTaskFailureCommand({
        taskToken: record.taskToken,
        error: outcome.error,
        cause: outcome.cause.slice(0, 32_000),
      }),
    );
  }
  return true;
}

/** Asks the audit sealer to seal an incident's new records (for refusals no restore run will seal). */
export type SealRequester = (incidentId: string) => Promise<void>;
