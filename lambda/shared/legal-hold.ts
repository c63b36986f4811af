/**
 * Object Lock legal holds over a whole incident (`backstop audit hold`).
 *
 * {@link placeIncidentHolds} puts a legal hold on every version of every object of the incident
 * (its records and its manifests), reads each one back, records `LegalHoldPlaced` and seals it
 * with a `hold` manifest; the objects that sealing wrote are then held too. A held version
 * cannot be deleted or expire, whatever its retention says, until the hold is removed.
 *
 * {@link releaseIncidentHolds} removes them, and only for a release request that the configured
 * approvers approved, the same two-person rule as a restore: approvals are read from the state
 * table (`APPROVAL#<requestId>#<approver>`, written by the approval flow), counted once per
 * configured approver, and must reach the quorum (at least 2). Anything less changes nothing.
 * The bucket policy denies removing a legal hold to every principal but `backstop-audit-sealer`,
 * the role this code runs as.
 */
import { GetObjectLegalHoldCommand, PutObjectLegalHoldCommand, type S3Client } from '@aws-sdk/client-s3';
import { type AuditActor, AuditChain, assertAuditId, newChainId, stateStoreFallback } from './audit';
import { S3AuditSource } from './audit-source';
import { mapLimit } from './concurrency';
import type { HandlerDeps } from './deps';
import { openStore } from './kill-io';
import { auditManifestPrefix, auditRecordKey } from './naming';
import { sealIncident } from './seal';

/** Release request ids are namespaced: a restore's approvals can never release a hold. */
export const HOLD_RELEASE_PREFIX = 'hold-release-';

/** The release request id the approval flow records approvals under, for one incident. */
export function holdReleaseRequestId(incidentId: string, suffix?: string): string {
  const id = `${HOLD_RELEASE_PREFIX}${incidentId}${suffix ? `-${suffix}` : ''}`;
  assertAuditId('Hold release request id', id);
  return id;
}

export interface HeldVersion {
  readonly key: string;
  readonly versionId: string;
}

export interface HoldResult {
  readonly incidentId: string;
  readonly status: 'PLACED' | 'RELEASED';
  /** Every version whose hold was set (and read back). */
  readonly versions: HeldVersion[];
  /** The record of it, and the manifest that seals that record. */
  readonly recordKey: string | null;
  readonly manifestKey: string | null;
}

/** The incident has no object at all: nothing to hold. */
export class IncidentNotFoundError extends Error {
  override readonly name = 'IncidentNotFoundError';
}

/** Some holds could not be set or read back; the message names them. */
export class LegalHoldError extends Error {
  override readonly name = 'LegalHoldError';
}

/** A release without the approvals it needs: nothing was changed. */
export class HoldReleaseNotApprovedError extends Error {
  override readonly name = 'HoldReleaseNotApprovedError';
}

async function incidentVersions(s3: S3Client, bucket: string, incidentId: string): Promise<HeldVersion[]> {
  const source = new S3AuditSource({ s3, bucket });
  const versions = [
    ...(await source.listVersions(`incidents/${incidentId}/`)),
    ...(await source.listVersions(auditManifestPrefix(incidentId))),
  ];
  return versions.filter((v) => !v.deleteMarker).map((v) => ({ key: v.key, versionId: v.versionId }));
}

/** Sets the hold of each version and reads it back; throws naming every version that did not end in `status`. */
async function setHolds(
  s3: S3Client,
  bucket: string,
  versions: readonly HeldVersion[],
  status: 'ON' | 'OFF',
): Promise<void> {
  const failed = await mapLimit(versions, 8, async (v) => {
    const VersionId = v.versionId === 'null' ? undefined : v.versionId;
    try {
      await s3.send(
        new PutObjectLegalHoldCommand({
          Bucket: bucket,
          Key: v.key,
          VersionId,
          LegalHold: { Status: status },
        }),
      );
      const back = await s3.send(new GetObjectLegalHoldCommand({ Bucket: bucket, Key: v.key, VersionId }));
      if (back.LegalHold?.Status !== status)
        return `${v.key} (${v.versionId}): reads back ${back.LegalHold?.Status}`;
      return undefined;
    } catch (err) {
      return `${v.key} (${v.versionId}): ${(err as Error).name}: ${(err as Error).message}`;
    }
  });
  const problems = failed.filter((f): f is string => f !== undefined);
  if (problems.length > 0) {
    throw new LegalHoldError(
      `${problems.length} of ${versions.length} legal holds are not ${status}: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? '; ...' : ''}`,
    );
  }
}

function holdChain(deps: HandlerDeps, incidentId: string, actor: AuditActor): AuditChain {
  const cp = deps.clients.controlPlane();
  return new AuditChain({
    s3: cp.s3,
    bucket: deps.env.auditBucketName,
    kmsKeyArn: deps.env.auditKmsKeyArn,
    incidentId,
    chainId: newChainId('hold', deps.randomId),
    actor,
    clock: deps.clock,
    sleep: deps.sleep,
    onUndeliverable: stateStoreFallback(openStore(deps)),
  });
}

export interface PlaceHoldsRequest {
  readonly incidentId: string;
  /** Who asked, as the caller reports it (a Lambda invocation carries no verified identity). */
  readonly requestedBy?: string;
  readonly reason?: string;
}

/** Places a legal hold on every object of the incident, records it and seals the record. */
export async function placeIncidentHolds(deps: HandlerDeps, request: PlaceHoldsRequest): Promise<HoldResult> {
  const { incidentId } = request;
  assertAuditId('Incident id', incidentId);
  const s3 = deps.clients.controlPlane().s3;
  const bucket = deps.env.auditBucketName;
  const versions = await incidentVersions(s3, bucket, incidentId);
  if (versions.length === 0) {
    throw new IncidentNotFoundError(
      `Incident ${incidentId} has no object in s3://${bucket}: nothing was held.`,
    );
  }
  await setHolds(s3, bucket, versions, 'ON');

  const chain = holdChain(deps, incidentId, {
    type: 'cli',
    ...(request.requestedBy && { detail: { requestedBy: request.requestedBy, asReportedByTheCaller: true } }),
  });
  const record = await chain.write('LegalHoldPlaced', {
    ...(request.reason && { reason: request.reason.slice(0, 1024) }),
    detail: { versions, count: versions.length },
  });
  const sealed = await sealIncident(deps, { incidentId, kind: 'hold', chain });
  // What this call wrote itself (the record, the manifest, its note) is held as well.
  const held = new Set(versions.map((v) => `${v.key}\u0000${v.versionId}`));
  const written = (await incidentVersions(s3, bucket, incidentId)).filter(
    (v) => !held.has(`${v.key}\u0000${v.versionId}`),
  );
  await setHolds(s3, bucket, written, 'ON');
  return {
    incidentId,
    status: 'PLACED',
    versions: [...versions, ...written],
    recordKey: auditRecordKey(incidentId, record.chainId, record.seq, record.type),
    manifestKey: sealed.key,
  };
}

export interface ReleaseHoldsRequest {
  readonly incidentId: string;
  /** The approved request: `hold-release-<incidentId>[-<suffix>]`. */
  readonly requestId: string;
  /** The configured approvers (`restore.approvers`): IAM user or role ARNs. */
  readonly approvers: readonly string[];
  /** Distinct approvers needed (`restore.quorum`, at least 2). */
  readonly quorum: number;
}

/**
 * The configured approver an approval counts for: the same user or role ARN, or a session of
 * that role (`arn:<p>:sts::<account>:assumed-role/<name>/<session>`); undefined when none.
 */
export function approverFor(approverArn: string, approvers: readonly string[]): string | undefined {
  if (approvers.includes(approverArn)) return approverArn;
  const session = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(approverArn);
  if (!session) return undefined;
  const [, partition, account, roleName] = session;
  return approvers.find((a) => {
    const role = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(a);
    return role !== null && role[1] === partition && role[2] === account && role[3] === roleName;
  });
}

/**
 * Removes every legal hold of the incident for an approved release request (the function the
 * approval flow calls once the quorum is reached), records it and seals the record.
 */
export async function releaseIncidentHolds(
  deps: HandlerDeps,
  request: ReleaseHoldsRequest,
): Promise<HoldResult> {
  const { incidentId, requestId } = request;
  assertAuditId('Incident id', incidentId);
  assertAuditId('Hold release request id', requestId);
  if (!requestId.startsWith(`${HOLD_RELEASE_PREFIX}${incidentId}`)) {
    throw new HoldReleaseNotApprovedError(
      `Request ${requestId} is not a hold release request of incident ${incidentId} (ids start with ${HOLD_RELEASE_PREFIX}${incidentId}): nothing was released.`,
    );
  }
  if (!Number.isInteger(request.quorum) || request.quorum < 2) {
    throw new HoldReleaseNotApprovedError(
      `A hold release needs a quorum of at least 2 approvers, got ${request.quorum}: nothing was released.`,
    );
  }
  const approvals = await openStore(deps).listApprovals(incidentId, requestId);
  const counted = new Map<string, { approverArn: string; approvedAt: string }>();
  for (const a of approvals) {
    const who = approverFor(a.approverArn, request.approvers);
    if (who && !counted.has(who)) counted.set(who, { approverArn: a.approverArn, approvedAt: a.approvedAt });
  }
  if (counted.size < request.quorum) {
    throw new HoldReleaseNotApprovedError(
      `Releasing the legal holds of ${incidentId} needs ${request.quorum} distinct configured approvers; request ${requestId} has ${counted.size}${approvals.length > counted.size ? ` (${approvals.length - counted.size} approval(s) from principals that are not approvers, or repeated, do not count)` : ''}. Nothing was released.`,
    );
  }

  const s3 = deps.clients.controlPlane().s3;
  const bucket = deps.env.auditBucketName;
  const versions = await incidentVersions(s3, bucket, incidentId);
  const held = (
    await mapLimit(versions, 8, async (v) => {
      try {
        const out = await s3.send(
          new GetObjectLegalHoldCommand({
            Bucket: bucket,
            Key: v.key,
            VersionId: v.versionId === 'null' ? undefined : v.versionId,
          }),
        );
        return out.LegalHold?.Status === 'ON' ? v : undefined;
      } catch (err) {
        if ((err as Error).name === 'NoSuchObjectLockConfiguration') return undefined;
        throw err;
      }
    })
  ).filter((v): v is HeldVersion => v !== undefined);
  await setHolds(s3, bucket, held, 'OFF');

  const chain = holdChain(deps, incidentId, { type: 'system', detail: { releaseRequest: requestId } });
  const record = await chain.write('LegalHoldReleased', {
    detail: {
      requestId,
      quorum: request.quorum,
      approvals: [...counted].map(([approver, a]) => ({ approver, ...a })),
      versions: held,
      count: held.length,
    },
  });
  const sealed = await sealIncident(deps, { incidentId, kind: 'hold', chain });
  return {
    incidentId,
    status: 'RELEASED',
    versions: held,
    recordKey: auditRecordKey(incidentId, record.chainId, record.seq, record.type),
    manifestKey: sealed.key,
  };
}
