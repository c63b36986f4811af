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
  killBoundaryName,
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

describe('the doors an agent that prepared for its kill would use are closed', () => {
  const ME = { [`aws:PrincipalTag/${AGENT_TAG}`]: 'support-bot' };
  const asMe = (action: string, resource: string, context: Record<string, string | string[]> = {}) =>
    asAgent(action, resource, { ...ME, ...context });
  const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
  const KILL_BOUNDARY = policyArn(killBoundaryName(REGION));

  it('no role or user without the boundary and the agent’s own tag', async () => {
    for (const [action, resource] of [
      ['iam:CreateRole', role('shadow')],
      ['iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/shadow`],
    ] as const) {
      await expect(asMe(action, resource)).resolves.toBe('ExplicitlyDenied');
      await expect(
        asMe(action, resource, { 'iam:PermissionsBoundary': `arn:aws:iam::${ACCOUNT}:policy/open` }),
      ).resolves.toBe('ExplicitlyDenied');
    }
    // With the boundary but tagged as another agent, or untagged: still refused.
    await expect(
      asMe('iam:CreateRole', role('shadow'), {
        'iam:PermissionsBoundary': BOUNDARY,
        [`aws:RequestTag/${AGENT_TAG}`]: 'other-bot',
      }),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      asMe('iam:CreateRole', role('helper'), {
        'iam:PermissionsBoundary': BOUNDARY,
        [`aws:RequestTag/${AGENT_TAG}`]: 'support-bot',
        'aws:TagKeys': [AGENT_TAG],
      }),
    ).resolves.toBe('ExplicitlyDenied'); // writing a backstop:* tag is refused as well
  });

  it('no access keys, login profiles or federation tokens, and no trust-policy change on any role', async () => {
    for (const action of ['iam:CreateAccessKey', 'iam:CreateLoginProfile', 'iam:UpdateAccessKey']) {
      await expect(asMe(action, `arn:aws:iam::${ACCOUNT}:user/anyone`)).resolves.toBe('ExplicitlyDenied');
    }
    await expect(asMe('sts:GetFederationToken', `arn:aws:sts::${ACCOUNT}:federated-user/x`)).resolves.toBe(
      'ExplicitlyDenied',
    );
    for (const target of [AGENT_ROLE, role('payments-service'), role('agents/helper')]) {
      await expect(asMe('iam:UpdateAssumeRolePolicy', target)).resolves.toBe('ExplicitlyDenied');
    }
  });

  it('passes and assumes only roles of its own agent; an untagged agent role passes and assumes none', async () => {
    const mine = { [`aws:ResourceTag/${AGENT_TAG}`]: 'support-bot' };
    for (const action of ['iam:PassRole', 'sts:AssumeRole']) {
      await expect(asMe(action, role('support-bot-worker'), mine)).resolves.toBe('Allowed');
      await expect(
        asMe(action, role('research-bot-runtime'), { [`aws:ResourceTag/${AGENT_TAG}`]: 'research-bot' }),
      ).resolves.toBe('ExplicitlyDenied');
      await expect(asMe(action, role('payments-service'))).resolves.toBe('ExplicitlyDenied');
      await expect(asAgent(action, role('support-bot-worker'), mine)).resolves.toBe('ExplicitlyDenied');
    }
  });

  it('cannot write, delete, attach or detach policies of agent roles, its own included, nor create Backstop-named policies', async () => {
    for (const boundary of [BOUNDARY, KILL_BOUNDARY]) {
      for (const action of [
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:AttachRolePolicy',
        'iam:DetachRolePolicy',
      ]) {
        await expect(
          asMe(action, AGENT_ROLE, {
            'iam:PermissionsBoundary': boundary,
            'iam:PolicyARN': `arn:aws:iam::${ACCOUNT}:policy/agent-s3-access`,
          }),
        ).resolves.toBe('ExplicitlyDenied');
      }
    }
    for (const name of ['BackstopInlineDeny', 'backstop-read-only-us-east-1', 'MyBackstopHelper']) {
      await expect(asMe('iam:CreatePolicy', `arn:aws:iam::${ACCOUNT}:policy/${name}`)).resolves.toBe(
        'ExplicitlyDenied',
      );
    }
  });

  it('cannot switch work back on: mappings, rules, schedules, concurrency, its own or a sibling agent’s', async () => {
    const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:research-bot-worker`;
    for (const [action, resource] of [
      ['lambda:UpdateEventSourceMapping', `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:abc`],
      ['lambda:CreateEventSourceMapping', '*'],
      ['lambda:PutFunctionConcurrency', fn],
      ['lambda:DeleteFunctionConcurrency', fn],
      ['events:EnableRule', `arn:aws:events:${REGION}:${ACCOUNT}:rule/research-nightly`],
      ['events:PutRule', `arn:aws:events:${REGION}:${ACCOUNT}:rule/research-nightly`],
      ['scheduler:UpdateSchedule', `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/sweep`],
      ['scheduler:CreateSchedule', `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/comeback`],
    ] as const) {
      await expect(asMe(action, resource)).resolves.toBe('ExplicitlyDenied');
    }
  });

  it('cannot create a function or state machine that escapes discovery (untagged, or tagged as another agent)', async () => {
    for (const [action, resource] of [
      ['lambda:CreateFunction', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:copy-of-me`],
      ['states:CreateStateMachine', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:copy-of-me`],
    ] as const) {
      await expect(asMe(action, resource)).resolves.toBe('ExplicitlyDenied');
      await expect(asMe(action, resource, { [`aws:RequestTag/${AGENT_TAG}`]: 'other-bot' })).resolves.toBe(
        'ExplicitlyDenied',
      );
    }
  });

  it('cannot use an isolation group, move its own interfaces or functions, or untag anything of Backstop', async () => {
    const isolation = { [`aws:ResourceTag/${ISOLATION_TAG}`]: 'open' };
    await expect(
      asMe(
        'ec2:ModifyNetworkInterfaceAttribute',
        `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0open`,
        isolation,
      ),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      asMe(
        'ec2:ModifyNetworkInterfaceAttribute',
        `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0123456789abcdef0`,
        { [`aws:ResourceTag/${AGENT_TAG}`]: 'support-bot' },
      ),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(
      asMe(
        'lambda:UpdateFunctionConfiguration',
        `arn:aws:lambda:${REGION}:${ACCOUNT}:function:support-bot-tools`,
        {
          [`aws:ResourceTag/${AGENT_TAG}`]: 'support-bot',
        },
      ),
    ).resolves.toBe('ExplicitlyDenied');
    for (const action of ['lambda:UntagResource', 'ec2:DeleteTags', 'tag:UntagResources', 'iam:UntagRole']) {
      await expect(asMe(action, '*', { 'aws:TagKeys': [AGENT_TAG] })).resolves.toBe('ExplicitlyDenied');
    }
  });
});
