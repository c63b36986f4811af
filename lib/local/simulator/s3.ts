/**
 * S3: buckets (global names, owned by one account) with versioning, Object Lock (default
 * retention applied to every new version), bucket policies, and objects.
 *
 * What the audit log depends on behaves as in AWS:
 * - PutObject to an Object Lock bucket needs a checksum (`x-amz-checksum-*`, which the SDK
 *   computes into a header, not the input) or Content-MD5 (`InvalidRequest`); the checksum is
 *   verified against the body (`BadDigest`) and stored.
 * - `IfNoneMatch: '*'` on an existing key answers 412 `PreconditionFailed`.
 * - Deleting a locked version answers `AccessDenied`; COMPLIANCE retention can be neither
 *   shortened nor removed, GOVERNANCE only with BypassGovernanceRetention. A legal hold
 *   (PutObjectLegalHold, per version, needs an integrity header) locks a version until removed;
 *   GetObjectLegalHold answers `NoSuchObjectLockConfiguration` for a version that never had one.
 * - A bucket policy's Deny statements are enforced for writes (`s3:PutObject`, with the
 *   `s3:x-amz-server-side-encryption` and `s3:x-amz-server-side-encryption-aws-kms-key-id` keys
 *   taken from the request's headers, as S3 does: a bucket's default encryption does not fill
 *   them; and `s3:if-none-match`, `s3:if-match`, `s3:object-lock-legal-hold` from the
 *   conditional and lock headers), object deletion (`s3:DeleteObject`, `s3:DeleteObjectVersion`),
 *   retention changes (`s3:PutObjectRetention`, `s3:BypassGovernanceRetention`) and legal holds
 *   (`s3:PutObjectLegalHold`, with `s3:object-lock-legal-hold`); a condition it cannot evaluate
 *   makes the statement apply (fail closed). Bucket policies are not evaluated for other actions,
 *   and there is no cross-account access: only the owning account reaches a bucket.
 * - Objects sent without encryption headers get the bucket's default encryption
 *   (PutBucketEncryption), SSE-S3 when none is set.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import type {
  CreateBucketCommandInput,
  CreateBucketCommandOutput,
  DeleteObjectCommandInput,
  DeleteObjectCommandOutput,
  GetBucketEncryptionCommandInput,
  GetBucketEncryptionCommandOutput,
  GetBucketPolicyCommandInput,
  GetBucketPolicyCommandOutput,
  GetBucketVersioningCommandInput,
  GetBucketVersioningCommandOutput,
  GetObjectCommandInput,
  GetObjectCommandOutput,
  GetObjectLegalHoldCommandInput,
  GetObjectLegalHoldCommandOutput,
  GetObjectLockConfigurationCommandInput,
  GetObjectLockConfigurationCommandOutput,
  GetObjectRetentionCommandInput,
  GetObjectRetentionCommandOutput,
  HeadObjectCommandInput,
  HeadObjectCommandOutput,
  ListObjectsV2CommandInput,
  ListObjectsV2CommandOutput,
  ListObjectVersionsCommandInput,
  ListObjectVersionsCommandOutput,
  ObjectLockRetentionMode,
  PutBucketEncryptionCommandInput,
  PutBucketEncryptionCommandOutput,
  PutBucketPolicyCommandInput,
  PutBucketPolicyCommandOutput,
  PutBucketVersioningCommandInput,
  PutBucketVersioningCommandOutput,
  PutObjectCommandInput,
  PutObjectCommandOutput,
  PutObjectLegalHoldCommandInput,
  PutObjectLegalHoldCommandOutput,
  PutObjectLockConfigurationCommandInput,
  PutObjectLockConfigurationCommandOutput,
  PutObjectRetentionCommandInput,
  PutObjectRetentionCommandOutput,
} from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { paginate, sortedBy } from './pagination';
import {
  explicitlyDenied,
  MalformedPolicyError,
  type PolicyDocument,
  parsePolicy,
  UnsupportedPolicyError,
} from './policy';
import { type CallContext, compact, partitionOf, type TaggedResource } from './world';

type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

interface Retention {
  readonly Mode: ObjectLockRetentionMode;
  readonly RetainUntilDate: Date;
}

interface Version {
  readonly VersionId: string;
  readonly deleteMarker: boolean;
  readonly LastModified: Date;
  readonly body: Buffer;
  readonly ETag: string;
  readonly ContentType?: string;
  readonly Metadata: Record<string, string>;
  readonly checksum?: { algorithm: ChecksumAlgorithm; value: string };
  readonly sse: {
    ServerSideEncryption: 'AES256' | 'aws:kms';
    SSEKMSKeyId?: string;
    BucketKeyEnabled?: boolean;
  };
  retention?: Retention;
  /** Undefined until a legal hold is first set on the version (PutObject or PutObjectLegalHold). */
  legalHold?: 'ON' | 'OFF';
}

interface Bucket {
  readonly Name: string;
  readonly owner: string;
  readonly region: string;
  readonly created: Date;
  versioning?: 'Enabled' | 'Suspended';
  objectLock: boolean;
  lockRule?: { Mode: ObjectLockRetentionMode; Days?: number; Years?: number };
  policy?: { text: string; doc: PolicyDocument };
  encryption?: {
    ServerSideEncryption: 'AES256' | 'aws:kms';
    KMSMasterKeyID?: string;
    BucketKeyEnabled: boolean;
  };
  readonly tags: Map<string, string>;
  /** Versions of each key, newest first. */
  readonly objects: Map<string, Version[]>;
}

const BUCKET_NAME = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function uint32Base64(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b.toString('base64');
}

/** The checksum S3 computes for a body, or undefined for an algorithm it does not verify here. */
function computeChecksum(algorithm: ChecksumAlgorithm, body: Buffer): string | undefined {
  switch (algorithm) {
    case 'SHA256':
      return createHash('sha256').update(body).digest('base64');
    case 'SHA1':
      return createHash('sha1').update(body).digest('base64');
    case 'CRC32':
      return uint32Base64(crc32(body));
    case 'CRC32C':
      return uint32Base64(crc32c(body));
    case 'CRC64NVME':
      return undefined;
  }
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (typeof (body as Blob).arrayBuffer === 'function')
    return Buffer.from(await (body as Blob).arrayBuffer());
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }
  throw new SimError('InvalidArgument', 'Body must be a string, bytes, a Blob or a readable stream', 400);
}

function accessDenied(message = 'Access Denied'): SimError {
  return new SimError('AccessDenied', message, 403);
}

export class S3Service {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly core: SimCore) {}

  private bucket(ctx: CallContext, name: string | undefined): Bucket {
    if (!name) throw new SimError('InvalidArgument', 'Bucket is required', 400);
    const bucket = this.buckets.get(name);
    if (!bucket) {
      throw new SimError('NoSuchBucket', 'The specified bucket does not exist', 404, { BucketName: name });
    }
    if (bucket.owner !== ctx.accountId) throw accessDenied();
    return bucket;
  }

  private versionId(bucket: Bucket): string {
    return bucket.versioning === 'Enabled' ? this.core.ids.secret(32).replace(/[+/]/g, '_') : 'null';
  }

  private current(bucket: Bucket, key: string): Version | undefined {
    return bucket.objects.get(key)?.[0];
  }

  /** The version a read addresses: the given version id, or the current one. */
  private version(
    bucket: Bucket,
    key: string | undefined,
    versionId: string | undefined,
    head: boolean,
  ): Version {
    if (!key) throw new SimError('InvalidArgument', 'Key is required', 400);
    const versions = bucket.objects.get(key) ?? [];
    if (versionId !== undefined) {
      const v = versions.find((x) => x.VersionId === versionId);
      if (!v) {
        if (head) throw new SimError('NotFound', 'Not Found', 404);
        throw new SimError('NoSuchVersion', 'The specified version does not exist.', 404, {
          Key: key,
          VersionId: versionId,
        });
      }
      if (v.deleteMarker) {
        throw new SimError(
          'MethodNotAllowed',
          'The specified method is not allowed against this resource.',
          405,
        );
      }
      return v;
    }
    const v = versions[0];
    if (!v || v.deleteMarker) {
      if (head) throw new SimError('NotFound', 'Not Found', 404);
      throw new SimError('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });
    }
    return v;
  }

  /** Refuses the action when a Deny statement of the bucket policy applies (or cannot be evaluated). */
  private checkPolicy(
    ctx: CallContext,
    bucket: Bucket,
    action: string,
    key: string,
    keys: Readonly<Record<string, string | undefined>> = {},
  ): void {
    if (!bucket.policy) return;
    const facts = {
      principal: ctx.caller,
      resource: `arn:${ctx.partition}:s3:::${bucket.Name}/${key}`,
      keys,
    };
    try {
      if (explicitlyDenied(bucket.policy.doc, action, facts)) throw accessDenied();
    } catch (e) {
      if (e instanceof UnsupportedPolicyError) {
        throw accessDenied(
          `Access Denied (the simulator cannot evaluate the bucket policy for ${action}: ${e.message})`,
        );
      }
      throw e;
    }
  }

  private locked(v: Version, now: Date, bypassGovernance: boolean): boolean {
    if (v.legalHold === 'ON') return true;
    if (!v.retention || v.retention.RetainUntilDate.getTime() <= now.getTime()) return false;
    return v.retention.Mode === 'COMPLIANCE' || !bypassGovernance;
  }

  private objectOutput(v: Version, checksumMode: string | undefined) {
    const checksum =
      checksumMode === 'ENABLED' && v.checksum
        ? { [`Checksum${v.checksum.algorithm}`]: v.checksum.value }
        : {};
    return compact({
      AcceptRanges: 'bytes',
      LastModified: new Date(v.LastModified),
      ContentLength: v.body.length,
      ETag: v.ETag,
      VersionId: v.VersionId === 'null' ? undefined : v.VersionId,
      ContentType: v.ContentType ?? 'application/octet-stream',
      ServerSideEncryption: v.sse.ServerSideEncryption,
      SSEKMSKeyId: v.sse.SSEKMSKeyId,
      BucketKeyEnabled: v.sse.BucketKeyEnabled,
      Metadata: { ...v.Metadata },
      ObjectLockMode: v.retention?.Mode,
      ObjectLockRetainUntilDate: v.retention ? new Date(v.retention.RetainUntilDate) : undefined,
      ObjectLockLegalHoldStatus: v.legalHold,
      ChecksumType: checksumMode === 'ENABLED' && v.checksum ? ('FULL_OBJECT' as const) : undefined,
      ...checksum,
    });
  }

  // ---- AWS actions: buckets ----

  CreateBucket(input: CreateBucketCommandInput, ctx: CallContext): Out<CreateBucketCommandOutput> {
    const name = input.Bucket;
    if (!name || !BUCKET_NAME.test(name)) {
      throw new SimError('InvalidBucketName', 'The specified bucket is not valid.', 400, {
        BucketName: name,
      });
    }
    const existing = this.buckets.get(name);
    if (existing) {
      if (existing.owner === ctx.accountId) {
        throw new SimError(
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          409,
          { BucketName: name },
        );
      }
      throw new SimError('BucketAlreadyExists', 'The requested bucket name is not available.', 409, {
        BucketName: name,
      });
    }
    const lock = input.ObjectLockEnabledForBucket === true;
    this.buckets.set(name, {
      Name: name,
      owner: ctx.accountId,
      region: ctx.region,
      created: ctx.now,
      versioning: lock ? 'Enabled' : undefined,
      objectLock: lock,
      tags: new Map(),
      objects: new Map(),
    });
    return { Location: ctx.region === 'us-east-1' ? `/${name}` : `http://${name}.s3.amazonaws.com/` };
  }

  PutBucketVersioning(
    input: PutBucketVersioningCommandInput,
    ctx: CallContext,
  ): Out<PutBucketVersioningCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const status = input.VersioningConfiguration?.Status;
    if (status !== 'Enabled' && status !== 'Suspended')
      throw new SimError(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
        400,
      );
    if (bucket.objectLock && status === 'Suspended') {
      throw new SimError(
        'InvalidBucketState',
        'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
        409,
      );
    }
    bucket.versioning = status;
    return {};
  }

  GetBucketVersioning(
    input: GetBucketVersioningCommandInput,
    ctx: CallContext,
  ): Out<GetBucketVersioningCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    return compact({ Status: bucket.versioning });
  }

  PutObjectLockConfiguration(
    input: PutObjectLockConfigurationCommandInput,
    ctx: CallContext,
  ): Out<PutObjectLockConfigurationCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const config = input.ObjectLockConfiguration;
    if (config?.ObjectLockEnabled !== 'Enabled') {
      throw new SimError('MalformedXML', 'ObjectLockEnabled must be Enabled', 400);
    }
    if (!bucket.objectLock && bucket.versioning !== 'Enabled') {
      throw new SimError(
        'InvalidBucketState',
        "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
        409,
      );
    }
    const retention = config.Rule?.DefaultRetention;
    if (retention) {
      const hasDays = (retention.Days ?? 0) > 0;
      const hasYears = (retention.Years ?? 0) > 0;
      if (!retention.Mode || hasDays === hasYears) {
        throw new SimError(
          'MalformedXML',
          'DefaultRetention needs a Mode and exactly one of Days or Years',
          400,
        );
      }
      bucket.lockRule = {
        Mode: retention.Mode,
        Days: hasDays ? retention.Days : undefined,
        Years: hasYears ? retention.Years : undefined,
      };
    } else {
      bucket.lockRule = undefined;
    }
    bucket.objectLock = true;
    return {};
  }

  GetObjectLockConfiguration(
    input: GetObjectLockConfigurationCommandInput,
    ctx: CallContext,
  ): Out<GetObjectLockConfigurationCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    if (!bucket.objectLock) {
      throw new SimError(
        'ObjectLockConfigurationNotFoundError',
        'Object Lock configuration does not exist for this bucket',
        404,
        {
          BucketName: bucket.Name,
        },
      );
    }
    return {
      ObjectLockConfiguration: compact({
        ObjectLockEnabled: 'Enabled' as const,
        // As recorded (fixtures/aws-recorded/test_s3_bucket_object_lock_configuration): both
        // periods are present, the unused one 0.
        Rule: bucket.lockRule
          ? {
              DefaultRetention: {
                Mode: bucket.lockRule.Mode,
                Days: bucket.lockRule.Days ?? 0,
                Years: bucket.lockRule.Years ?? 0,
              },
            }
          : undefined,
      }),
    };
  }

  PutBucketPolicy(input: PutBucketPolicyCommandInput, ctx: CallContext): Out<PutBucketPolicyCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    if (!input.Policy)
      throw new SimError(
        'MalformedPolicy',
        "Policies must be valid JSON and the first byte must be '{'",
        400,
      );
    try {
      bucket.policy = { text: input.Policy, doc: parsePolicy(input.Policy, 'resource') };
    } catch (e) {
      if (e instanceof MalformedPolicyError) throw new SimError('MalformedPolicy', e.message, 400);
      throw e;
    }
    return {};
  }

  GetBucketPolicy(input: GetBucketPolicyCommandInput, ctx: CallContext): Out<GetBucketPolicyCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    if (!bucket.policy)
      throw new SimError('NoSuchBucketPolicy', 'The bucket policy does not exist', 404, {
        BucketName: bucket.Name,
      });
    return { Policy: bucket.policy.text };
  }

  PutBucketEncryption(
    input: PutBucketEncryptionCommandInput,
    ctx: CallContext,
  ): Out<PutBucketEncryptionCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const rule = input.ServerSideEncryptionConfiguration?.Rules?.[0];
    const by = rule?.ApplyServerSideEncryptionByDefault;
    if (!by?.SSEAlgorithm)
      throw new SimError(
        'MalformedXML',
        'ServerSideEncryptionConfiguration needs one rule with ApplyServerSideEncryptionByDefault',
        400,
      );
    if (by.SSEAlgorithm !== 'AES256' && by.SSEAlgorithm !== 'aws:kms') {
      throw new SimError('InvalidArgument', `SSEAlgorithm ${by.SSEAlgorithm} is not modelled`, 400);
    }
    let keyArn: string | undefined;
    if (by.KMSMasterKeyID) {
      keyArn = this.core.services.kms.resolveKeyArn(ctx, by.KMSMasterKeyID);
      if (!keyArn) throw new SimError('InvalidArgument', `KMS key ${by.KMSMasterKeyID} does not exist`, 400);
    }
    bucket.encryption = {
      ServerSideEncryption: by.SSEAlgorithm,
      KMSMasterKeyID: keyArn,
      BucketKeyEnabled: rule?.BucketKeyEnabled ?? false,
    };
    return {};
  }

  GetBucketEncryption(
    input: GetBucketEncryptionCommandInput,
    ctx: CallContext,
  ): Out<GetBucketEncryptionCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const e = bucket.encryption ?? { ServerSideEncryption: 'AES256' as const, BucketKeyEnabled: false };
    return {
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: compact({
              SSEAlgorithm: e.ServerSideEncryption,
              KMSMasterKeyID: e.KMSMasterKeyID,
            }),
            BucketKeyEnabled: e.BucketKeyEnabled,
          },
        ],
      },
    };
  }

  // ---- AWS actions: objects ----

  async PutObject(input: PutObjectCommandInput, ctx: CallContext): Promise<Out<PutObjectCommandOutput>> {
    const bucket = this.bucket(ctx, input.Bucket);
    const key = input.Key;
    if (!key) throw new SimError('InvalidArgument', 'Key is required', 400);
    if (Buffer.byteLength(key) > 1024) throw new SimError('KeyTooLongError', 'Your key is too long', 400);
    this.checkPolicy(ctx, bucket, 's3:PutObject', key, {
      's3:x-amz-server-side-encryption': input.ServerSideEncryption,
      's3:x-amz-server-side-encryption-aws-kms-key-id': input.SSEKMSKeyId,
      's3:if-none-match': input.IfNoneMatch,
      's3:if-match': input.IfMatch,
      's3:object-lock-legal-hold': input.ObjectLockLegalHoldStatus,
    });
    const body = await bodyBytes(input.Body);

    const checksum = this.checksumOf(ctx, input, body);
    const md5 = createHash('md5').update(body).digest();
    const contentMd5 = ctx.headers['content-md5'] ?? input.ContentMD5;
    if (contentMd5 !== undefined && contentMd5 !== md5.toString('base64')) {
      throw new SimError('BadDigest', 'The Content-MD5 you specified did not match what we received.', 400);
    }

    if ((input.ObjectLockMode === undefined) !== (input.ObjectLockRetainUntilDate === undefined)) {
      throw new SimError(
        'InvalidArgument',
        'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
        400,
      );
    }
    const explicitLock = input.ObjectLockMode !== undefined || input.ObjectLockLegalHoldStatus !== undefined;
    if (explicitLock && !bucket.objectLock) {
      throw new SimError('InvalidRequest', 'Bucket is missing Object Lock Configuration', 400);
    }
    let retention: Retention | undefined;
    if (input.ObjectLockMode && input.ObjectLockRetainUntilDate) {
      const until = new Date(input.ObjectLockRetainUntilDate);
      if (until.getTime() <= ctx.now.getTime()) {
        throw new SimError('InvalidArgument', 'The retain until date must be in the future!', 400);
      }
      retention = { Mode: input.ObjectLockMode, RetainUntilDate: until };
    } else if (bucket.lockRule) {
      const until = new Date(ctx.now);
      if (bucket.lockRule.Days) until.setUTCDate(until.getUTCDate() + bucket.lockRule.Days);
      if (bucket.lockRule.Years) until.setUTCFullYear(until.getUTCFullYear() + bucket.lockRule.Years);
      retention = { Mode: bucket.lockRule.Mode, RetainUntilDate: until };
    }
    if ((retention || input.ObjectLockLegalHoldStatus === 'ON') && !checksum && contentMd5 === undefined) {
      throw new SimError(
        'InvalidRequest',
        'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
        400,
      );
    }

    const existing = this.current(bucket, key);
    const live = existing && !existing.deleteMarker ? existing : undefined;
    const ifNoneMatch = input.IfNoneMatch;
    if (ifNoneMatch !== undefined && live && (ifNoneMatch === '*' || ifNoneMatch === live.ETag)) {
      throw new SimError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        412,
        {
          Condition: 'If-None-Match',
        },
      );
    }
    if (input.IfMatch !== undefined) {
      if (!live) throw new SimError('NoSuchKey', 'The specified key does not exist.', 404, { Key: key });
      if (input.IfMatch !== live.ETag && input.IfMatch !== '*') {
        throw new SimError(
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          412,
          {
            Condition: 'If-Match',
          },
        );
      }
    }

    const sse = this.encryptionOf(ctx, bucket, input);
    const version: Version = {
      VersionId: this.versionId(bucket),
      deleteMarker: false,
      LastModified: ctx.now,
      body,
      ETag: `"${md5.toString('hex')}"`,
      ContentType: input.ContentType,
      Metadata: { ...(input.Metadata ?? {}) },
      checksum,
      sse,
      retention,
      legalHold: input.ObjectLockLegalHoldStatus,
    };
    const versions = bucket.objects.get(key) ?? [];
    const kept = bucket.versioning === 'Enabled' ? versions : versions.filter((v) => v.VersionId !== 'null');
    bucket.objects.set(key, [version, ...kept]);
    return compact({
      ETag: version.ETag,
      VersionId: version.VersionId === 'null' ? undefined : version.VersionId,
      ServerSideEncryption: sse.ServerSideEncryption,
      SSEKMSKeyId: sse.SSEKMSKeyId,
      BucketKeyEnabled: sse.BucketKeyEnabled,
      ...(checksum
        ? { [`Checksum${checksum.algorithm}`]: checksum.value, ChecksumType: 'FULL_OBJECT' as const }
        : {}),
    });
  }

  /** The encryption of a new object: the request's headers, else the bucket default, else SSE-S3. */
  private encryptionOf(ctx: CallContext, bucket: Bucket, input: PutObjectCommandInput): Version['sse'] {
    const kms = this.core.services.kms;
    if (input.ServerSideEncryption === 'aws:kms' || input.SSEKMSKeyId) {
      if (input.SSEKMSKeyId) {
        const arn = kms.resolveKeyArn(ctx, input.SSEKMSKeyId);
        if (!arn) throw new SimError('KMS.NotFoundException', `Invalid keyId ${input.SSEKMSKeyId}`, 400);
        return {
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: arn,
          BucketKeyEnabled: input.BucketKeyEnabled,
        };
      }
      return {
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: `arn:${ctx.partition}:kms:${ctx.region}:${ctx.accountId}:alias/aws/s3`,
        BucketKeyEnabled: input.BucketKeyEnabled,
      };
    }
    if (input.ServerSideEncryption !== undefined && input.ServerSideEncryption !== 'AES256') {
      throw new SimError(
        'InvalidArgument',
        `Server side encryption ${input.ServerSideEncryption} is not modelled`,
        400,
      );
    }
    const byDefault = bucket.encryption;
    if (input.ServerSideEncryption === undefined && byDefault?.ServerSideEncryption === 'aws:kms') {
      return {
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId:
          byDefault.KMSMasterKeyID ?? `arn:${ctx.partition}:kms:${ctx.region}:${ctx.accountId}:alias/aws/s3`,
        BucketKeyEnabled: byDefault.BucketKeyEnabled,
      };
    }
    return { ServerSideEncryption: 'AES256' };
  }

  /** The checksum the request carries (header, trailer or input), verified against the body. */
  private checksumOf(ctx: CallContext, input: PutObjectCommandInput, body: Buffer): Version['checksum'] {
    const inputValues: Record<ChecksumAlgorithm, string | undefined> = {
      CRC32: input.ChecksumCRC32,
      CRC32C: input.ChecksumCRC32C,
      CRC64NVME: input.ChecksumCRC64NVME,
      SHA1: input.ChecksumSHA1,
      SHA256: input.ChecksumSHA256,
    };
    const trailer = (ctx.headers['x-amz-trailer'] ?? '').toLowerCase();
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const header = `x-amz-checksum-${algorithm.toLowerCase()}`;
      const given = ctx.headers[header] ?? inputValues[algorithm];
      const inTrailer = trailer === header;
      if (given === undefined && !inTrailer) continue;
      const computed = computeChecksum(algorithm, body);
      if (given !== undefined && computed !== undefined && given !== computed) {
        throw new SimError(
          'BadDigest',
          `The ${algorithm} you specified did not match the calculated checksum.`,
          400,
        );
      }
      const value = computed ?? given;
      if (value === undefined) continue;
      return { algorithm, value };
    }
    return undefined;
  }

  GetObject(input: GetObjectCommandInput, ctx: CallContext): Out<GetObjectCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const v = this.version(bucket, input.Key, input.VersionId, false);
    if (input.IfMatch !== undefined && input.IfMatch !== v.ETag) {
      throw new SimError(
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        412,
      );
    }
    return {
      ...this.objectOutput(v, input.ChecksumMode),
      Body: sdkStreamMixin(Readable.from([Buffer.from(v.body)])),
    };
  }

  HeadObject(input: HeadObjectCommandInput, ctx: CallContext): Out<HeadObjectCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const v = this.version(bucket, input.Key, input.VersionId, true);
    return this.objectOutput(v, input.ChecksumMode);
  }

  ListObjectsV2(input: ListObjectsV2CommandInput, ctx: CallContext): Out<ListObjectsV2CommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const prefix = input.Prefix ?? '';
    const delimiter = input.Delimiter;
    const entries = new Map<string, { key: string; version?: Version }>();
    for (const [key, versions] of bucket.objects) {
      const v = versions[0];
      if (!v || v.deleteMarker || !key.startsWith(prefix)) continue;
      if (input.StartAfter !== undefined && key <= input.StartAfter) continue;
      const rest = key.slice(prefix.length);
      const cut = delimiter ? rest.indexOf(delimiter) : -1;
      if (delimiter && cut >= 0) {
        const common = prefix + rest.slice(0, cut + delimiter.length);
        entries.set(common, { key: common });
      } else {
        entries.set(key, { key, version: v });
      }
    }
    const maxKeys = input.MaxKeys ?? 1000;
    const page =
      maxKeys === 0
        ? { items: [], next: undefined }
        : paginate(
            sortedBy(entries.values(), (e) => e.key),
            this.core.settings.pageSize,
            {
              token: input.ContinuationToken,
              requested: Math.min(maxKeys, 1000),
              awsDefault: 1000,
              max: 1000,
              keyOf: (e) => e.key,
              errorCode: 'InvalidArgument',
              sizeName: 'MaxKeys',
            },
          );
    const contents = page.items
      .filter((e) => e.version)
      .map((e) =>
        compact({
          Key: e.key,
          LastModified: new Date(e.version!.LastModified),
          ETag: e.version!.ETag,
          ChecksumAlgorithm: e.version!.checksum ? [e.version!.checksum.algorithm] : undefined,
          ChecksumType: e.version!.checksum ? ('FULL_OBJECT' as const) : undefined,
          Size: e.version!.body.length,
          StorageClass: 'STANDARD' as const,
        }),
      );
    const prefixes = page.items.filter((e) => !e.version).map((e) => ({ Prefix: e.key }));
    return compact({
      IsTruncated: page.next !== undefined,
      Contents: contents.length > 0 ? contents : undefined,
      Name: bucket.Name,
      Prefix: prefix,
      Delimiter: delimiter,
      MaxKeys: maxKeys,
      CommonPrefixes: prefixes.length > 0 ? prefixes : undefined,
      KeyCount: page.items.length,
      ContinuationToken: input.ContinuationToken,
      NextContinuationToken: page.next,
      StartAfter: input.StartAfter,
    });
  }

  ListObjectVersions(
    input: ListObjectVersionsCommandInput,
    ctx: CallContext,
  ): Out<ListObjectVersionsCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const prefix = input.Prefix ?? '';
    const all: { key: string; v: Version; latest: boolean; order: string }[] = [];
    for (const key of [...bucket.objects.keys()].sort()) {
      if (!key.startsWith(prefix)) continue;
      bucket.objects.get(key)!.forEach((v, i) => {
        all.push({ key, v, latest: i === 0, order: `${key}\u0000${String(i).padStart(8, '0')}` });
      });
    }
    let start = 0;
    if (input.KeyMarker !== undefined) {
      const marker = input.KeyMarker;
      if (input.VersionIdMarker !== undefined) {
        const at = all.findIndex((e) => e.key === marker && e.v.VersionId === input.VersionIdMarker);
        start = at >= 0 ? at + 1 : all.findIndex((e) => e.key > marker);
      } else {
        start = all.findIndex((e) => e.key > marker);
      }
      if (start < 0) start = all.length;
    }
    const maxKeys = input.MaxKeys ?? 1000;
    const cap =
      this.core.settings.pageSize === 'aws' ? maxKeys : Math.min(maxKeys, this.core.settings.pageSize);
    const page = all.slice(start, start + cap);
    const truncated = start + cap < all.length;
    const last = page[page.length - 1];
    const versions = page
      .filter((e) => !e.v.deleteMarker)
      .map((e) =>
        compact({
          ETag: e.v.ETag,
          ChecksumAlgorithm: e.v.checksum ? [e.v.checksum.algorithm] : undefined,
          ChecksumType: e.v.checksum ? ('FULL_OBJECT' as const) : undefined,
          Size: e.v.body.length,
          StorageClass: 'STANDARD' as const,
          Key: e.key,
          VersionId: e.v.VersionId,
          IsLatest: e.latest,
          LastModified: new Date(e.v.LastModified),
        }),
      );
    const markers = page
      .filter((e) => e.v.deleteMarker)
      .map((e) => ({
        Key: e.key,
        VersionId: e.v.VersionId,
        IsLatest: e.latest,
        LastModified: new Date(e.v.LastModified),
      }));
    return compact({
      IsTruncated: truncated,
      KeyMarker: input.KeyMarker ?? '',
      VersionIdMarker: input.VersionIdMarker ?? '',
      NextKeyMarker: truncated ? last.key : undefined,
      NextVersionIdMarker: truncated ? last.v.VersionId : undefined,
      Versions: versions.length > 0 ? versions : undefined,
      DeleteMarkers: markers.length > 0 ? markers : undefined,
      Name: bucket.Name,
      Prefix: prefix,
      MaxKeys: maxKeys,
    });
  }

  GetObjectRetention(
    input: GetObjectRetentionCommandInput,
    ctx: CallContext,
  ): Out<GetObjectRetentionCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    if (!bucket.objectLock)
      throw new SimError('InvalidRequest', 'Bucket is missing Object Lock Configuration', 400);
    const v = this.version(bucket, input.Key, input.VersionId, false);
    if (!v.retention) {
      throw new SimError(
        'NoSuchObjectLockConfiguration',
        'The specified object does not have a ObjectLock configuration',
        404,
      );
    }
    return { Retention: { Mode: v.retention.Mode, RetainUntilDate: new Date(v.retention.RetainUntilDate) } };
  }

  PutObjectRetention(
    input: PutObjectRetentionCommandInput,
    ctx: CallContext,
  ): Out<PutObjectRetentionCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    if (!bucket.objectLock)
      throw new SimError('InvalidRequest', 'Bucket is missing Object Lock Configuration', 400);
    const v = this.version(bucket, input.Key, input.VersionId, false);
    this.checkPolicy(ctx, bucket, 's3:PutObjectRetention', input.Key!);
    const next = input.Retention;
    const mode = next?.Mode;
    const until = next?.RetainUntilDate ? new Date(next.RetainUntilDate) : undefined;
    if ((mode === undefined) !== (until === undefined)) {
      throw new SimError('MalformedXML', 'Retention needs both Mode and RetainUntilDate', 400);
    }
    if (until && until.getTime() <= ctx.now.getTime()) {
      throw new SimError('InvalidArgument', 'The retain until date must be in the future!', 400);
    }
    const old = v.retention;
    const active = old && old.RetainUntilDate.getTime() > ctx.now.getTime();
    const loosens =
      active && (mode === undefined || mode !== old.Mode || until!.getTime() < old.RetainUntilDate.getTime());
    if (loosens) {
      if (old.Mode === 'COMPLIANCE') throw accessDenied();
      if (!input.BypassGovernanceRetention) throw accessDenied();
      this.checkPolicy(ctx, bucket, 's3:BypassGovernanceRetention', input.Key!);
    }
    v.retention = mode && until ? { Mode: mode, RetainUntilDate: until } : undefined;
    return {};
  }

  PutObjectLegalHold(
    input: PutObjectLegalHoldCommandInput,
    ctx: CallContext,
  ): Out<PutObjectLegalHoldCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    if (!bucket.objectLock)
      throw new SimError('InvalidRequest', 'Bucket is missing Object Lock Configuration', 400);
    const status = input.LegalHold?.Status;
    if (status !== 'ON' && status !== 'OFF') {
      throw new SimError('InvalidArgument', "Legal Hold must be either of 'ON' or 'OFF'", 400);
    }
    this.requireContentChecksum(ctx);
    const v = this.version(bucket, input.Key, input.VersionId, false);
    this.checkPolicy(ctx, bucket, 's3:PutObjectLegalHold', input.Key!, {
      's3:object-lock-legal-hold': status,
    });
    v.legalHold = status;
    return {};
  }

  GetObjectLegalHold(
    input: GetObjectLegalHoldCommandInput,
    ctx: CallContext,
  ): Out<GetObjectLegalHoldCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    if (!bucket.objectLock)
      throw new SimError('InvalidRequest', 'Bucket is missing Object Lock Configuration', 400);
    const v = this.version(bucket, input.Key, input.VersionId, false);
    if (!v.legalHold) {
      throw new SimError(
        'NoSuchObjectLockConfiguration',
        'The specified object does not have a ObjectLock configuration',
        404,
      );
    }
    return { LegalHold: { Status: v.legalHold } };
  }

  /** Requests S3 refuses without an integrity header (Content-MD5 or an x-amz-checksum-*); the SDK adds one. */
  private requireContentChecksum(ctx: CallContext): void {
    if (ctx.seeding) return;
    const has = Object.keys(ctx.headers).some(
      (h) => h === 'content-md5' || h.startsWith('x-amz-checksum-') || h === 'x-amz-sdk-checksum-algorithm',
    );
    if (!has) {
      throw new SimError(
        'InvalidRequest',
        'Missing required header for this request: Content-MD5 OR x-amz-checksum-*',
        400,
      );
    }
  }

  DeleteObject(input: DeleteObjectCommandInput, ctx: CallContext): Out<DeleteObjectCommandOutput> {
    const bucket = this.bucket(ctx, input.Bucket);
    const key = input.Key;
    if (!key) throw new SimError('InvalidArgument', 'Key is required', 400);
    this.checkPolicy(
      ctx,
      bucket,
      input.VersionId !== undefined ? 's3:DeleteObjectVersion' : 's3:DeleteObject',
      key,
    );
    const versions = bucket.objects.get(key) ?? [];
    if (input.VersionId !== undefined) {
      const v = versions.find((x) => x.VersionId === input.VersionId);
      if (!v) return {};
      if (!v.deleteMarker) {
        if (input.BypassGovernanceRetention)
          this.checkPolicy(ctx, bucket, 's3:BypassGovernanceRetention', key);
        if (this.locked(v, ctx.now, input.BypassGovernanceRetention === true)) {
          throw accessDenied('Access Denied because object protected by object lock.');
        }
      }
      bucket.objects.set(
        key,
        versions.filter((x) => x !== v),
      );
      return compact({ VersionId: v.VersionId, DeleteMarker: v.deleteMarker ? true : undefined });
    }
    if (bucket.versioning === undefined) {
      const v = versions[0];
      if (v && this.locked(v, ctx.now, false))
        throw accessDenied('Access Denied because object protected by object lock.');
      bucket.objects.delete(key);
      return {};
    }
    const marker: Version = {
      VersionId: this.versionId(bucket),
      deleteMarker: true,
      LastModified: ctx.now,
      body: Buffer.alloc(0),
      ETag: '',
      Metadata: {},
      sse: { ServerSideEncryption: 'AES256' },
    };
    const kept = bucket.versioning === 'Enabled' ? versions : versions.filter((v) => v.VersionId !== 'null');
    bucket.objects.set(key, [marker, ...kept]);
    return compact({
      DeleteMarker: true,
      VersionId: marker.VersionId === 'null' ? undefined : marker.VersionId,
    });
  }

  // ---- inspection ----

  /** Every version of a key, newest first, as the simulator holds them. */
  objectVersions(
    bucket: string,
    key: string,
  ): {
    versionId: string;
    deleteMarker: boolean;
    body: string;
    checksum?: { algorithm: string; value: string };
    retention?: { mode: string; retainUntil: Date };
    legalHold?: 'ON' | 'OFF';
  }[] {
    const b = this.buckets.get(bucket);
    if (!b) throw new Error(`no bucket ${bucket}`);
    return (b.objects.get(key) ?? []).map((v) =>
      compact({
        versionId: v.VersionId,
        deleteMarker: v.deleteMarker,
        body: v.body.toString('utf8'),
        checksum: v.checksum ? { ...v.checksum } : undefined,
        retention: v.retention
          ? { mode: v.retention.Mode, retainUntil: new Date(v.retention.RetainUntilDate) }
          : undefined,
        legalHold: v.legalHold,
      }),
    );
  }

  /** Keys with a current (not deleted) version, sorted. */
  keys(bucket: string, prefix = ''): string[] {
    const b = this.buckets.get(bucket);
    if (!b) throw new Error(`no bucket ${bucket}`);
    return [...b.objects]
      .filter(([k, versions]) => k.startsWith(prefix) && versions[0] && !versions[0].deleteMarker)
      .map(([k]) => k)
      .sort();
  }

  /** Taggable resources (buckets), for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const b of this.buckets.values()) {
      yield {
        accountId: b.owner,
        region: b.region,
        arn: `arn:${partitionOf(b.region)}:s3:::${b.Name}`,
        tags: b.tags,
      };
    }
  }
}
