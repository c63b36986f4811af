/**
 * Signed manifests: an incident is sealed by an ordered series of them (the CloudTrail digest
 * pattern, docs/design.md section 6).
 *
 * ## One incident, several manifests
 *
 * Records keep arriving after a kill's manifest: the `ActorAttributed` record (from CloudTrail),
 * a restore's records, legal-hold records. So an incident is sealed by a series
 * `manifests/<incidentId>/0001-kill.json`, `0002-attribution.json`, `0003-hold.json`...:
 *
 * - manifest `seq` lists every record of the incident that no earlier manifest of the series
 *   lists (`records`, or `undelivered` for records that never reached the bucket): every record
 *   is covered by exactly one manifest, and a record no manifest covers was added unsealed;
 * - `kind` says what closed it: `kill`, `attribution`, `restore` or `hold`;
 * - `previousInIncident` links it to manifest `seq - 1` of the incident (null for the first),
 *   `previousManifest` to the manifest before it in the whole log (the chain head it replaced),
 *   each by key and SHA-256 of its canonical bytes;
 * - KMS signs the SHA-256 digest of the canonical bytes (`MessageType: DIGEST`, `ECDSA_SHA_256`).
 *
 * ```json
 * { "manifest": { "schemaVersion": 2, "incidentId": "...", "seq": 2, "kind": "attribution",
 *                 "createdAt": "...", "records": [{ "key": "...", "sha256": "...", "versionId": "..." }],
 *                 "undelivered": [], "previousInIncident": { "incidentId", "key", "sha256" },
 *                 "previousManifest": { "incidentId", "key", "sha256" } | null },
 *   "signature": "<base64 DER ECDSA>", "signingKeyArn": "...", "signingAlgorithm": "ECDSA_SHA_256" }
 * ```
 *
 * Handlers seal through `sealIncident(deps, { incidentId, kind })` (lambda/shared/seal.ts), which
 * calls {@link sealManifest}. Sealing is idempotent and safe to run twice at once: the next `seq`
 * and the chain head are claimed in one state-table transaction (manifest-store.ts), the loser
 * re-reads and seals only what is still uncovered, and a call that finds nothing new (at most
 * `ManifestWritten` notes) writes nothing and answers `NOTHING_NEW`. A claim whose sealer died
 * before writing the object is finished by the next sealer, byte for byte.
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
import {
  type ManifestClaim,
  ManifestClaimConflictError,
  type ManifestEntry,
  type ManifestLink,
  type ManifestSeriesStore,
} from './manifest-store';
import { auditManifestKey, MANIFEST_KINDS, type ManifestKind } from './naming';
import type { StateStore } from './state-store';

export type { ManifestEntry, ManifestLink } from './manifest-store';

export const MANIFEST_SCHEMA_VERSION = 2;
export const MANIFEST_SIGNING_ALGORITHM = 'ECDSA_SHA_256';

export interface AuditManifest {
  readonly schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  readonly incidentId: string;
  /** Place in the incident's series, from 1. */
  readonly seq: number;
  readonly kind: ManifestKind;
  /** ISO 8601. */
  readonly createdAt: string;
  /** Records of the incident no earlier manifest of the series lists, sorted by key. */
  readonly records: ManifestEntry[];
  /** Records written that never reached the bucket, with the hash of their bytes, sorted by key. */
  readonly undelivered: ManifestEntry[];
  readonly previousInIncident: ManifestLink | null;
  readonly previousManifest: ManifestLink | null;
}

/** The object stored at `manifests/<incidentId>/<seq>-<kind>.json`. */
export interface SignedManifest {
  readonly manifest: AuditManifest;
  /** Base64 of the DER-encoded ECDSA signature KMS returned. */
  readonly signature: string;
  readonly signingKeyArn: string;
  readonly signingAlgorithm: typeof MANIFEST_SIGNING_ALGORITHM;
}

/** The state store methods the sealer uses for records that could not be delivered. */
export type PendingAuditStore = Pick<
  StateStore,
  'listPendingAudit' | 'removePendingAudit' | 'addPendingAudit'
>;

const byKey = (a: ManifestEntry, b: ManifestEntry) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const entry = (e: ManifestEntry): ManifestEntry => ({
  key: e.key,
  sha256: e.sha256,
  ...(e.versionId !== undefined && { versionId: e.versionId }),
});
const link = (l: ManifestLink | null): ManifestLink | null =>
  l ? { incidentId: l.incidentId, key: l.key, sha256: l.sha256 } : null;

/** Builds a manifest with its entries sorted by key. */
export function buildManifest(input: {
  readonly incidentId: string;
  readonly seq: number;
  readonly kind: ManifestKind;
  readonly createdAt: string;
  readonly records: readonly ManifestEntry[];
  readonly undelivered?: readonly ManifestEntry[];
  readonly previousInIncident: ManifestLink | null;
  readonly previousManifest: ManifestLink | null;
}): AuditManifest {
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    incidentId: input.incidentId,
    seq: input.seq,
    kind: input.kind,
    createdAt: input.createdAt,
    records: input.records.map(entry).sort(byKey),
    undelivered: (input.undelivered ?? []).map(entry).sort(byKey),
    previousInIncident: link(input.previousInIncident),
    previousManifest: link(input.previousManifest),
  };
}

/** The manifest's canonical bytes: what is hashed, signed and chained. */
export function manifestBytes(manifest: AuditManifest): string {
  return canonicalJson(manifest);
}

/** SHA-256 hex of the manifest's canonical bytes: its identity in the chain. */
export function manifestSha256(manifest: AuditManifest): string {
  return sha256Hex(manifestBytes(manifest));
}

/** The object key of a manifest. */
export function manifestKeyOf(manifest: Pick<AuditManifest, 'incidentId' | 'seq' | 'kind'>): string {
  return auditManifestKey(manifest.incidentId, manifest.seq, manifest.kind);
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
      problems.push(`schemaVersion ${String(m.schemaVersion)} (expected ${MANIFEST_SCHEMA_VERSION})`);
    if (typeof m.incidentId !== 'string') problems.push('no incidentId');
    if (!Number.isInteger(m.seq) || (m.seq as number) < 1) problems.push('seq is not a whole number from 1');
    if (!(MANIFEST_KINDS as readonly unknown[]).includes(m.kind))
      problems.push(`kind ${String(m.kind)} (one of ${MANIFEST_KINDS.join(', ')})`);
    if (typeof m.createdAt !== 'string') problems.push('no createdAt');
    if (!Array.isArray(m.records) || !m.records.every(isEntry))
      problems.push('records is not a list of { key, sha256 }');
    if (!Array.isArray(m.undelivered) || !m.undelivered.every(isEntry))
      problems.push('undelivered is not a list of { key, sha256 }');
    if (!isLinkOrNull(m.previousInIncident))
      problems.push('previousInIncident is neither null nor { incidentId, key, sha256 }');
    if (!isLinkOrNull(m.previousManifest))
      problems.push('previousManifest is neither null nor { incidentId, key, sha256 }');
  }
  if (typeof d?.signature !== 'string' || d.signature === '') problems.push('no signature');
  if (typeof d?.signingKeyArn !== 'string' || d.signingKeyArn === '') problems.push('no signingKeyArn');
  if (d?.signingAlgorithm !== MANIFEST_SIGNING_ALGORITHM) {
    problems.push(`signingAlgorithm ${String(d?.signingAlgorithm)} (expected ${MANIFEST_SIGNING_ALGORITHM})`);
  }
  if (problems.length > 0) throw new Error(`malformed manifest: ${problems.join('; ')}`);
  return d as SignedManifest;
}

function isEntry(e: unknown): e is ManifestEntry {
  const x = e as Partial<ManifestEntry> | null;
  return typeof x?.key === 'string' && typeof x.sha256 === 'string';
}

function isLinkOrNull(l: unknown): boolean {
  if (l === null) return true;
  const x = l as Partial<ManifestLink> | undefined;
  return typeof x?.incidentId === 'string' && typeof x.key === 'string' && typeof x.sha256 === 'string';
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

/** Lists and hashes every record of the incident (the bytes read back, not what a writer meant to write). */
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

/** Whether a record key is a `ManifestWritten` note (they never make a new manifest necessary). */
export function isManifestNote(key: string): boolean {
  return key.endsWith('-ManifestWritten.json');
}

export interface SealManifestOptions {
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly series: ManifestSeriesStore;
  /** Where records the writers could not deliver wait (the state store). */
  readonly pending: PendingAuditStore;
  readonly bucket: string;
  /** KMS key for SSE-KMS of the manifest object. */
  readonly kmsKeyArn: string;
  /** The asymmetric (ECC_NIST_P256, SIGN_VERIFY) KMS key that signs manifests. */
  readonly signingKeyArn: string;
  readonly incidentId: string;
  readonly kind: ManifestKind;
  readonly clock: () => Date;
  /**
   * The sealing handler's own chain: flushed before the listing (so its records are sealed), then
   * given a `ManifestWritten` record after the manifest. @default - none
   */
  readonly chain?: AuditChain;
  /** Claim attempts when the chain head or the seq moves under us. @default 10 */
  readonly maxAttempts?: number;
  /** Parallel GetObject calls while hashing. @default 16 */
  readonly concurrency?: number;
  /** Waits for a claim another sealer is still writing. @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface SealManifestResult {
  /** `NOTHING_NEW`: every record was already sealed; nothing was written. */
  readonly status: 'SEALED' | 'NOTHING_NEW';
  /** The manifest written, or (NOTHING_NEW) the incident's latest; null when the incident has none. */
  readonly key: string | null;
  readonly seq: number | null;
  readonly kind: ManifestKind | null;
  readonly sha256: string | null;
  readonly previousManifest: ManifestLink | null;
  /** Records the written manifest lists (0 for NOTHING_NEW). */
  readonly recordCount: number;
  /** Records that still could not be delivered (kept in the state table, listed in the manifest). */
  readonly undelivered: string[];
  /** Claims of earlier sealers that died before writing their object, finished here. */
  readonly finished: string[];
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seals what is not sealed yet of an incident (see the file comment). */
export async function sealManifest(options: SealManifestOptions): Promise<SealManifestResult> {
  const { incidentId, kind } = options;
  assertAuditId('Incident id', incidentId);
  if (!(MANIFEST_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`Unknown manifest kind ${JSON.stringify(kind)} (one of ${MANIFEST_KINDS.join(', ')})`);
  }
  if (options.chain && options.chain.incidentId !== incidentId) {
    throw new Error(
      `sealManifest: the chain belongs to incident ${options.chain.incidentId}, not ${incidentId}`,
    );
  }
  if (options.chain) await options.chain.flush();
  const stillPending = await retryPendingRecords(options);
  const finished: string[] = [];
  const attempts = options.maxAttempts ?? 10;

  for (let attempt = 0; attempt < attempts; attempt++) {
    const series = await options.series.listSeries(incidentId);
    const covered = new Set<string>();
    for (const claim of series) {
      const sealed = await entriesOfClaim(options, claim, covered, finished);
      for (const e of [...sealed.records, ...sealed.undelivered]) covered.add(e.key);
    }
    const objects = await hashIncidentObjects(options.s3, options.bucket, incidentId, options.concurrency);
    const listed = new Set(objects.map((o) => o.key));
    const records = objects.filter((o) => !covered.has(o.key));
    const undelivered = stillPending
      .filter((p) => !covered.has(p.key) && !listed.has(p.key))
      .map((p) => ({ key: p.key, sha256: p.sha256 }));
    const last = series[series.length - 1];
    if (records.every((r) => isManifestNote(r.key)) && undelivered.length === 0) {
      const result: SealManifestResult = {
        status: 'NOTHING_NEW',
        key: last?.key ?? null,
        seq: last?.seq ?? null,
        kind: last?.kind ?? null,
        sha256: last?.sha256 ?? null,
        previousManifest: last?.previousManifest ?? null,
        recordCount: 0,
        undelivered: stillPending.map((p) => p.key),
        finished,
      };
      await noteManifest(options, result);
      return result;
    }

    const head = (await options.series.getHead()) ?? null;
    const manifest = buildManifest({
      incidentId,
      seq: (last?.seq ?? 0) + 1,
      kind,
      createdAt: options.clock().toISOString(),
      records,
      undelivered,
      previousInIncident: last ? { incidentId, key: last.key, sha256: last.sha256 } : null,
      previousManifest: head,
    });
    const sha256 = manifestSha256(manifest);
    const claim: ManifestClaim = {
      incidentId,
      seq: manifest.seq,
      kind,
      key: manifestKeyOf(manifest),
      sha256,
      createdAt: manifest.createdAt,
      previousInIncident: manifest.previousInIncident,
      previousManifest: manifest.previousManifest,
      entries: { records: manifest.records, undelivered: manifest.undelivered },
    };
    try {
      await options.series.claim(head, claim);
    } catch (err) {
      if (err instanceof ManifestClaimConflictError) continue;
      throw err;
    }
    await writeSigned(options, manifest);
    const result: SealManifestResult = {
      status: 'SEALED',
      key: claim.key,
      seq: claim.seq,
      kind,
      sha256,
      previousManifest: manifest.previousManifest,
      recordCount: manifest.records.length,
      undelivered: undelivered.map((e) => e.key),
      finished,
    };
    await noteManifest(options, result);
    return result;
  }
  throw new Error(
    `The manifest chain head or ${incidentId}'s series kept moving; gave up after ${attempts} attempts`,
  );
}

/** Signs a manifest and writes it once (a retry's different ECDSA signature over the same manifest counts as written). */
async function writeSigned(options: SealManifestOptions, manifest: AuditManifest): Promise<void> {
  const sha256 = manifestSha256(manifest);
  const signed = await signManifest(options.kms, options.signingKeyArn, manifest);
  await putImmutableObject({
    s3: options.s3,
    bucket: options.bucket,
    kmsKeyArn: options.kmsKeyArn,
    key: manifestKeyOf(manifest),
    body: canonicalJson(signed),
    sameContent: (bytes) => {
      try {
        return manifestSha256(parseSignedManifest(bytes).manifest) === sha256;
      } catch {
        return false;
      }
    },
  });
}

/** Attempts to find the object of a claim another sealer is still writing. */
const CLAIM_WAITS = 5;

/**
 * What a claimed manifest covers: from its object, or, when the object is missing (its sealer
 * died or is still signing), by finishing the claim from the entries it carries. `covered` holds
 * what the claims before it cover, to rebuild a claim too large to carry its entries.
 */
async function entriesOfClaim(
  options: SealManifestOptions,
  claim: ManifestClaim,
  covered: ReadonlySet<string>,
  finished: string[],
): Promise<{ records: readonly ManifestEntry[]; undelivered: readonly ManifestEntry[] }> {
  const sleep = options.sleep ?? defaultSleep;
  for (let wait = 0; ; wait++) {
    const object = await getObjectIfExists(options.s3, options.bucket, claim.key);
    if (object) {
      const signed = parseSignedManifest(object.bytes);
      if (manifestSha256(signed.manifest) !== claim.sha256) {
        throw new Error(
          `${claim.key} does not hash to the ${claim.sha256} its claim recorded: the manifest object was replaced. Run \`backstop audit verify --incident ${claim.incidentId}\`.`,
        );
      }
      return signed.manifest;
    }
    if (claim.entries) break;
    if (wait >= CLAIM_WAITS) break;
    await sleep(200 * 2 ** wait);
  }
  let entries = claim.entries;
  if (!entries) {
    // Too large to carry its entries: rebuild from the bucket as it was when the claim was made.
    const objects = await hashIncidentObjects(
      options.s3,
      options.bucket,
      claim.incidentId,
      options.concurrency,
    );
    entries = { records: objects.filter((o) => !covered.has(o.key)), undelivered: [] };
  }
  const manifest = buildManifest({ ...claim, ...entries });
  if (manifestSha256(manifest) !== claim.sha256) {
    throw new Error(
      `Manifest ${claim.seq} of ${claim.incidentId} was claimed (sha256 ${claim.sha256}) but never written, and it cannot be rebuilt: records were added since. Nothing was written; run \`backstop audit verify --incident ${claim.incidentId}\`.`,
    );
  }
  await writeSigned(options, manifest);
  finished.push(claim.key);
  return manifest;
}

/** Retries the incident's stored undelivered records; returns those that still failed. */
async function retryPendingRecords(options: SealManifestOptions): Promise<PendingAuditRecord[]> {
  const pending = await options.pending.listPendingAudit(options.incidentId);
  if (pending.length === 0) return [];
  const { s3, bucket, kmsKeyArn } = options;
  const { delivered, failed } = await deliverPendingRecords({ s3, bucket, kmsKeyArn }, pending);
  if (delivered.length > 0) {
    await options.pending.removePendingAudit(
      options.incidentId,
      delivered.map((r) => r.key),
    );
  }
  if (failed.length > 0) await options.pending.addPendingAudit(options.incidentId, failed);
  return failed;
}

/** The sealing chain's `ManifestWritten` note: the only kind of record that may follow the last manifest. */
async function noteManifest(options: SealManifestOptions, result: SealManifestResult): Promise<void> {
  if (!options.chain || result.key === null) return;
  await options.chain.write('ManifestWritten', {
    detail: {
      manifestKey: result.key,
      manifestSha256: result.sha256,
      seq: result.seq,
      kind: result.kind,
      previousManifest: result.previousManifest,
      recordCount: result.recordCount,
      undelivered: result.undelivered,
      alreadySealed: result.status === 'NOTHING_NEW',
    },
  });
  await options.chain.flush();
}
