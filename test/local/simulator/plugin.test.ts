import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { auditRecordPut, REGION, rejection, world } from './helpers';

// How the plugin plugs the simulator into an SDK client (no signing, no log copies, the middleware
// stack resolved once per command class) must not change what a call answers.
describe('the simulator plugin', () => {
  test('credentials that are not valid fail as the SDK signer fails them, and reach no service', async () => {
    const w = await world();
    const iam = new IAMClient({
      region: REGION,
      credentials: { accessKeyId: 'AKIAEXAMPLEEXAMPLE00' } as never,
    });
    w.sim.plugin()(iam as never);
    const before = w.sim.calls.length;
    const error = await rejection(iam.send(new GetRoleCommand({ RoleName: 'any' })));
    expect(error.message).toBe('Resolved credential object is not valid');
    expect(w.sim.calls.length).toBe(before);
  });

  test('concurrent writes through one client each carry their own key, body and checksum', async () => {
    const w = await world();
    const { s3 } = w.factory.controlPlane();
    const bodies = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({ record: i, pad: 'x'.repeat(i * 50) }),
    );
    const key = (i: number) => `incidents/i-plugin/c/${String(i).padStart(4, '0')}-Test.json`;
    const outs = await Promise.all(bodies.map((body, i) => s3.send(auditRecordPut(w, key(i), body))));
    expect(new Set(outs.map((o) => o.ChecksumSHA256)).size).toBe(bodies.length);
    for (const [i, body] of bodies.entries()) {
      const got = await s3.send(new GetObjectCommand({ Bucket: w.cp.auditBucketName, Key: key(i) }));
      expect(await got.Body?.transformToString()).toBe(body);
    }
    // A write the bucket policy refuses (no KMS encryption) is still refused on the same client.
    const refused = await rejection(
      s3.send(
        new PutObjectCommand({
          Bucket: w.cp.auditBucketName,
          Key: key(99),
          Body: '{}',
          ChecksumAlgorithm: 'SHA256',
          IfNoneMatch: '*',
        }),
      ),
    );
    expect(refused.name).toBe('AccessDenied');
  });

  test('the document client answers each command with its own input', async () => {
    const w = await world();
    const { dynamo } = w.factory.controlPlane();
    await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        dynamo.send(new PutCommand({ TableName: w.cp.tableName, Item: { pk: `T#${id}`, sk: 'x', v: id } })),
      ),
    );
    for (const id of ['c', 'a', 'b']) {
      const got = await dynamo.send(
        new GetCommand({ TableName: w.cp.tableName, Key: { pk: `T#${id}`, sk: 'x' } }),
      );
      expect(got.Item).toEqual({ pk: `T#${id}`, sk: 'x', v: id });
    }
  });

  test("a caller's own logger still gets the SDK's record of every call", async () => {
    const w = await world();
    const info: unknown[] = [];
    const errors: unknown[] = [];
    const logger = {
      trace() {},
      debug() {},
      info: (o: unknown) => info.push(o),
      warn() {},
      error: (o: unknown) => errors.push(o),
    };
    const plain = new DynamoDBClient({
      region: REGION,
      logger,
      credentials: w.sim.credentialsFor(w.cp.killWorkerRoleArn),
    });
    w.sim.plugin()(plain as never);
    const doc = DynamoDBDocumentClient.from(plain);
    await doc.send(new PutCommand({ TableName: w.cp.tableName, Item: { pk: 'L#1', sk: 'x' } }));
    const s3 = new S3Client({
      region: REGION,
      logger,
      credentials: w.sim.credentialsFor(w.cp.killWorkerRoleArn),
    });
    w.sim.plugin()(s3 as never);
    await rejection(s3.send(new GetObjectCommand({ Bucket: w.cp.auditBucketName, Key: 'missing' })));
    expect(info).toEqual([
      expect.objectContaining({ clientName: 'DynamoDBClient', commandName: 'PutItemCommand' }),
    ]);
    expect(errors).toEqual([
      expect.objectContaining({ clientName: 'S3Client', commandName: 'GetObjectCommand' }),
    ]);
  });
});
