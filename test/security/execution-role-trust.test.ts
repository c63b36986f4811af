/**
 * Who can assume the execution roles: the synthesized trust policies (workload stack) and worker
 * identity policies (control plane stack), evaluated with an IAM simulator.
 */
import {
  CONTROL_PLANE,
  iamRoleArn,
  killExecutionRoleName,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import type { BackstopConfig } from '../../lib/config';
import { configWith, sampleConfig, synthStacks } from '../helpers/cdk';
import { ALLOW_EVERYTHING, evaluate, type NamedPolicy, ResolvedTemplate } from './iam-policies';

const CP = '111111111111';
const WORKLOAD = '222222222222';
const REGION = 'us-east-1';
const KILL_WORKER = iamRoleArn('aws', CP, CONTROL_PLANE.killWorkerRoleName);
const RESTORE_WORKER = iamRoleArn('aws', CP, CONTROL_PLANE.restoreWorkerRoleName);
const INCIDENT_SESSION = { 'sts:RoleSessionName': 'backstop-inc-42', 'sts:SourceIdentity': 'inc-42' };

function load(config: BackstopConfig) {
  const synth = synthStacks(config);
  const cp = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, 'us-east-1');
  const workload = new ResolvedTemplate(synth.workloadTemplate(WORKLOAD, REGION), 'aws', WORKLOAD, REGION);
  return {
    killWorker: cp.role(CONTROL_PLANE.killWorkerRoleName),
    restoreWorker: cp.role(CONTROL_PLANE.restoreWorkerRoleName),
    kill: workload.role(killExecutionRoleName(REGION)),
    restore: workload.role(restoreExecutionRoleName(REGION)),
  };
}

const sample = load(sampleConfig());

interface Attempt {
  readonly principal: string;
  readonly identity: readonly NamedPolicy[];
  readonly role: { arn: string; trust: import('./iam-policies').PolicyDocument };
  readonly action?: string;
  readonly context?: Record<string, string>;
}

function assume(attempt: Attempt) {
  return evaluate({
    principal: attempt.principal,
    action: attempt.action ?? 'sts:AssumeRole',
    resource: attempt.role.arn,
    resourceAccount: WORKLOAD,
    identity: attempt.identity,
    resourcePolicy: attempt.role.trust,
    context: attempt.context ?? INCIDENT_SESSION,
  });
}

describe('kill execution role trust', () => {
  it('lets the kill worker assume it with an incident session and a source identity', async () => {
    const { killWorker, kill } = sample;
    expect(kill.arn).toBe(`arn:aws:iam::${WORKLOAD}:role/backstop/backstop-kill-us-east-1`);
    await expect(assume({ principal: KILL_WORKER, identity: killWorker.identity, role: kill })).resolves.toBe(
      'Allowed',
    );
    await expect(
      assume({
        principal: KILL_WORKER,
        identity: killWorker.identity,
        role: kill,
        action: 'sts:SetSourceIdentity',
      }),
    ).resolves.toBe('Allowed');
  });

  it('refuses the restore worker, even one allowed to assume anything', async () => {
    await expect(
      assume({ principal: RESTORE_WORKER, identity: [ALLOW_EVERYTHING], role: sample.kill }),
    ).resolves.not.toBe('Allowed');
  });

  it('refuses any other role of the control plane account, even one allowed to assume anything', async () => {
    for (const principal of [
      `arn:aws:iam::${CP}:role/backstop/backstop-break-glass`,
      `arn:aws:iam::${CP}:role/Admin`,
      `arn:aws:iam::${CP}:role/backstop-kill-worker`, // same name, other path
    ]) {
      await expect(assume({ principal, identity: [ALLOW_EVERYTHING], role: sample.kill })).resolves.not.toBe(
        'Allowed',
      );
    }
  });

  it('refuses a role with the same name and path in another account', async () => {
    for (const account of ['999999999999', WORKLOAD, '333333333333']) {
      const principal = iamRoleArn('aws', account, CONTROL_PLANE.killWorkerRoleName);
      await expect(assume({ principal, identity: [ALLOW_EVERYTHING], role: sample.kill })).resolves.not.toBe(
        'Allowed',
      );
    }
  });

  it('refuses the kill worker without an incident session name or without a source identity', async () => {
    const { killWorker, kill } = sample;
    const base = { principal: KILL_WORKER, identity: killWorker.identity, role: kill };
    await expect(
      assume({ ...base, context: { 'sts:RoleSessionName': 'inc-42', 'sts:SourceIdentity': 'inc-42' } }),
    ).resolves.not.toBe('Allowed');
    await expect(
      assume({ ...base, context: { 'sts:RoleSessionName': 'backstop-inc-42' } }),
    ).resolves.not.toBe('Allowed');
  });

  it('requires the organization when one is configured', async () => {
    const org = load(
      configWith((c) => {
        c.organizationId = 'o-a1b2c3d4e5';
      }),
    );
    const base = { principal: KILL_WORKER, identity: org.killWorker.identity, role: org.kill };
    await expect(
      assume({ ...base, context: { ...INCIDENT_SESSION, 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } }),
    ).resolves.toBe('Allowed');
    await expect(
      assume({ ...base, context: { ...INCIDENT_SESSION, 'aws:PrincipalOrgID': 'o-zzzzzzzzzz' } }),
    ).resolves.not.toBe('Allowed');
    await expect(assume({ ...base, context: INCIDENT_SESSION })).resolves.not.toBe('Allowed');
  });
});

describe('restore execution role trust', () => {
  it("lets the restore worker assume it, from the restore path's apply function only", async () => {
    const { restoreWorker, restore } = sample;
    expect(restore.arn).toBe(`arn:aws:iam::${WORKLOAD}:role/backstop/backstop-restore-us-east-1`);
    const fromFunction = (name: string) => ({
      ...INCIDENT_SESSION,
      'lambda:SourceFunctionArn': `arn:aws:lambda:${REGION}:${CP}:function:${name}`,
    });
    const base = { principal: RESTORE_WORKER, identity: restoreWorker.identity, role: restore };
    await expect(assume({ ...base, context: fromFunction('backstop-restore-apply') })).resolves.toBe(
      'Allowed',
    );
    // Any other function that runs as the worker role (the endpoint, one made with iam:PassRole),
    // or the role's credentials used outside Lambda, cannot reach a workload account.
    for (const context of [
      fromFunction('backstop-restore-endpoint'),
      fromFunction('made-with-passrole'),
      INCIDENT_SESSION,
    ]) {
      await expect(assume({ ...base, context })).resolves.not.toBe('Allowed');
    }
  });

  it('refuses the kill worker (anyone who can only trigger kills cannot put authority back)', async () => {
    await expect(
      assume({ principal: KILL_WORKER, identity: [ALLOW_EVERYTHING], role: sample.restore }),
    ).resolves.not.toBe('Allowed');
    await expect(
      assume({ principal: KILL_WORKER, identity: sample.killWorker.identity, role: sample.restore }),
    ).resolves.not.toBe('Allowed');
  });

  it('refuses other roles of the control plane account and look-alikes in other accounts', async () => {
    for (const principal of [
      `arn:aws:iam::${CP}:role/backstop/backstop-break-glass`,
      iamRoleArn('aws', '999999999999', CONTROL_PLANE.restoreWorkerRoleName),
    ]) {
      await expect(
        assume({ principal, identity: [ALLOW_EVERYTHING], role: sample.restore }),
      ).resolves.not.toBe('Allowed');
    }
  });
});

describe('worker identity policies', () => {
  it('let the kill worker assume the kill role of every workload account and region, and nothing else', async () => {
    const everything = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow' as const, Principal: { AWS: '*' }, Action: '*', Resource: '*' }],
    };
    const cases: [string, string, string][] = [
      ['222222222222', 'us-east-1', 'Allowed'],
      ['222222222222', 'eu-west-1', 'Allowed'],
      ['333333333333', 'us-east-1', 'Allowed'],
    ];
    for (const [account, region, expected] of cases) {
      const role = { arn: iamRoleArn('aws', account, killExecutionRoleName(region)), trust: everything };
      const result = await evaluate({
        principal: KILL_WORKER,
        action: 'sts:AssumeRole',
        resource: role.arn,
        resourceAccount: account,
        identity: sample.killWorker.identity,
        resourcePolicy: everything,
        context: INCIDENT_SESSION,
      });
      expect(result).toBe(expected);
    }
    for (const [arn, account] of [
      [iamRoleArn('aws', WORKLOAD, restoreExecutionRoleName(REGION)), WORKLOAD],
      [iamRoleArn('aws', '444444444444', killExecutionRoleName(REGION)), '444444444444'],
      [`arn:aws:iam::${WORKLOAD}:role/Admin`, WORKLOAD],
    ]) {
      const result = await evaluate({
        principal: KILL_WORKER,
        action: 'sts:AssumeRole',
        resource: arn,
        resourceAccount: account,
        identity: sample.killWorker.identity,
        resourcePolicy: everything,
        context: INCIDENT_SESSION,
      });
      expect(result).not.toBe('Allowed');
    }
  });
});
