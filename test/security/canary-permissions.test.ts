/**
 * What the canary checks, and what it and the alarm trigger may do, evaluated with the IAM policy
 * simulator on the synthesized stacks:
 * - KILL_PERMISSIONS is the kill role's target list (the redesign's cuts, the discovery reads);
 * - the deployed kill role is allowed each of them on an agent resource (and the canary's own
 *   self-simulation, on itself only);
 * - the kill worker can run the canary; the trigger role can read flags and start kills only.
 */
import { DISCOVERY_READS } from '../../lib/constructs/actions';
import { ALARM_TRIGGER_ROLE_NAME } from '../../lib/constructs/alarm-trigger';
import {
  CANARY_SELF_CHECK_ACTION,
  KILL_PERMISSIONS,
  type KillPermission,
  type KillRequestContext,
  type KillResourceKind,
  killActions,
  killBoundaryArn,
} from '../../lambda/shared/kill-permissions';
import {
  AGENT_TAG,
  CONTROL_PLANE,
  denyPolicyArn,
  killExecutionRoleArn,
  killExecutionRoleName,
  killSessionName,
  restoreExecutionRoleArn,
} from '../../lambda/shared/naming';
import { canarySessionId } from '../../lambda/canary/canary';
import { killSourceIdentity } from '../../lambda/shared/deps';
import { KILL_MODES } from '../../lambda/shared/types';
import { synthStacks } from '../helpers/cdk';
import { evaluate, type PolicyDocument, ResolvedTemplate } from './iam-policies';

const P = 'aws';
const CP = '111111111111';
const W = '222222222222';
const R = 'us-east-1';
const AGENT = 'support-bot';

const synth = synthStacks();
const cp = new ResolvedTemplate(synth.controlPlaneTemplate(), P, CP, R);
const workload = new ResolvedTemplate(synth.workloadTemplate(W, R), P, W, R);
const killRole = workload.role(killExecutionRoleName(R));
const deployed = (value: string) => cp.resolve<string>(synth.controlPlane.resolve(value));

/** The cuts the kill role's redesign makes (issue 12's list), and what it no longer uses. */
const TARGET_CUTS = [
  'ec2:ModifyNetworkInterfaceAttribute',
  'events:DisableRule',
  'iam:AttachRolePolicy',
  'iam:DeleteRolePolicy',
  'iam:DetachRolePolicy',
  'iam:PassRole',
  'iam:PutRolePermissionsBoundary',
  'lambda:PutFunctionConcurrency',
  'lambda:UpdateEventSourceMapping',
  'scheduler:UpdateSchedule',
  'states:StopExecution',
];

/**
 * Cuts of the target list that today's kill role does not grant yet: the kill role's redesign
 * grants them. This list must be empty once it is merged (the test below then fails until it is).
 */
const AWAITING_KILL_ROLE_REDESIGN: string[] = [];

describe('KILL_PERMISSIONS, the one list of what a kill needs', () => {
  it('holds exactly the redesigned kill role’s cuts, and neither PutRolePolicy nor UpdateFunctionConfiguration', () => {
    expect(killActions('cut')).toEqual([...TARGET_CUTS].sort());
    expect(killActions()).not.toContain('iam:PutRolePolicy');
    expect(killActions()).not.toContain('lambda:UpdateFunctionConfiguration');
  });

  it('holds exactly the discovery reads of the execution roles (lib/constructs/actions.ts)', () => {
    const reads = [...new Set(Object.values(DISCOVERY_READS).flat())].sort();
    expect(killActions('read')).toEqual(reads);
  });
});

// ---- an agent resource of each kind, with what a kill's request carries ----------------------

const arn = (service: string, resource: string) => `arn:${P}:${service}:${R}:${W}:${resource}`;
const RESOURCE: Readonly<Record<KillResourceKind, string>> = {
  role: `arn:${P}:iam::${W}:role/agents/support-bot-runtime`,
  'managed-policy': `arn:${P}:iam::${W}:policy/support-bot-crm-write`,
  function: arn('lambda', 'function:support-bot-tools'),
  'event-source-mapping': arn('lambda', 'event-source-mapping:6b1b5e1a-0000-4000-8000-000000000001'),
  rule: arn('events', 'rule/support-events/support-bot-ticket-created'),
  'event-bus': arn('events', 'event-bus/support-events'),
  schedule: arn('scheduler', 'schedule/default/support-bot-hourly-sweep'),
  'schedule-group': arn('scheduler', 'schedule-group/default'),
  'schedule-role': `arn:${P}:iam::${W}:role/agents/support-bot-scheduler`,
  'state-machine': arn('states', 'stateMachine:support-bot-orchestrator'),
  execution: arn('states', 'execution:support-bot-orchestrator:ticket-4711'),
  'network-interface': arn('ec2', 'network-interface/eni-0123456789abcdef0'),
  'isolation-group': '',
  '*': '*',
};
/** The VPC's closed isolation group as the workload stack creates it. */
const ISOLATION = (() => {
  const found = workload.find('AWS::EC2::SecurityGroup', (p) => JSON.stringify(p.Tags).includes('"closed"'));
  return arn('ec2', `security-group/${workload.physical(found[0]?.[0] as string)}`);
})();

const CONTEXT: Readonly<Record<KillRequestContext, Record<string, string>>> = {
  'deny-policy': { 'iam:PolicyARN': denyPolicyArn(P, W, R, AGENT, 'full_stop') },
  'agent-policy': { 'iam:PolicyARN': RESOURCE['managed-policy'] },
  'kill-boundary': { 'iam:PermissionsBoundary': killBoundaryArn(P, W, R) },
  'pass-to-scheduler': { 'iam:PassedToService': 'scheduler.amazonaws.com' },
  'mapping-function': { 'lambda:FunctionArn': RESOURCE.function },
  'agent-tag': { [`aws:ResourceTag/${AGENT_TAG}`]: AGENT },
};

const rows = Object.entries(KILL_PERMISSIONS).flatMap(([surface, permissions]) =>
  permissions.map((p: KillPermission) => [`${surface}: ${p.action} on ${p.resource}`, p] as const),
);

describe('the deployed kill role is allowed what a kill needs', () => {
  it.each(rows)('%s', async (_name, p) => {
    const context = Object.assign({}, ...(p.context ?? []).map((c) => CONTEXT[c])) as Record<string, string>;
    const resource = p.resource === 'isolation-group' ? ISOLATION : RESOURCE[p.resource];
    const modes =
      p.context?.includes('deny-policy') === true
        ? KILL_MODES.map((mode) => ({ 'iam:PolicyARN': denyPolicyArn(P, W, R, AGENT, mode) }))
        : [{}];
    for (const mode of modes) {
      const result = await evaluate({
        principal: killRole.arn,
        action: p.action,
        resource,
        context: { ...context, ...mode },
        identity: killRole.identity,
      });
      if (AWAITING_KILL_ROLE_REDESIGN.includes(p.action)) expect(result).not.toBe('Allowed');
      else expect(result).toBe('Allowed');
    }
  });

  it('may simulate its own policies for the canary, and no one else’s', async () => {
    const simulate = (resource: string) =>
      evaluate({
        principal: killRole.arn,
        action: CANARY_SELF_CHECK_ACTION,
        resource,
        identity: killRole.identity,
      });
    await expect(simulate(killRole.arn)).resolves.toBe('Allowed');
    expect(killRole.arn).toBe(killExecutionRoleArn(P, W, R));
    for (const other of [
      restoreExecutionRoleArn(P, W, R),
      RESOURCE.role,
      killExecutionRoleArn(P, '333333333333', R),
    ]) {
      await expect(simulate(other)).resolves.not.toBe('Allowed');
    }
    for (const action of ['iam:SimulateCustomPolicy', 'iam:GetAccountAuthorizationDetails']) {
      await expect(
        evaluate({ principal: killRole.arn, action, resource: '*', identity: killRole.identity }),
      ).resolves.not.toBe('Allowed');
    }
  });
});

describe('the kill worker runs the canary', () => {
  const worker = cp.role(CONTROL_PLANE.killWorkerRoleName);
  const session = canarySessionId(new Date('2026-11-22T01:00:00Z'));

  it('assumes the kill role under a canary session the role’s trust admits', async () => {
    expect(killSessionName(session)).toMatch(/^backstop-canary-20261122T010000Z$/);
    for (const action of ['sts:AssumeRole', 'sts:SetSourceIdentity']) {
      const ask = {
        principal: worker.arn,
        action,
        resource: killRole.arn,
        resourceAccount: W,
        context: {
          'sts:RoleSessionName': killSessionName(session),
          'sts:SourceIdentity': killSourceIdentity(session),
        },
      };
      await expect(
        evaluate({ ...ask, identity: worker.identity, resourcePolicy: killRole.trust }),
      ).resolves.toBe('Allowed');
    }
  });

  it('publishes its metrics and findings, and writes its own log', async () => {
    const decide = (action: string, resource: string, context: Record<string, string> = {}) =>
      evaluate({ principal: worker.arn, action, resource, context, identity: worker.identity });
    await expect(
      decide('cloudwatch:PutMetricData', '*', { 'cloudwatch:namespace': CONTROL_PLANE.metricsNamespace }),
    ).resolves.toBe('Allowed');
    await expect(decide('sns:Publish', deployed(synth.controlPlane.topic.topicArn))).resolves.toBe('Allowed');
    const logGroup = deployed(synth.controlPlane.canary.logGroup.logGroupArn);
    await expect(decide('logs:PutLogEvents', `${logGroup}:log-stream:2026/11/22/abc`)).resolves.toBe(
      'Allowed',
    );
  });
});

describe('the alarm trigger’s role', () => {
  const trigger = cp.role(ALARM_TRIGGER_ROLE_NAME);
  const table = deployed(synth.controlPlane.table.tableArn);
  const machine = deployed(synth.controlPlane.killPath.stateMachine.stateMachineArn);
  const execution = (name: string) => `${machine.replace(':stateMachine:', ':execution:')}:${name}`;
  const dataKey = deployed(synth.controlPlane.dataKey.keyArn);
  /** A KMS key obeys an identity policy only when its key policy delegates to the account. */
  const keyPolicy = cp.resolve<PolicyDocument>(
    cp.find('AWS::KMS::Key').find(([id]) => cp.physical(id, 'Arn') === dataKey)?.[1].Properties?.KeyPolicy,
  );
  const decide = (action: string, resource: string, context: Record<string, string> = {}) =>
    evaluate({
      principal: trigger.arn,
      action,
      resource,
      context,
      identity: trigger.identity,
      ...(resource === dataKey ? { resourcePolicy: keyPolicy } : {}),
    });

  it('reads a flag, starts the kill path and reads the alarm kills it started', async () => {
    await expect(decide('dynamodb:GetItem', table)).resolves.toBe('Allowed');
    await expect(
      decide('kms:Decrypt', dataKey, {
        'kms:ViaService': `dynamodb.${R}.amazonaws.com`,
      }),
    ).resolves.toBe('Allowed');
    await expect(decide('states:StartExecution', machine)).resolves.toBe('Allowed');
    await expect(
      decide('states:DescribeExecution', execution('alarm-support-bot-full_stop-v0')),
    ).resolves.toBe('Allowed');
  });

  it('writes nothing, stops nothing, and reads no other kill', async () => {
    for (const action of [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
      'dynamodb:Scan',
    ]) {
      await expect(decide(action, table)).resolves.not.toBe('Allowed');
    }
    await expect(
      decide('states:StopExecution', execution('alarm-support-bot-full_stop-v0')),
    ).resolves.not.toBe('Allowed');
    await expect(decide('states:DescribeExecution', execution('cli-2026-11-22'))).resolves.not.toBe(
      'Allowed',
    );
    await expect(
      decide('states:StartExecution', `arn:${P}:states:${R}:${CP}:stateMachine:other`),
    ).resolves.not.toBe('Allowed');
    await expect(decide('kms:Decrypt', deployed(synth.controlPlane.dataKey.keyArn))).resolves.not.toBe(
      'Allowed',
    );
    await expect(decide('sts:AssumeRole', killExecutionRoleArn(P, W, R))).resolves.not.toBe('Allowed');
  });
});
