/**
 * An Object Lock audit bucket behind a mocked S3Client (aws-sdk-client-mock): PutObject honours
 * `If-None-Match: *` (412), requires a checksum as Object Lock buckets do and checks a supplied
 * SHA-256 (BadDigest), applies the bucket's default retention; GetObject, GetObjectRetention and
 * paginated ListObjectsV2 answer with the shapes S3 returns. `tamper`, `remove` and `inject`
 * stand for an attacker who got around the lock, so the verifier has something to find.
 */
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { AwsClientStub } from 'aws-sdk-client-mock';

export interface DefaultRetention {
  readonly mode: 'COMPLIANCE' | 'GOVERNANCE';
  readonly days: number;
}

export interface StoredObject {
  bytes: Uint8Array;
  readonly versionId: string;
  readonly lastModified: Date;
  lockMode?: 'COMPLIANCE' | 'GOVERNANCE';
  retainUntil?: Date;
}

export function s3Error(name: string, httpStatusCode: number, message: string): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message,
  });
}

/** An SDK-like GetObject body. */
export function sdkBody(bytes: Uint8Array) {
  return {
    transformToByteArray: async () => bytes,
    transformToString: async () => Buffer.from(bytes).toString('utf8'),
  } as never;
}

export class FakeAuditBucket {
  readonly objects = new Map<string, StoredObject>();
  /** Keys (or a predicate) whose next PutObject calls fail with a 500, however many times. */
  failPut: (key: string) => boolean = () => false;
  private versions = 0;

  constructor(
    readonly name: string,
    private readonly clock: () => Date,
    private readonly options: {
      readonly retention?: DefaultRetention | null;
      readonly pageSize?: number;
      /** Whether GetObject returns the lock headers (a caller without s3:GetObjectRetention gets none). @default true */
      readonly lockHeadersOnGet?: boolean;
    } = {},
  ) {}

  /** Wires the bucket into a mocked S3Client. */
  install(s3Mock: AwsClientStub<S3Client>): this {
    s3Mock.on(PutObjectCommand).callsFake(async (input) => this.put(input));
    s3Mock.on(GetObjectCommand).callsFake(async (input) => this.getObject(input));
    s3Mock.on(GetObjectRetentionCommand).callsFake(async (input) => this.getRetention(input));
    s3Mock.on(ListObjectsV2Command).callsFake(async (input) => this.list(input));
    return this;
  }

  text(key: string): string {
    const object = this.objects.get(key);
    if (!object) throw new Error(`no object ${key}`);
    return Buffer.from(object.bytes).toString('utf8');
  }

  json<T = unknown>(key: string): T {
    return JSON.parse(this.text(key)) as T;
  }

  keys(prefix = ''): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Rewrites an object's bytes in place (what the lock should make impossible). */
  tamper(key: string, text: string): void {
    const object = this.objects.get(key);
    if (!object) throw new Error(`no object ${key}`);
    object.bytes = new Uint8Array(Buffer.from(text, 'utf8'));
  }

  remove(key: string): void {
    if (!this.objects.delete(key)) throw new Error(`no object ${key}`);
  }

  /** Adds an object outside the writer, under the bucket's default retention. */
  inject(key: string, text: string): void {
    this.objects.set(key, this.newObject(new Uint8Array(Buffer.from(text, 'utf8'))));
  }

  private newObject(bytes: Uint8Array): StoredObject {
    const now = this.clock();
    const retention = this.options.retention;
    return {
      bytes,
      versionId: `v${++this.versions}`,
      lastModified: new Date(Math.floor(now.getTime() / 1000) * 1000),
      ...(retention && {
        lockMode: retention.mode,
        retainUntil: new Date(now.getTime() + retention.days * 86_400_000),
      }),
    };
  }

  private async put(input: {
    Bucket?: string;
    Key?: string;
    Body?: unknown;
    IfNoneMatch?: string;
    ChecksumAlgorithm?: string;
    ChecksumSHA256?: string;
  }) {
    const key = this.checkTarget(input.Bucket, input.Key);
    if (this.failPut(key))
      throw s3Error('InternalError', 500, 'We encountered an internal error. Please try again.');
    const bytes = new Uint8Array(
      typeof input.Body === 'string'
        ? Buffer.from(input.Body, 'utf8')
        : Buffer.from(input.Body as Uint8Array),
    );
    if (this.options.retention && !input.ChecksumAlgorithm && !input.ChecksumSHA256) {
      throw s3Error(
        'InvalidRequest',
        400,
        'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
      );
    }
    if (
      input.ChecksumSHA256 &&
      input.ChecksumSHA256 !== createHash('sha256').update(bytes).digest('base64')
    ) {
      throw s3Error('BadDigest', 400, 'The SHA256 you specified did not match the calculated checksum.');
    }
    if (input.IfNoneMatch === '*' && this.objects.has(key)) {
      throw s3Error(
        'PreconditionFailed',
        412,
        'At least one of the pre-conditions you specified did not hold',
      );
    }
    const object = this.newObject(bytes);
    this.objects.set(key, object);
    return {
      VersionId: object.versionId,
      ChecksumSHA256: input.ChecksumSHA256,
      ServerSideEncryption: 'aws:kms' as const,
    };
  }

  private async getObject(input: { Bucket?: string; Key?: string; VersionId?: string }) {
    const key = this.checkTarget(input.Bucket, input.Key);
    const object = this.objects.get(key);
    if (!object || (input.VersionId && input.VersionId !== object.versionId)) {
      throw new NoSuchKey({
        $metadata: { httpStatusCode: 404 },
        message: 'The specified key does not exist.',
      });
    }
    const headers = this.options.lockHeadersOnGet ?? true;
    return {
      Body: sdkBody(object.bytes),
      ContentLength: object.bytes.length,
      ContentType: 'application/json',
      VersionId: object.versionId,
      LastModified: object.lastModified,
      ...(headers &&
        object.lockMode && {
          ObjectLockMode: object.lockMode,
          ObjectLockRetainUntilDate: object.retainUntil,
        }),
    };
  }

  private async getRetention(input: { Bucket?: string; Key?: string; VersionId?: string }) {
    const key = this.checkTarget(input.Bucket, input.Key);
    const object = this.objects.get(key);
    if (!object)
      throw new NoSuchKey({
        $metadata: { httpStatusCode: 404 },
        message: 'The specified key does not exist.',
      });
    if (!object.lockMode) {
      throw s3Error(
        'NoSuchObjectLockConfiguration',
        404,
        'The specified object does not have a ObjectLock configuration',
      );
    }
    return { Retention: { Mode: object.lockMode, RetainUntilDate: object.retainUntil } };
  }

  private async list(input: { Bucket?: string; Prefix?: string; ContinuationToken?: string }) {
    if (input.Bucket !== this.name) throw s3Error('NoSuchBucket', 404, 'The specified bucket does not exist');
    const keys = this.keys(input.Prefix ?? '');
    const pageSize = this.options.pageSize ?? 1000;
    const start = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
    const page = keys.slice(start, start + pageSize);
    const truncated = start + pageSize < keys.length;
    return {
      Contents: page.map((Key) => ({ Key, Size: this.objects.get(Key)?.bytes.length })),
      KeyCount: page.length,
      IsTruncated: truncated,
      ...(truncated && { NextContinuationToken: String(start + pageSize) }),
    };
  }

  private checkTarget(bucket: string | undefined, key: string | undefined): string {
    if (bucket !== this.name) throw s3Error('NoSuchBucket', 404, 'The specified bucket does not exist');
    if (!key) throw s3Error('InvalidArgument', 400, 'Key is required');
    return key;
  }
}
