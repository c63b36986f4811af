/**
 * Each surface's `plan`: from a snapshot alone (no AWS call: the clients here would throw on a
 * send), what a kill would do to each resource, and what it would leave as it is and why.
 */
import { eventBridgeRules } from '../../../lambda/surfaces/eventbridge-rules';
import { eventSourceMappings } from '../../../lambda/surfaces/event-source-mappings';
import { executions } from '../../../lambda/surfaces/executions';
import { iamRoles } from '../../../lambda/surfaces/iam-roles';
import { lambdaConcurrency } from '../../../lambda/surfaces/lambda-concurrency';
import { network } from '../../../lambda/surfaces/network';
import { schedules } from '../../../lambda/surfaces/schedules';
import type { ResourceSnapshot } from '../../../lambda/surfaces/types';
import { ACCOUNT, context } from './support';

const fn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`;
const snap = <S>(id: string, state: S): ResourceSnapshot<S> => ({ id, state });
const unread = { error: 'AccessDenied', message: 'not authorized' };

/** A context whose clients refuse every call: planning must not make one. */
function noCalls() {
  const ctx = context();
  for (const client of Object.values(ctx.clients)) {
    (client as { send: unknown }).send = () => {
      throw new Error('plan called AWS');
    };
  }
  return ctx;
}

describe('surface plans (pure)', () => {
  it('Lambda: reserves 0, skips a function already at 0, plans one it could not read', () => {
    const plan = lambdaConcurrency.plan(noCalls(), 'full_stop', [
      snap(fn('a'), { functionArn: fn('a'), reservedConcurrentExecutions: null }),
      snap(fn('b'), { functionArn: fn('b'), reservedConcurrentExecutions: 0 }),
      snap(fn('c'), { functionArn: fn('c'), reservedConcurrentExecutions: null, readError: unread }),
    ]);
    expect(plan.actions.map((a) => [a.resource, a.current])).toEqual([
      [fn('a'), 'unreserved'],
      [fn('c'), 'unknown (AccessDenied: not authorized)'],
    ]);
    expect(plan.skipped).toEqual([
      { resource: fn('b'), current: 'reserved 0', reason: 'already reserved 0: no invocation can start' },
    ]);
  });

  it('mappings: names the queue and the function, skips those that no longer poll', () => {
    const base = { eventSourceArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:inbox`, functionArn: fn('worker') };
    const plan = eventSourceMappings.plan(noCalls(), 'full_stop', [
      snap('u1', { uuid: 'u1', state: 'Enabled', ...base }),
      snap('u2', { uuid: 'u2', state: 'Disabled', ...base }),
      snap('u3', { uuid: 'u3', state: 'Updating', ...base }),
    ]);
    expect(plan.actions.map((a) => [a.resource, a.label, a.current])).toEqual([
      ['u1', 'queue inbox -> function worker', 'Enabled'],
      ['u3', 'queue inbox -> function worker', 'Updating'],
    ]);
    expect(plan.skipped.map((s) => [s.resource, s.reason])).toEqual([
      ['u2', 'already Disabled: it does not poll'],
    ]);
  });

  it('rules: a managed rule is skipped with its manager, a disabled one as already cut', () => {
    const rule = (name: string) => `arn:aws:events:us-east-1:${ACCOUNT}:rule/${name}`;
    const plan = eventBridgeRules.plan(noCalls(), 'full_stop', [
      snap(rule('a'), {
        arn: rule('a'),
        name: 'a',
        eventBusName: 'default',
        state: 'ENABLED',
        scheduleExpression: 'rate(5 minutes)',
      }),
      snap(rule('m'), {
        arn: rule('m'),
        name: 'm',
        eventBusName: 'default',
        state: 'ENABLED',
        managedBy: 'guardduty.amazonaws.com',
      }),
      snap(rule('d'), { arn: rule('d'), name: 'd', eventBusName: 'default', state: 'DISABLED' }),
    ]);
    expect(plan.actions.map((a) => [a.resource, a.action, a.current])).toEqual([
      [rule('a'), 'DisableRule', 'ENABLED, rate(5 minutes)'],
    ]);
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(
        /^managed by guardduty\.amazonaws\.com: EventBridge does not let the customer disable/,
      ),
      'already DISABLED',
    ]);
  });

  it('schedules: disables an enabled one, skips a disabled one', () => {
    const arn = (name: string) => `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/default/${name}`;
    const definition = (name: string, State: string) => ({
      Name: name,
      GroupName: 'default',
      ScheduleExpression: 'rate(1 hour)',
      State,
      Target: { Arn: fn('a'), RoleArn: 'arn:aws:iam::1:role/r' },
      FlexibleTimeWindow: { Mode: 'OFF' as const },
    });
    const plan = schedules.plan(noCalls(), 'full_stop', [
      snap(arn('on'), {
        arn: arn('on'),
        groupName: 'default',
        name: 'on',
        definition: definition('on', 'ENABLED'),
      }),
      snap(arn('off'), {
        arn: arn('off'),
        groupName: 'default',
        name: 'off',
        definition: definition('off', 'DISABLED'),
      }),
    ]);
    expect(plan.actions.map((a) => [a.resource, a.current])).toEqual([[arn('on'), 'ENABLED, rate(1 hour)']]);
    expect(plan.skipped.map((s) => [s.resource, s.reason])).toEqual([[arn('off'), 'already DISABLED']]);
  });

  it('executions: stops the running, skips the ended', () => {
    const exec = (name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:execution:m:${name}`;
    const machine = `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:m`;
    const plan = executions.plan(noCalls(), 'full_stop', [
      snap(exec('r'), {
        executionArn: exec('r'),
        stateMachineArn: machine,
        name: 'r',
        startDate: '2025-07-24T11:00:00.000Z',
        status: 'RUNNING',
      }),
      snap(exec('s'), {
        executionArn: exec('s'),
        stateMachineArn: machine,
        name: 's',
        startDate: '2025-07-24T11:00:00.000Z',
        status: 'SUCCEEDED',
      }),
    ]);
    expect(plan.actions.map((a) => [a.resource, a.current])).toEqual([
      [exec('r'), 'RUNNING since 2025-07-24T11:00:00Z'],
    ]);
    expect(plan.skipped.map((s) => s.reason)).toEqual(['already ended (SUCCEEDED)']);
  });

  it('network: isolates what it may, reports a requester-managed interface with its owner', () => {
    const eni = (id: string) => `arn:aws:ec2:us-east-1:${ACCOUNT}:network-interface/${id}`;
    const base = { kind: 'network-interface' as const, vpcId: 'vpc-1', subnetId: 'subnet-1' };
    const plan = network.plan(noCalls(), 'full_stop', [
      snap(eni('eni-1'), {
        ...base,
        networkInterfaceArn: eni('eni-1'),
        networkInterfaceId: 'eni-1',
        groups: [{ groupId: 'sg-1', groupName: 'app' }],
        requesterManaged: false,
        description: 'browser',
      }),
      snap(eni('eni-2'), {
        ...base,
        networkInterfaceArn: eni('eni-2'),
        networkInterfaceId: 'eni-2',
        groups: [],
        requesterManaged: true,
        interfaceType: 'network_load_balancer',
      }),
      snap(fn('v'), {
        kind: 'function' as const,
        functionArn: fn('v'),
        vpcId: 'vpc-1',
        subnetIds: ['subnet-1'],
        securityGroupIds: ['sg-1'],
      }),
    ]);
    expect(plan.actions.map((a) => [a.label, a.current])).toEqual([
      ['eni-1 (browser)', 'sg-1 (app)'],
      ['function v (VpcConfig)', 'sg-1 (app)'],
    ]);
    expect(plan.actions.every((a) => /closed isolation group of vpc-1, via the open one/.test(a.after))).toBe(
      true,
    );
    expect(plan.skipped.map((s) => s.reason)).toEqual([
      expect.stringMatching(/^requester-managed by network_load_balancer: EC2 will not modify it/),
    ]);
  });

  describe('IAM roles', () => {
    const role = (name: string, attached: number, inline: string[] = [], boundary?: string) => {
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/agents/${name}`;
      return snap(roleArn, {
        roleName: name,
        roleArn,
        path: '/agents/',
        attachedPolicies: Array.from({ length: attached }, (_, i) => ({
          policyArn: `arn:aws:iam::${ACCOUNT}:policy/p${i}`,
          policyName: `p${i}`,
        })),
        inlinePolicies: inline.map((policyName) => ({ policyName, document: '{}' })),
        tags: {},
        ...(boundary
          ? { permissionsBoundaryArn: `arn:aws:iam::${ACCOUNT}:policy/backstop/${boundary}` }
          : {}),
      });
    };

    it('attaches the mode deny only, outside full_stop', () => {
      const plan = iamRoles.plan(noCalls(), 'read_only', [role('r', 2, ['i'])]);
      expect(plan.actions.map((a) => a.action)).toEqual(['AttachRolePolicy backstop-read-only-us-east-1']);
    });

    it('in full_stop: deny, kill boundary, then every policy of its own', () => {
      const plan = iamRoles.plan(noCalls(), 'full_stop', [
        role('r', 2, ['i'], 'BackstopAgentBoundary-us-east-1'),
      ]);
      expect(plan.actions.map((a) => [a.action, a.current])).toEqual([
        ['AttachRolePolicy backstop-full-stop-us-east-1', '2 managed, 1 inline'],
        [
          'PutRolePermissionsBoundary BackstopKillBoundary-us-east-1',
          'boundary BackstopAgentBoundary-us-east-1',
        ],
        ['DetachRolePolicy x2, DeleteRolePolicy x1', 'p0, p1, i (inline)'],
      ]);
    });

    it('sets the kill boundary instead of the deny when the role is at the managed-policy quota', () => {
      const plan = iamRoles.plan(noCalls(), 'read_only', [role('full', 10)]);
      expect(plan.actions).toEqual([
        expect.objectContaining({
          action: 'PutRolePermissionsBoundary BackstopKillBoundary-us-east-1',
          current:
            '10 managed, 0 inline: at the managed-policy quota, no room for backstop-read-only-us-east-1',
        }),
      ]);
    });

    it('removes nothing from a role whose policies could not be read, and says why', () => {
      const unreadRole = { ...role('u', 0), state: { ...role('u', 0).state, readError: unread } };
      const plan = iamRoles.plan(noCalls(), 'full_stop', [unreadRole]);
      expect(plan.actions.map((a) => a.action)).toEqual([
        'AttachRolePolicy backstop-full-stop-us-east-1',
        'PutRolePermissionsBoundary BackstopKillBoundary-us-east-1',
      ]);
      expect(plan.skipped).toEqual([
        expect.objectContaining({
          reason: expect.stringMatching(/could not be read: none would be removed/),
        }),
      ]);
    });
  });
});
