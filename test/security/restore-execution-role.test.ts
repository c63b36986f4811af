/**
 * The restore side is as tight as the kill side (issue 9, point 4). This suite enumerates EVERY
 * action the synthesized restore execution role allows and, for each, proves with the IAM policy
 * simulator what IAM holds it to. A new allowed action that is not argued for here fails it.
 *
 * The arguments:
 * - IAM pins it: every write that puts content on a role needs the role under the kill boundary
 *   (nothing written there can act); the one write that gives authority back, the boundary's, may
 *   set only the agent boundary and lift only the kill boundary; only Backstop's deny policies are
 *   detached; no AdministratorAccess, no Backstop policy but the deny policies; interfaces and VPC
 *   functions only into groups and subnets of the declared VPCs, never with a layer.
 * - The action only reads.
 * - IAM cannot see the value (no condition key carries it): RESIDUAL, each with the limits IAM does
 *   enforce. The restore path sends only what the snapshot holds, after its hash was checked against
 *   the kill's sealed audit records and after the quorum (README: "Why the restore side is as tight
 *   as the kill side").
 */
import { DISCOVERY_READS } from '../../lib/constructs/actions';
import {
  AGENT_TAG,
  agentBoundaryName,
  approvalGatedPolicyName,
  draftOnlyPolicyName,
  fullStopPolicyName,
  iamPolicyArn,
  killBoundaryArn,
  killExecutionRoleName,
  readOnlyPolicyName,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { ALARM_FORWARDER_RULE_NAME } from '../../lib/constructs/alarm-forwarder';
import { synthStacks } from '../helpers/cdk';
import {
  ALLOW_EVERYTHING,
  evaluate,
  type NamedPolicy,
  onlyEffect,
  type PolicyDocument,
  ResolvedTemplate,
} from './iam-policies';

const ACCOUNT = '222222222222';
const REGION = 'us-east-1';
const VPC = 'vpc-0a1b2c3d4e5f67890'; // declared for 222222222222 us-east-1 in the sample config
const template = new ResolvedTemplate(
  synthStacks().workloadTemplate(ACCOUNT, REGION),
  'aws',
  ACCOUNT,
  REGION,
);
const restoreRole = template.role(restoreExecutionRoleName(REGION));
const layers: Record<string, readonly NamedPolicy[]> = {
  'as deployed': restoreRole.identity,
  'guards alone': [ALLOW_EVERYTHING, ...onlyEffect(restoreRole.identity, 'Deny')],
};

const policyArn = (name: string) => iamPolicyArn('aws', ACCOUNT, name);
const ROLE = `arn:aws:iam::${ACCOUNT}:role/agent-runtime`;
const TAGGED = { [`aws:ResourceTag/${AGENT_TAG}`]: 'support-bot' };
const AGENT_BOUNDARY = policyArn(agentBoundaryName(REGION));
const KILL_BOUNDARY = killBoundaryArn('aws', ACCOUNT, REGION);
const KILLED = { ...TAGGED, 'iam:PermissionsBoundary': KILL_BOUNDARY };
const BOUNDED = { ...TAGGED, 'iam:PermissionsBoundary': AGENT_BOUNDARY };
const DENIES = [
  fullStopPolicyName(REGION),
  readOnlyPolicyName(REGION),
  draftOnlyPolicyName('support-bot', REGION),
  approvalGatedPolicyName('support-bot', REGION),
].map(policyArn);
const AGENT_POLICY = `arn:aws:iam::${ACCOUNT}:policy/support-bot-crm-write`;
const FUNCTION = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:support-bot-tools`;
const ENI = `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0123456789abcdef0`;
const GROUP = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0aaaabbbbccccdddd`;
const vpcArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:vpc/${id}`;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every action some Allow statement of the restore role names. */
const allowedActions = [
  ...new Set(
    restoreRole.identity.flatMap((p) =>
      p.policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) =>
        list(s.Action as string | string[]),
      ),
    ),
  ),
].sort();

function asRestoreRole(
  layer: string,
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
) {
  return evaluate({ principal: restoreRole.arn, action, resource, context, identity: layers[layer] });
}
const as = (action: string, resource: string, context: Record<string, string | string[]> = {}) =>
  asRestoreRole('as deployed', action, resource, context);

const READ_ONLY = new Set<string>(Object.values(DISCOVERY_READS).flat());

/** What IAM holds to a shape the tests below prove. */
const PINNED = [
  'iam:AttachRolePolicy',
  'iam:DetachRolePolicy',
  'iam:PutRolePermissionsBoundary',
  'iam:DeleteRolePermissionsBoundary',
  'iam:PutRolePolicy',
  'ec2:ModifyNetworkInterfaceAttribute',
  'lambda:UpdateFunctionConfiguration',
  'events:PutRule',
];

/** What IAM cannot fully pin (no condition key for the value), with the limits it does enforce. */
const RESIDUAL: Record<string, string> = {
  'iam:PutRolePolicy':
    "no condition key for a document: only into agent roles under the kill boundary, where it acts only once the role's boundary is put back (the agent boundary caps it, or the role had none)",
  'iam:AttachRolePolicy':
    'which managed policy: agent roles under the kill boundary only, never AdministratorAccess nor a Backstop policy but the deny policies',
  'ec2:ModifyNetworkInterfaceAttribute':
    'which group: agent interfaces only, groups of the declared VPCs only',
  'lambda:UpdateFunctionConfiguration':
    'non-network settings: agent functions only, subnets and groups of declared VPCs, never a layer or a role change (PassRole to Lambda is denied)',
  'lambda:PutFunctionConcurrency': 'the value: agent functions only',
  'lambda:DeleteFunctionConcurrency': 'agent functions only',
  'lambda:UpdateEventSourceMapping': 'the Enabled flag: mappings of agent functions only',
  'scheduler:UpdateSchedule':
    "the schedule's body: the role it passes must be an agent role, to Scheduler only",
  'iam:PassRole': 'needed by UpdateSchedule: only agent roles, only to scheduler.amazonaws.com',
  'events:EnableRule': 'which rule: it can only enable, never change a pattern or a target',
};

describe('every action the restore execution role is allowed is argued for', () => {
  it('has no action wildcard in any Allow', () => {
    expect(allowedActions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('lists each allowed action in an argument', () => {
    const unargued = allowedActions.filter(
      (a) => !PINNED.includes(a) && !READ_ONLY.has(a) && !(a in RESIDUAL),
    );
    expect(unargued).toEqual([]);
    for (const a of READ_ONLY) expect(a).toMatch(/^[a-z0-9-]+:(Get|List|Describe)[A-Za-z]*$/);
    for (const a of Object.keys(RESIDUAL)) expect(allowedActions).toContain(a);
  });
});

describe('IAM holds every IAM write to the restore shape', () => {
  it('writes policies into an agent role only while it carries the kill boundary', async () => {
    await expect(as('iam:PutRolePolicy', ROLE, KILLED)).resolves.toBe('Allowed');
    await expect(
      as('iam:AttachRolePolicy', ROLE, { ...KILLED, 'iam:PolicyARN': AGENT_POLICY }),
    ).resolves.toBe('Allowed');
    for (const deny of DENIES) {
      await expect(as('iam:AttachRolePolicy', ROLE, { ...KILLED, 'iam:PolicyARN': deny })).resolves.toBe(
        'Allowed',
      );
      await expect(as('iam:DetachRolePolicy', ROLE, { ...KILLED, 'iam:PolicyARN': deny })).resolves.toBe(
        'Allowed',
      );
    }
    // A role with its own boundary, or none, takes no policy from the restore role.
    for (const context of [BOUNDED, TAGGED]) {
      await expect(as('iam:PutRolePolicy', ROLE, context)).resolves.toBe('ExplicitlyDenied');
      await expect(
        as('iam:AttachRolePolicy', ROLE, { ...context, 'iam:PolicyARN': AGENT_POLICY }),
      ).resolves.toBe('ExplicitlyDenied');
      await expect(
        as('iam:DetachRolePolicy', ROLE, { ...context, 'iam:PolicyARN': DENIES[0] as string }),
      ).resolves.toBe('ExplicitlyDenied');
    }
    // Nor does a role that is not the agent's, kill boundary or not.
    await expect(
      as('iam:PutRolePolicy', `arn:aws:iam::${ACCOUNT}:role/payments`, {
        'iam:PermissionsBoundary': KILL_BOUNDARY,
      }),
    ).resolves.not.toBe('Allowed');
  });

  it('detaches only Backstop deny policies: never a policy of the agent or anyone else', async () => {
    for (const policy of [
      AGENT_POLICY,
      'arn:aws:iam::aws:policy/ReadOnlyAccess',
      `arn:aws:iam::${ACCOUNT}:policy/guardrail`,
    ]) {
      await expect(as('iam:DetachRolePolicy', ROLE, { ...KILLED, 'iam:PolicyARN': policy })).resolves.toBe(
        'ExplicitlyDenied',
      );
    }
  });

  it('sets only the agent boundary (last) or the kill boundary (first), and lifts only the kill boundary', async () => {
    for (const boundary of [AGENT_BOUNDARY, KILL_BOUNDARY]) {
      await expect(
        as('iam:PutRolePermissionsBoundary', ROLE, { ...TAGGED, 'iam:PermissionsBoundary': boundary }),
      ).resolves.toBe('Allowed');
    }
    for (const boundary of [
      'arn:aws:iam::aws:policy/AdministratorAccess',
      policyArn('Open'),
      `arn:aws:iam::${ACCOUNT}:policy/agent-wide-open`,
      iamPolicyArn('aws', ACCOUNT, agentBoundaryName('eu-west-9')),
    ]) {
      await expect(
        as('iam:PutRolePermissionsBoundary', ROLE, { ...TAGGED, 'iam:PermissionsBoundary': boundary }),
      ).resolves.toBe('ExplicitlyDenied');
    }
    await expect(as('iam:DeleteRolePermissionsBoundary', ROLE, KILLED)).resolves.toBe('Allowed');
    await expect(as('iam:DeleteRolePermissionsBoundary', ROLE, BOUNDED)).resolves.toBe('ExplicitlyDenied');
  });

  it('the one write that gives authority back leaves the role capped by the agent boundary', async () => {
    // Whatever content went in under the kill boundary (here: everything), once the agent boundary
    // is back the role can still do none of what the boundary closes.
    const boundary = template.managedPolicy(agentBoundaryName(REGION));
    const attempts: [string, string][] = [
      ['iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/escape`],
      ['iam:CreateAccessKey', `arn:aws:iam::${ACCOUNT}:user/someone`],
      ['iam:PutRolePolicy', ROLE],
      ['iam:DeleteRolePermissionsBoundary', ROLE],
      ['iam:UpdateAssumeRolePolicy', ROLE],
    ];
    for (const [action, resource] of attempts) {
      const result = await evaluate({
        principal: ROLE,
        action,
        resource,
        context: { [`aws:PrincipalTag/${AGENT_TAG}`]: 'support-bot', ...TAGGED },
        identity: [ALLOW_EVERYTHING],
        boundary: boundary as PolicyDocument,
      });
      expect([action, result]).toEqual([action, 'ExplicitlyDenied']);
    }
  });

  for (const layer of Object.keys(layers)) {
    it(`never attaches AdministratorAccess, a boundary or the execution roles' policies (${layer})`, async () => {
      for (const policy of [
        'arn:aws:iam::aws:policy/AdministratorAccess',
        AGENT_BOUNDARY,
        KILL_BOUNDARY,
        policyArn(`${killExecutionRoleName(REGION)}-1`),
        policyArn(`${restoreExecutionRoleName(REGION)}-1`),
      ]) {
        await expect(
          asRestoreRole(layer, 'iam:AttachRolePolicy', ROLE, { ...KILLED, 'iam:PolicyARN': policy }),
        ).resolves.toBe('ExplicitlyDenied');
      }
    });

    it(`cannot change its own role, the kill role, trust, versions, or delete a policy (${layer})`, async () => {
      for (const role of [
        restoreRole.arn,
        `arn:aws:iam::${ACCOUNT}:role/backstop/${killExecutionRoleName(REGION)}`,
      ]) {
        await expect(asRestoreRole(layer, 'iam:PutRolePolicy', role, KILLED)).resolves.toBe(
          'ExplicitlyDenied',
        );
      }
      for (const [action, resource] of [
        ['iam:DeleteRolePolicy', ROLE],
        ['iam:UpdateAssumeRolePolicy', ROLE],
        ['iam:CreatePolicyVersion', AGENT_POLICY],
        ['iam:SetDefaultPolicyVersion', AGENT_POLICY],
        ['iam:CreateRole', `arn:aws:iam::${ACCOUNT}:role/escape`],
        ['iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/escape`],
        ['iam:CreateAccessKey', `arn:aws:iam::${ACCOUNT}:user/escape`],
      ] as const) {
        await expect(asRestoreRole(layer, action, resource, KILLED)).resolves.toBe('ExplicitlyDenied');
      }
    });
  }
});

describe('network, functions and rules go back only to what IAM can tell is the agent’s', () => {
  it('moves agent interfaces only, and only into groups of the declared VPCs', async () => {
    await expect(as('ec2:ModifyNetworkInterfaceAttribute', ENI, TAGGED)).resolves.toBe('Allowed');
    await expect(as('ec2:ModifyNetworkInterfaceAttribute', GROUP, { 'ec2:Vpc': vpcArn(VPC) })).resolves.toBe(
      'Allowed',
    );
    await expect(
      as('ec2:ModifyNetworkInterfaceAttribute', GROUP, { 'ec2:Vpc': vpcArn('vpc-0fffffffffffffff0') }),
    ).resolves.not.toBe('Allowed');
    await expect(
      as(
        'ec2:ModifyNetworkInterfaceAttribute',
        `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0payments0000000`,
      ),
    ).resolves.not.toBe('Allowed');
  });

  it("puts a function's VpcConfig back only into declared VPCs, never with a layer, never without groups", async () => {
    const vpc = {
      ...TAGGED,
      'lambda:SecurityGroupIds': ['sg-0aaaabbbbccccdddd'],
      'lambda:SubnetIds': ['subnet-0123456789abcdef0'],
      'lambda:VpcIds': VPC,
    };
    await expect(as('lambda:UpdateFunctionConfiguration', FUNCTION, vpc)).resolves.toBe('Allowed');
    await expect(
      as('lambda:UpdateFunctionConfiguration', FUNCTION, {
        ...vpc,
        'lambda:VpcIds': 'vpc-0fffffffffffffff0',
      }),
    ).resolves.not.toBe('Allowed');
    await expect(
      as('lambda:UpdateFunctionConfiguration', FUNCTION, {
        ...vpc,
        'lambda:Layer': [`arn:aws:lambda:${REGION}:${ACCOUNT}:layer:implant:1`],
      }),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(as('lambda:UpdateFunctionConfiguration', FUNCTION, TAGGED)).resolves.not.toBe('Allowed');
    await expect(
      as('lambda:UpdateFunctionConfiguration', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:payments`, {
        'lambda:SecurityGroupIds': ['sg-0aaaabbbbccccdddd'],
        'lambda:SubnetIds': ['subnet-0123456789abcdef0'],
        'lambda:VpcIds': VPC,
      }),
    ).resolves.not.toBe('Allowed');
  });

  it('rewrites a rule with PutRule only on agent rules, never tagging one, never the alarm forwarder', async () => {
    const rule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-bus/agent-orders`;
    await expect(as('events:PutRule', rule, TAGGED)).resolves.toBe('Allowed');
    await expect(
      as('events:PutRule', `arn:aws:events:${REGION}:${ACCOUNT}:rule/payments-nightly`),
    ).resolves.not.toBe('Allowed');
    await expect(as('events:PutRule', rule, { ...TAGGED, 'aws:TagKeys': ['team'] })).resolves.not.toBe(
      'Allowed',
    );
    await expect(
      as('events:PutRule', `arn:aws:events:${REGION}:${ACCOUNT}:rule/${ALARM_FORWARDER_RULE_NAME}`, TAGGED),
    ).resolves.toBe('ExplicitlyDenied');
    await expect(as('events:PutTargets', rule, TAGGED)).resolves.toBe('ExplicitlyDenied');
  });

  it('each residual action reaches agent resources only', async () => {
    const payments = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:payments`;
    for (const action of [
      'lambda:PutFunctionConcurrency',
      'lambda:DeleteFunctionConcurrency',
      'lambda:UpdateFunctionCode',
    ]) {
      await expect(as(action, payments)).resolves.not.toBe('Allowed');
    }
    await expect(
      as('lambda:UpdateEventSourceMapping', `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:x`, {
        'lambda:FunctionArn': payments,
      }),
    ).resolves.not.toBe('Allowed');
    for (const service of ['lambda.amazonaws.com', 'ec2.amazonaws.com', 'states.amazonaws.com']) {
      await expect(as('iam:PassRole', ROLE, { ...TAGGED, 'iam:PassedToService': service })).resolves.not.toBe(
        'Allowed',
      );
    }
    await expect(
      as('iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/payments-service`, {
        'iam:PassedToService': 'scheduler.amazonaws.com',
      }),
    ).resolves.not.toBe('Allowed');
  });
});
