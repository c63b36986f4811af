/**
 * What the restore worker role (the restore path's identity in the control plane) may do,
 * evaluated with the IAM policy simulator on the synthesized control plane: every call the restore
 * handlers make is allowed from the function that makes it, and the calls that matter are allowed
 * from that function only (`lambda:SourceFunctionArn`, which Lambda puts in the credentials of a
 * function's own calls). So the role's credentials, in any other function or outside Lambda,
 * cannot reach a workload account, start a restore or complete an approval task: the restore
 * worker is used only by the restore path, and reaches a workload only through the apply
 * function, which counts the approvals again before anything.
 *
 * `CALLS` lists the SDK commands of every module the restore handlers running as the worker load
 * (lambda/restore-prepare, restore-await, restore-apply, approval-endpoint, through their relative
 * imports), but lambda/surfaces (under the workload restore role: kill-role-covers-surfaces.test.ts).
 */
import { RESTORE_FUNCTION_NAMES } from '../../lambda/restore-shared/names';
import { restoreSessionName } from '../../lambda/restore-apply/assume';
import {
  auditManifestKey,
  auditRecordKey,
  CONTROL_PLANE,
  publicKeyObjectKey,
  restoreExecutionRoleName,
} from '../../lambda/shared/naming';
import { synthStacks } from '../helpers/cdk';
import { controlPlaneCommands, resourcePolicies, TLS } from './handler-modules';
import { evaluate, type PolicyDocument, ResolvedTemplate } from './iam-policies';

const CP = '111111111111';
const REGION = 'us-east-1';
const WORKLOAD = '222222222222';

const synth = synthStacks();
const stack = synth.controlPlane;
const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
const worker = template.role(CONTROL_PLANE.restoreWorkerRoleName);
const deployed = (value: string): string => template.resolve(stack.resolve(value));
const RESTORE_ROLE = new ResolvedTemplate(
  synth.workloadTemplate(WORKLOAD, REGION),
  'aws',
  WORKLOAD,
  REGION,
).role(restoreExecutionRoleName(REGION));

const TABLE = deployed(stack.table.tableArn);
const DATA_KEY = deployed(stack.dataKey.keyArn);
const AUDIT_BUCKET = deployed(stack.auditBucket.bucketArn);
const AUDIT_KEY = deployed(stack.auditKey.keyArn);
const SIGNING_KEY = deployed(stack.manifestSigningKey.keyArn);
const TOPIC = deployed(stack.topic.topicArn);
const SEALER_FUNCTION = deployed(stack.auditSealer.function.functionArn);
const RECORD = `${AUDIT_BUCKET}/${auditRecordKey('inc-42', 'restore-apply-1', 1, 'ResourceRestored')}`;
const MANIFEST = `${AUDIT_BUCKET}/${auditManifestKey('inc-42', 1, 'kill')}`;
const PUBLIC_KEY = `${AUDIT_BUCKET}/${publicKeyObjectKey(SIGNING_KEY)}`;
const RESTORE_MACHINE = `arn:aws:states:${REGION}:${CP}:stateMachine:${CONTROL_PLANE.restoreStateMachineName}`;
const SSE = {
  's3:x-amz-server-side-encryption': 'aws:kms',
  's3:x-amz-server-side-encryption-aws-kms-key-id': AUDIT_KEY,
  's3:if-none-match': '*',
};
const via = (service: string) => ({ 'kms:ViaService': `${service}.${REGION}.amazonaws.com` });
const fn = (name: string) => `arn:aws:lambda:${REGION}:${CP}:function:${name}`;
const F = RESTORE_FUNCTION_NAMES;
const ALL = [F.prepare, F.await, F.apply, F.endpoint];

type Context = Record<string, string | string[]>;
interface Authorization {
  readonly action: string;
  readonly resource: string;
  readonly context?: Context;
  readonly resourceAccount?: string;
  readonly resourcePolicy?: PolicyDocument;
}
interface Call {
  readonly source: string;
  readonly command: string;
  readonly what: string;
  /** The functions that send it: each must be allowed its needs. */
  readonly from: readonly string[];
  readonly needs: readonly Authorization[];
  /** Needs refused to every other function (and outside Lambda). @default 'none', 'all': every need */
  readonly pinned?: 'all' | readonly Authorization[];
  /** For a command the module holds but these handlers never send: each must be refused. */
  readonly never?: readonly Authorization[];
}

const onTable = (action: string): Authorization => ({ action, resource: TABLE });
const TABLE_KEY = ['kms:Decrypt', 'kms:GenerateDataKey'].map((action) => ({
  action,
  resource: DATA_KEY,
  context: via('dynamodb'),
}));
const table = (source: string, commands: Record<string, string[]>, what: string, from = ALL): Call[] =>
  Object.entries(commands).map(([command, actions]) => ({
    source,
    command,
    what,
    from,
    needs: [...actions.map(onTable), ...TABLE_KEY],
  }));

const CALLS: readonly Call[] = [
  ...table(
    'shared/state-store.ts',
    {
      GetCommand: ['dynamodb:GetItem'],
      PutCommand: ['dynamodb:PutItem'],
      UpdateCommand: ['dynamodb:UpdateItem'],
      DeleteCommand: ['dynamodb:DeleteItem'],
      QueryCommand: ['dynamodb:Query'],
      TransactWriteCommand: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
    },
    'the flag, incidents, snapshots (and their history), approvals',
  ),
  ...table(
    'restore-shared/store.ts',
    {
      GetCommand: ['dynamodb:GetItem'],
      PutCommand: ['dynamodb:PutItem'],
      UpdateCommand: ['dynamodb:UpdateItem'],
      DeleteCommand: ['dynamodb:DeleteItem'],
    },
    "restores, the agent's restore lock, the RestoresPending count",
  ),
  ...table(
    'restore-apply/flag.ts',
    { TransactWriteCommand: ['dynamodb:ConditionCheckItem', 'dynamodb:UpdateItem'] },
    'lower the flag in one transaction with "the restore is still APPLYING"',
    [F.apply],
  ),
  ...table(
    'shared/manifest-store.ts',
    {
      GetCommand: ['dynamodb:GetItem'],
      QueryCommand: ['dynamodb:Query'],
      TransactWriteCommand: ['dynamodb:PutItem'],
    },
    'loaded with manifest.ts; the restore worker never seals (Finalize does, as the sealer)',
  ),
  {
    source: 'shared/audit.ts',
    command: 'PutObjectCommand',
    what: 'write a restore record, once, with the audit key',
    from: ALL,
    needs: [
      { action: 's3:PutObject', resource: RECORD, context: SSE },
      { action: 'kms:GenerateDataKey', resource: AUDIT_KEY, context: via('s3') },
    ],
  },
  {
    source: 'shared/audit.ts',
    command: 'GetObjectCommand',
    what: 'read back a record after a 412',
    from: ALL,
    needs: [
      { action: 's3:GetObject', resource: RECORD },
      { action: 'kms:Decrypt', resource: AUDIT_KEY, context: via('s3') },
    ],
  },
  {
    source: 'shared/manifest.ts',
    command: 'ListObjectsV2Command',
    what: "list the kill's records and manifests (sealed SnapshotTaken records)",
    from: [F.apply],
    needs: [
      { action: 's3:ListBucket', resource: AUDIT_BUCKET, context: { 's3:prefix': 'incidents/inc-42/' } },
      { action: 's3:ListBucket', resource: AUDIT_BUCKET, context: { 's3:prefix': 'manifests/inc-42/' } },
    ],
  },
  {
    source: 'shared/manifest.ts',
    command: 'GetObjectCommand',
    what: "read the kill's SnapshotTaken and ActorAttributed records and its manifests",
    from: [F.apply],
    needs: [
      { action: 's3:GetObject', resource: RECORD },
      { action: 's3:GetObject', resource: MANIFEST },
      { action: 'kms:Decrypt', resource: AUDIT_KEY, context: via('s3') },
    ],
    pinned: [{ action: 's3:GetObject', resource: MANIFEST }],
  },
  {
    source: 'shared/manifest.ts',
    command: 'SignCommand',
    what: 'only the audit sealer signs',
    from: [],
    needs: [],
    never: [{ action: 'kms:Sign', resource: SIGNING_KEY, context: { 'kms:MessageType': 'DIGEST' } }],
  },
  {
    source: 'shared/audit-source.ts',
    command: 'GetObjectCommand',
    what: 'read the published public signing key (to check the manifests)',
    from: [F.apply],
    needs: [
      { action: 's3:GetObject', resource: PUBLIC_KEY },
      { action: 'kms:Decrypt', resource: AUDIT_KEY, context: via('s3') },
    ],
    pinned: [{ action: 's3:GetObject', resource: PUBLIC_KEY }],
  },
  ...(
    [
      ['ListObjectVersionsCommand', 's3:ListBucketVersions', AUDIT_BUCKET],
      ['GetObjectRetentionCommand', 's3:GetObjectRetention', RECORD],
      ['GetPublicKeyCommand', 'kms:GetPublicKey', SIGNING_KEY],
    ] as const
  ).map(([command, action, resource]) => ({
    source: 'shared/audit-source.ts',
    command,
    what: 'verification reads; the restore path does not make them',
    from: [],
    needs: [],
    never: [{ action, resource }],
  })),
  {
    source: 'shared/deps.ts',
    command: 'PutMetricDataCommand',
    what: 'RestoresPending, AuditWriteFailures',
    from: ALL,
    needs: [
      { action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Backstop' } },
    ],
  },
  {
    source: 'shared/deps.ts',
    command: 'AssumeRoleCommand',
    what: 'the kill workers’ AssumeRole: the restore worker holds no kill role',
    from: [],
    needs: [],
    never: [
      {
        action: 'sts:AssumeRole',
        resource: `arn:aws:iam::${WORKLOAD}:role/backstop/backstop-kill-${REGION}`,
      },
    ],
  },
  {
    // restore-apply/assume.ts names the restore role; shared/deps.ts sends the call for it.
    source: 'shared/deps.ts',
    command: 'AssumeRoleCommand',
    what: "assume the workload restore role of the agent's account, with a source identity",
    from: [F.apply],
    needs: ['sts:AssumeRole', 'sts:SetSourceIdentity'].map((action) => ({
      action,
      resource: RESTORE_ROLE.arn,
      resourceAccount: WORKLOAD,
      resourcePolicy: RESTORE_ROLE.trust,
      context: {
        'sts:RoleSessionName': restoreSessionName('restore-support-bot-1'),
        'sts:SourceIdentity': restoreSessionName('restore-support-bot-1'),
      },
    })),
    pinned: 'all' as const,
  },
  {
    source: 'restore-await/await.ts',
    command: 'PublishCommand',
    what: 'tell the topic who may approve',
    from: [F.await],
    needs: [
      { action: 'sns:Publish', resource: TOPIC },
      ...['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
        action,
        resource: DATA_KEY,
        context: via('sns'),
      })),
    ],
    pinned: [{ action: 'sns:Publish', resource: TOPIC }],
  },
  ...['SendTaskSuccessCommand', 'SendTaskFailureCommand'].map((command) => ({
    source: 'restore-shared/deliver.ts',
    command,
    what: 'complete the approval task at quorum, or fail it on a rejection',
    from: [F.endpoint],
    needs: [{ action: `states:${command.replace('Command', '')}`, resource: '*' }],
    pinned: 'all' as const,
  })),
  {
    source: 'restore-shared/request.ts',
    command: 'DescribeExecutionCommand',
    what: 'tell whether the restore holding an agent lock still runs',
    from: [F.endpoint],
    needs: [
      {
        action: 'states:DescribeExecution',
        resource: `arn:aws:states:${REGION}:${CP}:execution:${CONTROL_PLANE.restoreStateMachineName}:restore-1`,
      },
    ],
    pinned: 'all' as const,
  },
  {
    source: 'approval-endpoint/handler.ts',
    command: 'StartExecutionCommand',
    what: 'start the restore path once the request is recorded',
    from: [F.endpoint],
    needs: [{ action: 'states:StartExecution', resource: RESTORE_MACHINE }],
    pinned: 'all' as const,
  },
  {
    source: 'approval-endpoint/handler.ts',
    command: 'InvokeCommand',
    what: 'ask the audit sealer to seal a refusal no restore run will seal',
    from: [F.endpoint],
    needs: [{ action: 'lambda:InvokeFunction', resource: SEALER_FUNCTION }],
    pinned: 'all' as const,
  },
];

const resourcePolicyOf = resourcePolicies(template);

function decide(need: Authorization, functionName: string | undefined) {
  return evaluate({
    principal: worker.arn,
    action: need.action,
    resource: need.resource,
    context: {
      ...TLS,
      ...(functionName !== undefined && { 'lambda:SourceFunctionArn': fn(functionName) }),
      ...(need.context ?? {}),
    },
    identity: worker.identity,
    resourceAccount: need.resourceAccount,
    resourcePolicy: need.resourcePolicy ?? resourcePolicyOf(need.resource),
  });
}

describe('the restore worker role', () => {
  it('runs the restore path’s prepare, await, apply and endpoint functions, and nothing else', () => {
    const functions = template.find('AWS::Lambda::Function', (p) =>
      JSON.stringify(p.Role).includes('RestoreWorkerRole'),
    );
    expect(functions.map(([, f]) => f.Properties?.FunctionName).sort()).toEqual([...ALL].sort());
  });

  it('has a row for every SDK command its handlers’ modules hold', () => {
    const sent = controlPlaneCommands([
      'restore-prepare',
      'restore-await',
      'restore-apply',
      'approval-endpoint',
    ]);
    expect([...new Set(CALLS.map((c) => `${c.source} ${c.command}`))].sort()).toEqual(
      [...new Set(sent)].sort(),
    );
  });

  it.each(CALLS.map((call) => [`${call.source} ${call.command}: ${call.what}`, call] as const))(
    'is allowed from the functions that need it, and pinned to them: %s',
    async (_name, call) => {
      const problems: string[] = [];
      for (const from of call.from) {
        for (const need of call.needs) {
          const result = await decide(need, from);
          if (result !== 'Allowed')
            problems.push(`${need.action} on ${need.resource} from ${from}: ${result}`);
        }
      }
      if (call.pinned) {
        const pinned = call.pinned === 'all' ? call.needs : call.pinned;
        for (const other of [...ALL.filter((f) => !call.from.includes(f)), 'made-with-passrole', undefined]) {
          for (const need of pinned) {
            if ((await decide(need, other)) === 'Allowed') {
              problems.push(
                `${need.action} on ${need.resource} is allowed from ${other ?? 'outside Lambda'}`,
              );
            }
          }
        }
      }
      for (const never of call.never ?? []) {
        for (const from of [...ALL, undefined]) {
          if ((await decide(never, from)) === 'Allowed')
            problems.push(`${never.action} on ${never.resource} is allowed`);
        }
      }
      expect(problems).toEqual([]);
    },
  );

  it('writes nothing outside the audit prefixes and makes no table call beyond the stores’', async () => {
    for (const [action, resource] of [
      ['s3:PutObject', MANIFEST],
      ['s3:PutObject', `${AUDIT_BUCKET}/elsewhere/x.json`],
      ['s3:DeleteObject', RECORD],
      ['s3:PutObjectLegalHold', RECORD],
      ['dynamodb:Scan', TABLE],
      ['dynamodb:DeleteTable', TABLE],
    ] as const) {
      for (const from of [...ALL, undefined]) {
        await expect(decide({ action, resource, context: SSE }, from)).resolves.not.toBe('Allowed');
      }
    }
  });
});
