import type { WorkloadClients } from '../shared/clients';
import { assumeWorkloadRole, type HandlerDeps } from '../shared/deps';
import { restoreExecutionRoleArn } from '../shared/naming';
import type { AgentTarget } from '../shared/types';

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
export function assumeRestoreRole(
  deps: Pick<HandlerDeps, 'clients'>,
  agent: AgentTarget,
  restoreId: string,
): Promise<WorkloadClients> {
  const name = restoreSessionName(restoreId);
  return assumeWorkloadRole(
    deps,
    agent,
    restoreExecutionRoleArn(agent.partition, agent.accountId, agent.region),
    name,
    name,
  );
}
