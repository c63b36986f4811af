/**
 * The audit log writer (docs/design.md section 6).
 *
 * Every handler invocation writes one hash chain of records to the Object Lock bucket:
 * `incidents/<incidentId>/<chainId>/<seq>-<type>.json`. Each record holds the SHA-256 (hex) of
 * the exact bytes of the record before it in the same chain, so a reader can prove that no record
 * of a chain was removed, reordered or edited. The chain id is unique per invocation (see
 * {@link newChainId}), so a retried Lambda starts a new chain instead of colliding with the
 * objects of its earlier attempt.
 *
 * Every object is written with a SHA-256 checksum that S3 verifies, `If-None-Match: *` (never
 * overwrite) and SSE-KMS under the audit key.
 *
 * The kill never waits on a failed audit write to cut authority: {@link AuditChain.write} resolves,
 * never rejects, once the SDK's own retries are spent. A record that did not land is kept in a
 * pending queue and the chain goes on (the next record still links to its bytes, so the chain
 * verifies once it lands). {@link AuditChain.flush} retries the pending records a few more times
 * and hands what still fails to `onUndeliverable` (normally {@link stateStoreFallback}), from
 * which the manifest writer retries them once more at the end of the incident.
 *
 * Records must not carry secrets: `detail` is written verbatim and kept for years. Policies,
 * tags, ARNs and configuration are fine; credentials, tokens and message bodies are not. The
 * writer does not sanitize; callers decide what goes into `detail`.
 */

import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mapLimit } from './concurrency';
import { canonicalJson, sha256Base64, sha256Hex } from './hash';
import { auditRecordKey } from './naming';
import type { Mode, SurfaceName } from './types';

export const AUDIT_SCHEMA_VERSION = 1;

/** Every record type the kill and restore paths write, in roughly the order they occur. */
export const AUDIT_RECORD_TYPES = [
  'KillRequested',
  'KillRejected',
  'KillJoined',
  'ActorAttributed',
  'ModeRaised',
  'ControlFlagSet',
  'LockAcquired',
  'SurfaceDiscovered',
  /** The authority cut of one surface (a deny attached before any snapshot); detail: changes, time. */
  'AuthorityCut',
  /** Something that claims to be Backstop's and is not, recorded verbatim (detail: an Evidence). */
  'PlantedPolicyFound',
  'SnapshotTaken',
  /** A second kill found an earlier, unrestored snapshot and kept it (the pre-kill state). */
  'SnapshotPreserved',
  /** detail: `{ resource, action, before, after }`. */
  'ResourceChanged',
  'ResourceSkipped',
  /** detail: the AWS error name and message. */
  'SurfaceFailed',
  'SurfaceContained',
  'VerifyStarted',
  'SurfaceVerified',
  'DriftDetected',
  'Recut',
  'VerifyPending',
  'VerifyFailed',
  'KillCompleted',
  'AuditWriteFailed',
  'ManifestWritten',
  /** detail: every object version of the incident put under an Object Lock legal hold. */
  'LegalHoldPlaced',
  /** detail: the approved release request and every version whose legal hold was removed. */
  'LegalHoldReleased',
  'RestoreRequested',
  'ApprovalRecorded',
  'ResourceRestored',
  'RestoreCompleted',
] as const;
export type AuditRecordType = (typeof AUDIT_RECORD_TYPES)[number];

export function isAuditRecordType(value: unknown): value is AuditRecordType {
  return typeof value === 'string' && (AUDIT_RECORD_TYPES as readonly string[]).includes(value);
}

/** Who caused a record: always the identity AWS reports, never a name taken from a request body. */
export interface AuditActor {
  readonly type: 'execution' | 'iam' | 'alarm' | 'cli' | 'system';
  /** The execution, principal or alarm ARN. */
  readonly arn?: string;
  readonly detail?: Record<string, unknown>;
}

/** The optional fields of a record; `detail` must be JSON-serializable and free of secrets. */
export interface AuditRecordFields {
  readonly agentId?: string;
  readonly accountId?: string;
  readonly region?: string;
  readonly surface?: SurfaceName;
  readonly mode?: Mode;
  readonly reason?: string;
  /** @default {} */
  readonly detail?: Record<string, unknown>;
  /** @default - the chain's actor */
  readonly actor?: AuditActor;
}

/** One audit record, exactly as written (the object body is its canonical JSON). */
export interface AuditRecord {
  readonly schemaVersion: typeof AUDIT_SCHEMA_VERSION;
  readonly incidentId: string;
  readonly chainId: string;
  readonly seq: number;
  readonly type: AuditRecordType;
  /** ISO 8601. */
  readonly time: string;
  readonly actor: AuditActor;
  readonly agentId?: string;
  readonly accountId?: string;
  readonly region?: string;
  readonly surface?: SurfaceName;
  readonly mode?: Mode;
  readonly reason?: string;
  readonly detail: Record<string, unknown>;
  /** SHA-256 hex of the previous record's exact bytes in this chain; null for seq 1. */
  readonly prevHash: string | null;
}

/** An AWS (or other) error reduced to what an audit reader needs. */
export interface ErrorSummary {
  readonly name: string;
  readonly message: string;
}

/** A record that has not reached the bucket yet, with its exact bytes so it can be retried anywhere. */
export interface PendingAuditRecord {
  readonly key: string;
  readonly incidentId: string;
  readonly chainId: string;
  readonly seq: number;
  readonly type: AuditRecordType;
  /** The exact object body (canonical JSON of the record). */
  readonly body: string;
  /** SHA-256 hex of `body`: the next record's `prevHash`. */
  readonly sha256: string;
  readonly error: ErrorSummary;
  /** Delivery attempts so far (each one already includes the SDK's own retries). */
  readonly attempts: number;
}

/** Where undeliverable records go; the state store implements it. */
export interface PendingAuditSink {
  addPendingAudit(incidentId: string, records: readonly PendingAuditRecord[]): Promise<void>;
}

export interface AuditChainOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** KMS key for SSE-KMS of every object. */
  readonly kmsKeyArn: string;
  readonly incidentId: string;
  /** Unique per handler invocation: build it with {@link newChainId}. */
  readonly chainId: string;
  /** Actor of every record of the chain, unless a record names its own. */
  readonly actor: AuditActor;
  readonly clock: () => Date;
  /**
   * Receives the records still undelivered after {@link AuditChain.flush}'s retries.
   * @default - none: they stay in {@link AuditChain.pending} for the caller to log
   */
  readonly onUndeliverable?: (records: PendingAuditRecord[]) => Promise<void>;
  /** Retry rounds of {@link AuditChain.flush} for pending records. @default 2 */
  readonly flushAttempts?: number;
  /** Pause before flush round n is n times this, in milliseconds. @default 250 */
  readonly retryDelayMs?: number;
  /** @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface AuditFlushResult {
  /** Records of the chain that are in the bucket. */
  readonly written: number;
  /** Records of the chain that are not in the bucket (handed to the fallback or not). */
  readonly undelivered: number;
  /** Of those, how many `onUndeliverable` accepted in this flush. */
  readonly handedOff: number;
  /** Set when `onUndeliverable` itself failed: the records are still in {@link AuditChain.pending}. */
  readonly fallbackError?: ErrorSummary;
}

/** Identifiers that become S3 key segments and state table key parts. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws a clear error unless `value` may be used as an incident or chain id in an S3 key. */
export function assertAuditId(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw new Error(
      `${what} ${JSON.stringify(value)} is not valid: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

/**
 * A chain id unique to one handler invocation: `<prefix>-<8 hex>`, e.g. `prepare-1a2b3c4d` or
 * `iam-agent-7-1a2b3c4d`. A retried Lambda gets a new one, so it never collides with the objects
 * its earlier attempt wrote.
 */
export function newChainId(
  prefix: string,
  randomId: () => string = () => randomBytes(4).toString('hex'),
): string {
  const chainId = `${prefix}-${randomId()}`;
  assertAuditId('Audit chain id', chainId);
  return chainId;
}

/** Reduces any thrown value to `{ name, message }`. */
export function describeError(err: unknown): ErrorSummary {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

/** An object already exists at a key with different content: never overwritten, never counted as written. */
export class AuditObjectConflictError extends Error {
  override readonly name = 'AuditObjectConflictError';
  constructor(
    readonly key: string,
    readonly existingSha256: string,
    readonly attemptedSha256: string,
  ) {
    super(
      `${key} already exists with different content (sha256 ${existingSha256}, this write ${attemptedSha256}); it was left untouched`,
    );
  }
}

/** The body of an S3 GetObject response (an SDK stream, or bytes/string from a fake) as bytes. */
export async function readBody(body: unknown): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array();
  if (typeof body === 'string') return new Uint8Array(Buffer.from(body, 'utf8'));
  if (body instanceof Uint8Array) return body;
  const stream = body as { transformToByteArray?: () => Promise<Uint8Array> };
  if (typeof stream.transformToByteArray === 'function') return stream.transformToByteArray();
  throw new TypeError('S3 object body is neither bytes nor an SDK stream');
}

function isPreconditionFailed(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412;
}

export interface ImmutablePut {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly kmsKeyArn: string;
  readonly key: string;
  readonly body: string;
  /** @default 'application/json' */
  readonly contentType?: string;
  /**
   * Whether an object already at the key counts as this write (a retry whose first attempt
   * landed). @default - byte-for-byte equality
   */
  readonly sameContent?: (existing: Uint8Array) => boolean;
}

export interface ImmutablePutResult {
  /** `already-present`: the key held the same content (412 on `If-None-Match`), so it counts as written. */
  readonly status: 'written' | 'already-present';
  readonly versionId?: string;
}

/**
 * Writes one audit object that must never be overwritten: `If-None-Match: *`, a SHA-256
 * checksum computed here and verified by S3, SSE-KMS. A 412 is answered by reading the object
 * back: identical content counts as written, anything else throws {@link AuditObjectConflictError}.
 */
export async function putImmutableObject(put: ImmutablePut): Promise<ImmutablePutResult> {
  try {
    const out = await put.s3.send(
      new PutObjectCommand({
        Bucket: put.bucket,
        Key: put.key,
        Body: put.body,
        ContentType: put.contentType ?? 'application/json',
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: sha256Base64(put.body),
        IfNoneMatch: '*',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: put.kmsKeyArn,
      }),
    );
    return { status: 'written', versionId: out.VersionId };
  } catch (err) {
    if (!isPreconditionFailed(err)) throw err;
    const existing = await put.s3.send(new GetObjectCommand({ Bucket: put.bucket, Key: put.key }));
    const bytes = await readBody(existing.Body);
    const attempted = Buffer.from(put.body, 'utf8');
    const same = put.sameContent ? put.sameContent(bytes) : attempted.equals(Buffer.from(bytes));
    if (!same) throw new AuditObjectConflictError(put.key, sha256Hex(bytes), sha256Hex(attempted));
    return { status: 'already-present', versionId: existing.VersionId };
  }
}

type EntryState = 'in-flight' | 'written' | 'pending' | 'handed-off';

interface ChainEntry {
  readonly record: AuditRecord;
  readonly key: string;
  readonly body: string;
  readonly sha256: string;
  state: EntryState;
  attempts: number;
  error?: ErrorSummary;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One hash chain of audit records, written by one handler invocation. */
export class AuditChain {
  readonly incidentId: string;
  readonly chainId: string;
  private readonly entries: ChainEntry[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private lastHash: string | null = null;

  constructor(private readonly options: AuditChainOptions) {
    assertAuditId('Incident id', options.incidentId);
    assertAuditId('Audit chain id', options.chainId);
    if (!options.bucket) throw new Error('AuditChain needs the audit bucket name');
    if (!options.kmsKeyArn) throw new Error('AuditChain needs the audit KMS key ARN');
    this.incidentId = options.incidentId;
    this.chainId = options.chainId;
  }

  /** Every record of the chain in order, delivered or not. */
  get records(): AuditRecord[] {
    return this.entries.map((e) => e.record);
  }

  /** Records that have not reached the bucket and were not accepted by `onUndeliverable`. */
  get pending(): PendingAuditRecord[] {
    return this.entries.filter((e) => e.state === 'pending').map((e) => this.toPending(e));
  }

  /** SHA-256 hex of the last record's bytes (the next record's `prevHash`); null before the first. */
  get headHash(): string | null {
    return this.lastHash;
  }

  /**
   * Appends a record and writes it. The record (sequence number, time, link to the previous
   * record) is fixed synchronously, so records keep the order of the calls even when the
   * returned promises are not awaited. The promise resolves with the record once S3 accepted it
   * or the write failed after the SDK's retries; it never rejects. It throws synchronously only
   * for a programming error: an unknown type or a `detail` that JSON cannot hold.
   */
  write(type: AuditRecordType, fields: AuditRecordFields = {}): Promise<AuditRecord> {
    if (!isAuditRecordType(type)) throw new Error(`Unknown audit record type ${JSON.stringify(type)}`);
    const seq = this.entries.length + 1;
    const record: AuditRecord = {
      schemaVersion: AUDIT_SCHEMA_VERSION,
      incidentId: this.incidentId,
      chainId: this.chainId,
      seq,
      type,
      time: this.options.clock().toISOString(),
      actor: fields.actor ?? this.options.actor,
      ...(fields.agentId !== undefined && { agentId: fields.agentId }),
      ...(fields.accountId !== undefined && { accountId: fields.accountId }),
      ...(fields.region !== undefined && { region: fields.region }),
      ...(fields.surface !== undefined && { surface: fields.surface }),
      ...(fields.mode !== undefined && { mode: fields.mode }),
      ...(fields.reason !== undefined && { reason: fields.reason }),
      detail: fields.detail ?? {},
      prevHash: this.lastHash,
    };
    const body = canonicalJson(record);
    const entry: ChainEntry = {
      // What was written, detached from objects the caller may still change.
      record: JSON.parse(body) as AuditRecord,
      key: auditRecordKey(this.incidentId, this.chainId, seq, type),
      body,
      sha256: sha256Hex(body),
      state: 'in-flight',
      attempts: 0,
    };
    this.lastHash = entry.sha256;
    this.entries.push(entry);
    const delivery = this.deliver(entry).then(() => entry.record);
    this.inflight.add(delivery);
    void delivery.finally(() => this.inflight.delete(delivery));
    return delivery;
  }

  /**
   * Waits for writes in flight, retries pending records (bounded by `flushAttempts`), then hands
   * what still fails to `onUndeliverable`. Never rejects.
   */
  async flush(): Promise<AuditFlushResult> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
    const rounds = this.options.flushAttempts ?? 2;
    const delay = this.options.retryDelayMs ?? 250;
    const sleep = this.options.sleep ?? defaultSleep;
    for (let round = 1; round <= rounds; round++) {
      const retry = this.entries.filter((e) => e.state === 'pending');
      if (retry.length === 0) break;
      await sleep(delay * round);
      await mapLimit(retry, 8, (e) => this.deliver(e));
    }
    const still = this.entries.filter((e) => e.state === 'pending');
    let handedOff = 0;
    let fallbackError: ErrorSummary | undefined;
    if (still.length > 0 && this.options.onUndeliverable) {
      try {
        await this.options.onUndeliverable(still.map((e) => this.toPending(e)));
        for (const e of still) e.state = 'handed-off';
        handedOff = still.length;
      } catch (err) {
        fallbackError = describeError(err);
      }
    }
    const written = this.entries.filter((e) => e.state === 'written').length;
    return {
      written,
      undelivered: this.entries.length - written,
      handedOff,
      ...(fallbackError && { fallbackError }),
    };
  }

  private async deliver(entry: ChainEntry): Promise<void> {
    entry.attempts += 1;
    try {
      await putImmutableObject({
        s3: this.options.s3,
        bucket: this.options.bucket,
        kmsKeyArn: this.options.kmsKeyArn,
        key: entry.key,
        body: entry.body,
      });
      entry.state = 'written';
      entry.error = undefined;
    } catch (err) {
      entry.state = 'pending';
      entry.error = describeError(err);
    }
  }

  private toPending(entry: ChainEntry): PendingAuditRecord {
    return {
      key: entry.key,
      incidentId: entry.record.incidentId,
      chainId: entry.record.chainId,
      seq: entry.record.seq,
      type: entry.record.type,
      body: entry.body,
      sha256: entry.sha256,
      error: entry.error ?? { name: 'Unknown', message: 'not delivered' },
      attempts: entry.attempts,
    };
  }
}

/**
 * The `onUndeliverable` callback that stores undelivered records in the state table, grouped by
 * incident, for the manifest writer to retry at the end of the incident.
 */
export function stateStoreFallback(
  store: PendingAuditSink,
): (records: PendingAuditRecord[]) => Promise<void> {
  return async (records) => {
    const byIncident = new Map<string, PendingAuditRecord[]>();
    for (const r of records) byIncident.set(r.incidentId, [...(byIncident.get(r.incidentId) ?? []), r]);
    for (const [incidentId, group] of byIncident) await store.addPendingAudit(incidentId, group);
  };
}

export interface PendingDelivery {
  readonly delivered: PendingAuditRecord[];
  readonly failed: PendingAuditRecord[];
}

/** Retries stored pending records (exact bytes, same keys); a 412 with identical bytes counts as delivered. */
export async function deliverPendingRecords(
  target: { readonly s3: S3Client; readonly bucket: string; readonly kmsKeyArn: string },
  records: readonly PendingAuditRecord[],
): Promise<PendingDelivery> {
  const outcomes = await mapLimit(records, 8, async (record) => {
    try {
      await putImmutableObject({
        s3: target.s3,
        bucket: target.bucket,
        kmsKeyArn: target.kmsKeyArn,
        key: record.key,
        body: record.body,
      });
      return { record, ok: true as const };
    } catch (err) {
      return {
        record: { ...record, attempts: record.attempts + 1, error: describeError(err) },
        ok: false as const,
      };
    }
  });
  return {
    delivered: outcomes.filter((o) => o.ok).map((o) => o.record),
    failed: outcomes.filter((o) => !o.ok).map((o) => o.record),
  };
}
