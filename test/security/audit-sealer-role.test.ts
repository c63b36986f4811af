/**
 * What the audit sealer role (Finalize and lambda/audit-seal) may do, evaluated with an IAM
 * simulator on the synthesized control plane: every call its handlers make is allowed, through
 * the key and bucket policies as deployed, and the calls its modules hold but never make for it
 * (assuming a workload role, reading retention or public keys) are not.
 *
 * `CALLS` lists the SDK commands of every module lambda/kill-finalize/index.ts,
 * lambda/restore-finalize/index.ts and lambda/audit-seal/index.ts load through their relative
 * imports; a guard reads that source, so a new call without a row fails.
 */
import { auditManifestKey, auditRecordKey, CONTROL_PLANE } from '../../lambda/shared/naming';
import { synthStacks } from '../helpers/cdk';
import { controlPlaneCommands, resourcePolicies, TLS } from './handler-modules';
import { evaluate, ResolvedTemplate } from './iam-policies';

const CP = '111111111111';
const REGION = 'us-east-1';

const synth = synthStacks();
const stack = synth.controlPlane;
const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
const sealer = template.role(CONTROL_PLANE.auditSealerRoleName);
const deployed = (value: string): string => template.resolve(stack.resolve(value));

const TABLE = deployed(stack.table.tableArn);
const DATA_KEY = deployed(stack.dataKey.keyArn);
const AUDIT_BUCKET = deployed(stack.auditBucket.bucketArn);
const AUDIT_KEY = deployed(stack.auditKey.keyArn);
const SIGNING_KEY = deployed(stack.manifestSigningKey.keyArn);
const TOPIC = deployed(stack.topic.topicArn);
const RECORD = `${AUDIT_BUCKET}/${auditRecordKey('inc-42', 'actor-1', 1, 'ActorAttributed')}`;
const MANIFEST = `${AUDIT_BUCKET}/${auditManifestKey('inc-42', 2, 'attribution')}`;
const WRITE = {
  's3:x-amz-server-side-encryption': 'aws:kms',
  's3:x-amz-server-side-encryption-aws-kms-key-id': AUDIT_KEY,
  's3:if-none-match': '*',
};
const via = (service: string) => ({ 'kms:ViaService': `${service}.${REGION}.amazonaws.com` });

type Context = Record<string, string | string[]>;
interface Authorization {
  readonly action: string;
  readonly resource: string;
  readonly context?: Context;
}
interface Call {
  readonly source: string;
  readonly command: string;
  readonly what: string;
  /** What the call needs: each must be allowed. */
  readonly needs: readonly Authorization[];
  /** For a command the module holds but these handlers never send: each must be refused. */
  readonly never?: readonly Authorization[];
}

const onTable = (action: string): Authorization => ({ action, resource: TABLE });
const TABLE_KEY = ['kms:Decrypt', 'kms:GenerateDataKey'].map((action) => ({
  action,
  resource: DATA_KEY,
  context: via('dynamodb'),
}));
const S3_KEY = ['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
  action,
  resource: AUDIT_KEY,
  context: via('s3'),
}));

const CALLS: readonly Call[] = [
  ...Object.entries({
    GetCommand: 'dynamodb:GetItem',
    PutCommand: 'dynamodb:PutItem',
    UpdateCommand: 'dynamodb:UpdateItem',
    DeleteCommand: 'dynamodb:DeleteItem',
    QueryCommand: 'dynamodb:Query',
  }).map(([command, action]) => ({
    source: 'shared/state-store.ts',
    command,
    what: 'locks, incident status, pending records, approvals',
    needs: [onTable(action), ...TABLE_KEY],
  })),
  {
    source: 'shared/state-store.ts',
    command: 'TransactWriteCommand',
    what: 'snapshot history (Put and Delete items)',
    needs: [onTable('dynamodb:PutItem'), onTable('dynamodb:DeleteItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/outcome-store.ts',
    command: 'PutCommand',
    what: "keep an agent's outcome (the module holds it; Finalize only reads)",
    needs: [onTable('dynamodb:PutItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/incident-items.ts',
    command: 'QueryCommand',
    what: "read every agent's outcome and a fleet kill's batches and long lists back",
    needs: [onTable('dynamodb:Query'), ...TABLE_KEY],
  },
  ...(
    [
      ['GetCommand', 'dynamodb:GetItem'],
      ['PutCommand', 'dynamodb:PutItem'],
    ] as const
  ).map(([command, action]) => ({
    source: 'shared/batch-store.ts',
    command,
    // Finalize reads a fleet kill's batches back (Query); Prepare and the child executions write
    // and load them under the kill worker role, with the same item calls the state store makes here.
    what: "read a fleet kill's batches and long lists back",
    needs: [onTable(action), ...TABLE_KEY],
  })),
  ...['GetCommand', 'QueryCommand'].map((command) => ({
    source: 'shared/manifest-store.ts',
    command,
    what: 'read the chain head and the series of an incident',
    needs: [onTable(command === 'GetCommand' ? 'dynamodb:GetItem' : 'dynamodb:Query'), ...TABLE_KEY],
  })),
  {
    source: 'shared/manifest-store.ts',
    command: 'TransactWriteCommand',
    what: 'claim the next manifest and move the head (two Puts)',
    needs: [onTable('dynamodb:PutItem'), ...TABLE_KEY],
  },
  {
    source: 'shared/audit.ts',
    command: 'PutObjectCommand',
    what: 'write a record or a manifest, once',
    needs: [
      { action: 's3:PutObject', resource: RECORD, context: WRITE },
      { action: 's3:PutObject', resource: MANIFEST, context: WRITE },
      S3_KEY[0] as Authorization,
    ],
  },
  {
    source: 'shared/audit.ts',
    command: 'GetObjectCommand',
    what: 'read back an object after a 412',
    needs: [{ action: 's3:GetObject', resource: MANIFEST }, S3_KEY[1] as Authorization],
  },
  {
    source: 'shared/manifest.ts',
    command: 'ListObjectsV2Command',
    what: "list an incident's records",
    needs: [
      { action: 's3:ListBucket', resource: AUDIT_BUCKET, context: { 's3:prefix': 'incidents/inc-42/' } },
    ],
  },
  {
    source: 'shared/manifest.ts',
    command: 'GetObjectCommand',
    what: 'hash the records and read earlier manifests',
    needs: [
      { action: 's3:GetObject', resource: RECORD },
      { action: 's3:GetObject', resource: MANIFEST },
      S3_KEY[1] as Authorization,
    ],
  },
  {
    source: 'shared/manifest.ts',
    command: 'SignCommand',
    what: 'sign the digest of a manifest',
    needs: [{ action: 'kms:Sign', resource: SIGNING_KEY, context: { 'kms:MessageType': 'DIGEST' } }],
  },
  {
    source: 'shared/audit-source.ts',
    command: 'ListObjectVersionsCommand',
    what: 'list every version of an incident, to hold it',
    needs: [
      {
        action: 's3:ListBucketVersions',
        resource: AUDIT_BUCKET,
        context: { 's3:prefix': 'incidents/inc-42/' },
      },
    ],
  },
  {
    source: 'shared/audit-source.ts',
    command: 'GetObjectCommand',
    what: 'verification reads versions; the sealer never calls it',
    needs: [],
  },
  {
    source: 'shared/audit-source.ts',
    command: 'GetObjectRetentionCommand',
    what: 'verification reads retention; not the sealer',
    needs: [],
    never: [{ action: 's3:GetObjectRetention', resource: RECORD }],
  },
  {
    source: 'shared/audit-source.ts',
    command: 'GetPublicKeyCommand',
    what: 'verification reads the public key; not the sealer',
    needs: [],
    never: [{ action: 'kms:GetPublicKey', resource: SIGNING_KEY }],
  },
  ...['PutObjectLegalHoldCommand', 'GetObjectLegalHoldCommand'].map((command) => ({
    source: 'shared/legal-hold.ts',
    command,
    what: 'place, read back and (approved) release the legal holds of an incident',
    needs:
      command === 'PutObjectLegalHoldCommand'
        ? ['ON', 'OFF'].map((status) => ({
            action: 's3:PutObjectLegalHold',
            resource: RECORD,
            context: { 's3:object-lock-legal-hold': status },
          }))
        : [{ action: 's3:GetObjectLegalHold', resource: MANIFEST }],
  })),
  {
    source: 'shared/deps.ts',
    command: 'PutMetricDataCommand',
    what: 'AuditWriteFailures, AttributionConflicts and Finalize’s metrics',
    needs: [
      { action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': 'Backstop' } },
    ],
  },
  {
    source: 'shared/deps.ts',
    command: 'AssumeRoleCommand',
    what: 'the kill workers’ AssumeRole: the sealer holds no workload role',
    needs: [],
    never: [
      {
        action: 'sts:AssumeRole',
        resource: `arn:aws:iam::222222222222:role/backstop/backstop-kill-${REGION}`,
      },
    ],
  },
  {
    source: 'kill-finalize/finalize.ts',
    command: 'PublishCommand',
    what: 'notify the outcome on the encrypted topic',
    needs: [
      { action: 'sns:Publish', resource: TOPIC },
      ...['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
        action,
        resource: DATA_KEY,
        context: via('sns'),
      })),
    ],
  },
  ...Object.entries({
    GetCommand: 'dynamodb:GetItem',
    PutCommand: 'dynamodb:PutItem',
    UpdateCommand: 'dynamodb:UpdateItem',
    DeleteCommand: 'dynamodb:DeleteItem',
  }).map(([command, action]) => ({
    source: 'restore-shared/store.ts',
    command,
    what: "the restore's record, its end, the agent's restore lock and the RestoresPending count",
    needs: [onTable(action), ...TABLE_KEY],
  })),
  {
    source: 'restore-finalize/finalize.ts',
    command: 'PublishCommand',
    what: 'notify how the restore ended on the encrypted topic',
    needs: [
      { action: 'sns:Publish', resource: TOPIC },
      ...['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({
        action,
        resource: DATA_KEY,
        context: via('sns'),
      })),
    ],
  },
  {
    source: 'audit-seal/attribution.ts',
    command: 'DescribeExecutionCommand',
    what: 'read the input and status of the execution CloudTrail names',
    needs: [CONTROL_PLANE.killStateMachineName, CONTROL_PLANE.restoreStateMachineName].map((name) => ({
      action: 'states:DescribeExecution',
      resource: `arn:aws:states:${REGION}:${CP}:execution:${name}:inc-42`,
    })),
  },
];

const resourcePolicyOf = resourcePolicies(template);

function decide(need: Authorization) {
  return evaluate({
    principal: sealer.arn,
    action: need.action,
    resource: need.resource,
    context: { ...TLS, ...(need.context ?? {}) },
    identity: sealer.identity,
    resourceAccount: need.resource.includes(':222222222222:') ? '222222222222' : undefined,
    resourcePolicy: resourcePolicyOf(need.resource),
  });
}

describe('the audit sealer role (Finalize and the sealer function)', () => {
  it("runs the kill's and the restore's Finalize and the sealer function, and nothing else", () => {
    const functions = template.find('AWS::Lambda::Function', (p) =>
      JSON.stringify(p.Role).includes('AuditSealerRole'),
    );
    expect(functions.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'AuditSealerFunction',
      'KillPathkillfinalize',
      'RestorePathfinalize',
    ]);
  });

  it('has a row for every SDK command its handlers’ modules hold', () => {
    const sent = controlPlaneCommands(['kill-finalize', 'audit-seal', 'restore-finalize']);
    expect([...new Set(CALLS.map((c) => `${c.source} ${c.command}`))].sort()).toEqual(
      [...new Set(sent)].sort(),
    );
  });

  it.each(CALLS.map((call) => [`${call.source} ${call.command}: ${call.what}`, call] as const))(
    'is allowed what it calls, and refused what it never needs: %s',
    async (_name, call) => {
      const refused: string[] = [];
      for (const need of call.needs) {
        const result = await decide(need);
        if (result !== 'Allowed') refused.push(`${need.action} on ${need.resource}: ${result}`);
      }
      for (const never of call.never ?? []) {
        if ((await decide(never)) === 'Allowed')
          refused.push(`${never.action} on ${never.resource} is allowed`);
      }
      expect(refused).toEqual([]);
    },
  );

  it('signs digests only, never a message whose bytes the caller chose', async () => {
    for (const MessageType of ['RAW', 'EXTERNAL_MU']) {
      await expect(
        decide({ action: 'kms:Sign', resource: SIGNING_KEY, context: { 'kms:MessageType': MessageType } }),
      ).resolves.not.toBe('Allowed');
    }
  });
});
