import { verify } from 'node:crypto';
import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AuditChain, type AuditRecord, stateStoreFallback } from '../../../lambda/shared/audit';
import { sha256Base64, sha256Bytes, sha256Hex } from '../../../lambda/shared/hash';
import {
  manifestBytes,
  manifestSha256,
  parseSignedManifest,
  type SignedManifest,
  writeManifest,
} from '../../../lambda/shared/manifest';
import { FakeAuditBucket } from './fake-audit-bucket';
import { fakeSigningKey, mockKmsSigning } from './fake-kms-signer';
import { FakeManifestStore } from './fake-manifest-store';

const s3Mock = mockClient(S3Client);
const kmsMock = mockClient(KMSClient);
const BUCKET = 'backstop-audit';
const KMS_KEY = 'arn:aws:kms:us-east-1:999999999999:key/audit';
const SIGNING_KEY = 'arn:aws:kms:us-east-1:999999999999:key/manifest-signing';
const T0 = new Date('2026-03-01T12:00:00.000Z');
const clock = () => T0;
const signer = fakeSigningKey(SIGNING_KEY);

const kmsSign = async (input: { Message?: Uint8Array }) => ({
  KeyId: SIGNING_KEY,
  Signature: signer.signDigest(input.Message as Uint8Array),
  SigningAlgorithm: 'ECDSA_SHA_256' as const,
});

let bucket: FakeAuditBucket;
let store: FakeManifestStore;

beforeEach(() => {
  s3Mock.reset();
  kmsMock.reset();
  bucket = new FakeAuditBucket(BUCKET, clock, {
    retention: { mode: 'COMPLIANCE', days: 365 },
    pageSize: 2,
  }).install(s3Mock);
  mockKmsSigning(kmsMock, signer);
  store = new FakeManifestStore();
});

function chain(
  incidentId: string,
  chainId: string,
  extra: Partial<ConstructorParameters<typeof AuditChain>[0]> = {},
) {
  return new AuditChain({
    s3: new S3Client({}),
    bucket: BUCKET,
    kmsKeyArn: KMS_KEY,
    incidentId,
    chainId,
    actor: {
      type: 'execution',
      arn: `arn:aws:states:us-east-1:999999999999:execution:backstop-kill:${incidentId}`,
    },
    clock,
    sleep: async () => {},
    ...extra,
  });
}

async function writeIncident(incidentId: string): Promise<void> {
  const prepare = chain(incidentId, 'prepare-00000001');
  await prepare.write('KillRequested', { mode: 'full_stop', reason: 'alarm' });
  await prepare.write('ControlFlagSet', { agentId: 'agent-1', mode: 'full_stop' });
  const iam = chain(incidentId, 'iam-agent-1-00000002');
  await iam.write('SurfaceDiscovered', { agentId: 'agent-1', surface: 'iam', detail: { resources: ['r1'] } });
  await iam.write('SurfaceContained', { agentId: 'agent-1', surface: 'iam' });
}

function manifestOptions(incidentId: string) {
  return {
    s3: new S3Client({}),
    kms: new KMSClient({}),
    store,
    bucket: BUCKET,
    kmsKeyArn: KMS_KEY,
    signingKeyArn: SIGNING_KEY,
    incidentId,
    clock,
  };
}

describe('writeManifest', () => {
  it('lists and hashes every record of the incident across pages and writes a signed manifest once', async () => {
    await writeIncident('inc-1');
    const result = await writeManifest(manifestOptions('inc-1'));

    const recordKeys = bucket.keys('incidents/inc-1/');
    expect(recordKeys).toHaveLength(4);
    const doc = bucket.json<SignedManifest>('manifests/inc-1.json');
    expect(doc.manifest).toEqual({
      schemaVersion: 1,
      incidentId: 'inc-1',
      createdAt: T0.toISOString(),
      records: recordKeys.map((key) => ({
        key,
        sha256: sha256Hex(bucket.text(key)),
        versionId: bucket.objects.get(key)?.versionId,
      })),
      undelivered: [],
      previousManifest: null,
    });
    expect(doc.signingKeyArn).toBe(SIGNING_KEY);
    expect(doc.signingAlgorithm).toBe('ECDSA_SHA_256');
    expect(result).toEqual({
      status: 'WRITTEN',
      key: 'manifests/inc-1.json',
      sha256: manifestSha256(doc.manifest),
      previousManifest: null,
      recordCount: 4,
      undelivered: [],
    });

    const put = s3Mock
      .commandCalls(PutObjectCommand)
      .find((c) => c.args[0].input.Key === 'manifests/inc-1.json');
    expect(put?.args[0].input).toMatchObject({
      IfNoneMatch: '*',
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: sha256Base64(bucket.text('manifests/inc-1.json')),
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: KMS_KEY,
    });
    expect(store.latest).toEqual({
      incidentId: 'inc-1',
      sha256: result.sha256,
      previous: null,
      createdAt: T0.toISOString(),
    });
  });

  it('has KMS sign the SHA-256 digest of the canonical manifest, verifiable with the public key alone', async () => {
    await writeIncident('inc-1');
    await writeManifest(manifestOptions('inc-1'));
    const sign = kmsMock.commandCalls(SignCommand)[0].args[0].input;
    const doc = parseSignedManifest(bucket.text('manifests/inc-1.json'));
    expect(sign).toEqual({
      KeyId: SIGNING_KEY,
      Message: sha256Bytes(manifestBytes(doc.manifest)),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    const signature = Buffer.from(doc.signature, 'base64');
    const bytes = Buffer.from(manifestBytes(doc.manifest));
    expect(verify('sha256', bytes, { key: signer.publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
    const altered = Buffer.from(manifestBytes({ ...doc.manifest, records: doc.manifest.records.slice(1) }));
    expect(verify('sha256', altered, { key: signer.publicKey, dsaEncoding: 'der' }, signature)).toBe(false);
  });

  it('links each manifest to the previous one', async () => {
    await writeIncident('inc-1');
    const first = await writeManifest(manifestOptions('inc-1'));
    await writeIncident('inc-2');
    const second = await writeManifest(manifestOptions('inc-2'));
    expect(second.previousManifest).toEqual({ incidentId: 'inc-1', sha256: first.sha256 });
    expect(bucket.json<SignedManifest>('manifests/inc-2.json').manifest.previousManifest).toEqual({
      incidentId: 'inc-1',
      sha256: manifestSha256(bucket.json<SignedManifest>('manifests/inc-1.json').manifest),
    });
  });

  it('rebuilds on the new head when another incident’s manifest lands first (one chain, no fork)', async () => {
    await writeIncident('inc-1');
    const first = await writeManifest(manifestOptions('inc-1'));
    await writeIncident('inc-2');
    const concurrent = {
      incidentId: 'inc-3',
      sha256: 'c'.repeat(64),
      previous: store.latest ?? null,
      createdAt: T0.toISOString(),
    };
    store.beforeSwap = () => {
      store.latest = concurrent;
      store.pointers.set('inc-3', concurrent);
    };
    const second = await writeManifest(manifestOptions('inc-2'));
    expect(first.sha256).not.toBe(concurrent.sha256);
    expect(second.previousManifest).toEqual({ incidentId: 'inc-3', sha256: 'c'.repeat(64) });
    expect(store.latest?.incidentId).toBe('inc-2');
  });

  it('retries the incident’s stored undelivered records first, and lists those that still fail as undelivered', async () => {
    const late = 'incidents/inc-1/iam-agent-1-00000003/0002-SnapshotTaken.json';
    const lost = 'incidents/inc-1/iam-agent-1-00000003/0003-SurfaceContained.json';
    bucket.failPut = (key) => key === late || key === lost;
    const c = chain('inc-1', 'iam-agent-1-00000003', {
      flushAttempts: 1,
      onUndeliverable: stateStoreFallback(store),
    });
    await c.write('SurfaceDiscovered', { surface: 'iam' });
    await c.write('SnapshotTaken', { surface: 'iam' });
    await c.write('SurfaceContained', { surface: 'iam' });
    await c.flush();
    expect([...store.pending.keys()]).toEqual([late, lost]);

    bucket.failPut = (key) => key === lost; // the bucket is back for one of them
    const result = await writeManifest(manifestOptions('inc-1'));

    expect(bucket.keys('incidents/inc-1/')).toContain(late);
    expect([...store.pending.keys()]).toEqual([lost]);
    expect(store.pending.get(lost)?.attempts).toBe(3);
    const manifest = bucket.json<SignedManifest>('manifests/inc-1.json').manifest;
    expect(manifest.records.map((r) => r.key)).toContain(late);
    // Its hash is what the chain links to: the last record's hash.
    expect(manifest.undelivered).toEqual([{ key: lost, sha256: c.headHash }]);
    expect(result.undelivered).toEqual([lost]);
  });

  it('flushes the finalizing chain first and records ManifestWritten after the manifest', async () => {
    await writeIncident('inc-1');
    const finalize = chain('inc-1', 'finalize-00000009');
    void finalize.write('KillCompleted', { detail: { status: 'CONTAINED' } });
    const result = await writeManifest({ ...manifestOptions('inc-1'), chain: finalize });
    const manifest = bucket.json<SignedManifest>('manifests/inc-1.json').manifest;
    expect(manifest.records.map((r) => r.key)).toContain(
      'incidents/inc-1/finalize-00000009/0001-KillCompleted.json',
    );
    const noted = bucket.json<AuditRecord>('incidents/inc-1/finalize-00000009/0002-ManifestWritten.json');
    expect(noted.detail).toMatchObject({
      manifestKey: 'manifests/inc-1.json',
      manifestSha256: result.sha256,
      recordCount: 5,
    });
  });

  it('is idempotent: a retry after the manifest landed changes nothing', async () => {
    await writeIncident('inc-1');
    const first = await writeManifest(manifestOptions('inc-1'));
    const bytes = bucket.text('manifests/inc-1.json');
    const again = await writeManifest(manifestOptions('inc-1'));
    expect(again).toEqual({ ...first, status: 'ALREADY_WRITTEN' });
    expect(bucket.text('manifests/inc-1.json')).toBe(bytes);
    expect(kmsMock.commandCalls(SignCommand)).toHaveLength(1);
  });

  it('a retry after the head moved but before the manifest landed writes the same manifest', async () => {
    await writeIncident('inc-1');
    kmsMock
      .on(SignCommand)
      .rejectsOnce(Object.assign(new Error('KMS unavailable'), { name: 'KMSInternalException' }))
      .callsFake(kmsSign);
    await expect(writeManifest(manifestOptions('inc-1'))).rejects.toThrow(/KMS unavailable/);
    const claimed = store.pointers.get('inc-1');
    expect(bucket.keys('manifests/')).toEqual([]);

    const laterClock = () => new Date(T0.getTime() + 60_000);
    const result = await writeManifest({ ...manifestOptions('inc-1'), clock: laterClock });
    expect(result.sha256).toBe(claimed?.sha256);
    expect(bucket.json<SignedManifest>('manifests/inc-1.json').manifest.createdAt).toBe(T0.toISOString());
  });
});
