/**
 * The kill side can only take away (design principle 8). This suite enumerates EVERY action the
 * synthesized kill execution role allows and, for each, proves with the IAM policy simulator why it
 * cannot add authority. A new allowed action that is not argued for here fails the suite.
 *
 * The arguments, in order of strength:
 * - IAM pins it: the condition keys AWS evaluates leave only taking away (attach only Deny-only
 *   Backstop policies; set only the kill boundary, which is Deny-only; detach or delete only on
 *   roles whose boundary already denies everything; move interfaces only into isolation groups).
 * - The API can only stop (DisableRule, StopExecution).
 * - The action only reads.
 * - IAM cannot see the value (no condition key exists for it): these are listed in RESIDUAL with
 *   the limits IAM does enforce (agent resources only, no role passing outside Scheduler, no layer
 *   change) and the reason they cannot grant IAM authority. The kill path only ever sends the
 *   cutting value; the README's "Why the kill role cannot grant" section says what remains.
 */
import type { EvaluationResult } from '@cloud-copilot/iam-simulate';
import { DISCOVERY_READS } from '../../lib/constructs/actions';
import {
  AGENT_TAG,
  agentBoundaryName,
  approvalGatedPolicyName,
  draftOnlyPolicyName,
  fullStopPolicyName,
  iamPolicyArn,
  killBoundaryArn,
  killBoundaryName,
  killExecutionRoleName,
  readOnlyPolicyName,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { synthStacks } from '../helpers/cdk';
import {
  ALLOW_EVERYTHING,
  evaluate,
  type PolicyDocument,
  ResolvedTemplate,
  type Statement,
} from './iam-policies';

const ACCOUNT = '222222222222';
const REGION = 'us-east-1';
const template = new ResolvedTemplate(
  synthStacks().workloadTemplate(ACCOUNT, REGION),
  'aws',
  ACCOUNT,
  REGION,
);
const killRole = template.role(killExecutionRoleName(REGION));

const policyArn = (name: string) => iamPolicyArn('aws', ACCOUNT, name);
const KILL_BOUNDARY = killBoundaryArn('aws', ACCOUNT, REGION);
const AGENT_BOUNDARY = policyArn(agentBoundaryName(REGION));
const ROLE = `arn:aws:iam::${ACCOUNT}:role/agent-runtime`;
const TAGGED = { [`aws:ResourceTag/${AGENT_TAG}`]: 'support-bot' };
const FUNCTION = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:agent-tools`;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every action some Allow statement of the kill role names. */
const allowedActions = [
  ...new Set(
    killRole.identity.flatMap((p) =>
      p.policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) =>
        list(s.Action as string | string[]),
      ),
    ),
  ),
].sort();

function asKillRole(action: string, resource: string, context: Record<string, string | string[]> = {}) {
  return evaluate({ principal: killRole.arn, action, resource, context, identity: killRole.identity });
}

/** Every Backstop policy the workload stack deploys, by name, with its resolved document. */
function deployedPolicy(name: string): PolicyDocument {
  return template.managedPolicy(name);
}
const denyOnly = (doc: PolicyDocument) => doc.Statement.every((s: Statement) => s.Effect === 'Deny');

/** Actions a person would try if they held the kill role and wanted authority for an agent. */
const PROBES = ['iam:CreateUser', 's3:GetObject', 's3:PutObject', 'sts:AssumeRole', 'lambda:InvokeFunction'];

const READ_ONLY = new Set<string>(Object.values(DISCOVERY_READS).flat());

/** The actions IAM cannot fully pin, each with the limits IAM does enforce and why it cannot grant. */
const RESIDUAL: Record<string, string> = {
  'lambda:PutFunctionConcurrency':
    'no condition key for the value: agent functions only; a higher value re-enables compute running under a role the same kill denies everything',
  'lambda:UpdateEventSourceMapping':
    'no condition key for Enabled: mappings of agent functions only; a re-enabled mapping polls with the function role, which the kill denies everything',
  'scheduler:UpdateSchedule':
    "no condition key for the schedule's body: the role it passes must be an agent role (cut by the same kill), to Scheduler only",
  'iam:PassRole':
    'needed by UpdateSchedule: only agent roles, only to scheduler.amazonaws.com (passing to Lambda, EC2 or anything else is denied)',
  'lambda:UpdateFunctionConfiguration':
    'security groups must all be isolation groups, layers cannot change, the role cannot change (PassRole to Lambda is denied); other settings have no condition key',
};

/** Reads that are not named Get, List or Describe. */
const READS_BY_ANOTHER_NAME: Record<string, string> = {
  'iam:SimulatePrincipalPolicy':
    'the canary evaluates the kill role’s own policies with it; it changes nothing',
};

const STOP_ONLY: Record<string, string> = {
  'events:DisableRule': 'the API can only disable a rule',
  'states:StopExecution': 'the API can only stop an execution',
};

describe('every action the kill execution role is allowed is argued for', () => {
  it('has no action wildcard in any Allow', () => {
    expect(allowedActions.filter((a) => a.includes('*'))).toEqual([]);
  });

  it('lists each allowed action in exactly one argument', () => {
    const pinned = [
      'iam:AttachRolePolicy',
      'iam:PutRolePermissionsBoundary',
      'iam:DetachRolePolicy',
      'iam:DeleteRolePolicy',
      'ec2:ModifyNetworkInterfaceAttribute',
    ];
    const unargued = allowedActions.filter(
      (a) =>
        !pinned.includes(a) &&
        !READ_ONLY.has(a) &&
        !(a in READS_BY_ANOTHER_NAME) &&
        !(a in STOP_ONLY) &&
        !(a in RESIDUAL),
    );
    expect(unargued).toEqual([]);
    for (const a of READ_ONLY) expect(a).toMatch(/^[a-z0-9-]+:(Get|List|Describe)[A-Za-z]*$/);
  });
});

describe('IAM pins these to taking away', () => {
  it('iam:AttachRolePolicy: only the Backstop deny policies of this region, each holding Deny statements only', async () => {
    const denies = [
      fullStopPolicyName(REGION),
      readOnlyPolicyName(REGION),
      draftOnlyPolicyName('support-bot', REGION),
      approvalGatedPolicyName('support-bot', REGION),
    ];
    for (const name of denies) {
      expect([name, denyOnly(deployedPolicy(name))]).toEqual([name, true]);
      await expect(
        asKillRole('iam:AttachRolePolicy', ROLE, { ...TAGGED, 'iam:PolicyARN': policyArn(name) }),
      ).resolves.toBe('Allowed');
    }
    for (const other of [
      'arn:aws:iam::aws:policy/AdministratorAccess',
      AGENT_BOUNDARY,
      KILL_BOUNDARY, // a boundary, never an identity policy
      policyArn(`${killExecutionRoleName(REGION)}-1`),
      policyArn(`${restoreExecutionRoleName(REGION)}-1`),
      `arn:aws:iam::${ACCOUNT}:policy/agent-s3-access`,
      `arn:aws:iam::${ACCOUNT}:policy/backstop-full-stop-${REGION}`, // same name, another path
      policyArn(fullStopPolicyName('eu-west-1')),
    ]) {
      await expect(
        asKillRole('iam:AttachRolePolicy', ROLE, { ...TAGGED, 'iam:PolicyARN': other }),
      ).resolves.not.toBe('Allowed');
    }
  });

  it('iam:PutRolePermissionsBoundary: only the kill boundary, which denies everything to every session', async () => {
    expect(denyOnly(deployedPolicy(killBoundaryName(REGION)))).toBe(true);
    await expect(
      asKillRole('iam:PutRolePermissionsBoundary', ROLE, {
        ...TAGGED,
        'iam:PermissionsBoundary': KILL_BOUNDARY,
      }),
    ).resolves.toBe('Allowed');
    for (const other of [AGENT_BOUNDARY, 'arn:aws:iam::aws:policy/AdministratorAccess', policyArn('Open')]) {
      await expect(
        asKillRole('iam:PutRolePermissionsBoundary', ROLE, { ...TAGGED, 'iam:PermissionsBoundary': other }),
      ).resolves.not.toBe('Allowed');
    }
    // Under the kill boundary, a role whose own policies allow everything can do nothing.
    for (const action of PROBES) {
      const result: EvaluationResult = await evaluate({
        principal: ROLE,
        action,
        resource: '*',
        identity: [ALLOW_EVERYTHING],
        boundary: deployedPolicy(killBoundaryName(REGION)),
      });
      expect([action, result]).toEqual([action, 'ExplicitlyDenied']);
    }
  });

  it('iam:DetachRolePolicy and iam:DeleteRolePolicy: only on a role under the kill boundary, where removing a policy changes nothing', async () => {
    const killed = { ...TAGGED, 'iam:PermissionsBoundary': KILL_BOUNDARY };
    const agentPolicy = { 'iam:PolicyARN': `arn:aws:iam::${ACCOUNT}:policy/guardrail-deny` };
    await expect(asKillRole('iam:DetachRolePolicy', ROLE, { ...killed, ...agentPolicy })).resolves.toBe(
      'Allowed',
    );
    await expect(asKillRole('iam:DeleteRolePolicy', ROLE, killed)).resolves.toBe('Allowed');
    const notKilled: Record<string, string>[] = [{ 'iam:PermissionsBoundary': AGENT_BOUNDARY }, {}];
    for (const context of notKilled) {
      await expect(
        asKillRole('iam:DetachRolePolicy', ROLE, { ...TAGGED, ...context, ...agentPolicy }),
      ).resolves.not.toBe('Allowed');
      await expect(asKillRole('iam:DeleteRolePolicy', ROLE, { ...TAGGED, ...context })).resolves.not.toBe(
        'Allowed',
      );
    }
    // Never a Backstop deny, even under the kill boundary: a kill never loosens.
    await expect(
      asKillRole('iam:DetachRolePolicy', ROLE, {
        ...killed,
        'iam:PolicyARN': policyArn(fullStopPolicyName(REGION)),
      }),
    ).resolves.not.toBe('Allowed');
  });

  it('ec2:ModifyNetworkInterfaceAttribute: only into the isolation groups of this stack', async () => {
    const eni = `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0123456789abcdef0`;
    const groups = template
      .find('AWS::EC2::SecurityGroup', (p) => JSON.stringify(p.Tags).includes('backstop:isolation'))
      .map(([id]) => `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${template.physical(id)}`);
    expect(groups.length).toBeGreaterThan(0);
    for (const group of groups) {
      await expect(asKillRole('ec2:ModifyNetworkInterfaceAttribute', group)).resolves.toBe('Allowed');
    }
    await expect(
      asKillRole(
        'ec2:ModifyNetworkInterfaceAttribute',
        `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0aaaabbbbccccdddd`,
      ),
    ).resolves.not.toBe('Allowed');
    await expect(asKillRole('ec2:ModifyNetworkInterfaceAttribute', eni, TAGGED)).resolves.toBe('Allowed');
  });
});

describe('what IAM cannot pin is confined to agent resources and to cutting shapes', () => {
  it('each residual action is refused on a resource that is not the agent’s', async () => {
    const untaggedFunction = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:payments`;
    await expect(asKillRole('lambda:PutFunctionConcurrency', untaggedFunction)).resolves.not.toBe('Allowed');
    await expect(
      asKillRole(
        'lambda:UpdateEventSourceMapping',
        `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:x`,
        {
          'lambda:FunctionArn': untaggedFunction,
        },
      ),
    ).resolves.not.toBe('Allowed');
    await expect(
      asKillRole('iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/payments-service`, {
        'iam:PassedToService': 'scheduler.amazonaws.com',
      }),
    ).resolves.not.toBe('Allowed');
  });

  it('iam:PassRole reaches Scheduler only: never Lambda, EC2, Step Functions or CloudFormation', async () => {
    for (const service of [
      'lambda.amazonaws.com',
      'ec2.amazonaws.com',
      'states.amazonaws.com',
      'cloudformation.amazonaws.com',
    ]) {
      await expect(
        asKillRole('iam:PassRole', ROLE, { ...TAGGED, 'iam:PassedToService': service }),
      ).resolves.not.toBe('Allowed');
    }
  });

  it('lambda:UpdateFunctionConfiguration: isolation groups only, never a layer', async () => {
    const [[closedId]] = template.find('AWS::EC2::SecurityGroup', (p) =>
      JSON.stringify(p.Tags).includes('"closed"'),
    );
    const closed = template.physical(closedId);
    const vpc = {
      'lambda:SubnetIds': ['subnet-0123456789abcdef0'],
      'lambda:VpcIds': 'vpc-0a1b2c3d4e5f67890',
    };
    await expect(
      asKillRole('lambda:UpdateFunctionConfiguration', FUNCTION, {
        ...TAGGED,
        ...vpc,
        'lambda:SecurityGroupIds': [closed],
      }),
    ).resolves.toBe('Allowed');
    await expect(
      asKillRole('lambda:UpdateFunctionConfiguration', FUNCTION, {
        ...TAGGED,
        ...vpc,
        'lambda:SecurityGroupIds': [closed, 'sg-0aaaabbbbccccdddd'],
      }),
    ).resolves.not.toBe('Allowed');
    await expect(
      asKillRole('lambda:UpdateFunctionConfiguration', FUNCTION, {
        ...TAGGED,
        ...vpc,
        'lambda:SecurityGroupIds': [closed],
        'lambda:Layer': [`arn:aws:lambda:${REGION}:${ACCOUNT}:layer:implant:1`],
      }),
    ).resolves.not.toBe('Allowed');
    // Without a VpcConfig in the request (environment, handler, runtime only): refused.
    await expect(asKillRole('lambda:UpdateFunctionConfiguration', FUNCTION, TAGGED)).resolves.not.toBe(
      'Allowed',
    );
  });

  it('names every residual action with its reason (README: Why the kill role cannot grant)', () => {
    for (const action of Object.keys(RESIDUAL)) expect(allowedActions).toContain(action);
  });
});

describe('a kill worker that tries to grant, through every IAM action it holds', () => {
  it('cannot write, version or re-point any policy, trust or boundary, nor create an identity or key', async () => {
    const killed = { ...TAGGED, 'iam:PermissionsBoundary': KILL_BOUNDARY };
    const attempts: [string, string, Record<string, string | string[]>][] = [
      ['iam:PutRolePolicy', ROLE, killed],
      ['iam:PutRolePolicy', ROLE, { ...TAGGED, 'iam:PermissionsBoundary': AGENT_BOUNDARY }],
      ['iam:CreatePolicyVersion', policyArn(fullStopPolicyName(REGION)), {}],
      ['iam:SetDefaultPolicyVersion', policyArn(killBoundaryName(REGION)), {}],
      ['iam:UpdateAssumeRolePolicy', ROLE, TAGGED],
      ['iam:DeleteRolePermissionsBoundary', ROLE, killed],
      ['iam:CreateRole', `arn:aws:iam::${ACCOUNT}:role/escape`, {}],
      ['iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/escape`, {}],
      ['iam:CreateAccessKey', `arn:aws:iam::${ACCOUNT}:user/escape`, {}],
      ['iam:AttachUserPolicy', `arn:aws:iam::${ACCOUNT}:user/someone`, { 'iam:PolicyARN': policyArn('x') }],
      ['lambda:DeleteFunctionConcurrency', FUNCTION, TAGGED],
      ['lambda:UpdateFunctionCode', FUNCTION, TAGGED],
      ['lambda:AddPermission', FUNCTION, TAGGED],
      ['events:EnableRule', `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-nightly`, {}],
      ['events:PutTargets', `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-nightly`, {}],
      ['scheduler:CreateSchedule', `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/default/x`, {}],
    ];
    for (const [action, resource, context] of attempts) {
      expect([action, await asKillRole(action, resource, context)]).not.toEqual([action, 'Allowed']);
    }
  });
});
