/**
 * The one place a decision reaches the waiting approval task: the Step Functions task token is
 * read from the state table and used here, and never part of any answer to a caller.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import type { HandlerDeps } from '../shared/deps';
import { type ApprovalResult, RESTORE_ERRORS, type RestoreRecord } from './types';

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
