import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import {
  CONTROL_PLANE,
  IAM_PATH,
  iamRoleArn,
  killExecutionRoleArn,
  restoreExecutionRoleArn,
} from '../../lambda/shared/naming';
import { AUDIT_BUCKET_DENIED_ACTIONS, AuditBucket } from '../../lib/constructs/audit-bucket';
import { ControlPlaneStack } from '../../lib/stacks/control-plane-stack';
import { configWith, newTestApp, sampleConfig, synthStacks } from '../helpers/cdk';

const synth = synthStacks();
const stack = synth.controlPlane;
const template = synth.controlPlaneTemplate();
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);

function bucketPolicyStatements(bucket: s3.Bucket) {
  const policies = template.findResources('AWS::S3::BucketPolicy', {
    Properties: { Bucket: stack.resolve(bucket.bucketName) },
  });
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The STS calls a worker makes to enter a workload account. */
const STS_ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity'];

interface PolicyStatementJson {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: unknown;
}

/** Whether an IAM action pattern (`sts:*`, `sts:Assume*`, `*`) covers `action`. */
function covers(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(action);
}

/**
 * Every Allow statement, in every identity policy the role carries (inline, any AWS::IAM::Policy
 * attached to it, managed policies of the template), that grants at least one of `actions`,
 * through `Action` (wildcards included) or `NotAction`.
 */
function statementsGranting(role: iam.Role, actions: readonly string[], t: Template = template) {
  const host = Stack.of(role);
  const roleRef = host.resolve(role.roleName);
  const resources = t.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const roleProps = resources[host.getLogicalId(role.node.defaultChild as never)].Properties;
  const documents: { Statement: PolicyStatementJson[] }[] = [
    ...((roleProps.Policies ?? []) as { PolicyDocument: { Statement: PolicyStatementJson[] } }[]).map(
      (p) => p.PolicyDocument,
    ),
    ...Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          (r.Properties.Roles as unknown[]).some((ref) => JSON.stringify(ref) === JSON.stringify(roleRef)),
      )
      .map((r) => r.Properties.PolicyDocument as { Statement: PolicyStatementJson[] }),
    ...((roleProps.ManagedPolicyArns ?? []) as { Ref?: string }[]).map((ref) => {
      if (!ref.Ref)
        throw new Error(`statementsGranting: ${JSON.stringify(ref)} is a policy outside the template`);
      return resources[ref.Ref].Properties.PolicyDocument as { Statement: PolicyStatementJson[] };
    }),
  ];
  const list = (v: string | string[] | undefined) => (v === undefined ? [] : [v].flat());
  return documents
    .flatMap((d) => d.Statement)
    .filter((s) => s.Effect === 'Allow')
    .filter((s) =>
      actions.some((action) =>
        s.NotAction !== undefined
          ? !list(s.NotAction).some((p) => covers(p, action))
          : list(s.Action).some((p) => covers(p, action)),
      ),
    );
}

describe('ControlPlaneStack', () => {
  it('is named Backstop-ControlPlane and deploys to the control plane account and region', () => {
    expect(stack.stackName).toBe('Backstop-ControlPlane');
    expect(stack.account).toBe('111111111111');
    expect(stack.region).toBe('us-east-1');
  });

  it('refuses an env that contradicts the config', () => {
    expect(
      () =>
        new ControlPlaneStack(newTestApp(), 'Other', {
          config: sampleConfig(),
          env: { account: '999999999999', region: 'us-east-1' },
        }),
    ).toThrow(/env 999999999999\/us-east-1 conflicts with controlPlane 111111111111\/us-east-1/);
  });

  describe('audit bucket', () => {
    const bucketId = logicalId(stack.auditBucket);

    it('locks every record by default for the configured retention (365 days COMPLIANCE in the sample)', () => {
      template.hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Days: 365, Mode: 'COMPLIANCE' } },
        },
      });
    });

    it('takes retention days and GOVERNANCE mode from the config when opted in', () => {
      const governance = synthStacks(
        configWith((c) => {
          c.audit = { retentionDays: 7, mode: 'GOVERNANCE', allowGovernance: true };
        }),
      );
      governance.controlPlaneTemplate().hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockConfiguration: { Rule: { DefaultRetention: { Days: 7, Mode: 'GOVERNANCE' } } },
      });
    });

    it('is versioned, encrypted with a rotating customer-managed key, never public, and retained', () => {
      template.hasResource('AWS::S3::Bucket', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({
          VersioningConfiguration: { Status: 'Enabled' },
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              {
                BucketKeyEnabled: true,
                ServerSideEncryptionByDefault: {
                  SSEAlgorithm: 'aws:kms',
                  KMSMasterKeyID: stack.resolve(stack.auditKey.keyArn),
                },
              },
            ],
          },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
        }),
      });
      expect(template.toJSON().Resources[bucketId].Properties.LifecycleConfiguration).toBeUndefined();
      template.hasResource('AWS::KMS::Key', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          EnableKeyRotation: true,
          Description: Match.stringLikeRegexp('audit'),
        }),
      });
    });

    it('serves only TLS (1.2 or later)', () => {
      expect(bucketPolicyStatements(stack.auditBucket)).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          expect.objectContaining({
            Effect: 'Deny',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      );
    });

    it('denies deleting records, bypassing governance retention, and weakening the lock, lifecycle, policy or encryption, to every principal', () => {
      expect(bucketPolicyStatements(stack.auditBucket)).toContainEqual({
        Sid: 'DenyDeletingOrUnlockingAuditRecords',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: [
          's3:DeleteObject',
          's3:DeleteObjectVersion',
          's3:BypassGovernanceRetention',
          's3:PutBucketObjectLockConfiguration',
          's3:PutLifecycleConfiguration',
          's3:PutBucketPolicy',
          's3:DeleteBucketPolicy',
          's3:PutEncryptionConfiguration',
        ],
        Resource: [
          stack.resolve(stack.auditBucket.bucketArn),
          stack.resolve(stack.auditBucket.arnForObjects('*')),
        ],
      });
    });

    it('refuses records encrypted otherwise than with the audit key', () => {
      const statements = bucketPolicyStatements(stack.auditBucket);
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:PutObject',
          Condition: { StringNotEqualsIfExists: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
        }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:PutObject',
          Condition: {
            StringNotEqualsIfExists: {
              's3:x-amz-server-side-encryption-aws-kms-key-id': stack.resolve(stack.auditKey.keyArn),
            },
          },
        }),
      );
    });

    it('logs access to a separate bucket that is encrypted, TLS only, never public and retained', () => {
      const logsId = logicalId(stack.accessLogsBucket as s3.Bucket);
      expect(logsId).not.toBe(bucketId);
      template.hasResourceProperties('AWS::S3::Bucket', {
        LoggingConfiguration: { DestinationBucketName: stack.resolve(stack.accessLogsBucket.bucketName) },
      });
      const logs = template.toJSON().Resources[logsId];
      expect(logs).toMatchObject({
        DeletionPolicy: 'Retain',
        Properties: {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
        },
      });
      expect(bucketPolicyStatements(stack.accessLogsBucket as s3.Bucket)).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    });

    it('re-applies the non-negotiable settings over any override', () => {
      const host = new Stack(newTestApp(), 'Host', { env: { account: '111111111111', region: 'us-east-1' } });
      const audit = new AuditBucket(host, 'Audit', {
        bucketOverrides: {
          enforceSSL: false,
          versioned: false,
          objectLockEnabled: false,
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ACLS_ONLY,
          removalPolicy: RemovalPolicy.DESTROY,
          encryption: s3.BucketEncryption.S3_MANAGED,
          lifecycleRules: [{ expiration: { days: 1 } as never }],
        },
      });
      const t = Template.fromStack(host);
      const id = host.getLogicalId(audit.bucket.node.defaultChild as never);
      const bucket = t.toJSON().Resources[id];
      expect(bucket.DeletionPolicy).toBe('Retain');
      expect(bucket.Properties).toMatchObject({
        ObjectLockEnabled: true,
        ObjectLockConfiguration: { Rule: { DefaultRetention: { Days: 365, Mode: 'COMPLIANCE' } } },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicPolicy: true, RestrictPublicBuckets: true },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
        },
      });
      expect(bucket.Properties.LifecycleConfiguration).toBeUndefined();
      const policy = Object.values(
        t.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: id } } }),
      )[0];
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          expect.objectContaining({ Action: [...AUDIT_BUCKET_DENIED_ACTIONS] }),
        ]),
      );
    });

    it('refuses a retention below one day', () => {
      const host = new Stack(newTestApp(), 'Host');
      expect(() => new AuditBucket(host, 'Audit', { retentionDays: 0 })).toThrow(
        /retentionDays must be a whole number of at least 1/,
      );
    });
  });

  it('signs manifests with a retained ECC NIST P-256 sign/verify key', () => {
    expect(template.toJSON().Resources[logicalId(stack.manifestSigningKey)]).toMatchObject({
      Type: 'AWS::KMS::Key',
      DeletionPolicy: 'Retain',
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' },
    });
  });

  it('keeps state in an on-demand table with pk/sk, point-in-time recovery, deletion protection and a customer key, retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: stack.resolve(stack.dataKey.keyArn),
        },
      }),
    });
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        EnableKeyRotation: true,
        Description: Match.stringLikeRegexp('state table'),
      }),
    });
  });

  it('notifies through a KMS-encrypted topic that refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: stack.resolve(stack.dataKey.keyArn),
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [stack.resolve(stack.topic.topicArn)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('names the event bus "backstop" and admits only the forwarding rules of workload regions that have alarms', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: CONTROL_PLANE.eventBusName });
    template.hasResourceProperties('AWS::Events::EventBusPolicy', {
      EventBusName: stack.resolve(stack.eventBus.eventBusName),
      Statement: {
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Principal: {
          AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::222222222222:root']] },
        },
        Condition: {
          ArnEquals: {
            'aws:SourceArn': [
              'arn:aws:events:us-east-1:222222222222:rule/backstop-alarm-forwarder',
              'arn:aws:events:eu-west-1:222222222222:rule/backstop-alarm-forwarder',
            ],
          },
        },
      },
    });
  });

  describe('worker roles', () => {
    const workloads = [
      ['222222222222', 'us-east-1'],
      ['222222222222', 'eu-west-1'],
      ['333333333333', 'us-east-1'],
    ] as const;

    it('give the kill worker a fixed name on the Backstop path, the ARN the workload trust names', () => {
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: CONTROL_PLANE.killWorkerRoleName,
        Path: IAM_PATH,
        AssumeRolePolicyDocument: {
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
          ],
        },
      });
      const role = template.toJSON().Resources[logicalId(stack.killWorkerRole)].Properties;
      expect(`arn:aws:iam::${stack.account}:role${role.Path}${role.RoleName}`).toBe(
        iamRoleArn('aws', '111111111111', CONTROL_PLANE.killWorkerRoleName),
      );
    });

    it('let the kill worker assume exactly the kill execution role of every workload account and region', () => {
      expect(statementsGranting(stack.killWorkerRole, STS_ACTIONS)).toEqual([
        {
          Sid: 'AssumeExecutionRolesInWorkloadAccounts',
          Effect: 'Allow',
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
          Resource: workloads.map(([account, region]) => killExecutionRoleArn('aws', account, region)),
        },
      ]);
    });

    it('let the restore worker assume exactly the restore execution roles', () => {
      template.hasResourceProperties('AWS::IAM::Role', {
        RoleName: CONTROL_PLANE.restoreWorkerRoleName,
        Path: IAM_PATH,
      });
      expect(statementsGranting(stack.restoreWorkerRole, STS_ACTIONS)).toEqual([
        {
          Sid: 'AssumeExecutionRolesInWorkloadAccounts',
          Effect: 'Allow',
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
          Resource: workloads.map(([account, region]) => restoreExecutionRoleArn('aws', account, region)),
        },
      ]);
    });

    it('find an STS grant wherever a role holds one, however it is spelled', () => {
      // The check above must not miss a grant hidden in a wildcard, a NotAction or another policy.
      const host = new Stack(newTestApp(), 'Host', { env: { account: '111111111111', region: 'us-east-1' } });
      const role = new iam.Role(host, 'Role', {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }));
      new iam.Policy(host, 'Other', {
        roles: [role],
        statements: [new iam.PolicyStatement({ actions: ['sts:Assume*'], resources: ['*'] })],
      });
      role.addToPrincipalPolicy(new iam.PolicyStatement({ notActions: ['s3:*'], resources: ['*'] }));
      Validations.of(role).acknowledge({
        id: 'CloudFormation-Validate::W2512',
        reason: 'This test role holds a NotAction grant on purpose, to show the STS check finds it.',
      });
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['sts:*'], resources: ['*'] }),
      );
      const found = statementsGranting(role, STS_ACTIONS, Template.fromStack(host));
      expect(found.map((s) => s.Action ?? { NotAction: s.NotAction })).toEqual(
        expect.arrayContaining(['sts:Assume*', { NotAction: 's3:*' }]),
      );
      expect(found).toHaveLength(2);
    });
  });

  it('lets the break-glass principals assume the break-glass role only with MFA', () => {
    const mfa = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'backstop-break-glass',
      Path: IAM_PATH,
      MaxSessionDuration: 3600,
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Condition: mfa,
            Principal: { AWS: 'arn:aws:iam::111111111111:user/oncall-alice' },
          },
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Condition: mfa,
            Principal: { AWS: 'arn:aws:iam::111111111111:user/oncall-bob' },
          },
        ],
      },
    });
  });

  it('exports every physical name and ARN the handlers and the CLI need as outputs', () => {
    const outputs = template.toJSON().Outputs;
    expect(
      Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, (v as { Value: unknown }).Value])),
    ).toEqual({
      AuditBucketName: stack.resolve(stack.auditBucket.bucketName),
      AuditKeyArn: stack.resolve(stack.auditKey.keyArn),
      ManifestSigningKeyArn: stack.resolve(stack.manifestSigningKey.keyArn),
      StateTableName: stack.resolve(stack.table.tableName),
      DataKeyArn: stack.resolve(stack.dataKey.keyArn),
      TopicArn: stack.resolve(stack.topic.topicArn),
      EventBusName: stack.resolve(stack.eventBus.eventBusName),
      EventBusArn: stack.resolve(stack.eventBus.eventBusArn),
      KillWorkerRoleArn: stack.resolve(stack.killWorkerRole.roleArn),
      RestoreWorkerRoleArn: stack.resolve(stack.restoreWorkerRole.roleArn),
      BreakGlassRoleArn: stack.resolve(stack.breakGlassRole.roleArn),
      KillStateMachineArn: stack.resolve(stack.killPath.stateMachine.stateMachineArn),
      PublicSigningKeyObject: stack.resolve(
        `s3://${stack.auditBucket.bucketName}/${stack.publicKeyPublisher.objectKey}`,
      ),
    });
    for (const output of Object.values(outputs)) expect(output).not.toHaveProperty('Export');
  });
});
