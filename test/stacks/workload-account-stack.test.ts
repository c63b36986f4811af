import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import {
  AGENT_TAG,
  approvalGatedPolicyName,
  draftOnlyPolicyName,
  fullStopPolicyName,
  IAM_PATH,
  ISOLATION_TAG,
  killExecutionRoleName,
  readOnlyPolicyName,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { DEFAULT_HIGH_RISK_ACTIONS } from '../../lib/config';
import { HOLD_THE_CUT_ACTIONS } from '../../lambda/shared/policy-documents';
import { READ_ONLY_ACTIONS } from '../../lib/constructs/actions';
import { ALARM_FORWARDER_RULE_NAME } from '../../lib/constructs/alarm-forwarder';
import { CLOSED_GROUP_EGRESS } from '../../lib/constructs/isolation-security-groups';
import { WorkloadAccountStack } from '../../lib/stacks/workload-account-stack';
import { configWith, newTestApp, sampleConfig, synthStacks } from '../helpers/cdk';

const synth = synthStacks();
const ACCOUNT = '222222222222';
const usEast = synth.workload(ACCOUNT, 'us-east-1');
const usEastTemplate = synth.workloadTemplate(ACCOUNT, 'us-east-1');
const euWestTemplate = synth.workloadTemplate(ACCOUNT, 'eu-west-1');

function managedPolicy(template: ReturnType<typeof synth.workloadTemplate>, name: string) {
  const found = Object.values(
    template.findResources('AWS::IAM::ManagedPolicy', { Properties: { ManagedPolicyName: name } }),
  );
  expect(found).toHaveLength(1);
  return found[0].Properties;
}

describe('WorkloadAccountStack', () => {
  it('builds one stack per workload account and region, named after both, deployed there', () => {
    expect(synth.workloads.map((w) => [w.stackName, w.account, w.region])).toEqual([
      ['Backstop-Workload-222222222222-us-east-1', '222222222222', 'us-east-1'],
      ['Backstop-Workload-222222222222-eu-west-1', '222222222222', 'eu-west-1'],
      ['Backstop-Workload-333333333333-us-east-1', '333333333333', 'us-east-1'],
    ]);
  });

  it('refuses an account and region the config does not declare', () => {
    expect(
      () =>
        new WorkloadAccountStack(newTestApp(), 'X', {
          config: sampleConfig(),
          accountId: '333333333333',
          region: 'eu-west-1',
        }),
    ).toThrow(/333333333333 eu-west-1 is not a workload account and region declared in the config/);
  });

  it('carries no Lambda asset and no bootstrap version check, so it deploys as a plain template or through StackSets', () => {
    for (const w of synth.workloads) {
      const template = synth.workloadTemplate(w.account, w.region).toJSON();
      const types = new Set(
        Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type),
      );
      expect([...types].filter((t) => t.startsWith('AWS::Lambda::') || t.startsWith('Custom::'))).toEqual([]);
      expect(template.Parameters?.BootstrapVersion).toBeUndefined();
      expect(template.Rules?.CheckBootstrapVersion).toBeUndefined();
    }
    // The only asset of each workload stack is its own template: no code, no image.
    const assembly = synth.app.synth();
    for (const w of synth.workloads) {
      const manifest = JSON.parse(
        readFileSync(join(assembly.directory, `${w.artifactId}.assets.json`), 'utf8'),
      );
      expect(Object.values(manifest.files).map((f) => (f as { source: unknown }).source)).toEqual([
        { path: `${w.artifactId}.template.json`, packaging: 'file' },
      ]);
      expect(manifest.dockerImages ?? {}).toEqual({});
    }
  });

  describe('kill execution role', () => {
    it('has the fixed name of its region on the Backstop path, and trusts only the kill worker', () => {
      usEastTemplate.hasResourceProperties('AWS::IAM::Role', {
        RoleName: killExecutionRoleName('us-east-1'),
        Path: IAM_PATH,
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'sts:AssumeRole',
              Principal: {
                AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111111111111:root']] },
              },
              Condition: {
                ArnEquals: {
                  'aws:PrincipalArn': 'arn:aws:iam::111111111111:role/backstop/backstop-kill-worker',
                },
                StringLike: { 'sts:RoleSessionName': 'backstop-*' },
                Null: { 'sts:SourceIdentity': 'false' },
              },
            },
            Match.objectLike({
              Action: 'sts:SetSourceIdentity',
              Condition: {
                ArnEquals: {
                  'aws:PrincipalArn': 'arn:aws:iam::111111111111:role/backstop/backstop-kill-worker',
                },
              },
            }),
          ],
        },
      });
    });

    it('adds the organization condition when an organization id is configured', () => {
      const org = synthStacks(
        configWith((c) => {
          c.organizationId = 'o-a1b2c3d4e5';
        }),
      );
      org.workloadTemplate(ACCOUNT, 'us-east-1').hasResourceProperties('AWS::IAM::Role', {
        RoleName: killExecutionRoleName('us-east-1'),
        AssumeRolePolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 'sts:AssumeRole',
              Condition: Match.objectLike({ StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } }),
            }),
          ]),
        },
      });
    });

    it('may attach only its region’s deny policies, by iam:PolicyARN', () => {
      const role =
        usEastTemplate.toJSON().Resources[
          usEast.getLogicalId(usEast.killExecutionRole.node.defaultChild as never)
        ];
      expect(role.Properties.ManagedPolicyArns.length).toBeGreaterThanOrEqual(1);
      usEastTemplate.hasResourceProperties('AWS::IAM::ManagedPolicy', {
        ManagedPolicyName: Match.stringLikeRegexp('^backstop-kill-us-east-1-\\d$'),
        Path: IAM_PATH,
        PolicyDocument: {
          Statement: Match.arrayWith([
            {
              Sid: 'AttachBackstopDenyPoliciesTagged',
              Effect: 'Allow',
              Action: 'iam:AttachRolePolicy',
              Resource: `arn:aws:iam::${ACCOUNT}:role/*`,
              Condition: {
                Null: { [`aws:ResourceTag/${AGENT_TAG}`]: 'false' },
                ArnLike: {
                  'iam:PolicyARN': [
                    `arn:aws:iam::${ACCOUNT}:policy/backstop/${fullStopPolicyName('us-east-1')}`,
                    `arn:aws:iam::${ACCOUNT}:policy/backstop/${readOnlyPolicyName('us-east-1')}`,
                    `arn:aws:iam::${ACCOUNT}:policy/backstop/backstop-draft-only-*-us-east-1`,
                    `arn:aws:iam::${ACCOUNT}:policy/backstop/backstop-approval-gated-*-us-east-1`,
                  ],
                },
              },
            },
          ]),
        },
      });
    });

    it('gets no network permissions in a region without declared VPCs', () => {
      const statements = Object.values(
        euWestTemplate.findResources('AWS::IAM::ManagedPolicy', {
          Properties: { ManagedPolicyName: Match.stringLikeRegexp('^backstop-kill-eu-west-1-') },
        }),
      ).flatMap((p) => p.Properties.PolicyDocument.Statement);
      expect(statements.length).toBeGreaterThan(10);
      expect(statements.flatMap((s) => [s.Action].flat())).not.toContain(
        'ec2:ModifyNetworkInterfaceAttribute',
      );
      expect(statements.flatMap((s) => [s.Action].flat())).not.toContain(
        'lambda:UpdateFunctionConfiguration',
      );
    });
  });

  it('creates the restore execution role on the Backstop path, trusting only the restore worker', () => {
    usEastTemplate.hasResourceProperties('AWS::IAM::Role', {
      RoleName: restoreExecutionRoleName('us-east-1'),
      Path: IAM_PATH,
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sts:AssumeRole',
            Condition: Match.objectLike({
              ArnEquals: {
                'aws:PrincipalArn': 'arn:aws:iam::111111111111:role/backstop/backstop-restore-worker',
              },
            }),
          }),
        ]),
      },
    });
  });

  describe('deny policies', () => {
    it('full_stop denies every action', () => {
      expect(managedPolicy(usEastTemplate, fullStopPolicyName('us-east-1'))).toMatchObject({
        Path: IAM_PATH,
        PolicyDocument: { Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] },
      });
    });

    it('read_only denies everything but the listed reads', () => {
      expect(managedPolicy(usEastTemplate, readOnlyPolicyName('us-east-1')).PolicyDocument.Statement).toEqual(
        [{ Sid: 'BackstopReadOnly', Effect: 'Deny', NotAction: [...READ_ONLY_ACTIONS], Resource: '*' }],
      );
    });

    it("draft_only denies writes everywhere but on the agent's draft resources", () => {
      expect(
        managedPolicy(usEastTemplate, draftOnlyPolicyName('support-bot', 'us-east-1')).PolicyDocument
          .Statement,
      ).toEqual([
        {
          Sid: 'BackstopDraftOnly',
          Effect: 'Deny',
          NotAction: [...READ_ONLY_ACTIONS],
          NotResource: 'arn:aws:s3:::support-bot-drafts/*',
        },
      ]);
      expect(
        managedPolicy(euWestTemplate, draftOnlyPolicyName('etl-agent', 'eu-west-1')).PolicyDocument.Statement,
      ).toEqual([expect.objectContaining({ Effect: 'Deny', Resource: '*' })]);
    });

    it("approval_gated denies the agent's high-risk actions, or the defaults when it declares none", () => {
      expect(
        managedPolicy(usEastTemplate, approvalGatedPolicyName('support-bot', 'us-east-1')).PolicyDocument
          .Statement,
      ).toEqual([
        {
          Sid: 'BackstopApprovalGated',
          Effect: 'Deny',
          // The agent's own list, and what would let it undo the cut.
          Action: [
            ...new Set(['iam:PassRole', 's3:DeleteObject', 'ses:SendEmail', ...HOLD_THE_CUT_ACTIONS]),
          ].sort(),
          Resource: '*',
        },
      ]);
      expect(
        managedPolicy(euWestTemplate, approvalGatedPolicyName('etl-agent', 'eu-west-1')).PolicyDocument
          .Statement,
      ).toEqual([
        expect.objectContaining({
          Effect: 'Deny',
          Action: expect.arrayContaining([...DEFAULT_HIGH_RISK_ACTIONS]),
        }),
      ]);
    });

    it('exist per agent only in the agent’s own account and region', () => {
      expect(
        usEastTemplate.findResources('AWS::IAM::ManagedPolicy', {
          Properties: { ManagedPolicyName: draftOnlyPolicyName('etl-agent', 'us-east-1') },
        }),
      ).toEqual({});
    });
  });

  it('creates BackstopAgentBoundary-<region>: allow everything the identity grants, deny everything Backstop', () => {
    const boundary = managedPolicy(usEastTemplate, 'BackstopAgentBoundary-us-east-1');
    expect(boundary.Path).toBe(IAM_PATH);
    expect(boundary.PolicyDocument.Statement).toEqual(
      expect.arrayContaining([
        { Sid: 'CapAtWhatIdentityPoliciesGrant', Effect: 'Allow', Action: '*', Resource: '*' },
        expect.objectContaining({
          Sid: 'DenyBackstopRoles',
          Effect: 'Deny',
          Resource: `arn:aws:iam::${ACCOUNT}:role/backstop/*`,
        }),
        expect.objectContaining({
          Sid: 'DenyBackstopNamedPolicies',
          Effect: 'Deny',
          Resource: expect.arrayContaining([`arn:aws:iam::${ACCOUNT}:policy/backstop/*`]),
        }),
        expect.objectContaining({
          Sid: 'DenyBackstopTags',
          Effect: 'Deny',
          Action: '*',
          Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': 'backstop:*' } },
        }),
        expect.objectContaining({
          Sid: 'DenyIsolationGroups',
          Condition: { Null: { [`aws:ResourceTag/${ISOLATION_TAG}`]: 'false' } },
        }),
        expect.objectContaining({
          Sid: 'DenyAlarmForwardingChanges',
          Resource: `arn:aws:events:*:${ACCOUNT}:rule/backstop-*`,
        }),
      ]),
    );
  });

  describe('isolation security groups', () => {
    it('creates, per declared VPC, an open group that allows all traffic both ways, tagged open', () => {
      usEastTemplate.hasResourceProperties('AWS::EC2::SecurityGroup', {
        VpcId: 'vpc-0a1b2c3d4e5f67890',
        SecurityGroupIngress: [
          Match.objectLike({ IpProtocol: '-1', CidrIp: '0.0.0.0/0' }),
          Match.objectLike({ IpProtocol: '-1', CidrIpv6: '::/0' }),
        ],
        SecurityGroupEgress: [
          Match.objectLike({ IpProtocol: '-1', CidrIp: '0.0.0.0/0' }),
          Match.objectLike({ IpProtocol: '-1', CidrIpv6: '::/0' }),
        ],
        Tags: Match.arrayWith([{ Key: ISOLATION_TAG, Value: 'open' }]),
      });
    });

    it('creates a closed group with no ingress and no egress that can carry a packet', () => {
      const closed = Object.values(
        usEastTemplate.findResources('AWS::EC2::SecurityGroup', {
          Properties: { Tags: Match.arrayWith([{ Key: ISOLATION_TAG, Value: 'closed' }]) },
        }),
      );
      expect(closed).toHaveLength(1);
      const props = closed[0].Properties;
      expect(props.VpcId).toBe('vpc-0a1b2c3d4e5f67890');
      expect(props.SecurityGroupIngress).toBeUndefined();
      // CloudFormation adds allow-all egress to a group declared without egress; this one rule
      // replaces it and matches nothing a VPC delivers (ICMP 252/86 to the limited broadcast address).
      expect(props.SecurityGroupEgress).toEqual([
        {
          IpProtocol: 'icmp',
          FromPort: 252,
          ToPort: 86,
          CidrIp: '255.255.255.255/32',
          Description: CLOSED_GROUP_EGRESS.description,
        },
      ]);
    });

    it('creates no group in a region without declared VPCs', () => {
      expect(euWestTemplate.findResources('AWS::EC2::SecurityGroup')).toEqual({});
    });
  });

  describe('alarm forwarder', () => {
    it("forwards the state changes of the region's agent alarms to the control plane bus", () => {
      usEastTemplate.hasResourceProperties('AWS::Events::Rule', {
        Name: ALARM_FORWARDER_RULE_NAME,
        EventPattern: {
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: ['support-bot-error-rate', 'support-bot-spend-spike'] },
        },
        Targets: [
          Match.objectLike({
            Arn: 'arn:aws:events:us-east-1:111111111111:event-bus/backstop',
            RoleArn: usEast.resolve(usEast.alarmForwarder!.role.roleArn),
          }),
        ],
      });
      euWestTemplate.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: Match.objectLike({ detail: { alarmName: ['etl-agent-runaway'] } }),
      });
    });

    it('uses a role on the Backstop path that may only put events on that bus', () => {
      usEastTemplate.hasResourceProperties('AWS::IAM::Role', {
        Path: IAM_PATH,
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'events.amazonaws.com' } })],
        },
      });
      usEastTemplate.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [usEast.resolve(usEast.alarmForwarder!.role.roleName)],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Action: 'events:PutEvents',
              Resource: 'arn:aws:events:us-east-1:111111111111:event-bus/backstop',
            },
          ],
        },
      });
    });

    it('is absent where no agent has an alarm', () => {
      expect(synth.workloadTemplate('333333333333', 'us-east-1').findResources('AWS::Events::Rule')).toEqual(
        {},
      );
    });
  });
});
