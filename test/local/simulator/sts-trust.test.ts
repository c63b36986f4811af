import { GetRoleCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createClientFactory } from '../../../lambda/shared/clients';
import {
  ManualClock,
  Simulator,
  seedBackstopControlPlane,
  seedBackstopWorkload,
} from '../../../lib/local/simulator';
import { CP, REGION, rejection, WL, world } from './helpers';

function stsAs(sim: Simulator, principalArn: string): STSClient {
  return createClientFactory({
    region: REGION,
    plugins: [sim.plugin()],
    credentials: sim.credentialsFor(principalArn),
    maxAttempts: 1,
  }).controlPlane().sts;
}

describe('AssumeRole checks the target role trust policy', () => {
  test('the kill worker assumes the kill execution role; the session acts as that role and is recorded', async () => {
    const w = await world();
    const sts = w.factory.controlPlane().sts;
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: w.wl.killRoleArn,
        RoleSessionName: 'backstop-inc-42',
        SourceIdentity: 'backstop-inc-42',
        DurationSeconds: 3600,
      }),
    );
    expect(out.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${WL}:assumed-role/backstop-kill-${REGION}/backstop-inc-42`,
    );
    expect(out.SourceIdentity).toBe('backstop-inc-42');
    expect(out.Credentials?.Expiration).toBeInstanceOf(Date);

    const c = out.Credentials!;
    const clients = w.factory.workload(REGION, {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken,
    });
    const role = await clients.iam.send(new GetRoleCommand({ RoleName: `backstop-kill-${REGION}` }));
    expect(role.Role?.RoleLastUsed?.Region).toBe(REGION);
    const sessionSts = new STSClient({
      region: REGION,
      credentials: {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken,
      },
    });
    w.sim.plugin()(sessionSts);
    const me = await sessionSts.send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Account: WL, Arn: out.AssumedRoleUser?.Arn });

    expect(w.sim.sts.sessions()).toEqual([
      expect.objectContaining({
        roleArn: w.wl.killRoleArn,
        accountId: WL,
        roleSessionName: 'backstop-inc-42',
        sourceIdentity: 'backstop-inc-42',
        callerArn: `arn:aws:sts::${CP}:assumed-role/backstop-kill-worker/backstop-kill-worker`,
      }),
    ]);
  });

  test('another role of the control plane account is refused, and no session is issued', async () => {
    const w = await world();
    const other = await w.sim.as(CP, REGION).iam.CreateRole({
      RoleName: 'some-other-role',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    });
    const error = await rejection(
      stsAs(w.sim, other.Role!.Arn!).send(
        new AssumeRoleCommand({
          RoleArn: w.wl.killRoleArn,
          RoleSessionName: 'backstop-inc-1',
          SourceIdentity: 'backstop-inc-1',
        }),
      ),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.$metadata?.httpStatusCode).toBe(403);
    expect(error.message).toContain('is not authorized to perform: sts:AssumeRole');
    expect(w.sim.sts.sessions()).toEqual([]);
  });

  test('the restore worker cannot assume the kill role, only the restore role', async () => {
    const w = await world();
    const restore = stsAs(w.sim, w.cp.restoreWorkerRoleArn);
    const request = { RoleSessionName: 'backstop-inc-2', SourceIdentity: 'backstop-inc-2' };
    expect(
      (await rejection(restore.send(new AssumeRoleCommand({ RoleArn: w.wl.killRoleArn, ...request })))).name,
    ).toBe('AccessDenied');
    const ok = await restore.send(new AssumeRoleCommand({ RoleArn: w.wl.restoreRoleArn, ...request }));
    expect(ok.AssumedRoleUser?.Arn).toContain(`assumed-role/backstop-restore-${REGION}/backstop-inc-2`);
  });

  test('a session name outside backstop-* is refused', async () => {
    const w = await world();
    const error = await rejection(
      w.factory.controlPlane().sts.send(
        new AssumeRoleCommand({
          RoleArn: w.wl.killRoleArn,
          RoleSessionName: 'debug-session',
          SourceIdentity: 'backstop-inc-3',
        }),
      ),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.message).toMatch(/no statement allows sts:AssumeRole/);
  });

  test('a request without a source identity is refused (Null sts:SourceIdentity = false)', async () => {
    const w = await world();
    const error = await rejection(
      w.factory
        .controlPlane()
        .sts.send(new AssumeRoleCommand({ RoleArn: w.wl.killRoleArn, RoleSessionName: 'backstop-inc-4' })),
    );
    expect(error.name).toBe('AccessDenied');
  });

  test('aws:PrincipalOrgID admits callers of the organization only', async () => {
    const sim = new Simulator({ checkOutputShapes: true });
    const cp = await seedBackstopControlPlane(sim, { accountId: CP, region: REGION });
    const wl = await seedBackstopWorkload(sim, {
      accountId: WL,
      region: REGION,
      controlPlaneAccountId: CP,
      organizationId: 'o-abcdefghij',
      agents: [{ agentId: 'a' }],
    });
    const request = new AssumeRoleCommand({
      RoleArn: wl.killRoleArn,
      RoleSessionName: 'backstop-x',
      SourceIdentity: 'backstop-x',
    });
    expect((await rejection(stsAs(sim, cp.killWorkerRoleArn).send(request))).name).toBe('AccessDenied');
    sim.setOrganization('o-abcdefghij', [CP, WL]);
    const ok = await stsAs(sim, cp.killWorkerRoleArn).send(request);
    expect(ok.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:backstop-x$/);
  });

  test('a trust policy the evaluator does not understand is refused, naming what it could not evaluate', async () => {
    const w = await world();
    const api = w.sim.as(WL, REGION);
    const role = await api.iam.CreateRole({
      RoleName: 'ip-bound',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${CP}:root` },
            Action: 'sts:AssumeRole',
            Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
          },
        ],
      }),
    });
    const error = await rejection(
      w.factory
        .controlPlane()
        .sts.send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn!, RoleSessionName: 'backstop-y' })),
    );
    expect(error.name).toBe('AccessDenied');
    expect(error.message).toMatch(/cannot evaluate this trust policy.*aws:SourceIp/);
  });

  test('a role naming a principal role that does not exist cannot be created (MalformedPolicyDocument)', async () => {
    const w = await world();
    const error = await rejection(
      w.sim.as(WL, REGION).iam.CreateRole({
        RoleName: 'bad-trust',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CP}:role/nope` }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    expect(error.name).toBe('MalformedPolicyDocumentException');
  });

  test('an unknown role is refused with AccessDenied, like AWS (no existence oracle)', async () => {
    const w = await world();
    const error = await rejection(
      w.factory.controlPlane().sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${WL}:role/missing`,
          RoleSessionName: 'backstop-z',
          SourceIdentity: 'backstop-z',
        }),
      ),
    );
    expect(error.name).toBe('AccessDenied');
  });

  test('session credentials expire with the session; role chaining is capped at one hour', async () => {
    const clock = new ManualClock();
    const sim = new Simulator({ clock, checkOutputShapes: true });
    const cp = await seedBackstopControlPlane(sim, { accountId: CP, region: REGION });
    const wl = await seedBackstopWorkload(sim, {
      accountId: WL,
      region: REGION,
      controlPlaneAccountId: CP,
      agents: [],
    });
    const sts = stsAs(sim, cp.killWorkerRoleArn);
    const request = { RoleArn: wl.killRoleArn, RoleSessionName: 'backstop-e', SourceIdentity: 'backstop-e' };
    const chained = await rejection(sts.send(new AssumeRoleCommand({ ...request, DurationSeconds: 7200 })));
    expect(chained.name).toBe('ValidationError');
    expect(chained.message).toMatch(/role chaining/);

    const out = await sts.send(new AssumeRoleCommand({ ...request, DurationSeconds: 900 }));
    const c = out.Credentials!;
    const session = createClientFactory({ region: REGION, plugins: [sim.plugin()], maxAttempts: 1 }).workload(
      REGION,
      {
        accessKeyId: c.AccessKeyId!,
        secretAccessKey: c.SecretAccessKey!,
        sessionToken: c.SessionToken,
      },
    );
    await session.iam.send(new GetRoleCommand({ RoleName: `backstop-kill-${REGION}` }));
    await clock.advance(901_000);
    const expired = await rejection(
      session.iam.send(new GetRoleCommand({ RoleName: `backstop-kill-${REGION}` })),
    );
    expect(expired.name).toBe('ExpiredToken');
  });

  test('credentials the simulator never issued are refused', async () => {
    const w = await world();
    const stranger = new STSClient({
      region: REGION,
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    w.sim.plugin()(stranger);
    const error = await rejection(stranger.send(new GetCallerIdentityCommand({})));
    expect(error.name).toBe('InvalidClientTokenId');
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });
});
