/**
 * The restore path's wait for approvals (a `.waitForTaskToken` task). This handler keeps the task
 * token in the state table (it never leaves the control plane), marks the restore as waiting and
 * tells the topic who may approve; the task then waits until the approval endpoint completes it
 * (quorum: success; a rejection or a kill: failure) or the task's timeout, from
 * `restore.approvalTimeoutHours`, ends it. Approvals are only taken while the restore waits, so no
 * decision can come before the token is stored.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import { errorName } from '../shared/aws-errors';
import type { HandlerDeps } from '../shared/deps';
import { openRestoreStore } from '../restore-shared/io';
import type { RestoreSettings } from '../restore-shared/settings';
import { RESTORE_ERRORS, type RestoreAwaitInput } from '../restore-shared/types';

/** The restore ended before it could wait (a kill cancelled it): the task fails at once. */
export class RestoreEndedError extends Error {
  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

export async function run(
  input: RestoreAwaitInput,
  deps: HandlerDeps,
  settings: RestoreSettings,
): Promise<void> {
  const restores = openRestoreStore(deps);
  const now = deps.clock();
  const waiting = await restores.transition(input.restoreId, ['REQUESTED'], 'AWAITING_APPROVAL', {
    taskToken: input.taskToken,
    awaitingSince: now.toISOString(),
    approvalDeadline: new Date(now.getTime() + settings.approvalTimeoutSeconds * 1000).toISOString(),
  });
  if (!waiting.ok) {
    const record = waiting.record;
    // A retry of this very invocation: the token is stored already.
    if (record?.status === 'AWAITING_APPROVAL' && record.taskToken === input.taskToken) return;
    if (record?.status === 'CANCELLED') {
      throw new RestoreEndedError(
        RESTORE_ERRORS.cancelled,
        `restore ${input.restoreId} was cancelled by the kill of incident ${record.cancelledBy ?? 'unknown'} before it waited for approvals`,
      );
    }
    throw new RestoreEndedError(
      'Backstop.RestoreNotWaiting',
      `restore ${input.restoreId} is ${record?.status ?? 'gone'}`,
    );
  }
  const record = waiting.record;
  const lines = [
    `Restore ${record.restoreId} of agent ${record.agentId} (incident ${record.incidentId}) waits for approvals.`,
    `Requested by ${record.requester.arn}: ${record.fromMode} -> ${record.toMode}, surfaces ${record.surfaces.join(', ')}.`,
    `Reason: ${record.reason}`,
    `It needs ${settings.quorum} of: ${settings.approvers.join(', ')} (not the requester, not whoever started the kill).`,
    `Approve: backstop approve ${record.restoreId}   Reject: backstop reject ${record.restoreId} --reason "..."`,
    `It ends unchanged at ${waiting.record.approvalDeadline} without them.`,
  ];
  try {
    await deps.clients.controlPlane().sns.send(
      new PublishCommand({
        TopicArn: deps.env.topicArn,
        Subject: `Backstop restore waits for approval: ${record.agentId}`.slice(0, 100),
        Message: lines.join('\n'),
        MessageAttributes: { status: { DataType: 'String', StringValue: 'AWAITING_APPROVAL' } },
      }),
    );
  } catch (e) {
    deps.log.error('notification not sent', { restoreId: record.restoreId, error: errorName(e) });
  }
}
