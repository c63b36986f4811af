import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AuditChain,
  type AuditChainOptions,
  type AuditRecord,
  deliverPendingRecords,
  newChainId,
  type PendingAuditRecord,
  stateStoreFallback,
} from '../../../lambda/shared/audit';
import { sha256Base64, sha256Hex } from '../../../lambda/shared/hash';
import { FakeAuditBucket, s3Error } from './fake-audit-bucket';

const s3Mock = mockClient(S3Client);
const BUCKET = 'backstop-audit';
const KMS_KEY = 'arn:aws:kms:us-east-1:999999999999:key/1111-2222';
const T0 = new Date('2026-03-01T12:00:00.000Z');
const clock = () => T0;

let bucket: FakeAuditBucket;

function chain(overrides: Partial<AuditChainOptions> = {}): AuditChain {
  return new AuditChain({
    s3: new S3Client({}),
    bucket: BUCKET,
    kmsKeyArn: KMS_KEY,
    incidentId: 'inc-1',
    chainId: 'prepare-1a2b3c4d',
    actor: { type: 'execution', arn: 'arn:aws:states:us-east-1:999999999999:execution:backstop-kill:inc-1' },
    clock,
    sleep: async () => {},
    ...overrides,
  });
}

beforeEach(() => {
  s3Mock.reset();
  bucket = new FakeAuditBucket(BUCKET, clock, { retention: { mode: 'COMPLIANCE', days: 365 } }).install(
    s3Mock,
  );
});

describe('AuditChain.write', () => {
  it('writes each record under the chain key layout with a SHA-256 checksum, no overwrite and SSE-KMS', async () => {
    const c = chain();
    await c.write('KillRequested', {
      mode: 'full_stop',
      reason: 'runaway agent',
      detail: { agents: ['a1'] },
    });
    await c.write('LockAcquired', { agentId: 'a1', mode: 'full_stop', detail: { outcome: 'ACQUIRED' } });

    const puts = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts.map((p) => p.Key)).toEqual([
      'incidents/inc-1/prepare-1a2b3c4d/0001-KillRequested.json',
      'incidents/inc-1/prepare-1a2b3c4d/0002-LockAcquired.json',
    ]);
    for (const put of puts) {
      expect(put).toMatchObject({
        Bucket: BUCKET,
        IfNoneMatch: '*',
        ChecksumAlgorithm: 'SHA256',
        ContentType: 'application/json',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: KMS_KEY,
      });
      expect(put.ChecksumSHA256).toBe(sha256Base64(put.Body as string));
    }
    const first = bucket.json<AuditRecord>('incidents/inc-1/prepare-1a2b3c4d/0001-KillRequested.json');
    expect(first).toEqual({
      schemaVersion: 1,
      incidentId: 'inc-1',
      chainId: 'prepare-1a2b3c4d',
      seq: 1,
      type: 'KillRequested',
      time: T0.toISOString(),
      actor: {
        type: 'execution',
        arn: 'arn:aws:states:us-east-1:999999999999:execution:backstop-kill:inc-1',
      },
      mode: 'full_stop',
      reason: 'runaway agent',
      detail: { agents: ['a1'] },
      prevHash: null,
    });
  });

  it("links each record to the SHA-256 of the previous record's exact bytes", async () => {
    const c = chain();
    await c.write('KillRequested', { reason: 'r' });
    await c.write('ModeRaised', { agentId: 'a1', mode: 'full_stop' });
    await c.write('ControlFlagSet', { agentId: 'a1', mode: 'full_stop' });
    const keys = bucket.keys('incidents/inc-1/');
    const bodies = keys.map((k) => bucket.text(k));
    const records = bodies.map((b) => JSON.parse(b) as AuditRecord);
    expect(records.map((r) => r.prevHash)).toEqual([null, sha256Hex(bodies[0]), sha256Hex(bodies[1])]);
    expect(c.headHash).toBe(sha256Hex(bodies[2]));
  });

  it('keeps call order in seq and links when writes are not awaited', async () => {
    const c = chain();
    const types = ['SurfaceDiscovered', 'SnapshotTaken', 'ResourceChanged', 'SurfaceContained'] as const;
    for (const type of types) void c.write(type, { surface: 'lambda' });
    await c.flush();
    const records = bucket.keys('incidents/inc-1/').map((k) => bucket.json<AuditRecord>(k));
    expect(records.map((r) => [r.seq, r.type])).toEqual(types.map((t, i) => [i + 1, t]));
    expect(c.records.map((r) => r.type)).toEqual([...types]);
  });

  it('records what was written even if the caller later changes the detail object', async () => {
    const c = chain();
    const detail = {
      resource: 'r1',
      action: 'disable',
      before: { enabled: true },
      after: { enabled: false },
    };
    const record = await c.write('ResourceChanged', { detail });
    detail.resource = 'changed';
    expect(record.detail.resource).toBe('r1');
    expect(c.records[0].detail.resource).toBe('r1');
  });

  it('throws synchronously for an unknown type and writes nothing', () => {
    const c = chain();
    expect(() => c.write('Bogus' as never)).toThrow(/Unknown audit record type "Bogus"/);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('refuses an incident id that would escape its folder', () => {
    expect(() => chain({ incidentId: '../other' })).toThrow(/Incident id "..\/other" is not valid/);
  });
});

describe('when an audit write fails', () => {
  it('resolves instead of rejecting, the chain goes on linked to the failed bytes, and flush delivers it', async () => {
    const failing = 'incidents/inc-1/prepare-1a2b3c4d/0002-ControlFlagSet.json';
    let failures = 1;
    bucket.failPut = (key) => key === failing && failures-- > 0;
    const c = chain();
    await c.write('KillRequested', { reason: 'r' });
    const second = await c.write('ControlFlagSet', { agentId: 'a1', mode: 'full_stop' });
    await c.write('KillCompleted', { detail: { status: 'CONTAINED' } });

    expect(second.seq).toBe(2);
    expect(bucket.keys()).not.toContain(failing);
    expect(c.pending.map((p) => [p.key, p.error.name])).toEqual([[failing, 'InternalError']]);

    const result = await c.flush();
    expect(result).toEqual({ written: 3, undelivered: 0, handedOff: 0 });
    const third = bucket.json<AuditRecord>('incidents/inc-1/prepare-1a2b3c4d/0003-KillCompleted.json');
    expect(third.prevHash).toBe(sha256Hex(bucket.text(failing)));
    expect(c.pending).toEqual([]);
  });

  it('hands records that still fail after the flush retries to onUndeliverable, with their exact bytes', async () => {
    const failing = 'incidents/inc-1/prepare-1a2b3c4d/0002-SnapshotTaken.json';
    bucket.failPut = (key) => key === failing;
    const stored: Array<[string, readonly PendingAuditRecord[]]> = [];
    const c = chain({
      flushAttempts: 2,
      onUndeliverable: stateStoreFallback({
        addPendingAudit: async (incidentId, records) => {
          stored.push([incidentId, records]);
        },
      }),
    });
    await c.write('SurfaceDiscovered', { surface: 'iam' });
    const record = await c.write('SnapshotTaken', { surface: 'iam', detail: { resources: 2 } });
    await c.write('SurfaceContained', { surface: 'iam' });

    const result = await c.flush();
    expect(result).toEqual({ written: 2, undelivered: 1, handedOff: 1 });
    // First attempt plus two flush rounds.
    expect(
      s3Mock.commandCalls(PutObjectCommand).filter((call) => call.args[0].input.Key === failing),
    ).toHaveLength(3);
    expect(stored).toHaveLength(1);
    const [incidentId, [pending]] = stored[0];
    expect(incidentId).toBe('inc-1');
    expect(pending).toMatchObject({
      key: failing,
      seq: 2,
      type: 'SnapshotTaken',
      attempts: 3,
      error: { name: 'InternalError' },
    });
    expect(JSON.parse(pending.body)).toEqual(record);
    expect(pending.sha256).toBe(sha256Hex(pending.body));
    expect(
      bucket.json<AuditRecord>('incidents/inc-1/prepare-1a2b3c4d/0003-SurfaceContained.json').prevHash,
    ).toBe(pending.sha256);
    // Handed off: a second flush neither retries nor hands it off again.
    expect(await c.flush()).toEqual({ written: 2, undelivered: 1, handedOff: 0 });
    expect(stored).toHaveLength(1);
  });

  it('keeps records pending and reports the error when onUndeliverable itself fails', async () => {
    bucket.failPut = () => true;
    const c = chain({
      flushAttempts: 1,
      onUndeliverable: async () => {
        throw new Error('state table unreachable');
      },
    });
    await c.write('KillRequested', { reason: 'r' });
    const result = await c.flush();
    expect(result).toEqual({
      written: 0,
      undelivered: 1,
      handedOff: 0,
      fallbackError: { name: 'Error', message: 'state table unreachable' },
    });
    expect(c.pending).toHaveLength(1);
  });

  it('counts a 412 over identical bytes as written (a retry whose first attempt landed)', async () => {
    const c = chain();
    // The first attempt landed but its answer was lost: S3 holds the exact bytes and answers 412.
    s3Mock.on(PutObjectCommand).callsFakeOnce(async (input) => {
      bucket.inject(input.Key as string, input.Body as string);
      throw s3Error(
        'PreconditionFailed',
        412,
        'At least one of the pre-conditions you specified did not hold',
      );
    });
    await c.write('KillRequested', { reason: 'r' });
    expect(await c.flush()).toEqual({ written: 1, undelivered: 0, handedOff: 0 });
    expect(s3Mock.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key)).toEqual([
      'incidents/inc-1/prepare-1a2b3c4d/0001-KillRequested.json',
    ]);
  });

  it('never counts a 412 over different bytes as written, and leaves the existing object alone', async () => {
    const key = 'incidents/inc-1/prepare-1a2b3c4d/0001-KillRequested.json';
    bucket.inject(key, '{"someone":"else"}');
    const c = chain({ flushAttempts: 1 });
    await c.write('KillRequested', { reason: 'r' });
    const result = await c.flush();
    expect(result.undelivered).toBe(1);
    expect(c.pending[0].error.name).toBe('AuditObjectConflictError');
    expect(c.pending[0].error.message).toMatch(/already exists with different content/);
    expect(bucket.text(key)).toBe('{"someone":"else"}');
  });
});

describe('deliverPendingRecords', () => {
  it('writes stored records with their exact bytes and reports the ones that still fail', async () => {
    const body = '{"seq":1}';
    const ok: PendingAuditRecord = {
      key: 'incidents/inc-1/c-1/0001-KillRequested.json',
      incidentId: 'inc-1',
      chainId: 'c-1',
      seq: 1,
      type: 'KillRequested',
      body,
      sha256: sha256Hex(body),
      error: { name: 'InternalError', message: 'x' },
      attempts: 3,
    };
    const bad = { ...ok, key: 'incidents/inc-1/c-2/0001-KillRequested.json', chainId: 'c-2' };
    bucket.failPut = (key) => key === bad.key;
    const result = await deliverPendingRecords({ s3: new S3Client({}), bucket: BUCKET, kmsKeyArn: KMS_KEY }, [
      ok,
      bad,
    ]);
    expect(result.delivered.map((r) => r.key)).toEqual([ok.key]);
    expect(result.failed).toEqual([
      { ...bad, attempts: 4, error: expect.objectContaining({ name: 'InternalError' }) },
    ]);
    expect(bucket.text(ok.key)).toBe(body);
  });
});

describe('newChainId', () => {
  it('joins the prefix and the injected unique part', () => {
    expect(newChainId('iam-agent-7', () => '1a2b3c4d')).toBe('iam-agent-7-1a2b3c4d');
  });

  it('defaults to 8 random hex digits, different on each call', () => {
    const a = newChainId('prepare');
    expect(a).toMatch(/^prepare-[0-9a-f]{8}$/);
    expect(newChainId('prepare')).not.toBe(a);
  });

  it('refuses a prefix that is not a key segment', () => {
    expect(() => newChainId('iam/agent', () => '00000000')).toThrow(
      /Audit chain id "iam\/agent-00000000" is not valid/,
    );
  });
});
