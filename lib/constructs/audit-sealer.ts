import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';
import { SEALER_ENV } from '../../lambda/audit-seal/handler';
import { ENV } from '../../lambda/shared/env';
import { CONTROL_PLANE, IAM_PATH, iamRoleArn } from '../../lambda/shared/naming';
import type { Directory } from '../../lambda/shared/types';
import { logStreamsStatement, metricsStatement, wildcardResourceFinding, xrayReason } from './policy-builder';
import { handlerBundling } from './directory-bundle';

export interface AuditSealerProps {
  /** The fleet: compiled into the bundle, as for the kill path handlers. */
  readonly directory: Directory;
  readonly auditBucket: s3.IBucket;
  readonly auditKey: kms.IKey;
  readonly signingKey: kms.IKey;
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  /** `restore.approvers` and `restore.quorum`: the two-person rule of a legal hold release. */
  readonly approvers: readonly string[];
  readonly quorum: number;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/** The sealer role's ARN, as the key and bucket policies name it (fixed name, so no token is needed). */
export function auditSealerRoleArn(partition: string, accountId: string): string {
  return iamRoleArn(partition, accountId, CONTROL_PLANE.auditSealerRoleName);
}

/**
 * The audit sealer: the role `backstop-audit-sealer`, the only principal the key policy lets
 * sign manifests (digests only) and the only one the bucket policy lets remove a legal hold, and
 * the function `backstop-audit-sealer` (lambda/audit-seal) that runs as it. The kill path's
 * Finalize runs as this role too (it seals the kill's manifest); the kill and restore workers,
 * which hold the workload accounts' execution roles, can do neither.
 *
 * What the role may do is the union of what its two handlers call: the state table (locks,
 * outcomes, incident status, pending records, the manifest series, approvals), the audit prefixes
 * (write once, read back, list versions, legal holds), the audit key through S3, `kms:Sign` with
 * `DIGEST` on the signing key, the notification topic, the Backstop metrics namespace and
 * `states:DescribeExecution` on kill and restore executions (attribution).
 */
export class AuditSealer extends Construct {
  readonly role: iam.Role;
  readonly function: lambda.IFunction;
  private readonly acknowledged = new Set<string>();
  private pending: Map<string, string[]> | undefined = new Map();
  private logGrants = 0;

  constructor(scope: Construct, id: string, props: AuditSealerProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.role = new iam.Role(this, 'Role', {
      roleName: CONTROL_PLANE.auditSealerRoleName,
      path: IAM_PATH,
      description:
        'Backstop audit sealer: signs manifests, attributes executions, places and releases legal holds',
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: CONTROL_PLANE.auditSealerFunctionName,
      entry: path.join(__dirname, '..', '..', 'lambda', 'audit-seal', 'index.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role: this.role,
      // Attribution waits for the execution's own manifest (up to 10 minutes) before sealing.
      timeout: Duration.minutes(15),
      memorySize: 512,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      environment: {
        [ENV.tableName]: props.table.tableName,
        [ENV.auditBucketName]: props.auditBucket.bucketName,
        [ENV.auditKmsKeyArn]: props.auditKey.keyArn,
        [ENV.manifestSigningKeyArn]: props.signingKey.keyArn,
        [ENV.topicArn]: props.topic.topicArn,
        [ENV.metricsNamespace]: CONTROL_PLANE.metricsNamespace,
        [SEALER_ENV.approvers]: JSON.stringify(props.approvers),
        [SEALER_ENV.quorum]: String(props.quorum),
        AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      },
      bundling: handlerBundling(this, props.directory),
    });
    this.grant(props, stack, logGroup);
    this.flushAcknowledgments();
  }

  /** Lets the role write one more handler's log group (Finalize's, created by the kill path). */
  grantLogs(logGroup: logs.ILogGroup): void {
    this.add(...logStreamsStatement(`WriteHandlerLogs${this.logGrants++}`, [logGroup.logGroupArn]));
  }

  private add(statement: iam.PolicyStatementProps, wildcardReason?: string): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    for (const resource of statement.resources ?? []) {
      if (!resource.includes('*')) continue;
      if (!wildcardReason)
        throw new Error(`AuditSealer: statement ${statement.sid} has a wildcard without a reason`);
      this.acknowledge(resource, wildcardReason);
    }
  }

  /**
   * Acknowledges one wildcard finding on the role's policy. While the constructor runs, reasons
   * are gathered per finding and applied together at its end; later calls apply at once.
   */
  private acknowledge(resource: string, reason: string): void {
    const id = wildcardResourceFinding(this, resource);
    if (this.pending) {
      const reasons = this.pending.get(id) ?? [];
      if (!reasons.includes(reason)) reasons.push(reason);
      this.pending.set(id, reasons);
      return;
    }
    if (this.acknowledged.has(id)) return;
    this.acknowledged.add(id);
    Validations.of(this.policy()).acknowledge({ id, reason });
  }

  private policy(): IConstruct {
    const policy = this.role.node.tryFindChild('DefaultPolicy') as IConstruct | undefined;
    if (!policy) throw new Error('AuditSealer: the sealer role has no DefaultPolicy');
    return policy;
  }

  private flushAcknowledgments(): void {
    for (const [id, reasons] of this.pending ?? []) {
      this.acknowledged.add(id);
      Validations.of(this.policy()).acknowledge({ id, reason: reasons.join(' ') });
    }
    this.pending = undefined;
  }

  private grant(props: AuditSealerProps, stack: Stack, logGroup: logs.LogGroup): void {
    const viaService = (service: string): iam.PolicyStatementProps['conditions'] => ({
      StringEquals: { 'kms:ViaService': `${service}.${stack.region}.${stack.urlSuffix}` },
    });
    const bucket = props.auditBucket;
    this.add({
      sid: 'ReadWriteStateTable',
      actions: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
      ],
      resources: [props.table.tableArn],
    });
    if (props.table.encryptionKey) {
      this.add({
        sid: 'UseDataKeyThroughDynamoDB',
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [props.table.encryptionKey.keyArn],
        conditions: viaService('dynamodb'),
      });
    }
    const auditObjects = [bucket.arnForObjects('incidents/*'), bucket.arnForObjects('manifests/*')];
    const auditReason =
      'Records and manifests live under incidents/<incidentId>/ and manifests/<incidentId>/, named at run time by the incident; the prefixes hold nothing else, the bucket policy denies every delete and every write without If-None-Match.';
    this.add(
      { sid: 'WriteAndReadAuditObjects', actions: ['s3:PutObject', 's3:GetObject'], resources: auditObjects },
      auditReason,
    );
    this.add(
      {
        sid: 'HoldAuditObjects',
        actions: ['s3:PutObjectLegalHold', 's3:GetObjectLegalHold'],
        resources: auditObjects,
      },
      `${auditReason} Legal holds are placed on every version of an incident, and removed only after a two-person approval.`,
    );
    this.add({
      sid: 'ListAuditObjectsAndVersions',
      actions: ['s3:ListBucket', 's3:ListBucketVersions'],
      resources: [bucket.bucketArn],
    });
    this.add({
      sid: 'EncryptAuditObjectsThroughS3',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [props.auditKey.keyArn],
      conditions: viaService('s3'),
    });
    this.add({
      sid: 'SignManifestDigests',
      actions: ['kms:Sign'],
      resources: [props.signingKey.keyArn],
      conditions: { StringEquals: { 'kms:MessageType': 'DIGEST' } },
    });
    this.add({ sid: 'PublishNotifications', actions: ['sns:Publish'], resources: [props.topic.topicArn] });
    if (props.topic.masterKey) {
      this.add({
        sid: 'EncryptNotificationsThroughSns',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.topic.masterKey.keyArn],
        conditions: viaService('sns'),
      });
    }
    const executions = [CONTROL_PLANE.killStateMachineName, CONTROL_PLANE.restoreStateMachineName].map(
      (name) =>
        stack.formatArn({
          service: 'states',
          resource: 'execution',
          resourceName: `${name}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
    );
    this.add(
      { sid: 'ReadKillAndRestoreExecutions', actions: ['states:DescribeExecution'], resources: executions },
      'Attribution reads the input and status of the kill or restore execution CloudTrail names (execution names are chosen at start, so only the state machine part can be named).',
    );
    this.add(...metricsStatement('PutBackstopMetrics', CONTROL_PLANE.metricsNamespace));
    this.grantLogs(logGroup);
    this.acknowledge('*', xrayReason('the sealer and of Finalize'));
  }
}
