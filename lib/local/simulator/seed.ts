/**
 * Seeds what Backstop's stacks create, so that the local engine and tests start from a deployed
 * state: `seedBackstopWorkload` for a WorkloadAccountStack (one account and region) and
 * `seedBackstopControlPlane` for the ControlPlaneStack. Names come from lambda/shared/naming.ts
 * and the trust and bucket policies follow lib/constructs (execution-role-policies.ts,
 * audit-bucket.ts); each document can be replaced with the synthesized one.
 */
import {
  AGENT_TAG,
  agentBoundaryName,
  approvalGatedPolicyName,
  CONTROL_PLANE,
  draftOnlyPolicyName,
  fullStopPolicyName,
  IAM_PATH,
  killBoundaryName,
  ISOLATION_TAG,
  iamPolicyArn,
  iamRoleArn,
  killExecutionRoleName,
  readOnlyPolicyName,
  restoreExecutionRoleName,
} from '../../../lambda/shared/naming';
import { denyDocument, killBoundaryDocument } from '../../../lambda/shared/policy-documents';
import { killRolePolicyDocument } from './kill-role-policy';
import { publishPublicKey } from '../../../lambda/audit-public-key/publish';
import { createClientFactory } from '../../../lambda/shared/clients';
import { auditBucketPolicyStatements, type AuditWriters } from '../../constructs/audit-bucket-policy';
import type { Simulator } from './simulator';
import { checkAccountId } from './world';

/** An agent as the workload stack knows it (its per-agent deny policies). */
export interface SeedAgent {
  readonly agentId: string;
  /** IAM actions denied in approval_gated. @default ['iam:*', 'sts:AssumeRole'] */
  readonly highRiskActions?: readonly string[];
  /** Resource ARNs still writable in draft_only. @default - none */
  readonly draftResources?: readonly string[];
}

export interface SeedWorkloadOptions {
  readonly accountId: string;
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string;
  readonly controlPlaneAccountId: string;
  /** Adds `StringEquals aws:PrincipalOrgID` to the execution roles' trust. @default - none */
  readonly organizationId?: string;
  /** VPCs that get the two isolation groups; created if the simulator does not hold them yet. @default [] */
  readonly vpcIds?: readonly string[];
  readonly agents: readonly SeedAgent[];
  /**
   * Alarms whose state changes the workload stack forwards to the control plane bus: when given,
   * the `backstop-alarm-forwarder` rule and its role are created. @default - no forwarder
   */
  readonly alarmNames?: readonly string[];
  /** Replaces the generated trust policy of the kill execution role (e.g. the synthesized one). */
  readonly killRoleTrustPolicy?: string;
  /** Replaces the generated trust policy of the restore execution role. */
  readonly restoreRoleTrustPolicy?: string;
  /**
   * Replaces the kill execution role's permissions (one managed policy, `backstop-kill-<region>-1`);
   * `null` seeds the role without any. @default killRolePolicyDocument (what a kill needs)
   */
  readonly killRolePolicy?: string | null;
}

export interface SeededWorkload {
  readonly killRoleArn: string;
  readonly restoreRoleArn: string;
  readonly boundaryArn: string;
  /** The permissions boundary a full_stop kill sets on agent roles. */
  readonly killBoundaryArn: string;
  readonly denyPolicyArns: {
    readonly fullStop: string;
    readonly readOnly: string;
    readonly draftOnly: Readonly<Record<string, string>>;
    readonly approvalGated: Readonly<Record<string, string>>;
  };
  /** ARN of the alarm forwarding rule, when alarms were given. */
  readonly alarmForwarderRuleArn?: string;
  /** Per VPC id, the ids of its isolation groups. */
  readonly isolationGroups: Readonly<Record<string, { readonly open: string; readonly closed: string }>>;
}

/** The workload stack's forwarding rule (lib/constructs/alarm-forwarder.ts). */
const ALARM_FORWARDER_RULE_NAME = 'backstop-alarm-forwarder';

/** The high-risk actions of a seeded agent that names none. */
const DEFAULT_SEED_HIGH_RISK = ['iam:*', 'sts:AssumeRole'];

/**
 * The execution role trust of lib/constructs/execution-role-policies.ts: the control plane account
 * as principal, narrowed to one worker role by `aws:PrincipalArn`, to `backstop-*` session names
 * that carry a source identity, and to the organization when one is given; a second statement
 * lets only that worker set the source identity.
 */
export function executionRoleTrustPolicy(
  partition: string,
  controlPlaneAccountId: string,
  workerRoleArn: string,
  organizationId?: string,
): string {
  const principal = { AWS: `arn:${partition}:iam::${controlPlaneAccountId}:root` };
  const org = organizationId ? { StringEquals: { 'aws:PrincipalOrgID': organizationId } } : {};
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:AssumeRole',
        Condition: {
          ArnEquals: { 'aws:PrincipalArn': workerRoleArn },
          ...org,
          StringLike: { 'sts:RoleSessionName': 'backstop-*' },
          Null: { 'sts:SourceIdentity': 'false' },
        },
      },
      {
        Sid: 'SetSourceIdentityFromTheWorkerRoleOnly',
        Effect: 'Allow',
        Principal: principal,
        Action: 'sts:SetSourceIdentity',
        Condition: { ArnEquals: { 'aws:PrincipalArn': workerRoleArn }, ...org },
      },
    ],
  });
}

const policy = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

/** Creates the resources of a deployed WorkloadAccountStack in one account and region. */
export async function seedBackstopWorkload(
  sim: Simulator,
  options: SeedWorkloadOptions,
): Promise<SeededWorkload> {
  const { accountId, region, controlPlaneAccountId } = options;
  checkAccountId(accountId);
  checkAccountId(controlPlaneAccountId);
  const partition = options.partition ?? 'aws';
  const api = sim.as(accountId, region);

  const createPolicy = async (name: string, description: string, document: string) => {
    const out = await api.iam.CreatePolicy({
      PolicyName: name,
      Path: IAM_PATH,
      Description: description,
      PolicyDocument: document,
    });
    return out.Policy!.Arn!;
  };
  const agentInput = (agent: SeedAgent) => ({
    highRiskActions: agent.highRiskActions ?? DEFAULT_SEED_HIGH_RISK,
    draftResources: agent.draftResources ?? [],
  });
  const doc = (d: object) => JSON.stringify(d);
  const none = { highRiskActions: DEFAULT_SEED_HIGH_RISK, draftResources: [] };
  const fullStop = await createPolicy(
    fullStopPolicyName(region),
    'Backstop full_stop: denies every action',
    doc(denyDocument('full_stop', none)),
  );
  const readOnly = await createPolicy(
    readOnlyPolicyName(region),
    'Backstop read_only: denies every action except reads',
    doc(denyDocument('read_only', none)),
  );
  const killBoundary = await createPolicy(
    killBoundaryName(region),
    'Backstop kill boundary: the permissions boundary of a killed role, denies every action',
    doc(killBoundaryDocument()),
  );
  const draftOnly: Record<string, string> = {};
  const approvalGated: Record<string, string> = {};
  for (const agent of options.agents) {
    draftOnly[agent.agentId] = await createPolicy(
      draftOnlyPolicyName(agent.agentId, region),
      `Backstop draft_only for ${agent.agentId}: denies writes except on its draft resources`,
      doc(denyDocument('draft_only', agentInput(agent))),
    );
    approvalGated[agent.agentId] = await createPolicy(
      approvalGatedPolicyName(agent.agentId, region),
      `Backstop approval_gated for ${agent.agentId}: denies its high-risk actions`,
      doc(denyDocument('approval_gated', agentInput(agent))),
    );
  }
  const boundaryArn = await createPolicy(
    agentBoundaryName(region),
    "Backstop agent boundary: forbids changing Backstop's resources",
    policy([
      { Sid: 'AllowWithinIdentityPolicies', Effect: 'Allow', Action: '*', Resource: '*' },
      {
        Sid: 'DenyBackstopResources',
        Effect: 'Deny',
        Action: ['iam:*'],
        Resource: [
          `arn:${partition}:iam::${accountId}:role${IAM_PATH}*`,
          `arn:${partition}:iam::${accountId}:policy${IAM_PATH}*`,
        ],
      },
      {
        Sid: 'DenyBackstopTags',
        Effect: 'Deny',
        Action: ['iam:TagRole', 'iam:UntagRole', 'ec2:CreateTags', 'ec2:DeleteTags'],
        Resource: '*',
        Condition: { 'ForAnyValue:StringLike': { 'aws:TagKeys': [AGENT_TAG, ISOLATION_TAG] } },
      },
    ]),
  );

  const killWorker = iamRoleArn(partition, controlPlaneAccountId, CONTROL_PLANE.killWorkerRoleName);
  const restoreWorker = iamRoleArn(partition, controlPlaneAccountId, CONTROL_PLANE.restoreWorkerRoleName);
  const kill = await api.iam.CreateRole({
    RoleName: killExecutionRoleName(region),
    Path: IAM_PATH,
    Description: 'Backstop kill execution role: cuts agent authority, never grants it',
    AssumeRolePolicyDocument:
      options.killRoleTrustPolicy ??
      executionRoleTrustPolicy(partition, controlPlaneAccountId, killWorker, options.organizationId),
  });
  const killPolicy =
    options.killRolePolicy === undefined
      ? killRolePolicyDocument(partition, accountId, region)
      : options.killRolePolicy;
  if (killPolicy !== null) {
    const arn = await createPolicy(
      `${killExecutionRoleName(region)}-1`,
      'Backstop kill execution role: cuts agent authority, never grants it',
      killPolicy,
    );
    await api.iam.AttachRolePolicy({ RoleName: killExecutionRoleName(region), PolicyArn: arn });
  }
  const restore = await api.iam.CreateRole({
    RoleName: restoreExecutionRoleName(region),
    Path: IAM_PATH,
    Description: 'Backstop restore execution role: puts back what a kill took, after approvals',
    AssumeRolePolicyDocument:
      options.restoreRoleTrustPolicy ??
      executionRoleTrustPolicy(partition, controlPlaneAccountId, restoreWorker, options.organizationId),
  });

  const isolationGroups: Record<string, { open: string; closed: string }> = {};
  for (const vpcId of options.vpcIds ?? []) {
    if (!sim.ec2.hasVpc(accountId, region, vpcId)) sim.ec2.seedVpc(accountId, region, { vpcId });
    const group = async (step: 'open' | 'closed', description: string) => {
      const out = await api.ec2.CreateSecurityGroup({
        GroupName: `backstop-isolation-${step}-${vpcId}`,
        Description: description,
        VpcId: vpcId,
        TagSpecifications: [
          {
            ResourceType: 'security-group',
            Tags: [
              { Key: ISOLATION_TAG, Value: step },
              { Key: 'Name', Value: `backstop-isolation-${step}-${vpcId}` },
            ],
          },
        ],
      });
      return out.GroupId!;
    };
    const open = await group(
      'open',
      `Backstop isolation step 1 (${vpcId}): all traffic, makes tracked flows untracked`,
    );
    await api.ec2.AuthorizeSecurityGroupIngress({
      GroupId: open,
      IpPermissions: [
        { IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
      ],
    });
    await api.ec2.AuthorizeSecurityGroupEgress({
      GroupId: open,
      IpPermissions: [{ IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] }],
    });
    const closed = await group('closed', `Backstop isolation step 2 (${vpcId}): no traffic at all`);
    // As CloudFormation deploys it: the default allow-all egress replaced by a rule that matches no packet.
    await api.ec2.RevokeSecurityGroupEgress({
      GroupId: closed,
      IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    });
    await api.ec2.AuthorizeSecurityGroupEgress({
      GroupId: closed,
      IpPermissions: [
        { IpProtocol: 'icmp', FromPort: 252, ToPort: 86, IpRanges: [{ CidrIp: '255.255.255.255/32' }] },
      ],
    });
    isolationGroups[vpcId] = { open, closed };
  }

  let alarmForwarderRuleArn: string | undefined;
  if (options.alarmNames?.length) {
    const forwarder = await api.iam.CreateRole({
      RoleName: `backstop-alarm-forwarder-${region}`,
      Path: IAM_PATH,
      Description: 'Backstop alarm forwarder: puts alarm state changes on the control plane bus',
      AssumeRolePolicyDocument: policy([
        {
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': accountId } },
        },
      ]),
    });
    alarmForwarderRuleArn = (
      await api.events.PutRule({
        Name: ALARM_FORWARDER_RULE_NAME,
        Description: 'Backstop: forwards agent alarm state changes to the control plane',
        EventPattern: JSON.stringify({
          source: ['aws.cloudwatch'],
          'detail-type': ['CloudWatch Alarm State Change'],
          detail: { alarmName: [...options.alarmNames] },
        }),
      })
    ).RuleArn;
    await api.events.PutTargets({
      Rule: ALARM_FORWARDER_RULE_NAME,
      Targets: [
        {
          Id: 'BackstopBus',
          Arn: `arn:${partition}:events:${region}:${controlPlaneAccountId}:event-bus/${CONTROL_PLANE.eventBusName}`,
          RoleArn: forwarder.Role!.Arn!,
        },
      ],
    });
  }

  return {
    killRoleArn: kill.Role!.Arn!,
    restoreRoleArn: restore.Role!.Arn!,
    boundaryArn,
    killBoundaryArn: killBoundary,
    alarmForwarderRuleArn,
    denyPolicyArns: { fullStop, readOnly, draftOnly, approvalGated },
    isolationGroups,
  };
}

export interface SeedControlPlaneOptions {
  readonly accountId: string;
  readonly region: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** @default `backstop-audit-<account>-<region>` */
  readonly auditBucketName?: string;
  /** Default retention of audit records. @default 365 */
  readonly retentionDays?: number;
  /** @default 'COMPLIANCE' */
  readonly retentionMode?: 'COMPLIANCE' | 'GOVERNANCE';
  /** Replaces the generated audit bucket policy (e.g. the synthesized one). */
  readonly auditBucketPolicy?: string;
  /** @default 'backstop-state' */
  readonly tableName?: string;
  /** @default 'backstop-notifications' */
  readonly topicName?: string;
}

export interface SeededControlPlane {
  readonly killWorkerRoleArn: string;
  readonly restoreWorkerRoleArn: string;
  /** The role of Finalize and the audit sealer: the only signer, the only legal hold remover. */
  readonly auditSealerRoleArn: string;
  readonly publicKeyPublisherRoleArn: string;
  /** Where the public signing key was published in the audit bucket (as the stack does at deploy). */
  readonly publicKeyObjectKey: string;
  readonly auditBucketName: string;
  readonly auditKeyArn: string;
  readonly manifestSigningKeyArn: string;
  readonly dataKeyArn: string;
  readonly tableName: string;
  readonly topicArn: string;
  readonly eventBusArn: string;
}

/**
 * The audit bucket policy of lib/constructs/audit-bucket.ts (the same statements, from
 * lib/constructs/audit-bucket-policy.ts): deletion, unlocking, lifecycle and policy changes
 * denied to everyone; writes only once (`If-None-Match: *`), only with the audit key, only by
 * `writers`; removing a legal hold only by the sealer. Plus CDK's TLS-only statement.
 */
export function auditBucketPolicy(
  partition: string,
  bucket: string,
  auditKeyArn: string,
  writers?: AuditWriters,
): string {
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  return policy([
    ...auditBucketPolicyStatements({ bucketArn, auditKeyArn, writers }),
    {
      Sid: 'DenyInsecureTransport',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:*',
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ]);
}

/** Creates the resources of a deployed ControlPlaneStack. */
export async function seedBackstopControlPlane(
  sim: Simulator,
  options: SeedControlPlaneOptions,
): Promise<SeededControlPlane> {
  const { accountId, region } = options;
  checkAccountId(accountId);
  const partition = options.partition ?? 'aws';
  const api = sim.as(accountId, region);
  const lambdaTrust = policy([
    { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ]);
  const worker = async (name: string, description: string) =>
    (
      await api.iam.CreateRole({
        RoleName: name,
        Path: IAM_PATH,
        Description: description,
        AssumeRolePolicyDocument: lambdaTrust,
      })
    ).Role!.Arn!;
  const killWorkerRoleArn = await worker(CONTROL_PLANE.killWorkerRoleName, 'Backstop kill worker');
  const restoreWorkerRoleArn = await worker(CONTROL_PLANE.restoreWorkerRoleName, 'Backstop restore worker');
  const auditSealerRoleArn = await worker(CONTROL_PLANE.auditSealerRoleName, 'Backstop audit sealer');
  const publicKeyPublisherRoleArn = await worker(
    CONTROL_PLANE.publicKeyPublisherRoleName,
    'Backstop public signing key publisher',
  );
  if (killWorkerRoleArn !== iamRoleArn(partition, accountId, CONTROL_PLANE.killWorkerRoleName)) {
    throw new Error(`kill worker role ARN ${killWorkerRoleArn} does not match naming.ts`);
  }

  const key = async (description: string, signing: boolean) =>
    (
      await api.kms.CreateKey({
        Description: description,
        ...(signing ? { KeySpec: 'ECC_NIST_P256' as const, KeyUsage: 'SIGN_VERIFY' as const } : {}),
      })
    ).KeyMetadata!.Arn!;
  const auditKeyArn = await key('Backstop audit log: encrypts every kill and restore record', false);
  const manifestSigningKeyArn = await key('Backstop: signs incident manifests', true);
  const dataKeyArn = await key('Backstop: encrypts the state table and the notification topic', false);

  const auditBucketName = options.auditBucketName ?? `backstop-audit-${accountId}-${region}`;
  await api.s3.CreateBucket({ Bucket: auditBucketName, ObjectLockEnabledForBucket: true });
  await api.s3.PutObjectLockConfiguration({
    Bucket: auditBucketName,
    ObjectLockConfiguration: {
      ObjectLockEnabled: 'Enabled',
      Rule: {
        DefaultRetention: { Mode: options.retentionMode ?? 'COMPLIANCE', Days: options.retentionDays ?? 365 },
      },
    },
  });
  await api.s3.PutBucketEncryption({
    Bucket: auditBucketName,
    ServerSideEncryptionConfiguration: {
      Rules: [
        {
          ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: auditKeyArn },
          BucketKeyEnabled: true,
        },
      ],
    },
  });
  await api.s3.PutBucketPolicy({
    Bucket: auditBucketName,
    Policy:
      options.auditBucketPolicy ??
      auditBucketPolicy(partition, auditBucketName, auditKeyArn, {
        records: [killWorkerRoleArn, restoreWorkerRoleArn, auditSealerRoleArn],
        publicKeys: [publicKeyPublisherRoleArn],
        holdReleasers: [auditSealerRoleArn],
      }),
  });
  // What the stack's custom resource does at deploy time, by the same code, as the publisher role.
  const publisher = createClientFactory({
    region,
    plugins: [sim.plugin()],
    credentials: sim.credentialsFor(publicKeyPublisherRoleArn),
  }).controlPlane();
  const published = await publishPublicKey({
    s3: publisher.s3,
    kms: publisher.kms,
    bucket: auditBucketName,
    kmsKeyArn: auditKeyArn,
    signingKeyArn: manifestSigningKeyArn,
  });

  const tableName = options.tableName ?? 'backstop-state';
  await api.dynamodb.CreateTable({
    TableName: tableName,
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ],
    BillingMode: 'PAY_PER_REQUEST',
    DeletionProtectionEnabled: true,
  });
  const topicArn = (await api.sns.CreateTopic({ Name: options.topicName ?? 'backstop-notifications' }))
    .TopicArn!;
  const eventBusArn = (await api.events.CreateEventBus({ Name: CONTROL_PLANE.eventBusName })).EventBusArn!;
  return {
    killWorkerRoleArn,
    restoreWorkerRoleArn,
    auditSealerRoleArn,
    publicKeyPublisherRoleArn,
    publicKeyObjectKey: published.key,
    auditBucketName,
    auditKeyArn,
    manifestSigningKeyArn,
    dataKeyArn,
    tableName,
    topicArn,
    eventBusArn,
  };
}

/** The policy ARN a kill attaches for `full_stop`, for tests that check the cut. */
export function fullStopPolicyArn(partition: string, accountId: string, region: string): string {
  return iamPolicyArn(partition, accountId, fullStopPolicyName(region));
}

/**
 * The seeded control plane's names as the ControlPlaneStack's outputs carry them (the keys
 * `cdk deploy --outputs-file` writes): the simulator plays a deployed stack.
 */
export function stackOutputsOf(cp: SeededControlPlane): Record<string, string> {
  return {
    AuditBucketName: cp.auditBucketName,
    StateTableName: cp.tableName,
    TopicArn: cp.topicArn,
    AuditKeyArn: cp.auditKeyArn,
    ManifestSigningKeyArn: cp.manifestSigningKeyArn,
    KillWorkerRoleArn: cp.killWorkerRoleArn,
  };
}
