import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  NoSuchKey,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createClientFactory } from '../../../lambda/shared/clients';
import { ManualClock } from '../../../lib/local/simulator';
import { auditRecordPut, CP, REGION, rejection, type World, world } from './helpers';

const DAY = 86_400_000;

const record = auditRecordPut;

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
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual(['incidents/i-3/r.json']);
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
          Key: 'incidents/i-1/k.json',
          Body: 'x',
          IfNoneMatch: '*',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: w.cp.auditKeyArn,
        }),
      ),
    );
    expect(error.name).toBe('InvalidRequest');
    expect(error.message).toMatch(/Content-MD5 OR x-amz-checksum- HTTP header is required/);
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual([]);
  });

  test('the bucket policy refuses writes that do not name the audit key, as the deployed policy does', async () => {
    const w = await world();
    const s3 = w.factory.controlPlane().s3;
    const noHeaders = await rejection(
      s3.send(
        new PutObjectCommand({
          Bucket: w.cp.auditBucketName,
          Key: 'incidents/i-1/a.json',
          Body: 'x',
          ChecksumAlgorithm: 'SHA256',
          IfNoneMatch: '*',
        }),
      ),
    );
    expect(noHeaders.name).toBe('AccessDenied');
    const otherKey = (await w.sim.as(CP, REGION).kms.CreateKey({})).KeyMetadata!.Arn!;
    const wrongKey = await rejection(
      s3.send(
        new PutObjectCommand({
          Bucket: w.cp.auditBucketName,
          Key: 'incidents/i-1/a.json',
          Body: 'x',
          ChecksumAlgorithm: 'SHA256',
          IfNoneMatch: '*',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: otherKey,
        }),
      ),
    );
    expect(wrongKey.name).toBe('AccessDenied');
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual([]);
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

describe('the deployed audit bucket policy: one write per key, by the paths only, holds released by the sealer only', () => {
  /** Clients of another principal of the control plane account (an administrator, say). */
  async function clientsOf(w: World, roleName: string) {
    const arn = (
      await w.sim.as(CP, REGION).iam.CreateRole({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CP}:root` }, Action: 'sts:AssumeRole' },
          ],
        }),
      })
    ).Role!.Arn!;
    const raw = new S3Client({ region: REGION, credentials: w.sim.credentialsFor(arn), maxAttempts: 1 });
    w.sim.plugin()(raw);
    return raw;
  }

  test('a write without If-None-Match is refused, even by the kill worker and even for a new key', async () => {
    const w = await world();
    const s3 = w.factory.controlPlane().s3;
    const put = (IfNoneMatch?: string) =>
      new PutObjectCommand({
        Bucket: w.cp.auditBucketName,
        Key: 'incidents/i-9/a/0001-KillRequested.json',
        Body: '{}',
        ChecksumAlgorithm: 'SHA256',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: w.cp.auditKeyArn,
        ...(IfNoneMatch !== undefined && { IfNoneMatch }),
      });
    expect((await rejection(s3.send(put()))).name).toBe('AccessDenied');
    expect((await rejection(s3.send(put('"0123"')))).name).toBe('AccessDenied');
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual([]);
    await s3.send(put('*'));
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual([
      'incidents/i-9/a/0001-KillRequested.json',
    ]);
  });

  test('any other principal of the account is refused a record, a manifest or an object elsewhere', async () => {
    const w = await world();
    const admin = await clientsOf(w, 'administrator');
    for (const key of [
      'incidents/i-9/x/0001-KillCompleted.json',
      'manifests/i-9/0002-kill.json',
      'elsewhere.json',
    ]) {
      const error = await rejection(admin.send(record(w, key, '{}')));
      expect(error.name).toBe('AccessDenied');
    }
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'incidents/')).toEqual([]);
    // The public key was published once, by the publisher role; nobody else writes there.
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'public-keys/')).toEqual([w.cp.publicKeyObjectKey]);
    const over = await rejection(admin.send(record(w, 'public-keys/other.pem', 'x')));
    expect(over.name).toBe('AccessDenied');
  });

  test('a legal hold is per version, locks it until removed, and only the sealer may remove one', async () => {
    const w = await world();
    const s3 = w.factory.controlPlane().s3;
    const key = 'incidents/i-7/a/0001-KillRequested.json';
    const { VersionId } = await s3.send(record(w, key, '{}'));
    const never = await rejection(
      s3.send(new GetObjectLegalHoldCommand({ Bucket: w.cp.auditBucketName, Key: key, VersionId })),
    );
    expect(never.name).toBe('NoSuchObjectLockConfiguration');
    expect(never.$metadata?.httpStatusCode).toBe(404);

    const admin = await clientsOf(w, 'administrator');
    await admin.send(
      new PutObjectLegalHoldCommand({
        Bucket: w.cp.auditBucketName,
        Key: key,
        VersionId,
        LegalHold: { Status: 'ON' },
      }),
    );
    expect(
      (await s3.send(new GetObjectLegalHoldCommand({ Bucket: w.cp.auditBucketName, Key: key, VersionId })))
        .LegalHold,
    ).toEqual({ Status: 'ON' });
    expect(w.sim.s3.objectVersions(w.cp.auditBucketName, key)[0]?.legalHold).toBe('ON');

    const off = (client: S3Client) =>
      client.send(
        new PutObjectLegalHoldCommand({
          Bucket: w.cp.auditBucketName,
          Key: key,
          VersionId,
          LegalHold: { Status: 'OFF' },
        }),
      );
    expect((await rejection(off(admin))).name).toBe('AccessDenied');
    expect((await rejection(off(s3))).name).toBe('AccessDenied'); // the kill worker neither
    const sealer = createClientFactory({
      region: REGION,
      plugins: [w.sim.plugin()],
      credentials: w.sim.credentialsFor(w.cp.auditSealerRoleArn),
    }).controlPlane().s3;
    await off(sealer);
    expect(w.sim.s3.objectVersions(w.cp.auditBucketName, key)[0]?.legalHold).toBe('OFF');
  });

  test('a legal hold needs an Object Lock bucket and a status of ON or OFF', async () => {
    const w = await world();
    const api = w.sim.as(CP, REGION);
    await api.s3.CreateBucket({ Bucket: 'plain-bucket' });
    await api.s3.PutObject({ Bucket: 'plain-bucket', Key: 'k', Body: 'x' });
    const s3 = w.factory.controlPlane().s3;
    const plain = await rejection(
      s3.send(
        new PutObjectLegalHoldCommand({ Bucket: 'plain-bucket', Key: 'k', LegalHold: { Status: 'ON' } }),
      ),
    );
    expect(plain).toMatchObject({
      name: 'InvalidRequest',
      message: 'Bucket is missing Object Lock Configuration',
    });
    await s3.send(record(w, 'incidents/i-8/a.json', '{}'));
    const bad = await rejection(
      s3.send(
        new PutObjectLegalHoldCommand({
          Bucket: w.cp.auditBucketName,
          Key: 'incidents/i-8/a.json',
          LegalHold: { Status: 'MAYBE' as 'ON' },
        }),
      ),
    );
    expect(bad.name).toBe('InvalidArgument');
  });

  test('a held version cannot be deleted even where no policy forbids it', async () => {
    const w = await world();
    const api = w.sim.as(CP, REGION);
    await api.s3.CreateBucket({ Bucket: 'held-no-policy', ObjectLockEnabledForBucket: true });
    const { VersionId } = await api.s3.PutObject({
      Bucket: 'held-no-policy',
      Key: 'k',
      Body: 'x',
      ContentMD5: createHash('md5').update('x').digest('base64'),
      ObjectLockLegalHoldStatus: 'ON',
    });
    const error = await rejection(
      w.factory
        .controlPlane()
        .s3.send(new DeleteObjectCommand({ Bucket: 'held-no-policy', Key: 'k', VersionId })),
    );
    expect(error.name).toBe('AccessDenied');
  });

  test('an overwrite under a lax policy makes a second version; ListObjectVersions shows both, newest first', async () => {
    const w = await world();
    const api = w.sim.as(CP, REGION);
    await api.s3.PutBucketPolicy({
      Bucket: w.cp.auditBucketName,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObjectVersion', Resource: '*' }],
      }),
    });
    const s3 = w.factory.controlPlane().s3;
    const key = 'incidents/i-6/a/0001-KillRequested.json';
    await s3.send(record(w, key, '{"v":1}'));
    await s3.send(
      new PutObjectCommand({
        Bucket: w.cp.auditBucketName,
        Key: key,
        Body: '{"v":2}',
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    const listed = await s3.send(
      new ListObjectVersionsCommand({ Bucket: w.cp.auditBucketName, Prefix: 'incidents/i-6/' }),
    );
    expect(listed.Versions?.map((v) => v.IsLatest)).toEqual([true, false]);
    const bodies = w.sim.s3.objectVersions(w.cp.auditBucketName, key).map((v) => v.body);
    expect(bodies).toEqual(['{"v":2}', '{"v":1}']);
  });
});
