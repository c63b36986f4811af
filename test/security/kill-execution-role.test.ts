/**
 * What the kill execution role can do, evaluated with an IAM simulator on the synthesized
 * policies. Properties that two layers guard (a scoped Allow and an explicit Deny) are proven for
 * each layer on its own, so that breaking either one fails a test:
 * - "as deployed": every policy of the role;
 * - "allows alone": its Allow statements without its guards;
 * - "guards alone": its Deny statements on top of an Allow on everything.
 */
import type { EvaluationResult } from '@cloud-copilot/iam-simulate';
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
import { configWith, synthStacks } from '../helpers/cdk';
import { ALLOW_EVERYTHING, evaluate, type NamedPolicy, onlyEffect, ResolvedTemplate } from './iam-policies';

const ACCOUNT = '222222222222';
const REGION = 'us-east-1';
const synth = synthStacks();
const template = new ResolvedTemplate(synth.workloadTemplate(ACCOUNT, REGION), 'aws', ACCOUNT, REGION);
const killRole = template.role(killExecutionRoleName(REGION));

const layers: Record<string, readonly NamedPolicy[]> = {
  'as deployed': killRole.identity,
  'allows alone': onlyEffect(killRole.identity, 'Allow'),
  'guards alone': [ALLOW_EVERYTHING, ...onlyEffect(killRole.identity, 'Deny')],
};

const policyArn = (name: string) => iamPolicyArn('aws', ACCOUNT, name);
const FULL_STOP = policyArn(fullStopPolicyName(REGION));
const BOUNDARY = policyArn(agentBoundaryName(REGION));
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

const TAGGED_ROLE = `arn:aws:iam::${ACCOUNT}:role/agent-runtime`;
const DECLARED_ROLE = `arn:aws:iam::${ACCOUNT}:role/agents/support-bot-runtime`;
const UNTAGGED_ROLE = `arn:aws:iam::${ACCOUNT}:role/payments-service`;
const OWN_ROLE = killRole.arn;
const RESTORE_ROLE = `arn:aws:iam::${ACCOUNT}:role/backstop/${restoreExecutionRoleName(REGION)}`;
const TAGGED = { [`aws:ResourceTag/${AGENT_TAG}`]: 'support-bot' };
const BOUNDED = { 'iam:PermissionsBoundary': BOUNDARY };
/** A role the kill has cut: it carries the kill boundary. */
const KILLED = { 'iam:PermissionsBoundary': killBoundaryArn('aws', ACCOUNT, REGION) };

function asKillRole(
  layer: keyof typeof layers,
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
): Promise<EvaluationResult> {
  return evaluate({ principal: killRole.arn, action, resource, context, identity: layers[layer] });
}

describe('the kill execution role cuts', () => {
  it('can attach each of its region’s deny policies to a tagged agent role', async () => {
    for (const name of [
      fullStopPolicyName(REGION),
      readOnlyPolicyName(REGION),
      draftOnlyPolicyName('support-bot', REGION),
      approvalGatedPolicyName('support-bot', REGION),
    ]) {
      await expect(
        asKillRole('as deployed', 'iam:AttachRolePolicy', TAGGED_ROLE, {
          ...TAGGED,
          'iam:PolicyARN': policyArn(name),
        }),
      ).resolves.toBe('Allowed');
    }
  });

  it('can attach full_stop to a role declared for an agent in the config, tagged or not', async () => {
    await expect(
      asKillRole('as deployed', 'iam:AttachRolePolicy', DECLARED_ROLE, { 'iam:PolicyARN': FULL_STOP }),
    ).resolves.toBe('Allowed');
  });

  it('can detach managed policies and delete inline policies only of an agent role under the kill boundary', async () => {
    const policy = { 'iam:PolicyARN': `arn:aws:iam::${ACCOUNT}:policy/agent-s3-access` };
    for (const layer of ['as deployed', 'allows alone'] as const) {
      await expect(
        asKillRole(layer, 'iam:DetachRolePolicy', TAGGED_ROLE, { ...TAGGED, ...policy, ...KILLED }),
      ).resolves.toBe('Allowed');
      await expect(
        asKillRole(layer, 'iam:DeleteRolePolicy', TAGGED_ROLE, { ...TAGGED, ...KILLED }),
      ).resolves.toBe('Allowed');
      // The same role before the kill boundary is on, or with no boundary at all: refused.
      for (const boundary of [BOUNDED, {}]) {
        await expect(
          asKillRole(layer, 'iam:DetachRolePolicy', TAGGED_ROLE, { ...TAGGED, ...policy, ...boundary }),
        ).resolves.not.toBe('Allowed');
        await expect(
          asKillRole(layer, 'iam:DeleteRolePolicy', TAGGED_ROLE, { ...TAGGED, ...boundary }),
        ).resolves.not.toBe('Allowed');
      }
    }
  });

  it('can set the kill boundary on an agent role, and no other boundary', async () => {
    await expect(
      asKillRole('as deployed', 'iam:PutRolePermissionsBoundary', TAGGED_ROLE, { ...TAGGED, ...KILLED }),
    ).resolves.toBe('Allowed');
    for (const layer of Object.keys(layers) as (keyof typeof layers)[]) {
      for (const other of [BOUNDARY, ADMIN, policyArn('SomeOtherBoundary')]) {
        await expect(
          asKillRole(layer, 'iam:PutRolePermissionsBoundary', TAGGED_ROLE, {
            ...TAGGED,
            'iam:PermissionsBoundary': other,
          }),
        ).resolves.not.toBe('Allowed');
      }
    }
  });

  it('cannot write any policy document into any role', async () => {
    for (const layer of Object.keys(layers) as (keyof typeof layers)[]) {
      for (const context of [BOUNDED, KILLED, {}]) {
        await expect(
          asKillRole(layer, 'iam:PutRolePolicy', TAGGED_ROLE, { ...TAGGED, ...context }),
        ).resolves.not.toBe('Allowed');
      }
    }
  });

  it('can disable an agent rule on any bus, zero a tagged function and stop an execution', async () => {
    await expect(
      asKillRole(
        'as deployed',
        'events:DisableRule',
        `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-nightly`,
      ),
    ).resolves.toBe('Allowed');
    await expect(
      asKillRole(
        'as deployed',
        'events:DisableRule',
        `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-bus/agent-rule`,
      ),
    ).resolves.toBe('Allowed');
    await expect(
      asKillRole(
        'as deployed',
        'lambda:PutFunctionConcurrency',
        `arn:aws:lambda:${REGION}:${ACCOUNT}:function:agent-fn`,
        TAGGED,
      ),
    ).resolves.toBe('Allowed');
    await expect(
      asKillRole(
        'as deployed',
        'states:StopExecution',
        `arn:aws:states:${REGION}:${ACCOUNT}:execution:agent-sm:run-1`,
      ),
    ).resolves.toBe('Allowed');
  });
});

describe('the kill execution role never grants', () => {
  for (const layer of Object.keys(layers) as (keyof typeof layers)[]) {
    it(`cannot attach AdministratorAccess, the boundary, its own policies or any other policy to an agent role (${layer})`, async () => {
      for (const policy of [
        ADMIN,
        BOUNDARY,
        policyArn(`${killExecutionRoleName(REGION)}-1`),
        `arn:aws:iam::${ACCOUNT}:policy/agent-s3-access`,
        policyArn(fullStopPolicyName('eu-west-1')),
      ]) {
        await expect(
          asKillRole(layer, 'iam:AttachRolePolicy', TAGGED_ROLE, { ...TAGGED, 'iam:PolicyARN': policy }),
        ).resolves.not.toBe('Allowed');
      }
    });

    it(`cannot enable a rule or give back reserved concurrency (${layer})`, async () => {
      await expect(
        asKillRole(layer, 'events:EnableRule', `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-nightly`),
      ).resolves.not.toBe('Allowed');
      await expect(
        asKillRole(
          layer,
          'lambda:DeleteFunctionConcurrency',
          `arn:aws:lambda:${REGION}:${ACCOUNT}:function:agent-fn`,
          TAGGED,
        ),
      ).resolves.not.toBe('Allowed');
    });

    it(`cannot detach a Backstop deny policy from an agent role: a kill never loosens (${layer})`, async () => {
      await expect(
        asKillRole(layer, 'iam:DetachRolePolicy', TAGGED_ROLE, { ...TAGGED, 'iam:PolicyARN': FULL_STOP }),
      ).resolves.not.toBe('Allowed');
    });
  }

  it('cannot act on a role that is neither tagged, on the agent path, nor declared', async () => {
    for (const [action, context] of [
      ['iam:AttachRolePolicy', { 'iam:PolicyARN': FULL_STOP }],
      ['iam:DetachRolePolicy', { 'iam:PolicyARN': `arn:aws:iam::${ACCOUNT}:policy/payments` }],
      ['iam:DeleteRolePolicy', {}],
      ['iam:PutRolePolicy', BOUNDED],
      ['iam:PassRole', { 'iam:PassedToService': 'scheduler.amazonaws.com' }],
    ] as const) {
      await expect(asKillRole('as deployed', action, UNTAGGED_ROLE, context)).resolves.not.toBe('Allowed');
    }
  });

  it('cannot zero the concurrency of a function that is neither tagged nor declared', async () => {
    await expect(
      asKillRole(
        'as deployed',
        'lambda:PutFunctionConcurrency',
        `arn:aws:lambda:${REGION}:${ACCOUNT}:function:payments`,
      ),
    ).resolves.not.toBe('Allowed');
  });

  for (const layer of ['as deployed', 'guards alone'] as const) {
    it(`cannot change its own policies or the restore role's, even when tagged as an agent role (${layer})`, async () => {
      for (const role of [OWN_ROLE, RESTORE_ROLE]) {
        for (const [action, context] of [
          ['iam:AttachRolePolicy', { 'iam:PolicyARN': FULL_STOP }],
          ['iam:DetachRolePolicy', { 'iam:PolicyARN': policyArn(`${killExecutionRoleName(REGION)}-1`) }],
          ['iam:PutRolePolicy', KILLED],
          ['iam:DeleteRolePolicy', KILLED],
          ['iam:UpdateAssumeRolePolicy', {}],
        ] as const) {
          await expect(asKillRole(layer, action, role, { ...TAGGED, ...context })).resolves.toBe(
            'ExplicitlyDenied',
          );
        }
      }
      for (const action of ['iam:CreatePolicyVersion', 'iam:SetDefaultPolicyVersion', 'iam:DeletePolicy']) {
        await expect(
          asKillRole(layer, action, policyArn(`${killExecutionRoleName(REGION)}-1`)),
        ).resolves.toBe('ExplicitlyDenied');
        await expect(asKillRole(layer, action, FULL_STOP)).resolves.toBe('ExplicitlyDenied');
      }
    });

    it(`cannot remove any role's boundary, set one on itself, or create a role, user or key (${layer})`, async () => {
      for (const role of [TAGGED_ROLE, DECLARED_ROLE, OWN_ROLE]) {
        await expect(
          asKillRole(layer, 'iam:DeleteRolePermissionsBoundary', role, { ...TAGGED, ...KILLED }),
        ).resolves.toBe('ExplicitlyDenied');
      }
      await expect(
        asKillRole(layer, 'iam:PutRolePermissionsBoundary', OWN_ROLE, { ...TAGGED, ...KILLED }),
      ).resolves.toBe('ExplicitlyDenied');
      for (const [action, resource] of [
        ['iam:CreateRole', `arn:aws:iam::${ACCOUNT}:role/escape`],
        ['iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/escape`],
        ['iam:CreateAccessKey', `arn:aws:iam::${ACCOUNT}:user/escape`],
      ] as const) {
        await expect(asKillRole(layer, action, resource)).resolves.toBe('ExplicitlyDenied');
      }
    });

    it(`cannot touch the alarm forwarding rule (${layer})`, async () => {
      for (const action of ['events:DisableRule', 'events:DeleteRule', 'events:RemoveTargets']) {
        await expect(
          asKillRole(layer, action, `arn:aws:events:${REGION}:${ACCOUNT}:rule/${ALARM_FORWARDER_RULE_NAME}`),
        ).resolves.toBe('ExplicitlyDenied');
      }
    });

    it(`cannot write backstop:* tags or pass a role to anything but Scheduler (${layer})`, async () => {
      await expect(
        asKillRole(layer, 'iam:UntagRole', TAGGED_ROLE, { ...TAGGED, 'aws:TagKeys': [AGENT_TAG] }),
      ).resolves.toBe('ExplicitlyDenied');
      await expect(
        asKillRole(layer, 'iam:PassRole', TAGGED_ROLE, {
          ...TAGGED,
          'iam:PassedToService': 'lambda.amazonaws.com',
        }),
      ).resolves.toBe('ExplicitlyDenied');
    });
  }
});

describe('the kill execution role isolates only into the isolation groups', () => {
  const [[openId]] = template.find('AWS::EC2::SecurityGroup', (p) =>
    JSON.stringify(p.Tags).includes('"Value":"open"'),
  );
  const [[closedId]] = template.find('AWS::EC2::SecurityGroup', (p) =>
    JSON.stringify(p.Tags).includes('"Value":"closed"'),
  );
  /** The id each isolation group gets (`Ref`), as the shared template resolver derives it. */
  const groupId = (logicalId: string) => template.physical(logicalId);
  const groupArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${id}`;

  it('can move a tagged agent interface into either isolation group, and into no other group', async () => {
    const eni = `arn:aws:ec2:${REGION}:${ACCOUNT}:network-interface/eni-0123456789abcdef0`;
    await expect(asKillRole('as deployed', 'ec2:ModifyNetworkInterfaceAttribute', eni, TAGGED)).resolves.toBe(
      'Allowed',
    );
    await expect(asKillRole('as deployed', 'ec2:ModifyNetworkInterfaceAttribute', eni)).resolves.not.toBe(
      'Allowed',
    );
    for (const id of [openId, closedId]) {
      await expect(
        asKillRole('as deployed', 'ec2:ModifyNetworkInterfaceAttribute', groupArn(groupId(id))),
      ).resolves.toBe('Allowed');
    }
    await expect(
      asKillRole('as deployed', 'ec2:ModifyNetworkInterfaceAttribute', groupArn('sg-0aaaabbbbccccdddd')),
    ).resolves.not.toBe('Allowed');
  });

  it('can set only isolation groups on an agent function in a VPC', async () => {
    const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:agent-fn`;
    const update = (groups: string[]) =>
      asKillRole('as deployed', 'lambda:UpdateFunctionConfiguration', fn, {
        ...TAGGED,
        'lambda:SecurityGroupIds': groups,
      });
    await expect(update([groupId(openId)])).resolves.toBe('Allowed');
    await expect(update([groupId(closedId)])).resolves.toBe('Allowed');
    await expect(update([groupId(closedId), 'sg-0aaaabbbbccccdddd'])).resolves.not.toBe('Allowed');
    await expect(
      asKillRole('as deployed', 'lambda:UpdateFunctionConfiguration', fn, TAGGED),
    ).resolves.not.toBe('Allowed');
  });
});

describe('the kill execution role recognises agent resources by tag, path and declaration', () => {
  it('acts on untagged roles under the configured agent role path, and on no other path', async () => {
    const withPath = synthStacks(
      configWith((c) => {
        c.agentRolePath = '/agents/';
      }),
    );
    const t = new ResolvedTemplate(withPath.workloadTemplate(ACCOUNT, REGION), 'aws', ACCOUNT, REGION);
    const role = t.role(killExecutionRoleName(REGION));
    const attach = (resource: string) =>
      evaluate({
        principal: role.arn,
        action: 'iam:AttachRolePolicy',
        resource,
        context: { 'iam:PolicyARN': FULL_STOP },
        identity: role.identity,
      });
    await expect(attach(`arn:aws:iam::${ACCOUNT}:role/agents/any-bot`)).resolves.toBe('Allowed');
    await expect(attach(`arn:aws:iam::${ACCOUNT}:role/agents/team/nested-bot`)).resolves.toBe('Allowed');
    await expect(attach(`arn:aws:iam::${ACCOUNT}:role/services/any-bot`)).resolves.not.toBe('Allowed');
    // Without the path configured, the same untagged role is out of reach.
    await expect(
      asKillRole('as deployed', 'iam:AttachRolePolicy', `arn:aws:iam::${ACCOUNT}:role/agents/any-bot`, {
        'iam:PolicyARN': FULL_STOP,
      }),
    ).resolves.not.toBe('Allowed');
  });

  it('disables the event source mappings of declared functions and tagged mappings, and no others', async () => {
    const mapping = `arn:aws:lambda:${REGION}:${ACCOUNT}:event-source-mapping:6b1b5e1a-0000-4000-8000-000000000001`;
    const update = (context: Record<string, string>) =>
      asKillRole('as deployed', 'lambda:UpdateEventSourceMapping', mapping, context);
    await expect(
      update({ 'lambda:FunctionArn': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:support-bot-tools` }),
    ).resolves.toBe('Allowed');
    await expect(update(TAGGED)).resolves.toBe('Allowed');
    await expect(
      update({ 'lambda:FunctionArn': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:payments` }),
    ).resolves.not.toBe('Allowed');
  });
});
