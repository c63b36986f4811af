/**
 * The optional organization guardrail (BackstopGuardrailPolicy), evaluated with the IAM policy
 * simulator: it binds every principal of a workload account, administrators included, except
 * Backstop's deployers and its own execution roles.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { killExecutionRoleName } from '../../lambda/shared/naming';
import { BackstopGuardrailPolicy } from '../../lib/constructs/guardrail-scp';
import { newTestApp } from '../helpers/cdk';
import { ALLOW_EVERYTHING, evaluate, type PolicyDocument } from './iam-policies';

const ACCOUNT = '222222222222';
const ADMIN = `arn:aws:iam::${ACCOUNT}:role/Admin`;
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-us-east-1`;
const KILL_ROLE = `arn:aws:iam::${ACCOUNT}:role/backstop/${killExecutionRoleName('us-east-1')}`;

const stack = new Stack(newTestApp(), 'Org');
const guardrails = new BackstopGuardrailPolicy(stack, 'Guardrails', {
  deployerArnPatterns: ['arn:aws:iam::*:role/cdk-*-cfn-exec-role-*'],
  targetIds: ['ou-abcd-12345678'],
});
const scp = guardrails.document as unknown as PolicyDocument;
const as = (
  principal: string,
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
) => evaluate({ principal, action, resource, context, identity: [ALLOW_EVERYTHING], scps: [scp] });

describe('BackstopGuardrailPolicy', () => {
  it('is an SCP attached where it is told, small enough for AWS (5,120 characters)', () => {
    Template.fromStack(stack).hasResourceProperties('AWS::Organizations::Policy', {
      Type: 'SERVICE_CONTROL_POLICY',
      TargetIds: ['ou-abcd-12345678'],
    });
    expect(JSON.stringify(scp).length).toBeLessThan(5120);
  });

  it('an administrator cannot change Backstop, free an agent role, untag it, or open an isolation group', async () => {
    const agentRole = `arn:aws:iam::${ACCOUNT}:role/agents/support-bot-runtime`;
    const tagged = { 'aws:ResourceTag/backstop:agent': 'support-bot' };
    const cases: [string, string, Record<string, string | string[]>][] = [
      ['iam:PutRolePolicy', KILL_ROLE, {}],
      [
        'iam:CreatePolicyVersion',
        `arn:aws:iam::${ACCOUNT}:policy/backstop/BackstopKillBoundary-us-east-1`,
        {},
      ],
      ['iam:DeleteRolePermissionsBoundary', agentRole, tagged],
      ['iam:DetachRolePolicy', agentRole, { ...tagged, 'iam:PolicyARN': `arn:aws:iam::${ACCOUNT}:policy/x` }],
      ['iam:UntagRole', agentRole, { 'aws:TagKeys': ['backstop:agent'] }],
      [
        'ec2:AuthorizeSecurityGroupIngress',
        `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-1`,
        { 'aws:ResourceTag/backstop:isolation': 'closed' },
      ],
      ['iam:CreateRole', `arn:aws:iam::${ACCOUNT}:role/no-boundary`, {}],
    ];
    for (const [action, resource, context] of cases) {
      expect([action, await as(ADMIN, action, resource, context)]).toEqual([action, 'ExplicitlyDenied']);
    }
  });

  it('leaves Backstop’s deployer and its execution roles able to do their work, and everyone else theirs', async () => {
    await expect(as(DEPLOYER, 'iam:PutRolePolicy', KILL_ROLE)).resolves.toBe('Allowed');
    await expect(
      as(
        KILL_ROLE,
        'iam:PutRolePermissionsBoundary',
        `arn:aws:iam::${ACCOUNT}:role/agents/support-bot-runtime`,
        {
          'aws:ResourceTag/backstop:agent': 'support-bot',
        },
      ),
    ).resolves.toBe('Allowed');
    await expect(as(ADMIN, 's3:PutObject', 'arn:aws:s3:::data/x')).resolves.toBe('Allowed');
    await expect(
      as(ADMIN, 'iam:CreateRole', `arn:aws:iam::${ACCOUNT}:role/app`, {
        'iam:PermissionsBoundary': `arn:aws:iam::${ACCOUNT}:policy/app-boundary`,
      }),
    ).resolves.toBe('Allowed');
  });

  it('refuses to be built without a deployer (nobody could update Backstop again)', () => {
    expect(
      () => new BackstopGuardrailPolicy(new Stack(newTestApp(), 'X'), 'G', { deployerArnPatterns: [] }),
    ).toThrow(/deployerArnPatterns/);
  });
});
