/**
 * The one call every handler makes to seal an incident's audit records:
 *
 * ```ts
 * const sealed = await sealIncident(deps, { incidentId, kind: 'restore', chain });
 * ```
 *
 * It signs a new manifest of the incident's series covering every record no earlier manifest
 * covers (lambda/shared/manifest.ts explains the series), or answers `NOTHING_NEW` when there is
 * none. It is idempotent under retries and safe when several handlers seal one incident at once.
 * `chain`, the caller's own audit chain, is flushed first (its records are sealed) and gets a
 * `ManifestWritten` note afterwards.
 *
 * The caller must run as the `backstop-audit-sealer` role: it alone may `kms:Sign` with the
 * manifest signing key (and only digests). A kill or restore worker that calls it is refused by
 * KMS, by design.
 */
import type { AuditChain } from './audit';
import { type HandlerDeps, putMetric } from './deps';
import { openStore } from './kill-io';
import { type SealManifestResult, sealManifest } from './manifest';
import { DynamoManifestSeriesStore } from './manifest-store';
import type { ManifestKind } from './naming';

export interface SealRequest {
  readonly incidentId: string;
  readonly kind: ManifestKind;
  /** The caller's chain: flushed first, then noted with `ManifestWritten`. @default - none */
  readonly chain?: AuditChain;
}

export async function sealIncident(deps: HandlerDeps, request: SealRequest): Promise<SealManifestResult> {
  const cp = deps.clients.controlPlane();
  const result = await sealManifest({
    s3: cp.s3,
    kms: cp.kms,
    series: new DynamoManifestSeriesStore(cp.dynamo, deps.env.tableName),
    pending: openStore(deps),
    bucket: deps.env.auditBucketName,
    kmsKeyArn: deps.env.auditKmsKeyArn,
    signingKeyArn: deps.env.manifestSigningKeyArn,
    incidentId: request.incidentId,
    kind: request.kind,
    clock: deps.clock,
    sleep: deps.sleep,
    ...(request.chain && { chain: request.chain }),
  });
  if (result.undelivered.length > 0)
    await putMetric(deps, 'AuditWriteFailures', result.undelivered.length, 'Count');
  deps.log.info('incident sealed', {
    incidentId: request.incidentId,
    kind: request.kind,
    status: result.status,
    manifestKey: result.key,
    records: result.recordCount,
    finished: result.finished,
  });
  return result;
}
