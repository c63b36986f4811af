/**
 * The control flag is readable only by its agent and writable only by the kill and restore paths,
 * evaluated with the IAM policy simulator on the synthesized control plane: the state table's
 * resource policy and the data key's key policy, with the identity policy a workload account
 * gives its agent roles (or one that allows everything: cross-account, both sides must allow).
 */
import { AGENT_TAG, agentBoundaryName, CONTROL_PLANE, iamRoleArn } from '../../lambda/shared/naming';
import { FLAG_READ_ATTRIBUTES } from '../../lib/constructs/state-table';
import { configWith, synthStacks } from '../helpers/cdk';
import {
  ALLOW_EVERYTHING,
  evaluate,
  type NamedPolicy,
  type PolicyDocument,
  ResolvedTemplate,
} from './iam-policies';

const CP = '111111111111';
const REGION = 'us-east-1';
const WORKLOAD = '222222222222';
const OTHER_WORKLOAD = '333333333333';
const OUTSIDE = '999999999999';

function deployed(synth = synthStacks()) {
  const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
  const [[tableId, table]] = template.find('AWS::DynamoDB::Table');
  const tableArn = template.physical(tableId, 'Arn');
  const resourcePolicy = template.resolve<PolicyDocument>(
    (table.Properties?.ResourcePolicy as { PolicyDocument: unknown }).PolicyDocument,
  );
  const keyArn = template.resolve<string>(synth.controlPlane.resolve(synth.controlPlane.dataKey.keyArn));
  const [keyId] = template.find('AWS::KMS::Key').find(([id]) => template.physical(id, 'Arn') === keyArn) as [
    string,
    unknown,
  ];
  const keyPolicy = template.resolve<PolicyDocument>(template.resource(keyId).Properties?.KeyPolicy);
  return { template, tableArn, resourcePolicy, keyArn, keyPolicy };
}

const cp = deployed();

/** What a workload account grants its agent roles so the runtime guard can read (README). */
const AGENT_IDENTITY: NamedPolicy = {
  name: 'ReadBackstopFlag',
  policy: {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: cp.tableArn },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: cp.keyArn },
    ],
  },
};

const agentRole = (account: string, name: string) => `arn:aws:iam::${account}:role/agents/${name}`;
const tagged = (agentId: string) => ({ [`aws:PrincipalTag/${AGENT_TAG}`]: agentId });
/** The request the runtime guard sends: its own partition, the flag's attributes. */
const guardRead = (agentId: string, attributes: readonly string[] = FLAG_READ_ATTRIBUTES) => ({
  'dynamodb:LeadingKeys': [`AGENT#${agentId}`],
  'dynamodb:Attributes': [...attributes],
});

interface Ask {
  readonly principal: string;
  readonly action: string;
  readonly context?: Record<string, string | string[]>;
  readonly identity?: readonly NamedPolicy[];
  readonly on?: typeof cp;
}

function onTable(ask: Ask) {
  const on = ask.on ?? cp;
  return evaluate({
    principal: ask.principal,
    action: ask.action,
    resource: on.tableArn,
    resourceAccount: CP,
    context: { 'aws:SecureTransport': 'true', ...(ask.context ?? {}) },
    identity: ask.identity ?? [AGENT_IDENTITY],
    resourcePolicy: on.resourcePolicy,
  });
}

function onKey(ask: Ask) {
  const on = ask.on ?? cp;
  return evaluate({
    principal: ask.principal,
    action: ask.action,
    resource: on.keyArn,
    resourceAccount: CP,
    context: {
      'kms:ViaService': `dynamodb.${REGION}.amazonaws.com`,
      'kms:CallerAccount': /::(\d{12}):/.exec(ask.principal)?.[1] ?? '',
      ...(ask.context ?? {}),
    },
    identity: ask.identity ?? [AGENT_IDENTITY],
    resourcePolicy: on.keyPolicy,
  });
}

const RUNTIME = agentRole(WORKLOAD, 'support-bot-runtime');

describe('an agent role reads its own control flag and nothing else', () => {
  it('reads its own flag item (the runtime guard’s request)', async () => {
    await expect(
      onTable({
        principal: RUNTIME,
        action: 'dynamodb:GetItem',
        context: { ...tagged('support-bot'), ...guardRead('support-bot') },
      }),
    ).resolves.toBe('Allowed');
  });

  it.each([
    ['a sibling agent’s flag', { ...tagged('support-bot'), ...guardRead('etl-agent') }],
    [
      'its own partition without naming the attributes (the whole item)',
      { ...tagged('support-bot'), 'dynamodb:LeadingKeys': ['AGENT#support-bot'] },
    ],
    [
      'the kill lock’s execution and expiry',
      { ...tagged('support-bot'), ...guardRead('support-bot', ['executionId', 'expiresAt']) },
    ],
    [
      'the reason a person wrote',
      { ...tagged('support-bot'), ...guardRead('support-bot', ['mode', 'reason']) },
    ],
    [
      'a snapshot partition',
      {
        ...tagged('support-bot'),
        'dynamodb:LeadingKeys': ['SNAPSHOT#support-bot'],
        'dynamodb:Attributes': ['mode'],
      },
    ],
    [
      'its flag and a sibling’s at once',
      {
        ...tagged('support-bot'),
        'dynamodb:LeadingKeys': ['AGENT#support-bot', 'AGENT#etl-agent'],
        'dynamodb:Attributes': ['mode'],
      },
    ],
  ])('cannot read %s', async (_what, context) => {
    await expect(onTable({ principal: RUNTIME, action: 'dynamodb:GetItem', context })).resolves.not.toBe(
      'Allowed',
    );
  });

  it.each([
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:PartiQLUpdate',
  ])('cannot write its own flag: %s', async (action) => {
    await expect(
      onTable({
        principal: RUNTIME,
        action,
        context: { ...tagged('support-bot'), ...guardRead('support-bot') },
        identity: [ALLOW_EVERYTHING],
      }),
    ).resolves.not.toBe('Allowed');
  });

  it.each([
    'dynamodb:Scan',
    'dynamodb:Query',
    'dynamodb:BatchGetItem',
    'dynamodb:PartiQLSelect',
    'dynamodb:DescribeTable',
  ])('cannot %s the table', async (action) => {
    await expect(
      onTable({ principal: RUNTIME, action, context: tagged('support-bot'), identity: [ALLOW_EVERYTHING] }),
    ).resolves.not.toBe('Allowed');
  });

  it('an untagged role of a workload account reads nothing', async () => {
    await expect(
      onTable({
        principal: agentRole(WORKLOAD, 'payments-service'),
        action: 'dynamodb:GetItem',
        context: guardRead('support-bot'),
        identity: [ALLOW_EVERYTHING],
      }),
    ).resolves.not.toBe('Allowed');
  });

  it('a role outside the workload accounts reads nothing, even tagged with the agent’s id', async () => {
    await expect(
      onTable({
        principal: agentRole(OUTSIDE, 'support-bot-runtime'),
        action: 'dynamodb:GetItem',
        context: { ...tagged('support-bot'), ...guardRead('support-bot') },
        identity: [ALLOW_EVERYTHING],
      }),
    ).resolves.not.toBe('Allowed');
  });

  it('cannot borrow a sibling’s identity: its boundary refuses a backstop:agent session or role tag', async () => {
    const synth = synthStacks();
    const boundary = new ResolvedTemplate(
      synth.workloadTemplate(WORKLOAD, REGION),
      'aws',
      WORKLOAD,
      REGION,
    ).managedPolicy(agentBoundaryName(REGION));
    const sibling = { 'aws:TagKeys': [AGENT_TAG], [`aws:RequestTag/${AGENT_TAG}`]: 'etl-agent' };
    for (const [action, resource] of [
      ['sts:TagSession', agentRole(WORKLOAD, 'helper')],
      ['sts:AssumeRole', agentRole(WORKLOAD, 'helper')],
      ['iam:TagRole', RUNTIME],
    ] as const) {
      await expect(
        evaluate({
          principal: RUNTIME,
          action,
          resource,
          context: sibling,
          identity: [ALLOW_EVERYTHING],
          boundary,
        }),
      ).resolves.toBe('ExplicitlyDenied');
    }
  });

  it('another workload account’s agents read their own flags the same way', async () => {
    await expect(
      onTable({
        principal: agentRole(OTHER_WORKLOAD, 'code-reviewer'),
        action: 'dynamodb:GetItem',
        context: { ...tagged('code-reviewer'), ...guardRead('code-reviewer') },
      }),
    ).resolves.toBe('Allowed');
  });

  it('with an organization configured, a reader must also be in it', async () => {
    const org = deployed(synthStacks(configWith((c) => void (c.organizationId = 'o-a1b2c3d4e5'))));
    const ask = {
      principal: RUNTIME,
      action: 'dynamodb:GetItem',
      context: { ...tagged('support-bot'), ...guardRead('support-bot') },
      identity: [
        {
          name: 'ReadBackstopFlag',
          policy: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow' as const, Action: 'dynamodb:GetItem', Resource: org.tableArn }],
          },
        },
      ],
      on: org,
    };
    await expect(onTable(ask)).resolves.not.toBe('Allowed');
    await expect(
      onTable({ ...ask, context: { ...ask.context, 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } }),
    ).resolves.toBe('Allowed');
  });
});

describe('the data key decrypts the flag for its agent, through DynamoDB only', () => {
  it('lets a tagged agent role of a workload account decrypt through DynamoDB', async () => {
    await expect(
      onKey({ principal: RUNTIME, action: 'kms:Decrypt', context: tagged('support-bot') }),
    ).resolves.toBe('Allowed');
  });

  it.each([
    [
      'directly (not through DynamoDB)',
      { ...tagged('support-bot'), 'kms:ViaService': 'sns.us-east-1.amazonaws.com' },
    ],
    ['untagged', {}],
  ])('refuses a decrypt %s', async (_what, context) => {
    await expect(onKey({ principal: RUNTIME, action: 'kms:Decrypt', context })).resolves.not.toBe('Allowed');
  });

  it('refuses a role outside the workload accounts, and every other key action', async () => {
    await expect(
      onKey({
        principal: agentRole(OUTSIDE, 'x'),
        action: 'kms:Decrypt',
        context: tagged('support-bot'),
        identity: [ALLOW_EVERYTHING],
      }),
    ).resolves.not.toBe('Allowed');
    for (const action of ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom', 'kms:CreateGrant']) {
      await expect(
        onKey({ principal: RUNTIME, action, context: tagged('support-bot'), identity: [ALLOW_EVERYTHING] }),
      ).resolves.not.toBe('Allowed');
    }
  });
});

describe('only the kill and restore paths write an agent’s items', () => {
  const writeFlag = { 'dynamodb:LeadingKeys': ['AGENT#support-bot'] };
  const killWorker = cp.template.role(CONTROL_PLANE.killWorkerRoleName);
  const restoreWorker = iamRoleArn('aws', CP, CONTROL_PLANE.restoreWorkerRoleName);

  it('the kill worker writes a flag (its own identity policy, the resource policy does not stand in its way)', async () => {
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
      await expect(
        onTable({ principal: killWorker.arn, action, context: writeFlag, identity: killWorker.identity }),
      ).resolves.toBe('Allowed');
    }
  });

  it('the restore worker may write a flag once its path grants it', async () => {
    await expect(
      onTable({
        principal: restoreWorker,
        action: 'dynamodb:UpdateItem',
        context: writeFlag,
        identity: [ALLOW_EVERYTHING],
      }),
    ).resolves.toBe('Allowed');
  });

  it('any other principal of the control plane account is refused, even with an identity policy that allows everything', async () => {
    for (const principal of [
      `arn:aws:iam::${CP}:role/backstop/backstop-break-glass`,
      `arn:aws:iam::${CP}:role/Admin`,
      `arn:aws:iam::${CP}:user/oncall-alice`,
    ]) {
      for (const action of [
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
        'dynamodb:PartiQLUpdate',
      ]) {
        await expect(
          onTable({ principal, action, context: writeFlag, identity: [ALLOW_EVERYTHING] }),
        ).resolves.not.toBe('Allowed');
      }
      // Reads and the other partitions are left to identity policies (the CLI's status, approvals).
      await expect(
        onTable({ principal, action: 'dynamodb:GetItem', context: writeFlag, identity: [ALLOW_EVERYTHING] }),
      ).resolves.toBe('Allowed');
      await expect(
        onTable({
          principal,
          action: 'dynamodb:PutItem',
          context: { 'dynamodb:LeadingKeys': ['INCIDENT#inc-1'] },
          identity: [ALLOW_EVERYTHING],
        }),
      ).resolves.toBe('Allowed');
    }
  });
});
