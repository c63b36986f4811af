/**
 * Approving or rejecting a restore. The caller is an identity AWS vouched for (the function URL's
 * IAM authorizer, or STS GetCallerIdentity for `--local`); an assumed-role session counts as its
 * role. The rules, each refusal an `ApprovalRefused` record:
 *
 * - only a configured approver approves; the requester of the restore and whoever started the
 *   kill (from its `ActorAttributed` record; unknown yet means refused) cannot;
 * - each configured approver counts once (a conditional write per approver), however many times
 *   or sessions they approve with;
 * - at quorum the restore is APPROVED, once (a conditional write): the caller who got it there
 *   hands the decision to the waiting task;
 * - one rejection (a configured approver or a principal who may ask for restores, with a reason)
 *   ends the restore: it changes nothing.
 */
import { errorName } from '../shared/aws-errors';
import type { HandlerDeps } from '../shared/deps';
import { openStore } from '../shared/kill-io';
import { configuredAs, isAnyOf } from '../restore-shared/identity';
import { killInitiator } from '../restore-shared/initiator';
import { openRestoreStore, restoreChain, type SealRequester } from '../restore-shared/io';
import type { RestoreSettings } from '../restore-shared/settings';
import {
  type CallerIdentity,
  isFinished,
  type RestoreRecord,
  type RestoreStatus,
} from '../restore-shared/types';

export type DecisionCode =
  | 'INVALID_REQUEST'
  | 'UNKNOWN_RESTORE'
  | 'NOT_AN_APPROVER'
  | 'REQUESTER'
  | 'KILL_INITIATOR'
  | 'INITIATOR_UNKNOWN'
  | 'NOT_WAITING'
  | 'ALREADY_APPROVED'
  | 'ALREADY_DECIDED'
  | 'UNKNOWN_INCIDENT';

export interface DecisionRequest {
  readonly action: 'approve' | 'reject';
  readonly restoreId: string;
  readonly reason?: string;
}

export interface DecisionResult {
  readonly accepted: boolean;
  readonly action: 'approve' | 'reject';
  readonly restoreId: string;
  readonly status: RestoreStatus | null;
  /** Distinct configured approvers counted so far, and how many the restore needs. */
  readonly approvals: number;
  readonly quorum: number;
  readonly message: string;
  readonly code?: DecisionCode;
}

/** What the caller may see, and what only the control plane keeps (the record holds the task token). */
export interface Decided {
  readonly result: DecisionResult;
  /** The restore after the decision, for {@link deliverDecision}: never sent to a caller. */
  readonly record?: RestoreRecord;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Checks the shape of an approve or reject request; throws a message naming the field. */
export function validateDecision(raw: unknown): DecisionRequest {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (r.action !== 'approve' && r.action !== 'reject') problems.push('action: approve or reject');
  if (typeof r.restoreId !== 'string' || !ID.test(r.restoreId)) {
    problems.push('restoreId: the id `backstop restore` printed (restore-<agent>-<time>-<hex>)');
  }
  if (r.reason !== undefined && (typeof r.reason !== 'string' || r.reason.length > 1024)) {
    problems.push('reason: text, at most 1024 characters');
  }
  if (r.action === 'reject' && (typeof r.reason !== 'string' || r.reason.trim() === '')) {
    problems.push('reason: a rejection says why (it goes in the audit log)');
  }
  const extra = Object.keys(r).filter((k) => !['action', 'restoreId', 'reason'].includes(k));
  if (extra.length > 0)
    problems.push(`unknown field(s) ${extra.join(', ')}: the caller is who signed the request`);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return {
    action: r.action as DecisionRequest['action'],
    restoreId: r.restoreId as string,
    ...(typeof r.reason === 'string' && r.reason.trim() !== '' && { reason: r.reason.trim() }),
  };
}

/** Counts the distinct configured approvers of a restore who may count (not requester, not initiator). */
export async function countApprovals(
  deps: HandlerDeps,
  settings: RestoreSettings,
  record: RestoreRecord,
  initiatorArns: readonly string[],
): Promise<string[]> {
  const approvals = await openStore(deps).listApprovals(record.incidentId, record.restoreId);
  const counted = new Set<string>();
  for (const a of approvals) {
    const who = configuredAs(a.approverArn, settings.approvers);
    if (!who || isAnyOf(who, [record.requester.arn, ...initiatorArns])) continue;
    counted.add(who);
  }
  return [...counted];
}

export async function decide(
  deps: HandlerDeps,
  settings: RestoreSettings,
  caller: CallerIdentity,
  request: DecisionRequest,
  requestSeal?: SealRequester,
): Promise<Decided> {
  const restores = openRestoreStore(deps);
  const { action, restoreId } = request;
  const base = { action, restoreId, quorum: settings.quorum };
  const record = await restores.get(restoreId);
  if (!record) {
    return {
      result: {
        ...base,
        accepted: false,
        status: null,
        approvals: 0,
        code: 'UNKNOWN_RESTORE',
        message: `there is no restore ${restoreId}`,
      },
    };
  }
  const actor = {
    type: 'iam' as const,
    arn: caller.arn,
    detail: {
      vouchedBy: caller.source === 'function-url' ? 'function URL (AWS_IAM)' : 'STS GetCallerIdentity',
    },
  };
  const chain = restoreChain(deps, record.incidentId, `approval-${action}`, actor);
  const common = { agentId: record.agentId, mode: record.toMode };
  const refuse = async (code: DecisionCode, message: string, status = record.status): Promise<Decided> => {
    void chain.write('ApprovalRefused', {
      ...common,
      ...(request.reason && { reason: request.reason }),
      detail: { restoreId, action, code, message, caller: caller.arn },
    });
    await chain.flush();
    // A restore that is over seals no more records: ask the sealer for this one.
    if (isFinished(status) && requestSeal) {
      await requestSeal(record.incidentId).catch((e: unknown) =>
        deps.log.warn('refusal not sealed yet', { incidentId: record.incidentId, error: errorName(e) }),
      );
    }
    const approvals = (await openStore(deps).listApprovals(record.incidentId, restoreId)).length;
    return { result: { ...base, accepted: false, status, approvals, code, message } };
  };

  const approver = configuredAs(caller.arn, settings.approvers);
  if (action === 'approve' && !approver) {
    return refuse(
      'NOT_AN_APPROVER',
      `${caller.arn} is not one of restore.approvers: its approval does not count`,
    );
  }
  if (action === 'reject' && !approver && !configuredAs(caller.arn, settings.requesters)) {
    return refuse(
      'NOT_AN_APPROVER',
      `${caller.arn} may not reject restores: it is neither an approver nor a requester`,
    );
  }
  let initiatorArns: readonly string[] = [];
  if (action === 'approve') {
    if (isAnyOf(caller.arn, [record.requester.arn])) {
      return refuse('REQUESTER', `${caller.arn} asked for this restore: the requester cannot approve it`);
    }
    const incident = await openStore(deps).getIncident(record.incidentId);
    const initiator = incident
      ? await killInitiator(deps, incident)
      : { known: false as const, reason: `incident ${record.incidentId} is not in the state table` };
    if (!initiator.known) return refuse('INITIATOR_UNKNOWN', initiator.reason);
    initiatorArns = initiator.arns;
    if (isAnyOf(caller.arn, initiator.arns)) {
      return refuse(
        'KILL_INITIATOR',
        `${caller.arn} started the kill of incident ${record.incidentId} (${initiator.recordKey}): the kill's initiator cannot approve its restore`,
      );
    }
  }
  if (record.status === 'REQUESTED') {
    return refuse(
      'NOT_WAITING',
      `restore ${restoreId} is not waiting for approvals yet: try again in a few seconds`,
    );
  }
  if (record.status !== 'AWAITING_APPROVAL') {
    const refused = await refuse(
      'ALREADY_DECIDED',
      `restore ${restoreId} is ${record.status}: it takes no more ${action === 'approve' ? 'approvals' : 'rejections'}`,
    );
    return { ...refused, record };
  }

  const now = deps.clock();
  if (action === 'reject') {
    const moved = await restores.transition(restoreId, ['AWAITING_APPROVAL'], 'REJECTED', {
      decision: {
        status: 'REJECTED',
        at: now.toISOString(),
        by: [approver ?? caller.arn],
        reason: request.reason,
      },
    });
    if (!moved.ok) {
      return refuse(
        'ALREADY_DECIDED',
        `restore ${restoreId} is ${moved.record?.status ?? 'gone'}: it takes no more rejections`,
        moved.record?.status ?? record.status,
      );
    }
    void chain.write('RestoreRejected', {
      ...common,
      reason: request.reason,
      detail: {
        restoreId,
        rejectedBy: approver ?? caller.arn,
        caller: caller.arn,
        note: 'one rejection ends a restore; nothing was changed',
      },
    });
    await chain.flush();
    return {
      result: {
        ...base,
        accepted: true,
        status: 'REJECTED',
        approvals: (await openStore(deps).listApprovals(record.incidentId, restoreId)).length,
        message: `restore ${restoreId} rejected: the agent stays as it is`,
      },
      record: moved.record,
    };
  }

  const counted = approver as string;
  const { recorded } = await openStore(deps).recordApproval(record.incidentId, restoreId, counted, now);
  if (!recorded) {
    return refuse(
      'ALREADY_APPROVED',
      `${counted} has approved restore ${restoreId} already: the same approver twice counts once`,
    );
  }
  const approvers = await countApprovals(deps, settings, record, initiatorArns);
  let status: RestoreStatus = 'AWAITING_APPROVAL';
  let decided: RestoreRecord | undefined;
  if (approvers.length >= settings.quorum) {
    const moved = await restores.transition(restoreId, ['AWAITING_APPROVAL'], 'APPROVED', {
      decision: { status: 'APPROVED', at: now.toISOString(), by: approvers },
    });
    status = moved.record?.status ?? status;
    if (moved.ok) decided = moved.record;
  }
  void chain.write('ApprovalRecorded', {
    ...common,
    ...(request.reason && { reason: request.reason }),
    detail: {
      restoreId,
      approver: counted,
      caller: caller.arn,
      approvals: approvers.length,
      approvers,
      quorum: settings.quorum,
      quorumReached: decided !== undefined,
    },
  });
  await chain.flush();
  return {
    result: {
      ...base,
      accepted: true,
      status,
      approvals: approvers.length,
      message:
        decided !== undefined
          ? `approved: ${approvers.length} of ${settings.quorum} approvals, the restore goes ahead`
          : `approval recorded: ${approvers.length} of ${settings.quorum}`,
    },
    ...(decided && { record: decided }),
  };
}
