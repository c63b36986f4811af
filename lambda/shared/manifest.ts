/**
 * The signed incident manifest (the CloudTrail digest pattern, docs/design.md section 6).
 *
 * At the end of an incident, {@link writeManifest} lists every object under
 * `incidents/<incidentId>/`, hashes each one's bytes, and writes `manifests/<incidentId>.json`:
 *
 * ```json
 * { "manifest": { "schemaVersion": 1, "incidentId": "...", "createdAt": "...",
 *                 "records": [{ "key": "...", "sha256": "...", "versionId": "..." }],
 *                 "undelivered": [{ "key": "...", "sha256": "..." }],
 *                 "previousManifest": { "incidentId": "...", "sha256": "..." } | null },
 *   "signature": "<base64 DER ECDSA>", "signingKeyArn": "...", "signingAlgorithm": "ECDSA_SHA_256" }
 * ```
 *
 * The manifest's identity is the SHA-256 of its canonical JSON bytes; KMS signs that digest
 * (`MessageType: DIGEST`, `ECDSA_SHA_256`). `previousManifest` links every manifest to the one
 * before it, across incidents, through a compare-and-swap on the chain head in the state table,
 * so concurrent incidents still form one unbroken chain. `undelivered` lists records the kill
 * path wrote but that never reached the bucket (with the hash the next record links to): the
 * verifier reports them instead of a silent gap.
 */

import { type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  type AuditChain,
  assertAuditId,
  deliverPendingRecords,
  type PendingAuditRecord,
  putImmutableObject,
  readBody,
} from './audit';
import { mapLimit } from './concurrency';
import { canonicalJson, sha256Bytes, sha256Hex } from './hash';
import { auditManifestKey } from './naming';
import {
  ManifestConflictError,
  type ManifestPointer,
  type ManifestRef,
  type StateStore,
} from './state-store';

export const MANIFEST_SCHEMA_VERSION = 1;
export const MANIFEST_SIGNING_ALGORITHM = 'ECDSA_SHA_256';

export interface ManifestEntry {
  readonly key: string;
  /** SHA-256 hex of the object's bytes. */
  readonly sha256: string;
  readonly versionId?: string;
}

export interface AuditManifest {
  readonly schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  readonly incidentId: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** Every object under `incidents/<incidentId>/`, sorted by key. */
  readonly records: ManifestEntry[];
  /** Records written by the kill path that never reached the bucket, sorted by key. */
  readonly undelivered: ManifestEntry[];
  readonly previousManifest: ManifestRef | null;
}

/** The object stored at `manifests/<incidentId>.json`. */
export interface SignedManifest {
  readonly manifest: AuditManifest;
  /** Base64 of the DER-encoded ECDSA signature KMS returned. */
  readonly signature: string;
  readonly signingKeyArn: string;
  readonly signingAlgorithm: typeof MANIFEST_SIGNING_ALGORITHM;
}

/** The state store methods the manifest writer uses. */
export type ManifestStateStore = Pick<
  StateStore,
  | 'listPendingAudit'
  | 'removePendingAudit'
  | 'addPendingAudit'
  | 'getLatestManifest'
  | 'getManifestPointer'
  | 'setLatestManifest'
>;

/** Builds a manifest with its entries sorted by key. */
export function buildManifest(input: {
  readonly incidentId: string;
  readonly createdAt: string;
  readonly records: readonly ManifestEntry[];
  readonly undelivered?: readonly ManifestEntry[];
  readonly previousManifest: ManifestRef | null;
}): AuditManifest {
  const byKey = (a: ManifestEntry, b: ManifestEntry) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    incidentId: input.incidentId,
    createdAt: input.createdAt,
    records: [...input.records].sort(byKey),
    undelivered: [...(input.undelivered ?? [])].sort(byKey),
    previousManifest: input.previousManifest
      ? { incidentId: input.previousManifest.incidentId, sha256: input.previousManifest.sha256 }
      : null,
  };
}

/** The manifest's canonical bytes: what is hashed, signed and chained. */
export function manifestBytes(manifest: AuditManifest): string {
  return canonicalJson(manifest);
}

/** SHA-256 hex of the manifest's canonical bytes: its identity in the manifest chain. */
export function manifestSha256(manifest: AuditManifest): string {
  return sha256Hex(manifestBytes(manifest));
}

/** Signs the SHA-256 digest of the manifest's canonical bytes with the asymmetric KMS key. */
export async function signManifest(
  kms: KMSClient,
  signingKeyArn: string,
  manifest: AuditManifest,
): Promise<SignedManifest> {
  const out = await kms.send(
    new SignCommand({
      KeyId: signingKeyArn,
      Message: sha256Bytes(manifestBytes(manifest)),
      MessageType: 'DIGEST',
      SigningAlgorithm: MANIFEST_SIGNING_ALGORITHM,
    }),
  );
  if (!out.Signature || out.Signature.length === 0)
    throw new Error(`KMS returned no signature for ${signingKeyArn}`);
  return {
    manifest,
    signature: Buffer.from(out.Signature).toString('base64'),
    signingKeyArn: out.KeyId ?? signingKeyArn,
    signingAlgorithm: MANIFEST_SIGNING_ALGORITHM,
  };
}

/** Parses and shape-checks a manifest object; throws an error naming what is wrong. */
export function parseSignedManifest(bytes: Uint8Array | string): SignedManifest {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  const d = doc as Partial<SignedManifest> | null;
  const m = d?.manifest as Partial<AuditManifest> | undefined;
  const problems: string[] = [];
  if (!m || typeof m !== 'object') problems.push('no manifest object');
  else {
    if (m.schemaVersion !== MANIFEST_SCHEMA_VERSION)
      problems.push(`schemaVersion ${String(m.schemaVersion)}`);
    if (typeof m.incidentId !== 'string') problems.push('no incidentId');
    if (typeof m.createdAt !== 'string') problems.push('no createdAt');
    if (!Array.isArray(m.records) || !m.records.every(isEntry))
      problems.push('records is not a list of { key, sha256 }');
    if (m.undelivered !== undefined && (!Array.isArray(m.undelivered) || !m.undelivered.every(isEntry))) {
      problems.push('undelivered is not a list of { key, sha256 }');
    }
    const prev = m.previousManifest as Partial<ManifestRef> | null | undefined;
    if (prev !== null && (typeof prev?.incidentId !== 'string' || typeof prev?.sha256 !== 'string')) {
      problems.push('previousManifest is neither null nor { incidentId, sha256 }');
    }
  }
  if (typeof d?.signature !== 'string' || d.signature === '') problems.push('no signature');
  if (typeof d?.signingKeyArn !== 'string' || d.signingKeyArn === '') problems.push('no signingKeyArn');
  if (d?.signingAlgorithm !== MANIFEST_SIGNING_ALGORITHM) {
    problems.push(`signingAlgorithm ${String(d?.signingAlgorithm)} (expected ${MANIFEST_SIGNING_ALGORITHM})`);
  }
  if (problems.length > 0) throw new Error(`malformed manifest: ${problems.join('; ')}`);
  const signed = d as SignedManifest;
  return { ...signed, manifest: { ...signed.manifest, undelivered: signed.manifest.undelivered ?? [] } };
}

function isEntry(e: unknown): e is ManifestEntry {
  const entry = e as Partial<ManifestEntry> | null;
  return typeof entry?.key === 'string' && typeof entry.sha256 === 'string';
}

/** Every object key under a prefix (ListObjectsV2, all pages). */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Lists and hashes every object of the incident (the bytes read back, not what the writer meant to write). */
export async function hashIncidentObjects(
  s3: S3Client,
  bucket: string,
  incidentId: string,
  concurrency = 16,
): Promise<ManifestEntry[]> {
  const keys = await listKeys(s3, bucket, `incidents/${incidentId}/`);
  return mapLimit(keys, concurrency, async (key) => {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = await readBody(out.Body);
    return { key, sha256: sha256Hex(bytes), ...(out.VersionId && { versionId: out.VersionId }) };
  });
}

/** Reads an object, or undefined when there is none (NoSuchKey). */
export async function getObjectIfExists(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ bytes: Uint8Array; versionId?: string } | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { bytes: await readBody(out.Body), ...(out.VersionId && { versionId: out.VersionId }) };
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

export interface WriteManifestOptions {
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly store: ManifestStateStore;
  readonly bucket: string;
  /** KMS key for SSE-KMS of the manifest object. */
  readonly kmsKeyArn: string;
  /** The asymmetric (ECC_NIST_P256, SIGN_VERIFY) KMS key that signs manifests. */
  readonly signingKeyArn: string;
  readonly incidentId: string;
  readonly clock: () => Date;
  /**
   * The finalizing handler's chain: flushed before the listing (so its own records are in the
   * manifest), then given a `ManifestWritten` record, the only record allowed after the manifest.
   * @default - none
   */
  readonly chain?: AuditChain;
  /** Compare-and-swap attempts on the manifest chain head. @default 10 */
  readonly maxAttempts?: number;
  /** Parallel GetObject calls while hashing. @default 16 */
  readonly concurrency?: number;
}

export interface WriteManifestResult {
  /** `ALREADY_WRITTEN`: a previous attempt wrote it; nothing was changed. */
  readonly status: 'WRITTEN' | 'ALREADY_WRITTEN';
  readonly key: string;
  readonly sha256: string;
  readonly previousManifest: ManifestRef | null;
  readonly recordCount: number;
  /** Records that still could not be delivered (kept in the state table, listed in the manifest). */
  readonly undelivered: string[];
}

/**
 * Writes the incident's signed manifest (see the file comment). Idempotent: a retry after the
 * manifest landed returns `ALREADY_WRITTEN`; a retry after the chain head moved to this incident
 * but before the object landed rebuilds the same manifest from the stored pointer.
 */
export async function writeManifest(options: WriteManifestOptions): Promise<WriteManifestResult> {
  const { s3, kms, bucket, incidentId } = options;
  assertAuditId('Incident id', incidentId);
  if (options.chain && options.chain.incidentId !== incidentId) {
    throw new Error(
      `writeManifest: the chain belongs to incident ${options.chain.incidentId}, not ${incidentId}`,
    );
  }
  const key = auditManifestKey(incidentId);
  if (options.chain) await options.chain.flush();

  const existing = await getObjectIfExists(s3, bucket, key);
  if (existing) {
    const signed = parseSignedManifest(existing.bytes);
    const result: WriteManifestResult = {
      status: 'ALREADY_WRITTEN',
      key,
      sha256: manifestSha256(signed.manifest),
      previousManifest: signed.manifest.previousManifest,
      recordCount: signed.manifest.records.length,
      undelivered: signed.manifest.undelivered.map((e) => e.key),
    };
    await recordManifestWritten(options, result);
    return result;
  }

  const stillPending = await retryPendingRecords(options);
  const records = await hashIncidentObjects(s3, bucket, incidentId, options.concurrency);
  const listed = new Set(records.map((r) => r.key));
  const undelivered = stillPending
    .filter((p) => !listed.has(p.key))
    .map((p) => ({ key: p.key, sha256: p.sha256 }));
  const build = (createdAt: string, previousManifest: ManifestRef | null) =>
    buildManifest({ incidentId, createdAt, records, undelivered, previousManifest });

  const manifest = await claimChainHead(options, build);
  const sha256 = manifestSha256(manifest);
  const signed = await signManifest(kms, options.signingKeyArn, manifest);
  await putImmutableObject({
    s3,
    bucket,
    kmsKeyArn: options.kmsKeyArn,
    key,
    body: canonicalJson(signed),
    // ECDSA signatures differ on every call: the same manifest under another signature is this write.
    sameContent: (bytes) => {
      try {
        return manifestSha256(parseSignedManifest(bytes).manifest) === sha256;
      } catch {
        return false;
      }
    },
  });
  const result: WriteManifestResult = {
    status: 'WRITTEN',
    key,
    sha256,
    previousManifest: manifest.previousManifest,
    recordCount: records.length,
    undelivered: undelivered.map((e) => e.key),
  };
  await recordManifestWritten(options, result);
  return result;
}

/** Retries the incident's stored undelivered records; returns those that still failed. */
async function retryPendingRecords(options: WriteManifestOptions): Promise<PendingAuditRecord[]> {
  const pending = await options.store.listPendingAudit(options.incidentId);
  if (pending.length === 0) return [];
  const { s3, bucket, kmsKeyArn } = options;
  const { delivered, failed } = await deliverPendingRecords({ s3, bucket, kmsKeyArn }, pending);
  if (delivered.length > 0) {
    await options.store.removePendingAudit(
      options.incidentId,
      delivered.map((r) => r.key),
    );
  }
  if (failed.length > 0) await options.store.addPendingAudit(options.incidentId, failed);
  return failed;
}

/**
 * Makes this incident's manifest the head of the manifest chain and returns it. When the head
 * moves under us (another incident's manifest), rebuilds on top of the new head and tries again.
 */
async function claimChainHead(
  options: WriteManifestOptions,
  build: (createdAt: string, previous: ManifestRef | null) => AuditManifest,
): Promise<AuditManifest> {
  const { store, incidentId } = options;
  const rebuild = (pointer: ManifestPointer) => {
    const manifest = build(pointer.createdAt, pointer.previous);
    const sha = manifestSha256(manifest);
    if (sha !== pointer.sha256) {
      throw new Error(
        `The manifest chain already names ${incidentId}'s manifest as ${pointer.sha256}, but its records now hash to ${sha}: records were added or delivered after the first attempt. The chain was left as it is; run \`backstop audit verify\` to see the difference.`,
      );
    }
    return manifest;
  };
  const pointer = await store.getManifestPointer(incidentId);
  if (pointer) return rebuild(pointer);

  const attempts = options.maxAttempts ?? 10;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const latest = await store.getLatestManifest();
    const previous = latest ? { incidentId: latest.incidentId, sha256: latest.sha256 } : null;
    const createdAt = options.clock().toISOString();
    const manifest = build(createdAt, previous);
    try {
      await store.setLatestManifest(previous, {
        incidentId,
        sha256: manifestSha256(manifest),
        previous,
        createdAt,
      });
      return manifest;
    } catch (err) {
      if (!(err instanceof ManifestConflictError)) throw err;
      // A concurrent attempt for this same incident won: write what it claimed.
      if (err.existing) return rebuild(err.existing);
    }
  }
  throw new Error(
    `The manifest chain head kept moving; gave up after ${attempts} attempts for ${incidentId}`,
  );
}

async function recordManifestWritten(
  options: WriteManifestOptions,
  result: WriteManifestResult,
): Promise<void> {
  if (!options.chain) return;
  await options.chain.write('ManifestWritten', {
    detail: {
      manifestKey: result.key,
      manifestSha256: result.sha256,
      previousManifest: result.previousManifest,
      recordCount: result.recordCount,
      undelivered: result.undelivered,
      alreadyWritten: result.status === 'ALREADY_WRITTEN',
    },
  });
  await options.chain.flush();
}
