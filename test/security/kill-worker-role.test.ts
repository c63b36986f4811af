/**
 * What the kill worker role (the kill path handlers' identity in the control plane account) may
 * do, evaluated with an IAM simulator on the synthesized control plane: every call the handlers
 * make there is allowed, and nothing beyond it (no key used outside the service that needs it, no
 * `ReEncrypt*` or `GenerateDataKey*` family, no other table call, no write outside the audit
 * prefixes, no other metric namespace).
 *
 * `CALLS` lists the SDK commands of every module the kill handlers that run as the worker load
 * (followed from lambda/kill-<step>/index.ts through their relative imports), except
 * lambda/surfaces, whose calls go to the workload accounts under the kill execution role
 * (kill-role-covers-surfaces.test.ts), and Finalize, which runs as the audit sealer
 * (audit-sealer-role.test.ts). A guard reads that source, so a new call without a row fails.
 */
import { readdirSync } from 'node:fs';
import {
  auditManifestKey,
  auditRecordKey,
  CONTROL_PLANE,
  killExecutionRoleName,
  killSessionName,
} from '../../lambda/shared/naming';
import { synthStacks } from '../helpers/cdk';
import { controlPlaneCommands, LAMBDA_DIR, resourcePolicies, TLS } from './handler-modules';
import { evaluate, type PolicyDocument, ResolvedTemplate } from './iam-policies';

const CP = '111111111111';
const REGION = 'us-east-1';

const synth = synthStacks();
const stack = synth.controlPlane;
const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
const worker = template.role(CONTROL_PLANE.killWorkerRoleName);
/** The value a CDK attribute (ARN, name) of the control plane takes once deployed. */
const deployed = (value: string): string => template.resolve(stack.resolve(value));

const WORKLOAD = '222222222222';
/** The kill execution role as its workload stack deploys it (its trust policy decides the other half). */
const KILL_ROLE = new ResolvedTemplate(
  synth.workloadTemplate(WORKLOAD, REGION),
  'aws',
  WORKLOAD,
  REGION,
).role(killExecutionRoleName(REGION));
const TABLE = deployed(stack.table.tableArn);
const DATA_KEY = deployed(stack.dataKey.keyArn);
const AUDIT_BUCKET = deployed(stack.auditBucket.bucketArn);
const AUDIT_KEY = deployed(stack.auditKey.keyArn);
const SIGNING_KEY = deployed(stack.manifestSigningKey.keyArn);
const RECORD = `${AUDIT_BUCKET}/${auditRecordKey('inc-42', 'chain-1', 1, 'KillRequested')}`;
const MANIFEST = `${AUDIT_BUCKET}/${auditManifestKey('inc-42', 1, 'kill')}`;
/** The encryption headers the audit writer sends with every PutObject (lambda/shared/audit.ts). */
const SSE_KMS = {
  's3:x-amz-server-side-encryption': 'aws:kms',
  's3:x-amz-server-side-encryption-aws-kms-key-id': AUDIT_KEY,
};
const via = (service: string) => ({ 'kms:ViaService': `${service}.${REGION}.amazonaws.com` });

type Context = Record<string, string | string[]>;

interface Authorization {
  readonly action: string;
  readonly resource: string;
  /** @default {} */
  readonly context?: Context;
  /** Account that owns the resource. @default - the control plane account */
  readonly resourceAccount?: string;
  /** @default - the control plane's policy of the resource, if any */
  readonly resourcePolicy?: PolicyDocument;
}

interface Call {
  /** Module under lambda/ that sends the command. */
  readonly source: string;
  readonly command: string;
  readonly what: string;
  /** Every authorization the call needs, the service's own calls to KMS included. */
  readonly needs: readonly Authorization[];
}

const onTable = (action: string): Authorization => ({ action, resource: TABLE });
/** DynamoDB decrypts the table key, and encrypts with it, for the caller. */
const TABLE_KEY = ['kms:Decrypt', 'kms:GenerateDataKey'].map((action) => ({
  action,
  resource: DATA_KEY,
  context: via('dynamodb'),
}));

const CALLS: readonly Call[] = [
  {
    source: 'shared/state-store.ts',
    command: 'GetCommand',
    what: 'read an item of the state table',
    needs: [onTable('dynamodb:GetItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/state-store.ts',
    command: 'PutCommand',
    what: 'write an item (lock, snapshot, incident) conditionally',
    needs: [onTable('dynamodb:PutItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/state-store.ts',
    command: 'UpdateCommand',
    what: 'update an item (mode, lock) conditionally',
    needs: [onTable('dynamodb:UpdateItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/state-store.ts',
    command: 'DeleteCommand',
    what: 'release a lock',
    needs: [onTable('dynamodb:DeleteItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/state-store.ts',
    command: 'QueryCommand',
    what: "read an agent's or an incident's items",
    needs: [onTable('dynamodb:Query'), ...TABLE_KEY],
  },
  {
    source: 'shared/state-store.ts',
    command: 'TransactWriteCommand',
    // IAM authorizes a transaction item by item: its items are Puts and Deletes.
    what: 'move a snapshot to history, advance the manifest chain (Put and Delete items)',
    needs: [onTable('dynamodb:PutItem'), onTable('dynamodb:DeleteItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/outcome-store.ts',
    command: 'PutCommand',
    what: "keep an agent's full outcome at its last read-back",
    needs: [onTable('dynamodb:PutItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/batch-store.ts',
    command: 'PutCommand',
    what: "write a fleet kill's batches of agents (and long joined or unreachable lists) in Prepare",
    needs: [onTable('dynamodb:PutItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/batch-store.ts',
    command: 'GetCommand',
    what: 'load the agents of one batch in a child execution',
    needs: [onTable('dynamodb:GetItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/plan-store.ts',
    command: 'PutCommand',
    what: "keep a dry run's plan of one agent and surface",
    needs: [onTable('dynamodb:PutItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/incident-items.ts',
    command: 'QueryCommand',
    what: "read an incident's outcomes, batches and lists back in Finalize (and a plan, for the CLI)",
    needs: [onTable('dynamodb:Query'), ...TABLE_KEY],
  },
  {
    source: 'shared/audit.ts',
    command: 'PutObjectCommand',
    what: 'write an audit record (SSE-KMS with the audit key, never over an existing one)',
    needs: [
      { action: 's3:PutObject', resource: RECORD, context: { ...SSE_KMS, 's3:if-none-match': '*' } },
      { action: 'kms:GenerateDataKey', resource: AUDIT_KEY, context: via('s3') },
    ],
  },
  {
    source: 'shared/audit.ts',
    command: 'GetObjectCommand',
    what: 'read back a record that is already there',
    needs: [
      { action: 's3:GetObject', resource: RECORD },
      { action: 'kms:Decrypt', resource: AUDIT_KEY, context: via('s3') },
    ],
  },
  {
    source: 'shared/deps.ts',
    command: 'PutMetricDataCommand',
    what: 'publish TimeToContain, KillsNotContained and AuditWriteFailures',
    needs: [
      { action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Backstop' } },
    ],
  },
  {
    source: 'shared/deps.ts',
    command: 'AssumeRoleCommand',
    what: 'assume the kill execution role of the agent’s account, with a source identity',
    needs: ['sts:AssumeRole', 'sts:SetSourceIdentity'].map((action) => ({
      action,
      resource: KILL_ROLE.arn,
      resourceAccount: WORKLOAD,
      resourcePolicy: KILL_ROLE.trust,
      context: { 'sts:RoleSessionName': killSessionName('inc-42'), 'sts:SourceIdentity': 'inc-42' },
    })),
  },
  ...Object.entries({
    GetCommand: ['dynamodb:GetItem', "read an agent's restore lock and the restore it names"],
    UpdateCommand: ['dynamodb:UpdateItem', 'cancel a live restore (one conditional status change)'],
    PutCommand: ['dynamodb:PutItem', 'restore locks and records (the restore path writes them)'],
    DeleteCommand: ['dynamodb:DeleteItem', 'release a restore lock (the restore path does)'],
  }).map(([command, [action, what]]) => ({
    source: 'restore-shared/store.ts',
    command,
    what: what as string,
    needs: [onTable(action as string), ...TABLE_KEY],
  })),
  {
    source: 'restore-shared/cancel.ts',
    command: 'SendTaskFailureCommand',
    what: 'end the wait of a restore the kill cancels (a kill wins over a restore)',
    needs: [
      // No resource-level permissions: the task token names the task.
      { action: 'states:SendTaskFailure', resource: '*' },
    ],
  },
  {
    source: 'kill-prepare/prepare.ts',
    command: 'DescribeExecutionCommand',
    what: 'tell whether the kill holding an agent lock still runs',
    needs: [
      {
        action: 'states:DescribeExecution',
        resource: `arn:aws:states:${REGION}:${CP}:execution:${CONTROL_PLANE.killStateMachineName}:inc-41`,
      },
    ],
  },
];

const resourcePolicyOf = resourcePolicies(template);

function decide(need: Authorization) {
  return evaluate({
    principal: worker.arn,
    action: need.action,
    resource: need.resource,
    context: { ...TLS, ...(need.context ?? {}) },
    identity: worker.identity,
    resourceAccount: need.resourceAccount,
    resourcePolicy: need.resourcePolicy ?? resourcePolicyOf(need.resource),
  });
}

/** The kill handlers that run as the kill worker (Finalize runs as the audit sealer). */
function killEntries(): string[] {
  const entries = readdirSync(LAMBDA_DIR).filter((dir) => dir.startsWith('kill-') && dir !== 'kill-finalize');
  expect(entries.length).toBeGreaterThanOrEqual(3);
  return entries;
}

describe('the kill worker role', () => {
  it('has a row for every SDK command the kill handlers send in the control plane', () => {
    const sent = controlPlaneCommands(killEntries());
    const listed = CALLS.map((c) => `${c.source} ${c.command}`);
    expect([...new Set(listed)].sort()).toEqual([...new Set(sent)].sort());
  });

  it.each(CALLS.map((call) => [`${call.source} ${call.command}: ${call.what}`, call] as const))(
    'is allowed: %s',
    async (_name, call) => {
      const refused: string[] = [];
      for (const need of call.needs) {
        const result = await decide(need);
        if (result !== 'Allowed') refused.push(`${need.action} on ${need.resource}: ${result}`);
      }
      expect(refused).toEqual([]);
    },
  );

  it('uses the audit and data keys only through the services that encrypt for it, never directly', async () => {
    for (const key of [AUDIT_KEY, DATA_KEY]) {
      for (const action of ['kms:Decrypt', 'kms:GenerateDataKey']) {
        await expect(decide({ action, resource: key })).resolves.not.toBe('Allowed');
        await expect(decide({ action, resource: key, context: via('ec2') })).resolves.not.toBe('Allowed');
      }
    }
    await expect(
      decide({ action: 'kms:Decrypt', resource: AUDIT_KEY, context: via('sns') }),
    ).resolves.not.toBe('Allowed');
  });

  it('holds no ReEncrypt or GenerateDataKey variant on any key, and no other use of a key than its own', async () => {
    for (const key of [AUDIT_KEY, DATA_KEY, SIGNING_KEY]) {
      for (const action of [
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:GenerateDataKeyPair',
        'kms:GenerateDataKeyPairWithoutPlaintext',
      ]) {
        for (const context of [{}, via('s3'), via('dynamodb'), via('sns')]) {
          await expect(decide({ action, resource: key, context })).resolves.not.toBe('Allowed');
        }
      }
    }
    await expect(
      decide({ action: 'kms:Encrypt', resource: AUDIT_KEY, context: via('s3') }),
    ).resolves.not.toBe('Allowed');
    for (const action of ['kms:Verify', 'kms:GetPublicKey', 'kms:Decrypt']) {
      await expect(decide({ action, resource: SIGNING_KEY })).resolves.not.toBe('Allowed');
    }
    // Manifests are signed by the audit sealer alone: the worker holds the execution roles.
    await expect(
      decide({ action: 'kms:Sign', resource: SIGNING_KEY, context: { 'kms:MessageType': 'DIGEST' } }),
    ).resolves.not.toBe('Allowed');
  });

  it('makes no table call beyond the state store’s own, and writes nothing outside the audit prefixes', async () => {
    for (const action of [
      'dynamodb:Scan',
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteTable',
      'dynamodb:UpdateTable',
    ]) {
      await expect(decide(onTable(action))).resolves.not.toBe('Allowed');
    }
    for (const [action, resource, context] of [
      ['s3:PutObject', `${AUDIT_BUCKET}/elsewhere/record.json`, SSE_KMS],
      ['s3:PutObject', MANIFEST, { ...SSE_KMS, 's3:if-none-match': '*' }],
      ['s3:DeleteObject', RECORD],
      ['s3:PutObjectRetention', RECORD],
      ['s3:PutObjectLegalHold', RECORD],
    ] as [string, string, Context?][]) {
      await expect(decide({ action, resource, context })).resolves.not.toBe('Allowed');
    }
  });

  it('puts metrics only into the Backstop namespace', async () => {
    await expect(
      decide({
        action: 'cloudwatch:PutMetricData',
        resource: '*',
        context: { 'cloudwatch:namespace': 'AWS/Lambda' },
      }),
    ).resolves.not.toBe('Allowed');
  });
});
