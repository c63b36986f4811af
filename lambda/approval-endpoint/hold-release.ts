/**
 * Approving the release of an incident's legal holds (`backstop audit hold --release` prints the
 * request id, `hold-release-<incidentId>`): the same two-person rule and the same door as a
 * restore. The approver is the identity AWS vouched for (function URL or STS), counted once per
 * configured approver with a conditional write under the request id; once `restore.quorum`
 * distinct approvers have approved, the holds are released by the audit sealer, the only
 * principal the bucket policy lets remove one, which counts the approvals again itself
 * (lambda/shared/legal-hold.ts `releaseIncidentHolds`). Every approval and refusal is an audit
 * record in the incident. There is nothing to reject: without the quorum nothing is released.
 */
import { errorMessage, errorName } from '../shared/aws-errors';
import type { HandlerDeps } from '../shared/deps';
import { openStore } from '../shared/kill-io';
import type { HoldResult } from '../shared/legal-hold';
import { configuredAs } from '../restore-shared/identity';
import { restoreChain, type SealRequester } from '../restore-shared/io';
import type { RestoreSettings } from '../restore-shared/settings';
import type { CallerIdentity } from '../restore-shared/types';
import type { DecisionCode, DecisionRequest, DecisionResult } from './decide';

/** Releases the holds of an incident for an approved request (in AWS: invokes the audit sealer). */
export type HoldReleaser = (incidentId: string, requestId: string) => Promise<HoldResult>;

/**
 * `HOLD_RELEASE_PREFIX` of lambda/shared/legal-hold.ts, repeated so that the endpoint's bundle
 * holds none of the S3 legal hold calls (its role may make none); a test keeps the two equal.
 */
export const HOLD_RELEASE_REQUEST_PREFIX = 'hold-release-';

/** Whether a decision is about a legal hold release rather than a restore. */
export function isHoldRelease(requestId: string): boolean {
  return requestId.startsWith(HOLD_RELEASE_REQUEST_PREFIX);
}

export async function decideHoldRelease(
  deps: HandlerDeps,
  settings: RestoreSettings,
  caller: CallerIdentity,
  request: DecisionRequest,
  release: HoldReleaser,
  requestSeal?: SealRequester,
): Promise<DecisionResult> {
  const { action, restoreId: requestId } = request;
  const incidentId = requestId.slice(HOLD_RELEASE_REQUEST_PREFIX.length);
  const base = { action, restoreId: requestId, quorum: settings.quorum, status: null };
  const store = openStore(deps);
  const incident = incidentId ? await store.getIncident(incidentId).catch(() => undefined) : undefined;
  if (!incident) {
    return {
      ...base,
      accepted: false,
      approvals: 0,
      code: 'UNKNOWN_INCIDENT',
      message: `there is no incident ${incidentId || '(none)'}: a hold release request is ${HOLD_RELEASE_REQUEST_PREFIX}<incident>`,
    };
  }
  const actor = {
    type: 'iam' as const,
    arn: caller.arn,
    detail: {
      vouchedBy: caller.source === 'function-url' ? 'function URL (AWS_IAM)' : 'STS GetCallerIdentity',
    },
  };
  const chain = restoreChain(deps, incidentId, `hold-release-${action}`, actor);
  const countApprovals = async () => {
    const counted = new Set<string>();
    for (const a of await store.listApprovals(incidentId, requestId)) {
      const who = configuredAs(a.approverArn, settings.approvers);
      if (who) counted.add(who);
    }
    return counted.size;
  };
  const seal = async () => {
    await requestSeal?.(incidentId).catch((e: unknown) =>
      deps.log.warn('hold release record not sealed yet', { incidentId, error: errorName(e) }),
    );
  };
  const refuse = async (code: DecisionCode, message: string): Promise<DecisionResult> => {
    void chain.write('ApprovalRefused', {
      ...(request.reason && { reason: request.reason }),
      detail: { requestId, purpose: 'legal-hold-release', action, code, message, caller: caller.arn },
    });
    await chain.flush();
    await seal();
    return { ...base, accepted: false, approvals: await countApprovals(), code, message };
  };

  if (action === 'reject') {
    return refuse(
      'INVALID_REQUEST',
      `a hold release is not rejected: the holds stay on unless ${settings.quorum} approvers approve ${requestId}`,
    );
  }
  const approver = configuredAs(caller.arn, settings.approvers);
  if (!approver) {
    return refuse(
      'NOT_AN_APPROVER',
      `${caller.arn} is not one of restore.approvers: its approval of a hold release does not count`,
    );
  }
  const { recorded } = await store.recordApproval(incidentId, requestId, approver, deps.clock());
  const approvals = await countApprovals();
  const quorumReached = approvals >= settings.quorum;
  // The same approver again counts once; at quorum it retries a release the sealer did not finish.
  if (!recorded && !quorumReached) {
    return refuse(
      'ALREADY_APPROVED',
      `${approver} has approved ${requestId} already: the same approver twice counts once`,
    );
  }
  void chain.write(recorded ? 'ApprovalRecorded' : 'ApprovalRefused', {
    ...(request.reason && { reason: request.reason }),
    detail: {
      requestId,
      purpose: 'legal-hold-release',
      approver,
      caller: caller.arn,
      approvals,
      quorum: settings.quorum,
      quorumReached,
      ...(!recorded && {
        code: 'ALREADY_APPROVED',
        note: 'counted once; the quorum is reached, so the release is tried again',
      }),
    },
  });
  await chain.flush();
  await seal();
  if (!quorumReached) {
    return {
      ...base,
      accepted: true,
      approvals,
      message: `approval recorded: ${approvals} of ${settings.quorum}; the holds stay on until the quorum`,
    };
  }
  try {
    const released = await release(incidentId, requestId);
    return {
      ...base,
      accepted: true,
      approvals,
      message: `legal holds of ${incidentId} released: ${released.versions.length} object version(s), sealed in ${released.manifestKey ?? 'a hold manifest'}`,
    };
  } catch (e) {
    deps.log.error('hold release failed', { incidentId, requestId, error: errorName(e) });
    return {
      ...base,
      accepted: true,
      approvals,
      message: `approval recorded (${approvals} of ${settings.quorum}), but the sealer did not release the holds: ${errorName(e)}: ${errorMessage(e)}. Any approver who approved may approve again to retry.`,
    };
  }
}
