/**
 * Where `audit verify` and `audit export` read the audit log from: the bucket itself
 * ({@link S3AuditSource}), or an exported evidence bundle (lib/cli/audit-bundle.ts, offline). Both
 * answer every version of every object, delete markers included, so the verifier sees what a
 * reader of current versions would miss: a second version written over a record, a delete marker
 * hiding one.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  GetObjectRetentionCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { readBody } from './audit';
import { MANIFEST_SIGNING_ALGORITHM } from './manifest';
import { publicKeyObjectKey } from './naming';

/** One version of an object (or a delete marker), as ListObjectVersions reports it. */
export interface ObjectVersionInfo {
  readonly key: string;
  readonly versionId: string;
  readonly isLatest: boolean;
  readonly deleteMarker: boolean;
  readonly lastModified?: Date;
}

/** One version's bytes and its lock, as GetObject (and GetObjectRetention) report them. */
export interface ObjectVersionContent {
  readonly bytes: Uint8Array;
  readonly lastModified?: Date;
  readonly lockMode?: string;
  readonly retainUntil?: Date;
  /** `ON` while a legal hold is placed. */
  readonly legalHold?: string;
}

/** A public key and where it came from, for the report. */
export interface PublicKeySource {
  readonly key: KeyObject;
  /** e.g. `s3://bucket/public-keys/<id>.pem`, `bundle public-keys/<id>.pem`, `KMS GetPublicKey`, `--public-key <file>`. */
  readonly from: string;
}

export interface AuditSource {
  /** What is read, for the report: `s3://<bucket>` or `bundle <path>`. */
  readonly description: string;
  /** The bucket the objects are (or were, for a bundle) in. */
  readonly bucket: string;
  /** True when reading makes no AWS call at all. */
  readonly offline: boolean;
  /**
   * Every version of every object under the prefix, grouped by key in key order, each key's
   * versions newest first (as S3 lists them); delete markers included.
   */
  listVersions(prefix: string): Promise<ObjectVersionInfo[]>;
  readVersion(key: string, versionId: string): Promise<ObjectVersionContent>;
  /** The public key of a signing key, or undefined when this source has none for it. */
  publicKey(signingKeyArn: string): Promise<PublicKeySource | undefined>;
}

/** A public key from PEM text or DER SubjectPublicKeyInfo. */
export function toPublicKey(material: string | Uint8Array): KeyObject {
  if (typeof material === 'string') return createPublicKey(material);
  return createPublicKey({ key: Buffer.from(material), format: 'der', type: 'spki' });
}

/** SHA-256 (hex) of a public key's DER SubjectPublicKeyInfo: what a reviewer compares out of band. */
export function publicKeyFingerprint(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('hex');
}

export interface S3AuditSourceOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /**
   * Asked for `GetPublicKey` when the bucket holds no published key (`public-keys/<id>.pem`).
   * @default - none: such a signing key has no public key here
   */
  readonly kms?: KMSClient;
}

/** The live bucket. */
export class S3AuditSource implements AuditSource {
  readonly description: string;
  readonly bucket: string;
  readonly offline = false;

  constructor(private readonly options: S3AuditSourceOptions) {
    this.bucket = options.bucket;
    this.description = `s3://${options.bucket}`;
  }

  async listVersions(prefix: string): Promise<ObjectVersionInfo[]> {
    const { s3, bucket } = this.options;
    const out: ObjectVersionInfo[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectVersionsCommand({
          Bucket: bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
        }),
      );
      const entries: ObjectVersionInfo[] = [
        ...(page.Versions ?? []).map((v) => ({
          key: v.Key as string,
          versionId: v.VersionId ?? 'null',
          isLatest: v.IsLatest === true,
          deleteMarker: false,
          ...(v.LastModified && { lastModified: new Date(v.LastModified) }),
        })),
        ...(page.DeleteMarkers ?? []).map((m) => ({
          key: m.Key as string,
          versionId: m.VersionId ?? 'null',
          isLatest: m.IsLatest === true,
          deleteMarker: true,
          ...(m.LastModified && { lastModified: new Date(m.LastModified) }),
        })),
      ];
      out.push(...entries.filter((e) => e.key));
      const truncated = page.IsTruncated === true;
      keyMarker = truncated ? page.NextKeyMarker : undefined;
      versionIdMarker = truncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    return groupVersions(out);
  }

  async readVersion(key: string, versionId: string): Promise<ObjectVersionContent> {
    const { s3, bucket } = this.options;
    const VersionId = versionId === 'null' ? undefined : versionId;
    const out: GetObjectCommandOutput = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, VersionId }),
    );
    const bytes = await readBody(out.Body);
    let lockMode: string | undefined = out.ObjectLockMode;
    let retainUntil = out.ObjectLockRetainUntilDate;
    if (!lockMode) {
      // GetObject omits the lock headers without s3:GetObjectRetention; ask for the retention itself.
      try {
        const retention = await s3.send(
          new GetObjectRetentionCommand({ Bucket: bucket, Key: key, VersionId }),
        );
        lockMode = retention.Retention?.Mode;
        retainUntil = retention.Retention?.RetainUntilDate;
      } catch (err) {
        if ((err as Error)?.name !== 'NoSuchObjectLockConfiguration') throw err;
      }
    }
    return {
      bytes,
      ...(out.LastModified && { lastModified: new Date(out.LastModified) }),
      ...(lockMode && { lockMode }),
      ...(retainUntil && { retainUntil: new Date(retainUntil) }),
      ...(out.ObjectLockLegalHoldStatus && { legalHold: out.ObjectLockLegalHoldStatus }),
    };
  }

  /** The key published in the bucket at deploy time, else (with a KMS client) KMS GetPublicKey. */
  async publicKey(signingKeyArn: string): Promise<PublicKeySource | undefined> {
    const { s3, bucket } = this.options;
    const key = publicKeyObjectKey(signingKeyArn);
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const pem = Buffer.from(await readBody(out.Body)).toString('utf8');
      return { key: toPublicKey(pem), from: `s3://${bucket}/${key}` };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e?.name !== 'NoSuchKey' && e?.$metadata?.httpStatusCode !== 404) throw err;
    }
    if (!this.options.kms) return undefined;
    const out = await this.options.kms.send(new GetPublicKeyCommand({ KeyId: signingKeyArn }));
    if (out.KeyUsage !== 'SIGN_VERIFY' || !out.SigningAlgorithms?.includes(MANIFEST_SIGNING_ALGORITHM)) {
      throw new Error(`${signingKeyArn} is not a ${MANIFEST_SIGNING_ALGORITHM} signing key`);
    }
    if (!out.PublicKey) throw new Error('KMS returned no public key');
    return { key: toPublicKey(out.PublicKey), from: 'KMS GetPublicKey (not published in the bucket)' };
  }
}

/** Groups versions by key (keys in order), keeping each key's versions in the order given. */
export function groupVersions(versions: readonly ObjectVersionInfo[]): ObjectVersionInfo[] {
  const byKey = new Map<string, ObjectVersionInfo[]>();
  for (const v of versions) byKey.set(v.key, [...(byKey.get(v.key) ?? []), v]);
  return [...byKey.keys()].sort().flatMap((key) => orderNewestFirst(byKey.get(key) ?? []));
}

/**
 * One key's versions newest first. S3 lists versions and delete markers in two arrays, each
 * newest first; they are merged by LastModified, and ties keep the order they came in.
 */
function orderNewestFirst(versions: readonly ObjectVersionInfo[]): ObjectVersionInfo[] {
  const latest = versions.filter((v) => v.isLatest);
  const rest = versions.filter((v) => !v.isLatest);
  const time = (v: ObjectVersionInfo) => v.lastModified?.getTime() ?? 0;
  const sorted = rest
    .map((v, i) => ({ v, i }))
    .sort((a, b) => time(b.v) - time(a.v) || a.i - b.i)
    .map(({ v }) => v);
  return [...latest, ...sorted];
}
