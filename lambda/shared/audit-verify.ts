/**
 * Verification of the audit log, for `backstop audit verify` (docs/design.md section 6), on the
 * bucket or on an exported evidence bundle (an {@link AuditSource}). It reads and reports; it
 * never changes anything. Every finding names the object key and the check:
 *
 * - `versions`: a record or manifest key holds more than one version (something was written over
 *   it); `delete-marker`: a delete marker hides or hid it. Either way the oldest version, the
 *   one the lock protects, is what every other check reads.
 * - `retention`: that version is under Object Lock in the expected mode, retained until a date in
 *   the future and at least the configured days after it was written.
 * - `signature`: each manifest's ECDSA signature verifies against the signing key's public key,
 *   locally with node:crypto (a pinned key, the key published in the bucket, or KMS
 *   `GetPublicKey`), never by asking KMS to vouch for itself; the key must be a trusted one.
 * - `manifest`: each manifest is well formed and named after its incident, seq and kind, and an
 *   incident's series runs 1, 2, 3... without gaps or doubles.
 * - `manifest-chain`: manifest `seq` links to manifest `seq - 1` of its incident and to the
 *   manifest before it in the whole log, by hash; with `all`, the log's manifests form one chain
 *   without forks.
 * - `hash`: each record's bytes hash to what its manifest lists; `missing`: each listed record is
 *   there; `extra`: each record is listed; `duplicate`: no record is listed by two manifests.
 * - `record` / `chain`: each record matches its key, and within each chain seq starts at 1
 *   without gaps and each `prevHash` is the SHA-256 of the record before it.
 *
 * This module must not import from lib/: the CLI calls it and so could a Lambda.
 */

import { type KeyObject, verify } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import { type AuditRecord, assertAuditId, describeError } from './audit';
import {
  type AuditSource,
  type ObjectVersionInfo,
  publicKeyFingerprint,
  type PublicKeySource,
  S3AuditSource,
  toPublicKey,
} from './audit-source';
import { mapLimit } from './concurrency';
import { sha256Hex } from './hash';
import {
  type ManifestEntry,
  manifestBytes,
  manifestKeyOf,
  manifestSha256,
  parseSignedManifest,
  type SignedManifest,
} from './manifest';
import { auditManifestPrefix, MANIFEST_KINDS, type ManifestKind } from './naming';

export type RetentionMode = 'COMPLIANCE' | 'GOVERNANCE';
export type FindingSeverity = 'error' | 'warning' | 'info';
export type FindingCheck =
  | 'read'
  | 'versions'
  | 'delete-marker'
  | 'retention'
  | 'signature'
  | 'hash'
  | 'missing'
  | 'extra'
  | 'duplicate'
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
  /** What to read. @default - the bucket, through `s3`, `bucket` and `kms` */
  readonly source?: AuditSource;
  readonly s3?: S3Client;
  readonly bucket?: string;
  /** Asked for `GetPublicKey` of a signing key whose public key the bucket does not hold. @default - none */
  readonly kms?: KMSClient;
  readonly clock: () => Date;
  /** Retention mode every object must have. @default - either; GOVERNANCE is reported as a warning */
  readonly expectedMode?: RetentionMode;
  /** Configured retention: every object must be retained at least this long after it was written. @default - not checked */
  readonly retentionDays?: number;
  /** Signing keys a manifest may name. @default - any key whose public key can be obtained */
  readonly trustedSigningKeyArns?: readonly string[];
  /** Public keys by signing key ARN (PEM text or DER SubjectPublicKeyInfo), pinned out of band: used before any other. */
  readonly publicKeys?: Readonly<Record<string, string | Uint8Array>>;
  /** Parallel reads. @default 16 */
  readonly concurrency?: number;
}

export type VerifyAuditOptions = VerifyAuditCommon &
  (
    | {
        readonly incidentId: string;
        readonly all?: undefined;
        readonly agentId?: undefined;
        readonly since?: undefined;
      }
    | {
        readonly all: true;
        readonly incidentId?: undefined;
        /** Only incidents that touched this agent. @default - every incident */
        readonly agentId?: string;
        /** Only incidents with an object written at or after this time. @default - every incident */
        readonly since?: Date;
      }
  );

export interface ManifestSummary {
  readonly key: string;
  readonly seq: number;
  readonly kind: ManifestKind;
  readonly sha256: string;
  readonly records: number;
}

export interface IncidentVerification {
  readonly incidentId: string;
  /** The incident's latest manifest, or where its first would be. */
  readonly manifestKey: string;
  /** SHA-256 of the latest manifest's canonical bytes, when there is one. */
  readonly manifestSha256?: string;
  /** The incident's manifests, by seq. */
  readonly manifests: ManifestSummary[];
  /** Record objects found. */
  readonly records: number;
  readonly chains: number;
  /** Agents the records name. */
  readonly agents: string[];
  /** Time of the first record (ISO 8601). */
  readonly startedAt?: string;
  /** The outcome the kill recorded (KillCompleted), or REJECTED. */
  readonly status?: string;
  readonly mode?: string;
  readonly reason?: string;
  /** Who started it, from the ActorAttributed record (CloudTrail's identity of the StartExecution caller). */
  readonly startedBy?: string;
  /** No error finding about this incident's objects. */
  readonly ok: boolean;
}

export interface AuditReport {
  /** True when no finding is an error. */
  readonly ok: boolean;
  readonly bucket: string;
  /** What was read: `s3://<bucket>` or `bundle <path>`. */
  readonly source: string;
  /** True when the verification made no AWS call at all. */
  readonly offline: boolean;
  readonly scope:
    | { readonly incidentId: string }
    | { readonly all: true; readonly agentId?: string; readonly since?: string };
  /** ISO 8601. */
  readonly checkedAt: string;
  readonly objectsChecked: number;
  /** The public keys signatures were checked against, with where each came from. */
  readonly publicKeys: { signingKeyArn: string; from: string; fingerprint: string }[];
  readonly incidents: IncidentVerification[];
  readonly findings: AuditFinding[];
}

/** Retention allowed below `LastModified + retentionDays` (clock skew, second-granular LastModified). */
const RETENTION_TOLERANCE_MS = 60_000;
const RECORD_KEY = /^incidents\/([^/]+)\/([^/]+)\/(\d+)-([A-Za-z]+)\.json$/;
const MANIFEST_KEY = /^manifests\/([^/]+)\/(\d+)-([a-z]+)\.json$/;

interface FetchedObject {
  readonly key: string;
  readonly versionId: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
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

interface ParsedManifest {
  readonly key: string;
  readonly incidentId: string;
  readonly seq: number;
  readonly signed: SignedManifest;
  readonly sha256: string;
}

type AddFinding = (severity: FindingSeverity, check: FindingCheck, key: string, message: string) => void;

/** Verifies one incident's audit objects, or (`all: true`) every incident and the manifest chain. */
export async function verifyAudit(options: VerifyAuditOptions): Promise<AuditReport> {
  const findings: AuditFinding[] = [];
  const add: AddFinding = (severity, check, key, message) => findings.push({ severity, check, key, message });
  const now = options.clock();
  const concurrency = options.concurrency ?? 16;
  const source = sourceOf(options);
  if (options.all !== true) assertAuditId('Incident id', options.incidentId);
  const single = options.all === true ? undefined : options.incidentId;

  // 1. Every version of every object in scope.
  const listed = [
    ...(await source.listVersions(single ? `incidents/${single}/` : 'incidents/')),
    ...(await source.listVersions(single ? auditManifestPrefix(single) : 'manifests/')),
  ];
  const byKey = new Map<string, ObjectVersionInfo[]>();
  for (const v of listed) byKey.set(v.key, [...(byKey.get(v.key) ?? []), v]);

  // 2. Which incidents: every one in scope, narrowed by --since before anything is read.
  const incidentOf = incidentOfKey;
  let incidentIds = single
    ? [single]
    : [...new Set([...byKey.keys()].map(incidentOf).filter((id): id is string => Boolean(id)))].sort();
  if (!single && options.since) {
    const since = options.since.getTime();
    const recent = new Set(
      listed.filter((v) => (v.lastModified?.getTime() ?? 0) >= since).map((v) => incidentOf(v.key)),
    );
    incidentIds = incidentIds.filter((id) => recent.has(id));
  }
  const selected = new Set(incidentIds);
  const inScope = (key: string) => selected.has(incidentOf(key));
  // The chain across incidents needs every manifest, whatever the selection.
  const wanted = (key: string) => inScope(key) || (!single && key.startsWith('manifests/'));

  // 3. Versions: the oldest version of each key is the original; anything after it is reported.
  const originals = new Map<string, string>();
  for (const [key, versions] of byKey) {
    if (!wanted(key)) continue;
    const kept = versions.filter((v) => !v.deleteMarker);
    const markers = versions.filter((v) => v.deleteMarker);
    const oldest = kept[kept.length - 1];
    if (oldest) originals.set(key, oldest.versionId);
    if (!inScope(key)) continue;
    if (kept.length > 1) {
      add(
        'error',
        'versions',
        key,
        `The key holds ${kept.length} versions: ${kept
          .slice(0, -1)
          .map((v) => v.versionId)
          .join(
            ', ',
          )} were written over the original ${oldest?.versionId}. Records and manifests are written once; the original is what was verified.`,
      );
    }
    if (markers.length > 0) {
      add(
        'error',
        'delete-marker',
        key,
        oldest
          ? `${versions[0]?.deleteMarker ? 'A delete marker hides the object' : 'A delete marker was placed on the object'} (${markers.map((m) => m.versionId).join(', ')}); the locked original ${oldest.versionId} is still there and was verified.`
          : `Only delete markers remain (${markers.map((m) => m.versionId).join(', ')}): every version of the object is gone.`,
      );
    }
  }

  // 4. Read every original once; findings in key order, whatever order the reads finish in.
  const toRead = [...originals].filter(([key]) => wanted(key));
  const fetched = new Map<string, FetchedObject>();
  const reads = await mapLimit(toRead, concurrency, async ([key, versionId]) => {
    try {
      const content = await source.readVersion(key, versionId);
      return {
        key,
        object: {
          key,
          versionId,
          bytes: content.bytes,
          sha256: sha256Hex(content.bytes),
          ...(content.lastModified && { lastModified: content.lastModified }),
          ...(content.lockMode && { lockMode: content.lockMode }),
          ...(content.retainUntil && { retainUntil: content.retainUntil }),
        } satisfies FetchedObject,
      };
    } catch (err) {
      return { key, error: describeError(err) };
    }
  });
  for (const { key, object, error } of reads) {
    if (object) fetched.set(key, object);
    else if (error) add('error', 'read', key, `Could not read the object (${error.name}: ${error.message}).`);
  }
  for (const object of fetched.values()) if (inScope(object.key)) checkRetention(object, options, now, add);

  // 5. Manifests: shape, name, signature.
  const keyCache = new Map<string, Promise<PublicKeySource>>();
  const manifestsByIncident = new Map<string, ParsedManifest[]>();
  for (const [key, object] of fetched) {
    if (!key.startsWith('manifests/')) continue;
    // Manifests of incidents outside the selection only serve the chain: no findings of their own.
    const quiet: AddFinding = () => undefined;
    const parsed = await parseManifestObject(
      key,
      object,
      options,
      source,
      keyCache,
      inScope(key) ? add : quiet,
    );
    if (!parsed) continue;
    manifestsByIncident.set(parsed.incidentId, [
      ...(manifestsByIncident.get(parsed.incidentId) ?? []),
      parsed,
    ]);
  }

  // 6. Per incident: the series, coverage, hashes, chains.
  const recordKeysOf = new Map<string, string[]>();
  for (const key of byKey.keys()) {
    if (!key.startsWith('incidents/') || !inScope(key)) continue;
    const id = incidentOf(key);
    recordKeysOf.set(id, [...(recordKeysOf.get(id) ?? []), key]);
  }
  const summaries: Omit<IncidentVerification, 'ok'>[] = [];
  for (const incidentId of incidentIds) {
    const series = (manifestsByIncident.get(incidentId) ?? []).sort(
      (a, b) => a.seq - b.seq || cmp(a.key, b.key),
    );
    const keys = recordKeysOf.get(incidentId) ?? [];
    if (series.length === 0 && !byKeyHasPrefix(byKey, auditManifestPrefix(incidentId))) {
      const where = `${auditManifestPrefix(incidentId)}0001-kill.json`;
      if (single) {
        add(
          'error',
          'missing',
          where,
          'The incident has no manifest: nothing signs its records, so they cannot be proven complete.',
        );
      } else {
        add(
          'warning',
          'missing',
          where,
          `Incident ${incidentId} has ${keys.length} records but no manifest: it is still running, or it was never sealed. Its records are not covered by a signature.`,
        );
      }
    }
    checkSeries(incidentId, series, add);
    const records = checkRecords(incidentId, keys, fetched, series, byKey, add);
    const last = series[series.length - 1];
    summaries.push({
      incidentId,
      manifestKey: last?.key ?? `${auditManifestPrefix(incidentId)}0001-kill.json`,
      ...(last && { manifestSha256: last.sha256 }),
      manifests: series.map((m) => ({
        key: m.key,
        seq: m.seq,
        kind: m.signed.manifest.kind,
        sha256: m.sha256,
        records: m.signed.manifest.records.length,
      })),
      records: records.parsed.length,
      chains: records.chains,
      ...describeIncident(records.parsed),
    });
  }

  // 7. The manifest chain across incidents.
  const allManifests = [...manifestsByIncident.values()].flat();
  await checkManifestChain(options, source, allManifests, originals, add);

  // 8. --agent: keep the incidents whose records name the agent.
  let kept = summaries;
  let keptFindings = findings;
  if (!single && options.agentId) {
    kept = summaries.filter((s) => s.agents.includes(options.agentId as string));
    const keptIds = new Set(kept.map((s) => s.incidentId));
    keptFindings = findings.filter((f) => f.check === 'manifest-chain' || keptIds.has(incidentOf(f.key)));
  }
  const incidents = kept.map((summary) => ({
    ...summary,
    ok: !keptFindings.some((f) => f.severity === 'error' && incidentOf(f.key) === summary.incidentId),
  }));
  const publicKeys: AuditReport['publicKeys'] = [];
  for (const [signingKeyArn, pending] of keyCache) {
    try {
      const k = await pending;
      publicKeys.push({ signingKeyArn, from: k.from, fingerprint: publicKeyFingerprint(k.key) });
    } catch {
      // Reported as a signature finding.
    }
  }
  return {
    ok: !keptFindings.some((f) => f.severity === 'error'),
    bucket: source.bucket,
    source: source.description,
    offline: source.offline,
    scope: single
      ? { incidentId: single }
      : {
          all: true,
          ...(options.agentId && { agentId: options.agentId }),
          ...(options.since && { since: options.since.toISOString() }),
        },
    checkedAt: now.toISOString(),
    objectsChecked: fetched.size,
    publicKeys,
    incidents,
    findings: keptFindings,
  };
}

function sourceOf(options: VerifyAuditCommon): AuditSource {
  if (options.source) return options.source;
  if (!options.s3 || !options.bucket) throw new Error('verifyAudit needs a source, or s3 and bucket');
  return new S3AuditSource({
    s3: options.s3,
    bucket: options.bucket,
    ...(options.kms && { kms: options.kms }),
  });
}

/** The incident an object belongs to (`manifests/<id>.json`, the format before series, included). */
function incidentOfKey(key: string): string {
  const parts = key.split('/');
  if (parts[0] === 'manifests' && parts.length === 2) return (parts[1] ?? '').replace(/\.json$/, '');
  return parts[1] ?? '';
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function byKeyHasPrefix(byKey: ReadonlyMap<string, unknown>, prefix: string): boolean {
  for (const key of byKey.keys()) if (key.startsWith(prefix)) return true;
  return false;
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

async function parseManifestObject(
  key: string,
  object: FetchedObject,
  options: VerifyAuditCommon,
  source: AuditSource,
  keyCache: Map<string, Promise<PublicKeySource>>,
  add: AddFinding,
): Promise<ParsedManifest | undefined> {
  const match = MANIFEST_KEY.exec(key);
  if (!match || !(MANIFEST_KINDS as readonly string[]).includes(match[3])) {
    add(
      'error',
      'manifest',
      key,
      'This object under manifests/ is not named manifests/<incidentId>/<seq>-<kind>.json: it is no manifest of the series.',
    );
    return undefined;
  }
  let signed: SignedManifest;
  try {
    signed = parseSignedManifest(object.bytes);
  } catch (err) {
    add('error', 'manifest', key, `The manifest cannot be read: ${(err as Error).message}.`);
    return undefined;
  }
  const m = signed.manifest;
  if (manifestKeyOf(m) !== key) {
    add(
      'error',
      'manifest',
      key,
      `The manifest says it is ${manifestKeyOf(m)} (incident ${m.incidentId}, seq ${m.seq}, kind ${m.kind}), not what its key says.`,
    );
  }
  await checkSignature(key, signed, options, source, keyCache, add);
  return { key, incidentId: match[1], seq: Number(match[2]), signed, sha256: manifestSha256(m) };
}

async function checkSignature(
  key: string,
  signed: SignedManifest,
  options: VerifyAuditCommon,
  source: AuditSource,
  cache: Map<string, Promise<PublicKeySource>>,
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
      pending = loadPublicKey(arn, options, source);
      cache.set(arn, pending);
    }
    publicKey = (await pending).key;
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

async function loadPublicKey(
  arn: string,
  options: VerifyAuditCommon,
  source: AuditSource,
): Promise<PublicKeySource> {
  const pinned = options.publicKeys?.[arn];
  if (pinned) return { key: toPublicKey(pinned), from: 'pinned by the caller' };
  const found = await source.publicKey(arn);
  if (!found) throw new Error(`neither pinned nor available from ${source.description}`);
  return found;
}

/** An incident's series runs 1, 2, 3... and each manifest links to the one before it. */
function checkSeries(incidentId: string, series: readonly ParsedManifest[], add: AddFinding): void {
  const bySeq = new Map<number, ParsedManifest[]>();
  for (const m of series) bySeq.set(m.seq, [...(bySeq.get(m.seq) ?? []), m]);
  for (const [seq, ms] of bySeq) {
    if (ms.length > 1) {
      for (const m of ms) {
        add(
          'error',
          'manifest',
          m.key,
          `Incident ${incidentId} has ${ms.length} manifests with seq ${seq} (${ms.map((x) => x.key).join(', ')}): the series forks here.`,
        );
      }
    }
  }
  const maxSeq = Math.max(0, ...bySeq.keys());
  for (let seq = 1; seq <= maxSeq; seq++) {
    if (bySeq.has(seq)) continue;
    const next = series.find((m) => m.seq > seq) as ParsedManifest;
    add(
      'error',
      'manifest',
      next.key,
      `Manifest ${seq} of incident ${incidentId} is missing: the series goes from ${seq - 1} to ${next.seq}.`,
    );
  }
  for (const m of series) {
    const prev = m.signed.manifest.previousInIncident;
    const before = bySeq.get(m.seq - 1);
    if (m.seq === 1) {
      if (prev !== null)
        add(
          'error',
          'manifest-chain',
          m.key,
          'The first manifest of an incident must not name a previous one.',
        );
      continue;
    }
    if (!before || before.length !== 1) continue; // reported above
    const expected = before[0] as ParsedManifest;
    if (!prev || prev.key !== expected.key || prev.sha256 !== expected.sha256) {
      add(
        'error',
        'manifest-chain',
        m.key,
        `The manifest links to ${prev ? `${prev.key} (${prev.sha256})` : 'nothing'} as manifest ${m.seq - 1} of the incident, but that is ${expected.key}, which hashes to ${expected.sha256}.`,
      );
    }
  }
}

/** Coverage by the series, hashes and hash chains of one incident's records. */
function checkRecords(
  incidentId: string,
  keys: readonly string[],
  fetched: ReadonlyMap<string, FetchedObject>,
  series: readonly ParsedManifest[],
  byKey: ReadonlyMap<string, readonly ObjectVersionInfo[]>,
  add: AddFinding,
): { parsed: ParsedRecord[]; chains: number } {
  const coveredBy = new Map<
    string,
    { manifest: ParsedManifest; entry: ManifestEntry; undelivered: boolean }[]
  >();
  for (const m of series) {
    const cover = (entry: ManifestEntry, undelivered: boolean) =>
      coveredBy.set(entry.key, [...(coveredBy.get(entry.key) ?? []), { manifest: m, entry, undelivered }]);
    for (const e of m.signed.manifest.records) cover(e, false);
    for (const e of m.signed.manifest.undelivered) cover(e, true);
  }
  const seriesShas = new Set(series.map((m) => m.sha256));
  const present = new Set(keys.filter((k) => byKey.get(k)?.some((v) => !v.deleteMarker)));

  const parsed: ParsedRecord[] = [];
  const chains = new Map<string, ParsedRecord[]>();
  for (const key of keys) {
    const object = fetched.get(key);
    if (!object) continue;
    const record = parseRecord(incidentId, object, add);
    if (record) {
      parsed.push(record);
      chains.set(record.chainId, [...(chains.get(record.chainId) ?? []), record]);
    }
    if (series.length === 0) continue; // the missing manifest is reported once, for the incident
    const covers = coveredBy.get(key) ?? [];
    if (covers.length > 1) {
      add(
        'error',
        'duplicate',
        key,
        `The record is listed by ${covers.length} manifests (${covers.map((c) => c.manifest.key).join(', ')}): each record is sealed by exactly one.`,
      );
    }
    const cover = covers[0];
    if (!cover) {
      const note = record?.record;
      if (note?.type === 'ManifestWritten' && seriesShas.has(String(note.detail.manifestSha256))) {
        add('info', 'extra', key, 'The record that notes a manifest was written after it, as expected.');
      } else {
        add(
          'error',
          'extra',
          key,
          `The record is in no manifest of incident ${incidentId} (last: ${series[series.length - 1]?.key}): it was added after the incident was sealed, and nothing signs it.`,
        );
      }
      continue;
    }
    if (cover.undelivered) {
      if (cover.entry.sha256 === object.sha256) {
        add(
          'warning',
          'extra',
          key,
          `The record arrived after ${cover.manifest.key} was written; its hash matches what that manifest recorded as undelivered.`,
        );
      } else {
        add(
          'error',
          'hash',
          key,
          `The record arrived after ${cover.manifest.key} and hashes to ${object.sha256}, not the ${cover.entry.sha256} that manifest recorded.`,
        );
      }
      continue;
    }
    if (cover.entry.sha256 !== object.sha256) {
      add(
        'error',
        'hash',
        key,
        `The record's content has changed: it hashes to ${object.sha256}, ${cover.manifest.key} recorded ${cover.entry.sha256}.`,
      );
    }
    if (cover.entry.versionId && cover.entry.versionId !== object.versionId) {
      add(
        'error',
        'hash',
        key,
        `The original version is ${object.versionId}; ${cover.manifest.key} sealed version ${cover.entry.versionId}.`,
      );
    }
  }
  for (const [key, covers] of coveredBy) {
    if (present.has(key)) continue;
    const c = covers[0];
    if (!c) continue;
    add(
      'error',
      'missing',
      key,
      c.undelivered
        ? `The record was never delivered to the bucket (${c.manifest.key} lists it as undelivered).`
        : `The record is listed in ${c.manifest.key} but is not in the bucket.`,
    );
  }

  // Hash chains: undelivered records still carry the hash the next record must link to.
  const knownHash = new Map<string, Map<number, string>>();
  for (const [chainId, records] of chains) {
    const hashes = new Map<number, string>();
    for (const r of records) hashes.set(r.seq, r.object.sha256);
    knownHash.set(chainId, hashes);
  }
  for (const covers of coveredBy.values()) {
    for (const c of covers) {
      if (!c.undelivered) continue;
      const m = RECORD_KEY.exec(c.entry.key);
      if (!m || m[1] !== incidentId) continue;
      const hashes = knownHash.get(m[2]) ?? new Map<number, string>();
      if (!hashes.has(Number(m[3]))) hashes.set(Number(m[3]), c.entry.sha256);
      knownHash.set(m[2], hashes);
    }
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
  return { parsed, chains: chains.size };
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

/** What a reviewer's table shows of an incident, read from its records. */
function describeIncident(
  records: readonly ParsedRecord[],
): Pick<IncidentVerification, 'agents' | 'startedAt' | 'status' | 'mode' | 'reason' | 'startedBy'> {
  const agents = new Set<string>();
  let startedAt: string | undefined;
  let status: string | undefined;
  let mode: string | undefined;
  let reason: string | undefined;
  let startedBy: string | undefined;
  for (const { record } of records) {
    if (!record) continue;
    if (typeof record.agentId === 'string') agents.add(record.agentId);
    if (typeof record.time === 'string' && (!startedAt || record.time < startedAt)) startedAt = record.time;
    const detail = (record.detail ?? {}) as Record<string, unknown>;
    if (record.type === 'KillRequested') {
      for (const a of (detail.agents ?? []) as { agentId?: unknown }[]) {
        if (typeof a?.agentId === 'string') agents.add(a.agentId);
      }
      mode = record.mode ?? mode;
      reason = record.reason ?? reason;
    }
    if (record.type === 'KillCompleted' && typeof detail.status === 'string') status = detail.status;
    if (record.type === 'KillRejected') status = status ?? 'REJECTED';
    if (record.type === 'ActorAttributed' && typeof detail.principalArn === 'string')
      startedBy = detail.principalArn;
  }
  return {
    agents: [...agents].sort(),
    ...(startedAt && { startedAt }),
    ...(status && { status }),
    ...(mode && { mode }),
    ...(reason && { reason }),
    ...(startedBy && { startedBy }),
  };
}

async function checkManifestChain(
  options: VerifyAuditOptions,
  source: AuditSource,
  manifests: readonly ParsedManifest[],
  originals: ReadonlyMap<string, string>,
  add: AddFinding,
): Promise<void> {
  const byKey = new Map(manifests.map((m) => [m.key, m]));
  const successors = new Map<string, string[]>();
  const genesis: string[] = [];
  for (const m of manifests) {
    const prev = m.signed.manifest.previousManifest;
    if (!prev) {
      genesis.push(m.key);
      continue;
    }
    successors.set(prev.sha256, [...(successors.get(prev.sha256) ?? []), m.key]);
    let prevSha = byKey.get(prev.key)?.sha256;
    if (prevSha === undefined && options.all !== true) {
      try {
        const versions = await source.listVersions(prev.key);
        const original = versions.filter((v) => v.key === prev.key && !v.deleteMarker).pop();
        if (original) {
          const content = await source.readVersion(prev.key, original.versionId);
          prevSha = manifestSha256(parseSignedManifest(content.bytes).manifest);
        }
      } catch (err) {
        const e = describeError(err);
        add(
          'error',
          'manifest-chain',
          m.key,
          `The previous manifest ${prev.key} cannot be read (${e.name}: ${e.message}).`,
        );
        continue;
      }
    }
    if (prevSha === undefined) {
      add(
        'error',
        'manifest-chain',
        m.key,
        `The previous manifest ${prev.key} (incident ${prev.incidentId}) is not ${originals.has(prev.key) ? 'readable' : 'there'}.`,
      );
    } else if (prevSha !== prev.sha256) {
      add(
        'error',
        'manifest-chain',
        m.key,
        `The previous manifest ${prev.key} hashes to ${prevSha}, but this manifest links to ${prev.sha256}.`,
      );
    }
    if (prev.key === m.key)
      add('error', 'manifest-chain', m.key, 'The manifest names itself as its previous manifest.');
  }
  if (options.all !== true) return;
  for (const keys of successors.values()) {
    if (keys.length < 2) continue;
    for (const key of keys) {
      add(
        'error',
        'manifest-chain',
        key,
        `The manifest chain forks here: ${keys.join(' and ')} follow the same previous manifest.`,
      );
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
