/**
 * What the restore execution role can do: put an agent's authority back, on agent roles only,
 * without ever reaching for AdministratorAccess or Backstop's own policies.
 */
import {
  AGENT_TAG,
  agentBoundaryName,
  fullStopPolicyName,
  iamPolicyArn,
  killExecutionRoleName,
  readOnlyPolicyName,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { ALARM_FORWARDER_RULE_NAME } from '../../lib/constructs/alarm-forwarder';
import { synthStacks } from '../helpers/cdk';
import { ALLOW_EVERYTHING, evaluate, type NamedPolicy, onlyEffect, ResolvedTemplate } from './iam-policies';

const ACCOUNT = '222222222222';
const REGION = 'us-east-1';
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
const TAGGED_ROLE = `arn:aws:iam::${ACCOUNT}:role/agent-runtime`;
const TAGGED = { [`aws:ResourceTag/${AGENT_TAG}`]: 'support-bot' };
const BOUNDED = { 'iam:PermissionsBoundary': policyArn(agentBoundaryName(REGION)) };

function asRestoreRole(
  layer: string,
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
) {
  return evaluate({ principal: restoreRole.arn, action, resource, context, identity: layers[layer] });
}

describe('the restore execution role', () => {
  it("re-attaches an agent's own managed policy and its inline policies to a bounded agent role", async () => {
    await expect(
      asRestoreRole('as deployed', 'iam:AttachRolePolicy', TAGGED_ROLE, {
        ...TAGGED,
        ...BOUNDED,
        'iam:PolicyARN': `arn:aws:iam::${ACCOUNT}:policy/agent-s3-access`,
      }),
    ).resolves.toBe('Allowed');
    await expect(
      asRestoreRole('as deployed', 'iam:PutRolePolicy', TAGGED_ROLE, { ...TAGGED, ...BOUNDED }),
    ).resolves.toBe('Allowed');
  });

  it("removes Backstop's deny and puts a lower mode's deny in its place", async () => {
    await expect(
      asRestoreRole('as deployed', 'iam:DetachRolePolicy', TAGGED_ROLE, {
        ...TAGGED,
        'iam:PolicyARN': policyArn(fullStopPolicyName(REGION)),
      }),
    ).resolves.toBe('Allowed');
    await expect(
      asRestoreRole('as deployed', 'iam:AttachRolePolicy', TAGGED_ROLE, {
        ...TAGGED,
        ...BOUNDED,
        'iam:PolicyARN': policyArn(readOnlyPolicyName(REGION)),
      }),
    ).resolves.toBe('Allowed');
  });

  it('re-enables rules and gives back reserved concurrency', async () => {
    await expect(
      asRestoreRole(
        'as deployed',
        'events:EnableRule',
        `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-nightly`,
      ),
    ).resolves.toBe('Allowed');
    await expect(
      asRestoreRole(
        'as deployed',
        'lambda:DeleteFunctionConcurrency',
        `arn:aws:lambda:${REGION}:${ACCOUNT}:function:support-bot-tools`,
      ),
    ).resolves.toBe('Allowed');
  });

  it("rewrites a rule's state with PutRule only on agent rules, and never tags one with it", async () => {
    const rule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/agent-bus/agent-orders`;
    await expect(asRestoreRole('as deployed', 'events:PutRule', rule, TAGGED)).resolves.toBe('Allowed');
    await expect(
      asRestoreRole(
        'as deployed',
        'events:PutRule',
        `arn:aws:events:${REGION}:${ACCOUNT}:rule/payments-nightly`,
      ),
    ).resolves.not.toBe('Allowed');
    await expect(
      asRestoreRole('as deployed', 'events:PutRule', rule, { ...TAGGED, 'aws:TagKeys': ['team'] }),
    ).resolves.not.toBe('Allowed');
    await expect(
      asRestoreRole(
        'as deployed',
        'events:PutRule',
        `arn:aws:events:${REGION}:${ACCOUNT}:rule/${ALARM_FORWARDER_RULE_NAME}`,
        TAGGED,
      ),
    ).resolves.toBe('ExplicitlyDenied');
  });

  it('puts nothing into a role that is not an agent role or that lacks the agent boundary', async () => {
    const policy = { 'iam:PolicyARN': `arn:aws:iam::${ACCOUNT}:policy/agent-s3-access` };
    await expect(
      asRestoreRole('as deployed', 'iam:AttachRolePolicy', `arn:aws:iam::${ACCOUNT}:role/payments`, {
        ...BOUNDED,
        ...policy,
      }),
    ).resolves.not.toBe('Allowed');
    await expect(
      asRestoreRole('as deployed', 'iam:AttachRolePolicy', TAGGED_ROLE, { ...TAGGED, ...policy }),
    ).resolves.not.toBe('Allowed');
  });

  for (const layer of Object.keys(layers)) {
    it(`never attaches AdministratorAccess, the boundary or the execution roles' policies (${layer})`, async () => {
      for (const policy of [
        'arn:aws:iam::aws:policy/AdministratorAccess',
        policyArn(agentBoundaryName(REGION)),
        policyArn(`${killExecutionRoleName(REGION)}-1`),
        policyArn(`${restoreExecutionRoleName(REGION)}-1`),
      ]) {
        await expect(
          asRestoreRole(layer, 'iam:AttachRolePolicy', TAGGED_ROLE, {
            ...TAGGED,
            ...BOUNDED,
            'iam:PolicyARN': policy,
          }),
        ).resolves.toBe('ExplicitlyDenied');
      }
    });

    it(`cannot change its own role, the kill role or any boundary (${layer})`, async () => {
      for (const role of [
        restoreRole.arn,
        `arn:aws:iam::${ACCOUNT}:role/backstop/${killExecutionRoleName(REGION)}`,
      ]) {
        await expect(
          asRestoreRole(layer, 'iam:PutRolePolicy', role, { ...TAGGED, ...BOUNDED }),
        ).resolves.toBe('ExplicitlyDenied');
      }
      await expect(
        asRestoreRole(layer, 'iam:DeleteRolePermissionsBoundary', TAGGED_ROLE, TAGGED),
      ).resolves.toBe('ExplicitlyDenied');
    });
  }
});
