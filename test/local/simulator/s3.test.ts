import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  NoSuchKey,
  PutObjectCommand,
  PutObjectRetentionCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { ManualClock } from '../../../lib/local/simulator';
import { CP, REGION, rejection, type World, world } from './helpers';

const DAY = 86_400_000;

/** A record write as the audit writer must make it to this bucket (checksum, no overwrite, the audit key). */
function record(w: World, key: string, body: string) {
  return new PutObjectCommand({
    Bucket: w.cp.auditBucketName,
    Key: key,
    Body: body,
    ContentType: 'application/json',
    ChecksumAlgorithm: 'SHA256',
    IfNoneMatch: '*',
    ServerSideEncryption: 'aws:kms',
    SSEKMSKeyId: w.cp.auditKeyArn,
  });
}

describe('the audit bucket under Object Lock', () => {
  test('a record gets the default COMPLIANCE retention, and its SHA-256 checksum is verified and kept', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1));
    const w = await world({ clock });
    const s3 = w.factory.controlPlane().s3;
    const body = JSON.stringify({ type: 'KillRequested', seq: 1 });
    const put = await s3.send(record(w, 'incidents/i-1/a/0001-KillRequested.json', body));
    const sha = createHash('sha256').update(body).digest('base64');
    expect(put.ChecksumSHA256).toBe(sha);
    expect(put.VersionId).toBeDefined();
    expect(put.SSEKMSKeyId).toBe(w.cp.auditKeyArn);

    const [version] = w.sim.s3.objectVersions(
      w.cp.auditBucketName,
      'incidents/i-1/a/0001-KillRequested.json',
    );
    expect(version.checksum).toEqual({ algorithm: 'SHA256', value: sha });
    expect(version.retention).toEqual({
      mode: 'COMPLIANCE',
      retainUntil: new Date(Date.UTC(2026, 2, 1) + 365 * DAY),
    });

    const retention = await s3.send(
      new GetObjectRetentionCommand({
        Bucket: w.cp.auditBucketName,
        Key: 'incidents/i-1/a/0001-KillRequested.json',
      }),
    );
    expect(retention.Retention).toEqual({
      Mode: 'COMPLIANCE',
      RetainUntilDate: new Date(Date.UTC(2026, 2, 1) + 365 * DAY),
    });

    const got = await s3.send(
      new GetObjectCommand({
        Bucket: w.cp.auditBucketName,
        Key: 'incidents/i-1/a/0001-KillRequested.json',
        ChecksumMode: 'ENABLED',
      }),
    );
    expect(await got.Body!.transformToString()).toBe(body);
    expect(got).toMatchObject({
      ChecksumSHA256: sha,
      ObjectLockMode: 'COMPLIANCE',
      ContentType: 'application/json',
      VersionId: put.VersionId,
    });
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: w.cp.auditBucketName, Key: 'incidents/i-1/a/0001-KillRequested.json' }),
    );
    expect(head.ContentLength).toBe(Buffer.byteLength(body));
  });

  test('IfNoneMatch "*" on an existing key answers 412 PreconditionFailed and the record stays as written', async () => {
    const w = await world();
    const s3 = w.factory.controlPlane().s3;
    await s3.send(record(w, 'incidents/i-2/r.json', '{"v":1}'));
    const error = await rejection(s3.send(record(w, 'incidents/i-2/r.json', '{"v":2}')));
    expect(error).toBeInstanceOf(S3ServiceException);
    expect(error.name).toBe('PreconditionFailed');
    expect(error.$metadata?.httpStatusCode).toBe(412);
    expect(error.$fault).toBe('client');
    expect(w.sim.s3.objectVersions(w.cp.auditBucketName, 'incidents/i-2/r.json').map((v) => v.body)).toEqual([
      '{"v":1}',
    ]);
  });

  test('the bucket policy refuses deletion with or without a version id, and no delete marker appears', async () => {
    const w = await world();
    const s3 = w.factory.controlPlane().s3;
    const put = await s3.send(record(w, 'incidents/i-3/r.json', '{}'));
    const plain = await rejection(
      s3.send(new DeleteObjectCommand({ Bucket: w.cp.auditBucketName, Key: 'incidents/i-3/r.json' })),
    );
    expect(plain.name).toBe('AccessDenied');
    expect(plain.$metadata?.httpStatusCode).toBe(403);
    const versioned = await rejection(
      s3.send(
        new DeleteObjectCommand({
          Bucket: w.cp.auditBucketName,
          Key: 'incidents/i-3/r.json',
          VersionId: put.VersionId,
        }),
      ),
    );
    expect(versioned.name).toBe('AccessDenied');
    expect(w.sim.s3.objectVersions(w.cp.auditBucketName, 'incidents/i-3/r.json')).toHaveLength(1);
    expect(w.sim.s3.keys(w.cp.auditBucketName)).toEqual(['incidents/i-3/r.json']);
  });

  test('without a bucket policy, Object Lock still refuses deleting a locked version; a plain delete only adds a marker', async () => {
    const w = await world();
    const api = w.sim.as(CP, REGION);
    await api.s3.CreateBucket({ Bucket: 'locked-no-policy', ObjectLockEnabledForBucket: true });
    await api.s3.PutObjectLockConfiguration({
      Bucket: 'locked-no-policy',
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } },
      },
    });
    const s3 = w.factory.controlPlane().s3;
    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'locked-no-policy', Key: 'k', Body: 'x', ChecksumAlgorithm: 'SHA256' }),
    );
    const locked = await rejection(
      s3.send(new DeleteObjectCommand({ Bucket: 'locked-no-policy', Key: 'k', VersionId: put.VersionId })),
    );
    expect(locked.name).toBe('AccessDenied');
    expect(locked.message).toMatch(/protected by object lock/);
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'locked-no-policy', Key: 'k' }));
    expect(marker.DeleteMarker).toBe(true);
    expect(marker.$metadata.httpStatusCode).toBe(204);
    const missing = await rejection(s3.send(new GetObjectCommand({ Bucket: 'locked-no-policy', Key: 'k' })));
    expect(missing).toBeInstanceOf(NoSuchKey);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'locked-no-policy' }));
    expect(versions.Versions?.map((v) => v.VersionId)).toEqual([put.VersionId]);
    expect(versions.DeleteMarkers).toHaveLength(1);
    const old = await s3.send(
      new GetObjectCommand({ Bucket: 'locked-no-policy', Key: 'k', VersionId: put.VersionId }),
    );
    expect(await old.Body!.transformToString()).toBe('x');
  });

  test('COMPLIANCE retention can be extended but never shortened', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1));
    const w = await world({ clock });
    const s3 = w.factory.controlPlane().s3;
    const Key = 'incidents/i-4/r.json';
    await s3.send(record(w, Key, '{}'));
    const shorter = await rejection(
      s3.send(
        new PutObjectRetentionCommand({
          Bucket: w.cp.auditBucketName,
          Key,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.UTC(2026, 2, 2)) },
        }),
      ),
    );
    expect(shorter.name).toBe('AccessDenied');
    const later = new Date(Date.UTC(2028, 0, 1));
    await s3.send(
      new PutObjectRetentionCommand({
        Bucket: w.cp.auditBucketName,
        Key,
        Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later },
      }),
    );
    expect(w.sim.s3.objectVersions(w.cp.auditBucketName, Key)[0].retention?.retainUntil).toEqual(later);
  });

  test('a write without a checksum or Content-MD5 is refused on an Object Lock bucket', async () => {
    const w = await world();
    const raw = new S3Client({
      region: REGION,
      credentials: w.sim.credentialsFor(w.cp.killWorkerRoleArn),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
    w.sim.plugin()(raw);
    const error = await rejection(
      raw.send(
        new PutObjectCommand({
          Bucket: w.cp.auditBucketName,
          Key: 'k',
          Body: 'x',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: w.cp.auditKeyArn,
        }),
      ),
    );
    expect(error.name).toBe('InvalidRequest');
    expect(error.message).toMatch(/Content-MD5 OR x-amz-checksum- HTTP header is required/);
    expect(w.sim.s3.keys(w.cp.auditBucketName)).toEqual([]);
  });

  test('the bucket policy refuses writes that do not name the audit key, as the deployed policy does', async () => {
    const w = await world();
    const s3 = w.factory.controlPlane().s3;
    const noHeaders = await rejection(
      s3.send(
        new PutObjectCommand({
          Bucket: w.cp.auditBucketName,
          Key: 'a',
          Body: 'x',
          ChecksumAlgorithm: 'SHA256',
        }),
      ),
    );
    expect(noHeaders.name).toBe('AccessDenied');
    const otherKey = (await w.sim.as(CP, REGION).kms.CreateKey({})).KeyMetadata!.Arn!;
    const wrongKey = await rejection(
      s3.send(
        new PutObjectCommand({
          Bucket: w.cp.auditBucketName,
          Key: 'a',
          Body: 'x',
          ChecksumAlgorithm: 'SHA256',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: otherKey,
        }),
      ),
    );
    expect(wrongKey.name).toBe('AccessDenied');
    expect(w.sim.s3.keys(w.cp.auditBucketName)).toEqual([]);
  });

  test('ListObjectsV2 pages with ContinuationToken under a prefix', async () => {
    const w = await world({ pageSize: 2 });
    const s3 = w.factory.controlPlane().s3;
    for (let i = 1; i <= 5; i++) await s3.send(record(w, `incidents/i-5/${i}.json`, `{"i":${i}}`));
    await s3.send(record(w, 'manifests/i-5.json', '{}'));
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: w.cp.auditBucketName,
          Prefix: 'incidents/i-5/',
          ContinuationToken,
        }),
      );
      keys.push(...(page.Contents ?? []).map((c) => c.Key!));
      expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
      ContinuationToken = page.NextContinuationToken;
    } while (ContinuationToken);
    expect(keys).toEqual([1, 2, 3, 4, 5].map((i) => `incidents/i-5/${i}.json`));
  });

  test('a bucket without Object Lock answers ObjectLockConfigurationNotFoundError (404) naming the bucket', async () => {
    const w = await world();
    await w.sim.as(CP, REGION).s3.CreateBucket({ Bucket: 'plain-bucket' });
    const error = await rejection(
      w.factory.controlPlane().s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'plain-bucket' })),
    );
    expect(error).toMatchObject({
      name: 'ObjectLockConfigurationNotFoundError',
      BucketName: 'plain-bucket',
      $fault: 'client',
    });
    expect(error.$metadata?.httpStatusCode).toBe(404);
  });
});
