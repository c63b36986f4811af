/**
 * Shared by the red-team suite: run a kill in an IAM world, read what the audit log holds, and
 * name the agent's resources.
 */
import type { AuditRecord } from '../../lambda/shared/audit';
import type { KillRequest } from '../../lambda/shared/types';
import { readAndVerifyIncident } from '../../lib/local/drill/run';
import { DRILL_AGENT, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';
import type { IamWorld } from './iam-world';

export const { accountId: W, region: R } = DRILL_WORKLOAD;
export const AGENT = DRILL_AGENT;
export const RUNTIME_ROLE = `arn:aws:iam::${W}:role/agents/support-bot-runtime`;
export const TOOLS_ROLE = `arn:aws:iam::${W}:role/agents/support-bot-tools-exec`;
export const TICKETS_TABLE = `arn:aws:dynamodb:${R}:${W}:table/tickets`;
export const allowAll = (extra: object = {}) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: '*', Resource: '*', ...extra }],
  });

let counter = 0;

/** Runs one kill to the end and reads its audit trail back, verified as a reviewer would. */
export async function kill(world: IamWorld, request: Partial<KillRequest> = {}, executionName?: string) {
  const name = executionName ?? `redteam-${++counter}`;
  const outcome = await world.runner.kill(
    { agentId: AGENT, mode: 'full_stop', reason: 'red team: the agent prepared for this', ...request },
    { executionName: name, waitScale: 0 },
  );
  const incidentId = outcome.result?.incidentId ?? name;
  const audit = await readAndVerifyIncident(world, incidentId);
  const ofType = (type: string) => audit.records.filter((r) => r.record.type === type).map((r) => r.record);
  return { ...outcome, ...audit, incidentId, ofType };
}

/** What the audit records of one type say in their detail. */
export function details<T = Record<string, unknown>>(records: readonly AuditRecord[]): T[] {
  return records.map((r) => r.detail as T);
}

/** The surfaces of the agent that did not end VERIFIED, with what the result says of them. */
export function notVerified(result: Awaited<ReturnType<typeof kill>>['result']) {
  return (result?.agents[0]?.surfaces ?? []).filter(
    (s) => s.verify !== 'VERIFIED' && s.verify !== 'NOT_APPLICABLE',
  );
}
