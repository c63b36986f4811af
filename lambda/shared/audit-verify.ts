/**
 * Verification of the audit log, for `backstop audit verify` (docs/design.md section 6). It reads the
 * bucket and reports, never changes anything. It checks:
 *
 * - retention: every object (records and manifests) is under Object Lock in the expected mode,
 *   retained until a date in the future and at least the configured days after it was written;
 * - signature: each manifest's ECDSA signature verifies against the signing key's public key,
 *   locally with node:crypto (the key comes from `publicKeys`, or once per key from KMS
 *   `GetPublicKey`), so a verdict never rests on the signer vouching for itself;
 * - hash: each record's bytes hash to what its manifest lists;
 * - missing / extra: every listed record is in the bucket and every record in the bucket is listed;
 * - chain: within every chain, seq starts at 1 without gaps and each `prevHash` is the SHA-256 of
 *   the previous record's bytes;
 * - manifest-chain: each manifest's `previousManifest` names an existing manifest with that hash,
 *   and (for `all`) the manifests form one chain without forks.
 *
 * Every finding names the object key it is about. This module must not import from lib/: the
 * CLI calls it and so could a Lambda.
 */

import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  GetObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type AuditRecord, assertAuditId, describeError, readBody } from './audit';
import { mapLimit } from './concurrency';
import { sha256Hex } from './hash';
import {
  getObjectIfExists,
  listKeys,
  MANIFEST_SIGNING_ALGORITHM,
  type ManifestEntry,
  manifestBytes,
  manifestSha256,
  parseSignedManifest,
  type SignedManifest,
} from './manifest';
import { auditManifestKey } from './naming';

export type RetentionMode = 'COMPLIANCE' | 'GOVERNANCE';
export type FindingSeverity = 'error' | 'warning' | 'info';
export type FindingCheck =
  | 'read'
  | 'retention'
  | 'signature'
  | 'hash'
  | 'missing'
  | 'extra'
  | 'record'
  | 'chain'
  | 'manifest'
  | 'manifest-chain';

export interface AuditFinding {
  readonly severity: FindingSeverity;
  readonly check: FindingCheck;
  /** The object the finding is about. */
  readonly key: string;
  /** Plain English, for the person reading the report. */
  readonly message: string;
}

interface VerifyAuditCommon {
  readonly s3: S3Client;
  /** Used for `GetPublicKey` of signing keys not given in `publicKeys`. @default - none: such manifests cannot be verified (an error) */
  readonly kms?: KMSClient;
  readonly bucket: string;
  readonly clock: () => Date;
  /** Retention mode every object must have. @default - either; GOVERNANCE is reported as a warning */
  readonly expectedMode?: RetentionMode;
  /** Configured retention: every object must be retained at least this long after it was written. @default - not checked */
  readonly retentionDays?: number;
  /** Signing keys a manifest may name. @default - any key whose public key can be obtained */
  readonly trustedSigningKeyArns?: readonly string[];
  /** Public keys by signing key ARN (PEM text or DER SubjectPublicKeyInfo), pinned out of band. @default - fetched from KMS */
  readonly publicKeys?: Readonly<Record<string, string | Uint8Array>>;
  /** Parallel S3 reads. @default 16 */
  readonly concurrency?: number;
}

export type VerifyAuditOptions = VerifyAuditCommon &
  (
    | { readonly incidentId: string; readonly all?: undefined }
    | { readonly all: true; readonly incidentId?: undefined }
  );

export interface IncidentVerification {
  readonly incidentId: string;
  readonly manifestKey: string;
  /** SHA-256 of the manifest's canonical bytes, when the manifest could be read. */
  readonly manifestSha256?: string;
  /** Record objects found in the bucket. */
  readonly records: number;
  readonly chains: number;
  /** No error finding about this incident's objects. */
  readonly ok: boolean;
}

export interface AuditReport {
  /** True when no finding is an error. */
  readonly ok: boolean;
  readonly bucket: string;
  readonly scope: { readonly incidentId: string } | { readonly all: true };
  /** ISO 8601. */
  readonly checkedAt: string;
  readonly objectsChecked: number;
  readonly incidents: IncidentVerification[];
  readonly findings: AuditFinding[];
}

/** Retention allowed below `LastModified + retentionDays` (clock skew, second-granular LastModified). */
const RETENTION_TOLERANCE_MS = 60_000;
const RECORD_KEY = /^incidents\/([^/]+)\/([^/]+)\/(\d+)-([A-Za-z]+)\.json$/;
const MANIFEST_KEY = /^manifests\/([^/]+)\.json$/;

interface FetchedObject {
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly versionId?: string;
  readonly lastModified?: Date;
  readonly lockMode?: string;
  readonly retainUntil?: Date;
}

interface ParsedRecord {
  readonly object: FetchedObject;
  readonly chainId: string;
  readonly seq: number;
  readonly record?: AuditRecord;
}

/** Verifies one incident's audit objects, or (`all: true`) every incident and the manifest chain. */
export async function verifyAudit(options: VerifyAuditOptions): Promise<AuditReport> {
  const findings: AuditFinding[] = [];
  const add = (severity: FindingSeverity, check: FindingCheck, key: string, message: string) =>
    findings.push({ severity, check, key, message });
  const now = options.clock();
  const concurrency = options.concurrency ?? 16;
  const { s3, bucket } = options;

  if (options.all !== true) assertAuditId('Incident id', options.incidentId);

  // 1. What to check.
  const recordKeys = await listKeys(
    s3,
    bucket,
    options.all ? 'incidents/' : `incidents/${options.incidentId}/`,
  );
  const manifestKeys = options.all
    ? await listKeys(s3, bucket, 'manifests/')
    : [auditManifestKey(options.incidentId as string)];

  // 2. Read everything once (bytes, version, lock); findings in key order, whatever order reads finish in.
  const fetched = new Map<string, FetchedObject>();
  const keys = [...recordKeys, ...manifestKeys];
  const reads = await mapLimit(keys, concurrency, async (key) => {
    try {
      return { key, object: await fetchObject(s3, bucket, key) };
    } catch (err) {
      return { key, error: describeError(err) };
    }
  });
  for (const { key, object, error } of reads) {
    if (object) fetched.set(key, object);
    else if (error) add('error', 'read', key, `Could not read the object (${error.name}: ${error.message}).`);
    else if (MANIFEST_KEY.test(key)) {
      add(
        'error',
        'missing',
        key,
        'There is no manifest: nothing signs this incident’s records, so they cannot be proven complete.',
      );
    } else add('error', 'missing', key, 'The object was listed but could not be found when read.');
  }

  // 3. Retention of every object read.
  for (const object of fetched.values()) checkRetention(object, options, now, add);

  // 4. Manifests: shape, signature, incident.
  const manifests = new Map<string, { key: string; signed: SignedManifest; sha256: string }>();
  const keyCache = new Map<string, Promise<KeyObject>>();
  for (const key of manifestKeys) {
    const object = fetched.get(key);
    if (!object) continue;
    const match = MANIFEST_KEY.exec(key);
    if (!match) {
      add('error', 'manifest', key, 'This object under manifests/ is not named manifests/<incidentId>.json.');
      continue;
    }
    let signed: SignedManifest;
    try {
      signed = parseSignedManifest(object.bytes);
    } catch (err) {
      add('error', 'manifest', key, `The manifest cannot be read: ${(err as Error).message}.`);
      continue;
    }
    if (signed.manifest.incidentId !== match[1]) {
      add(
        'error',
        'manifest',
        key,
        `The manifest is for incident ${signed.manifest.incidentId}, not ${match[1]}.`,
      );
    }
    await checkSignature(key, signed, options, keyCache, add);
    manifests.set(match[1], { key, signed, sha256: manifestSha256(signed.manifest) });
  }

  // 5. Records per incident: completeness, hashes, chains.
  const byIncident = new Map<string, string[]>();
  for (const key of recordKeys) {
    const incidentId = key.split('/')[1];
    byIncident.set(incidentId, [...(byIncident.get(incidentId) ?? []), key]);
  }
  const incidentIds = options.all
    ? [...new Set([...byIncident.keys(), ...manifests.keys()])].sort()
    : [options.incidentId as string];
  const summaries: Omit<IncidentVerification, 'ok'>[] = [];
  for (const incidentId of incidentIds) {
    const keysOfIncident = byIncident.get(incidentId) ?? [];
    const manifest = manifests.get(incidentId);
    const manifestKey = auditManifestKey(incidentId);
    if (!manifest && options.all && !manifestKeys.includes(manifestKey)) {
      add(
        'warning',
        'missing',
        manifestKey,
        `Incident ${incidentId} has ${keysOfIncident.length} records but no manifest: it is still running, or its finalize step failed. Its records are not covered by a signature.`,
      );
    }
    summaries.push({
      incidentId,
      manifestKey,
      ...(manifest && { manifestSha256: manifest.sha256 }),
      records: keysOfIncident.filter((k) => fetched.has(k)).length,
      chains: checkRecords(incidentId, keysOfIncident, fetched, manifest, add),
    });
  }

  // 6. The manifest chain.
  await checkManifestChain(options, manifests, add);

  const incidents = summaries.map((summary) => ({
    ...summary,
    ok: !findings.some(
      (f) =>
        f.severity === 'error' &&
        (f.key === summary.manifestKey || f.key.startsWith(`incidents/${summary.incidentId}/`)),
    ),
  }));
  return {
    ok: !findings.some((f) => f.severity === 'error'),
    bucket,
    scope: options.all ? { all: true } : { incidentId: options.incidentId as string },
    checkedAt: now.toISOString(),
    objectsChecked: fetched.size,
    incidents,
    findings,
  };
}

type AddFinding = (severity: FindingSeverity, check: FindingCheck, key: string, message: string) => void;

async function fetchObject(s3: S3Client, bucket: string, key: string): Promise<FetchedObject | undefined> {
  let out: GetObjectCommandOutput;
  try {
    out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
  const bytes = await readBody(out.Body);
  let lockMode = out.ObjectLockMode;
  let retainUntil = out.ObjectLockRetainUntilDate;
  if (!lockMode) {
    // GetObject omits the lock headers without s3:GetObjectRetention; ask for the retention itself.
    try {
      const retention = await s3.send(
        new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId: out.VersionId }),
      );
      lockMode = retention.Retention?.Mode;
      retainUntil = retention.Retention?.RetainUntilDate;
    } catch (err) {
      if ((err as Error)?.name !== 'NoSuchObjectLockConfiguration') throw err;
    }
  }
  return {
    key,
    bytes,
    sha256: sha256Hex(bytes),
    ...(out.VersionId && { versionId: out.VersionId }),
    ...(out.LastModified && { lastModified: new Date(out.LastModified) }),
    ...(lockMode && { lockMode }),
    ...(retainUntil && { retainUntil: new Date(retainUntil) }),
  };
}

function checkRetention(object: FetchedObject, options: VerifyAuditCommon, now: Date, add: AddFinding): void {
  const { key, lockMode, retainUntil } = object;
  if (!lockMode) {
    add(
      'error',
      'retention',
      key,
      'The object has no Object Lock retention: it can be deleted or overwritten.',
    );
    return;
  }
  if (options.expectedMode && lockMode !== options.expectedMode) {
    add(
      'error',
      'retention',
      key,
      `The object is under ${lockMode} retention, not ${options.expectedMode}${lockMode === 'GOVERNANCE' ? ': a principal with s3:BypassGovernanceRetention can delete it' : ''}.`,
    );
  } else if (!options.expectedMode && lockMode === 'GOVERNANCE') {
    add(
      'warning',
      'retention',
      key,
      'The object is under GOVERNANCE retention: a principal with s3:BypassGovernanceRetention can delete it.',
    );
  }
  if (!retainUntil) {
    add('error', 'retention', key, 'The object has a retention mode but no retain-until date.');
    return;
  }
  if (retainUntil.getTime() <= now.getTime()) {
    add(
      'error',
      'retention',
      key,
      `The object's retention expired on ${retainUntil.toISOString()}: it can now be deleted.`,
    );
  }
  if (options.retentionDays !== undefined && object.lastModified) {
    const required = object.lastModified.getTime() + options.retentionDays * 86_400_000;
    if (retainUntil.getTime() < required - RETENTION_TOLERANCE_MS) {
      add(
        'error',
        'retention',
        key,
        `The object is retained until ${retainUntil.toISOString()}, less than the configured ${options.retentionDays} days after it was written (${object.lastModified.toISOString()}).`,
      );
    }
  }
}

async function checkSignature(
  key: string,
  signed: SignedManifest,
  options: VerifyAuditCommon,
  cache: Map<string, Promise<KeyObject>>,
  add: AddFinding,
): Promise<void> {
  const arn = signed.signingKeyArn;
  if (options.trustedSigningKeyArns && !options.trustedSigningKeyArns.includes(arn)) {
    add('error', 'signature', key, `The manifest is signed with ${arn}, which is not a trusted signing key.`);
    return;
  }
  let publicKey: KeyObject;
  try {
    let pending = cache.get(arn);
    if (!pending) {
      pending = loadPublicKey(arn, options);
      cache.set(arn, pending);
    }
    publicKey = await pending;
  } catch (err) {
    const e = describeError(err);
    add(
      'error',
      'signature',
      key,
      `The signature cannot be checked: no public key for ${arn} (${e.name}: ${e.message}).`,
    );
    return;
  }
  const valid = verify(
    'sha256',
    Buffer.from(manifestBytes(signed.manifest), 'utf8'),
    { key: publicKey, dsaEncoding: 'der' },
    Buffer.from(signed.signature, 'base64'),
  );
  if (!valid) {
    add(
      'error',
      'signature',
      key,
      `The signature does not match the manifest's content under ${arn}: the manifest was altered or not signed by that key.`,
    );
  }
}

async function loadPublicKey(arn: string, options: VerifyAuditCommon): Promise<KeyObject> {
  const pinned = options.publicKeys?.[arn];
  if (typeof pinned === 'string') return createPublicKey(pinned);
  if (pinned) return createPublicKey({ key: Buffer.from(pinned), format: 'der', type: 'spki' });
  if (!options.kms) throw new Error('no KMS client was given and the key is not pinned');
  const out = await options.kms.send(new GetPublicKeyCommand({ KeyId: arn }));
  if (out.KeyUsage !== 'SIGN_VERIFY' || !out.SigningAlgorithms?.includes(MANIFEST_SIGNING_ALGORITHM)) {
    throw new Error(`the key is not a ${MANIFEST_SIGNING_ALGORITHM} signing key`);
  }
  if (!out.PublicKey) throw new Error('KMS returned no public key');
  return createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
}

/** Completeness, hashes and hash chains of one incident; returns the number of chains seen. */
function checkRecords(
  incidentId: string,
  keys: readonly string[],
  fetched: ReadonlyMap<string, FetchedObject>,
  manifest: { key: string; signed: SignedManifest; sha256: string } | undefined,
  add: AddFinding,
): number {
  const listed = new Map<string, ManifestEntry>();
  const undelivered = new Map<string, ManifestEntry>();
  if (manifest) {
    for (const e of manifest.signed.manifest.records) listed.set(e.key, e);
    for (const e of manifest.signed.manifest.undelivered) undelivered.set(e.key, e);
  }
  const present = new Set(keys);

  // Records in the bucket, against the manifest.
  const chains = new Map<string, ParsedRecord[]>();
  for (const key of keys) {
    const object = fetched.get(key);
    if (!object) continue;
    const parsed = parseRecord(incidentId, object, add);
    if (parsed) chains.set(parsed.chainId, [...(chains.get(parsed.chainId) ?? []), parsed]);
    if (!manifest) continue;
    const entry = listed.get(key);
    if (entry) {
      if (entry.sha256 !== object.sha256) {
        add(
          'error',
          'hash',
          key,
          `The record's content has changed: it hashes to ${object.sha256}, the manifest recorded ${entry.sha256}.`,
        );
      }
      if (entry.versionId && object.versionId && entry.versionId !== object.versionId) {
        add(
          'error',
          'hash',
          key,
          `The current version is ${object.versionId}; the manifest recorded version ${entry.versionId}.`,
        );
      }
      continue;
    }
    const late = undelivered.get(key);
    if (late) {
      if (late.sha256 === object.sha256) {
        add(
          'warning',
          'extra',
          key,
          'The record arrived after the manifest was written; its hash matches what the manifest recorded as undelivered.',
        );
      } else {
        add(
          'error',
          'hash',
          key,
          `The record arrived after the manifest and hashes to ${object.sha256}, not the ${late.sha256} the manifest recorded.`,
        );
      }
      continue;
    }
    if (
      parsed?.record?.type === 'ManifestWritten' &&
      parsed.record.detail.manifestSha256 === manifest.sha256
    ) {
      add('info', 'extra', key, 'The record that notes this manifest was written after it, as expected.');
      continue;
    }
    add(
      'error',
      'extra',
      key,
      `The record is in the bucket but not in the manifest ${manifest.key}: it was added after the incident closed.`,
    );
  }
  if (manifest) {
    for (const entry of listed.values()) {
      if (!present.has(entry.key)) {
        add(
          'error',
          'missing',
          entry.key,
          `The record is listed in ${manifest.key} but is not in the bucket.`,
        );
      }
    }
    for (const entry of undelivered.values()) {
      if (!present.has(entry.key)) {
        add(
          'error',
          'missing',
          entry.key,
          `The record was never delivered to the bucket (${manifest.key} lists it as undelivered).`,
        );
      }
    }
  }

  // Hash chains: undelivered records still carry the hash the next record must link to.
  const knownHash = new Map<string, Map<number, string>>();
  for (const [chainId, records] of chains) {
    const hashes = new Map<number, string>();
    for (const r of records) hashes.set(r.seq, r.object.sha256);
    knownHash.set(chainId, hashes);
  }
  for (const entry of undelivered.values()) {
    const m = RECORD_KEY.exec(entry.key);
    if (!m || m[1] !== incidentId) continue;
    const hashes = knownHash.get(m[2]) ?? new Map<number, string>();
    if (!hashes.has(Number(m[3]))) hashes.set(Number(m[3]), entry.sha256);
    knownHash.set(m[2], hashes);
  }
  for (const [chainId, records] of chains) {
    const hashes = knownHash.get(chainId) as Map<number, string>;
    records.sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < records.length; i++) {
      if (records[i].seq === records[i - 1].seq) {
        add(
          'error',
          'chain',
          records[i].object.key,
          `Chain ${chainId} has two records with seq ${records[i].seq}.`,
        );
      }
    }
    const maxSeq = records[records.length - 1].seq;
    for (let seq = 1; seq <= maxSeq; seq++) {
      if (hashes.has(seq)) continue;
      const next = records.find((r) => r.seq > seq) as ParsedRecord;
      add(
        'error',
        'chain',
        next.object.key,
        `Chain ${chainId} has no record with seq ${seq}: a record before this one is missing.`,
      );
    }
    for (const r of records) {
      if (!r.record) continue;
      const expected = r.seq === 1 ? null : (hashes.get(r.seq - 1) ?? undefined);
      if (expected === undefined) continue; // the gap is already reported
      if (r.record.prevHash !== expected) {
        add(
          'error',
          'chain',
          r.object.key,
          r.seq === 1
            ? 'The first record of the chain must have prevHash null.'
            : `prevHash ${String(r.record.prevHash)} does not match the hash ${expected} of record ${r.seq - 1} of chain ${chainId}: the chain is broken here.`,
        );
      }
    }
  }
  return chains.size;
}

function parseRecord(incidentId: string, object: FetchedObject, add: AddFinding): ParsedRecord | undefined {
  const m = RECORD_KEY.exec(object.key);
  if (!m) {
    add(
      'error',
      'record',
      object.key,
      'The key does not follow incidents/<incidentId>/<chainId>/<seq>-<type>.json.',
    );
    return undefined;
  }
  const [, keyIncident, chainId, seqText, type] = m;
  const seq = Number(seqText);
  let record: AuditRecord | undefined;
  try {
    record = JSON.parse(Buffer.from(object.bytes).toString('utf8')) as AuditRecord;
  } catch {
    add('error', 'record', object.key, 'The record is not valid JSON.');
    return { object, chainId, seq };
  }
  const problems: string[] = [];
  if (record?.schemaVersion !== 1)
    problems.push(`schemaVersion is ${String(record?.schemaVersion)}, expected 1`);
  if (record?.incidentId !== incidentId || keyIncident !== incidentId)
    problems.push(`incidentId is ${String(record?.incidentId)}`);
  if (record?.chainId !== chainId)
    problems.push(`chainId is ${String(record?.chainId)}, the key says ${chainId}`);
  if (record?.seq !== seq) problems.push(`seq is ${String(record?.seq)}, the key says ${seq}`);
  if (record?.type !== type) problems.push(`type is ${String(record?.type)}, the key says ${type}`);
  if (problems.length > 0)
    add('error', 'record', object.key, `The record does not match its key: ${problems.join('; ')}.`);
  return { object, chainId, seq, record: record ?? undefined };
}

async function checkManifestChain(
  options: VerifyAuditOptions,
  manifests: ReadonlyMap<string, { key: string; signed: SignedManifest; sha256: string }>,
  add: AddFinding,
): Promise<void> {
  const successors = new Map<string, string[]>();
  let genesis: string[] = [];
  for (const [incidentId, m] of manifests) {
    const prev = m.signed.manifest.previousManifest;
    if (!prev) {
      genesis = [...genesis, m.key];
      continue;
    }
    const ref = `${prev.incidentId}@${prev.sha256}`;
    successors.set(ref, [...(successors.get(ref) ?? []), m.key]);
    const prevKey = auditManifestKey(prev.incidentId);
    let prevSha: string | undefined;
    const known = manifests.get(prev.incidentId);
    if (known) prevSha = known.sha256;
    else if (!options.all) {
      try {
        const object = await getObjectIfExists(options.s3, options.bucket, prevKey);
        if (object) prevSha = manifestSha256(parseSignedManifest(object.bytes).manifest);
      } catch (err) {
        const e = describeError(err);
        add(
          'error',
          'manifest-chain',
          m.key,
          `The previous manifest ${prevKey} cannot be read (${e.name}: ${e.message}).`,
        );
        continue;
      }
    }
    if (prevSha === undefined) {
      add(
        'error',
        'manifest-chain',
        m.key,
        `The previous manifest ${prevKey} (incident ${prev.incidentId}) is not in the bucket.`,
      );
    } else if (prevSha !== prev.sha256) {
      add(
        'error',
        'manifest-chain',
        m.key,
        `The previous manifest ${prevKey} hashes to ${prevSha}, but this manifest links to ${prev.sha256}.`,
      );
    }
    if (prev.incidentId === incidentId) {
      add('error', 'manifest-chain', m.key, 'The manifest names itself as its previous manifest.');
    }
  }
  if (!options.all) return;
  for (const keys of successors.values()) {
    if (keys.length > 1) {
      for (const key of keys) {
        add(
          'error',
          'manifest-chain',
          key,
          `The manifest chain forks here: ${keys.join(' and ')} follow the same previous manifest.`,
        );
      }
    }
  }
  if (genesis.length > 1) {
    for (const key of genesis) {
      add(
        'error',
        'manifest-chain',
        key,
        `More than one manifest starts a chain (${genesis.join(', ')}): the chain was restarted.`,
      );
    }
  }
}
