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
