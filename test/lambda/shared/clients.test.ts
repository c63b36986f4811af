import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import fc from 'fast-check';
import { createClientFactory, fullJitterBackoff } from '../../../lambda/shared/clients';

describe('fullJitterBackoff', () => {
  it('waits a random time between 0 and min(cap, base * 2^attempt)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (attempt, r) => {
          const wait = fullJitterBackoff(100, 20_000, () => r)(attempt);
          expect(wait).toBeGreaterThanOrEqual(0);
          expect(wait).toBeLessThanOrEqual(Math.min(20_000, 100 * 2 ** attempt));
        },
      ),
    );
  });
});

describe('createClientFactory', () => {
  it("reuses a session's workload clients, and keeps only the most recent sessions in a warm container", () => {
    const factory = createClientFactory({ region: 'us-east-1' });
    const session = (n: number) => ({ accessKeyId: `ASIA${n}`, secretAccessKey: 's', sessionToken: `t${n}` });
    const first = factory.workload('us-east-1', session(0));
    expect(factory.workload('us-east-1', session(0))).toBe(first);
    for (let n = 1; n <= 40; n++) factory.workload('us-east-1', session(n));
    expect(factory.workload('us-east-1', session(0))).not.toBe(first);
    const latest = factory.workload('us-east-1', session(40));
    expect(factory.workload('us-east-1', session(40))).toBe(latest);
  });

  it("gives every client its own retry strategy, so one throttled service cannot use up the others' retries", async () => {
    const cp = createClientFactory({ region: 'us-east-1' }).controlPlane();
    const strategies = await Promise.all(
      [cp.s3, cp.sts, cp.sns, cp.kms].map((c) =>
        (c.config as { retryStrategy: () => Promise<unknown> }).retryStrategy(),
      ),
    );
    expect(new Set(strategies).size).toBe(4);
  });
});

describe('createClientFactory against an AWS-compatible endpoint', () => {
  let server: Server;
  const seen: { method?: string; url?: string; target?: string; auth?: string }[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      seen.push({
        method: req.method,
        url: req.url,
        target: req.headers['x-amz-target'] as string | undefined,
        auth: req.headers.authorization,
      });
      req.resume();
      req.on('end', () => {
        if (req.headers['x-amz-target']) {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ Item: { pk: { S: 'AGENT#support-bot' } } }));
        } else {
          res.writeHead(200, { 'content-type': 'text/xml' });
          res.end(
            '<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::111111111111:user/local</Arn>' +
              '<UserId>AIDALOCAL</UserId><Account>111111111111</Account></GetCallerIdentityResult></GetCallerIdentityResponse>',
          );
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    process.env = saved;
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends every service to AWS_ENDPOINT_URL with no code change, signed with the standard chain', async () => {
    const clients = createClientFactory({
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'secret' },
    }).controlPlane();

    const identity = await clients.sts.send(new GetCallerIdentityCommand({}));
    const item = await clients.dynamo.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' } } }));

    expect(identity.Account).toBe('111111111111');
    expect(item.Item).toEqual({ pk: { S: 'AGENT#support-bot' } });
    expect(seen.map((s) => [s.method, s.target ?? 'sts'])).toEqual([
      ['POST', 'sts'],
      ['POST', 'DynamoDB_20120810.GetItem'],
    ]);
    expect(seen.every((s) => s.auth?.includes('Credential=AKIDLOCAL/'))).toBe(true);
  });
});
