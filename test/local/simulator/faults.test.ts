import {
  DescribeNetworkInterfacesCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import { AttachRolePolicyCommand, GetRoleCommand, IAMServiceException } from '@aws-sdk/client-iam';
import { PutFunctionConcurrencyCommand, TooManyRequestsException } from '@aws-sdk/client-lambda';
import { createClientFactory } from '../../../lambda/shared/clients';
import { ManualClock, type SimulatorOptions } from '../../../lib/local/simulator';
import { agentRole, REGION, rejection, WL, type World, world } from './helpers';

const ZIP = { ZipFile: new Uint8Array([1]) };
const VPC = 'vpc-0a1b2c3d4e5f60718';

async function functions(w: World, count: number): Promise<string[]> {
  const role = await agentRole(w, 'fn-role');
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `fn-${i}`;
    await w.sim.as(WL, REGION).lambda.CreateFunction({
      FunctionName: name,
      Role: role,
      Runtime: 'nodejs22.x',
      Handler: 'i.h',
      Code: ZIP,
    });
    names.push(name);
  }
  return names;
}

describe('throttling through the SDK retry strategy', () => {
  test('an empty Lambda bucket answers TooManyRequestsException (429); the SDK retries until the bucket refills', async () => {
    const w = await world({ throttling: { lambda: { capacity: 2, refillPerSecond: 50 } } });
    const names = await functions(w, 6);
    const lambda = createClientFactory({
      region: REGION,
      plugins: [w.sim.plugin()],
      baseBackoffMs: 20,
      maxBackoffMs: 500,
    }).workload(REGION, w.sim.credentialsFor(w.wl.killRoleArn)).lambda;
    const outputs = await Promise.all(
      names.map((FunctionName) =>
        lambda.send(new PutFunctionConcurrencyCommand({ FunctionName, ReservedConcurrentExecutions: 0 })),
      ),
    );
    expect(outputs.every((o) => o.ReservedConcurrentExecutions === 0)).toBe(true);
    expect(Math.max(...outputs.map((o) => o.$metadata.attempts ?? 0))).toBeGreaterThan(1);
    const throttled = w.sim.calls.filter((c) => c.outcome === 'TooManyRequestsException');
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0].httpStatusCode).toBe(429);
    for (const name of names) expect(w.sim.lambda.reservedConcurrency(WL, REGION, name)).toBe(0);
  });

  test('the SDK gives up after maxAttempts and throws the real exception class', async () => {
    const w = await world({ throttling: { lambda: { capacity: 1, refillPerSecond: 0.001 } } });
    const [name] = await functions(w, 1);
    const lambda = createClientFactory({
      region: REGION,
      plugins: [w.sim.plugin()],
      maxAttempts: 3,
      baseBackoffMs: 1,
    }).workload(REGION, w.sim.credentialsFor(w.wl.killRoleArn)).lambda;
    await lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 1 }),
    );
    const error = await rejection(
      lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 0 })),
    );
    expect(error).toBeInstanceOf(TooManyRequestsException);
    expect(error.$metadata).toMatchObject({ httpStatusCode: 429, attempts: 3 });
    expect(w.sim.lambda.reservedConcurrency(WL, REGION, name)).toBe(1);
  });

  test("the design preset's EC2 bucket allows a burst of 100 ModifyNetworkInterfaceAttribute, then 5 per second", async () => {
    const clock = new ManualClock();
    const w = await world({ clock, throttling: 'design' });
    const api = w.sim.as(WL, REGION);
    const subnet = (await api.ec2.CreateSubnet({ VpcId: VPC, CidrBlock: '10.0.1.0/24' })).Subnet!.SubnetId!;
    const eni = (await api.ec2.CreateNetworkInterface({ SubnetId: subnet })).NetworkInterface!
      .NetworkInterfaceId!;
    const ec2 = createClientFactory({ region: REGION, plugins: [w.sim.plugin()], maxAttempts: 1 }).workload(
      REGION,
      w.sim.credentialsFor(w.wl.killRoleArn),
    ).ec2;
    const modify = () =>
      ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni,
          Groups: [w.wl.isolationGroups[VPC].open],
        }),
      );
    for (let i = 0; i < 100; i++) await modify();
    const error = await rejection(modify());
    expect(error.name).toBe('RequestLimitExceeded');
    expect(error.$metadata?.httpStatusCode).toBe(503);
    // Describe calls are not in that bucket.
    await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni] }));
    await clock.advance(1000);
    for (let i = 0; i < 5; i++) await modify();
    expect((await rejection(modify())).name).toBe('RequestLimitExceeded');
  });

  test('IAM throttling uses the IAM code and status (Throttling, 400)', async () => {
    const w = await world();
    await agentRole(w, 'x');
    w.sim.failNext({ service: 'iam', action: 'GetRole', error: 'throttle', times: 10 });
    const iam = createClientFactory({ region: REGION, plugins: [w.sim.plugin()], maxAttempts: 1 }).workload(
      REGION,
      w.sim.credentialsFor(w.wl.killRoleArn),
    ).iam;
    const error = await rejection(iam.send(new GetRoleCommand({ RoleName: 'x' })));
    expect(error).toBeInstanceOf(IAMServiceException);
    expect(error.name).toBe('Throttling');
    expect(error.$metadata?.httpStatusCode).toBe(400);
  });
});

describe('fault injection and latency', () => {
  test('throttling that clears after two retries: the call succeeds on attempt 3, and the log shows both refusals', async () => {
    const w = await world();
    await agentRole(w, 'agent-r');
    w.sim.failNext({
      accountId: WL,
      service: 'iam',
      action: 'AttachRolePolicy',
      error: 'Throttling',
      times: 2,
    });
    const out = await w.workload.iam.send(
      new AttachRolePolicyCommand({ RoleName: 'agent-r', PolicyArn: w.wl.denyPolicyArns.fullStop }),
    );
    expect(out.$metadata.attempts).toBe(3);
    expect(w.sim.calls.filter((c) => c.action === 'AttachRolePolicy').map((c) => c.outcome)).toEqual([
      'Throttling',
      'Throttling',
      'ok',
    ]);
    expect(w.sim.iam.roleByName(WL, 'agent-r')!.attachedPolicyArns).toEqual([w.wl.denyPolicyArns.fullStop]);
  });

  test('a 5xx is retried; a client error is not', async () => {
    const w = await world();
    await agentRole(w, 'agent-5');
    w.sim.failNext({ service: 'iam', action: 'GetRole', error: 'internal' });
    const ok = await w.workload.iam.send(new GetRoleCommand({ RoleName: 'agent-5' }));
    expect(ok.$metadata.attempts).toBe(2);
    expect(w.sim.calls.at(-2)).toMatchObject({ outcome: 'ServiceFailureException', httpStatusCode: 500 });
    w.sim.failNext({ service: 'iam', action: 'GetRole', error: 'InvalidInput' });
    const error = await rejection(w.workload.iam.send(new GetRoleCommand({ RoleName: 'agent-5' })));
    expect(error.name).toBe('InvalidInput');
    expect(error.$metadata?.attempts).toBe(1);
  });

  test('latency is an awaited delay on the simulator clock', async () => {
    const clock = new ManualClock();
    const options: SimulatorOptions = { clock, latencyMs: { iam: 250 } };
    const w = await world(options);
    await agentRole(w, 'slow');
    let done = false;
    const call = w.workload.iam.send(new GetRoleCommand({ RoleName: 'slow' })).then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    await clock.advance(249);
    expect(done).toBe(false);
    await clock.advance(1);
    await call;
    expect(done).toBe(true);
    expect(w.sim.calls.at(-1)).toMatchObject({ action: 'GetRole', durationMs: 250, outcome: 'ok' });
  });
});

describe('injected denies', () => {
  test('a denied surface answers AccessDenied and changes nothing; other resources and lifting the deny work', async () => {
    const w = await world();
    await agentRole(w, 'agent-d1');
    await agentRole(w, 'agent-d2');
    const lift = w.sim.denyAction({ accountId: WL, service: 'iam', action: 'Attach*', resource: 'agent-d1' });
    const attach = (RoleName: string) =>
      w.workload.iam.send(new AttachRolePolicyCommand({ RoleName, PolicyArn: w.wl.denyPolicyArns.fullStop }));
    const error = await rejection(attach('agent-d1'));
    expect(error.name).toBe('AccessDenied');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 403, attempts: 1 });
    expect(error.message).toContain(
      `is not authorized to perform: iam:AttachRolePolicy on resource: agent-d1`,
    );
    expect(w.sim.iam.roleByName(WL, 'agent-d1')!.attachedPolicyArns).toEqual([]);
    await attach('agent-d2');
    lift();
    await attach('agent-d1');
    expect(w.sim.iam.roleByName(WL, 'agent-d1')!.attachedPolicyArns).toEqual([w.wl.denyPolicyArns.fullStop]);
  });

  test('EC2 refuses with its own code, UnauthorizedOperation', async () => {
    const w = await world();
    w.sim.denyAction({ accountId: WL, service: 'ec2', action: 'DescribeNetworkInterfaces' });
    const error = await rejection(w.workload.ec2.send(new DescribeNetworkInterfacesCommand({})));
    expect(error.name).toBe('UnauthorizedOperation');
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });
});
