/**
 * An agent role that carries BackstopAgentBoundary, and whose own policies allow everything (the
 * worst case), evaluated with an IAM simulator: it keeps its own authority but cannot touch
 * Backstop.
 */
import {
  AGENT_TAG,
  agentBoundaryName,
  fullStopPolicyName,
  ISOLATION_TAG,
  iamPolicyArn,
  killExecutionRoleName,
  readOnlyPolicyName,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { ALARM_FORWARDER_RULE_NAME } from '../../lib/constructs/alarm-forwarder';
import { synthStacks } from '../helpers/cdk';
import { ALLOW_EVERYTHING, evaluate, ResolvedTemplate } from './iam-policies';

const ACCOUNT = '222222222222';
const REGION = 'us-east-1';
const template = new ResolvedTemplate(
  synthStacks().workloadTemplate(ACCOUNT, REGION),
  'aws',
  ACCOUNT,
  REGION,
);
const boundary = template.managedPolicy(agentBoundaryName(REGION));

const AGENT_ROLE = `arn:aws:iam::${ACCOUNT}:role/agents/support-bot-runtime`;
const KILL_ROLE = `arn:aws:iam::${ACCOUNT}:role/backstop/${killExecutionRoleName(REGION)}`;
const RESTORE_ROLE = `arn:aws:iam::${ACCOUNT}:role/backstop/${restoreExecutionRoleName(REGION)}`;
const policyArn = (name: string) => iamPolicyArn('aws', ACCOUNT, name);
const FULL_STOP = policyArn(fullStopPolicyName(REGION));
const BOUNDARY = policyArn(agentBoundaryName(REGION));

function asAgent(action: string, resource: string, context: Record<string, string | string[]> = {}) {
  return evaluate({
    principal: AGENT_ROLE,
    action,
    resource,
    context,
    identity: [ALLOW_EVERYTHING],
    boundary,
  });
}

describe('an agent role under the boundary', () => {
  it('keeps the authority its own policies grant', async () => {
    await expect(asAgent('s3:PutObject', 'arn:aws:s3:::support-bot-drafts/reply.txt')).resolves.toBe(
      'Allowed',
    );
    await expect(asAgent('iam:PutRolePolicy', `arn:aws:iam::${ACCOUNT}:role/agents/helper`)).resolves.toBe(
      'Allowed',
    );
    await expect(
      asAgent('iam:TagRole', AGENT_ROLE, { 'aws:TagKeys': ['team'], 'aws:RequestTag/team': 'support' }),
    ).resolves.toBe('Allowed');
  });

  it('cannot modify, pass or assume the kill or restore execution role', async () => {
    for (const role of [KILL_ROLE, RESTORE_ROLE]) {
      for (const action of [
        'iam:PutRolePolicy',
        'iam:AttachRolePolicy',
        'iam:DetachRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:UpdateAssumeRolePolicy',
        'iam:DeleteRole',
        'iam:PassRole',
        'sts:AssumeRole',
      ]) {
        await expect(asAgent(action, role, { 'iam:PolicyARN': FULL_STOP })).resolves.toBe('ExplicitlyDenied');
      }
    }
  });

  it('cannot modify the deny policies or the boundary itself', async () => {
    for (const policy of [FULL_STOP, policyArn(readOnlyPolicyName(REGION)), BOUNDARY]) {
      for (const action of [
        'iam:CreatePolicyVersion',
        'iam:SetDefaultPolicyVersion',
        'iam:DeletePolicyVersion',
        'iam:DeletePolicy',
      ]) {
        await expect(asAgent(action, policy)).resolves.toBe('ExplicitlyDenied');
      }
    }
  });

  it('cannot detach a deny policy from its own role, nor attach the boundary or any Backstop policy as a permissions policy', async () => {
    await expect(asAgent('iam:DetachRolePolicy', AGENT_ROLE, { 'iam:PolicyARN': FULL_STOP })).resolves.toBe(
      'ExplicitlyDenied',
    );
    for (const policy of [BOUNDARY, policyArn(`${killExecutionRoleName(REGION)}-1`)]) {
      await expect(asAgent('iam:AttachRolePolicy', AGENT_ROLE, { 'iam:PolicyARN': policy })).resolves.toBe(
        'ExplicitlyDenied',
      );
    }
  });

  it('cannot remove or replace a permissions boundary, on its own role or any other', async () => {
    for (const role of [AGENT_ROLE, `arn:aws:iam::${ACCOUNT}:role/agents/helper`]) {
      await expect(asAgent('iam:DeleteRolePermissionsBoundary', role)).resolves.toBe('ExplicitlyDenied');
      await expect(
        asAgent('iam:PutRolePermissionsBoundary', role, {
          'iam:PermissionsBoundary': `arn:aws:iam::${ACCOUNT}:policy/open`,
        }),
      ).resolves.toBe('ExplicitlyDenied');
    }
  });

  it(`cannot remove, change or add its own ${AGENT_TAG} tag`, async () => {
    await expect(asAgent('iam:UntagRole', AGENT_ROLE, { 'aws:TagKeys': [AGENT_TAG] })).resolves.toBe(
      'ExplicitlyDenied',
    );
    await expect(
      asAgent('iam:TagRole', AGENT_ROLE, {
        'aws:TagKeys': [AGENT_TAG],
        [`aws:RequestTag/${AGENT_TAG}`]: 'someone-else',
      }),
    ).resolves.toBe('ExplicitlyDenied');
  });

  it('cannot open the isolation groups, disable the alarm forwarder or silence its trigger alarms', async () => {
    await expect(
      asAgent(
        'ec2:AuthorizeSecurityGroupEgress',
        `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0123456789abcdef0`,
        {
          [`aws:ResourceTag/${ISOLATION_TAG}`]: 'closed',
        },
      ),
    ).resolves.toBe('ExplicitlyDenied');
    for (const action of ['events:DisableRule', 'events:DeleteRule', 'events:RemoveTargets']) {
      await expect(
        asAgent(action, `arn:aws:events:${REGION}:${ACCOUNT}:rule/${ALARM_FORWARDER_RULE_NAME}`),
      ).resolves.toBe('ExplicitlyDenied');
    }
    for (const action of [
      'cloudwatch:DeleteAlarms',
      'cloudwatch:DisableAlarmActions',
      'cloudwatch:SetAlarmState',
    ]) {
      await expect(
        asAgent(action, `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:support-bot-spend-spike`),
      ).resolves.toBe('ExplicitlyDenied');
      await expect(
        asAgent(action, `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:etl-agent-runaway`),
      ).resolves.toBe('ExplicitlyDenied');
    }
  });
});
