import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import {
  AGENT_TAG,
  CONTROL_PLANE,
  IAM_PATH,
  iamRoleArn,
  killExecutionRoleArn,
  restoreExecutionRoleArn,
} from '../../lambda/shared/naming';
import { agentsIn, toDirectory, workloadTargets } from '../config/directory';
import { DEFAULT_CANARY_INTERVAL_MINUTES } from '../config/defaults';
import type { BackstopConfig } from '../config/schema';
import { ALARM_FORWARDER_RULE_NAME } from '../constructs/alarm-forwarder';
import { AlarmTrigger } from '../constructs/alarm-trigger';
import { ActorAttribution } from '../constructs/actor-attribution';
import { AuditBucket } from '../constructs/audit-bucket';
import { AuditGlueTable } from '../constructs/audit-glue-table';
import { AuditKeyAlarms } from '../constructs/audit-key-protection';
import { AuditSealer, auditSealerRoleArn } from '../constructs/audit-sealer';
import { BackstopEventBus } from '../constructs/backstop-event-bus';
import { BREAK_GLASS_ROLE_NAME, BreakGlassRole } from '../constructs/break-glass-role';
import { Canary } from '../constructs/canary';
import { KillPath } from '../constructs/kill-path';
import { ManifestSigningKey } from '../constructs/manifest-signing-key';
import { NotificationTopic } from '../constructs/notification-topic';
import { OperatorDashboard } from '../constructs/operator-dashboard';
import { PublicKeyPublisher, publicKeyPublisherRoleArn } from '../constructs/public-key-publisher';
import { RETAIN } from '../constructs/secure-defaults';
import { StateTable } from '../constructs/state-table';
import { WorkerRole } from '../constructs/worker-role';
import { RestorePath } from '../constructs/restore-path';
import { RESTORE_FUNCTION_NAMES, restoreFunctionArn } from '../../lambda/restore-shared/names';

export interface ControlPlaneStackProps extends StackProps {
  /** The validated configuration (`loadConfig`). The stack's env is its control plane account and region. */
  readonly config: BackstopConfig;
}

/**
 * The control plane, in the security account: the audit log (Object Lock bucket, its key, the
 * manifest signing key), the state table, the notification topic, the Backstop event bus, the
 * kill and restore worker roles, and the break-glass role. The kill path (state machines and
 * handlers) is added to this stack by its own construct.
 */
export class ControlPlaneStack extends Stack {
  readonly config: BackstopConfig;
  readonly auditBucket: s3.Bucket;
  /** Encrypts the audit records. */
  readonly auditKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  /** Signs incident manifests (ECC NIST P-256). */
  readonly manifestSigningKey: kms.Key;
  /** Encrypts the state table and the notification topic. */
  readonly dataKey: kms.Key;
  readonly table: dynamodb.Table;
  readonly topic: sns.Topic;
  readonly eventBus: events.EventBus;
  /** Assumed by the kill path's handlers; may assume the kill execution roles of every workload account and region. */
  readonly killWorkerRole: iam.Role;
  /** Assumed by the restore path's handlers; may assume the restore execution roles. */
  readonly restoreWorkerRole: iam.Role;
  readonly breakGlass: BreakGlassRole;
  readonly breakGlassRole: iam.Role;
  /** The kill path: its handlers, state machine and alarms. */
  readonly killPath: KillPath;
  /** The rules that start the kill path when a mapped agent alarm fires. */
  readonly alarmTrigger?: AlarmTrigger;
  /** The scheduled rehearsal of a kill in every workload account and region. */
  readonly canary: Canary;
  /** The operator's view: kills, restores, audit write failures, canary. */
  readonly dashboard: OperatorDashboard;
  /** Signs manifests (Finalize runs as its role), attributes executions, holds incidents. */
  readonly auditSealer: AuditSealer;
  /** Publishes the public signing key in the audit bucket at deploy time. */
  readonly publicKeyPublisher: PublicKeyPublisher;
  /** Who started each kill and restore (CloudTrail), and the trail when none exists. */
  readonly actorAttribution: ActorAttribution;
  /** The restore path: two approvers, exact restore, the restore endpoint (issue 9). */
  readonly restorePath: RestorePath;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    const { config, ...stackProps } = props;
    super(scope, id, {
      description: 'Backstop control plane: kill switch for AI agents (audit log, state, worker roles)',
      ...stackProps,
      env: { account: config.controlPlane.accountId, region: config.controlPlane.region },
    });
    if (props.env && (props.env.account !== this.account || props.env.region !== this.region)) {
      throw new Error(
        `ControlPlaneStack: env ${props.env.account}/${props.env.region} conflicts with controlPlane ${this.account}/${this.region} in the config; leave env unset`,
      );
    }
    this.config = config;
    const partition = config.partition;
    const workloads = workloadTargets(config);

    // Fixed role names: the bucket and key policies name them before the roles exist.
    const sealerArn = auditSealerRoleArn(partition, config.controlPlane.accountId);
    const roleArn = (name: string) => iamRoleArn(partition, config.controlPlane.accountId, name);
    const audit = new AuditBucket(this, 'Audit', {
      retentionDays: config.audit.retentionDays,
      mode: s3.ObjectLockMode[config.audit.mode],
      writers: {
        records: [
          roleArn(CONTROL_PLANE.killWorkerRoleName),
          roleArn(CONTROL_PLANE.restoreWorkerRoleName),
          sealerArn,
        ],
        publicKeys: [publicKeyPublisherRoleArn(partition, config.controlPlane.accountId)],
        holdReleasers: [sealerArn],
      },
    });
    this.auditBucket = audit.bucket;
    this.auditKey = audit.encryptionKey;
    this.accessLogsBucket = audit.accessLogsBucket;

    this.manifestSigningKey = new ManifestSigningKey(this, 'ManifestSigning', {
      signerRoleArn: sealerArn,
    }).key;

    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'Backstop: encrypts the state table and the notification topic',
      enableKeyRotation: true,
      removalPolicy: RETAIN,
    });
    const workloadAccountIds = [...new Set(workloads.map((w) => w.accountId))];
    this.table = new StateTable(this, 'State', {
      encryptionKey: this.dataKey,
      flagReaders: { partition, accountIds: workloadAccountIds, organizationId: config.organizationId },
      flagWriterArns: [CONTROL_PLANE.killWorkerRoleName, CONTROL_PLANE.restoreWorkerRoleName].map((name) =>
        iamRoleArn(partition, config.controlPlane.accountId, name, IAM_PATH),
      ),
    }).table;
    // The agents' roles read their flag through DynamoDB, which decrypts the table key for them.
    this.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AgentsDecryptTheirControlFlagThroughDynamoDB',
        principals: workloadAccountIds.map((id) => new iam.ArnPrincipal(`arn:${partition}:iam::${id}:root`)),
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:ViaService': `dynamodb.${this.region}.${this.urlSuffix}`,
            'kms:CallerAccount': workloadAccountIds,
            ...(config.organizationId ? { 'aws:PrincipalOrgID': config.organizationId } : {}),
          },
          Null: { [`aws:PrincipalTag/${AGENT_TAG}`]: 'false' },
        },
      }),
    );
    this.topic = new NotificationTopic(this, 'Notifications', { encryptionKey: this.dataKey }).topic;

    this.eventBus = new BackstopEventBus(this, 'EventBus', {
      partition,
      forwarderRuleName: ALARM_FORWARDER_RULE_NAME,
      organizationId: config.organizationId,
      alarmSources: workloads.filter((w) =>
        agentsIn(config, w.accountId, w.region).some((agent) => agent.alarms.length > 0),
      ),
    }).eventBus;

    this.killWorkerRole = new WorkerRole(this, 'KillWorker', {
      roleName: CONTROL_PLANE.killWorkerRoleName,
      description: 'Backstop kill worker: assumes the kill execution roles of the workload accounts',
      executionRoleArns: workloads.map((w) => killExecutionRoleArn(partition, w.accountId, w.region)),
    }).role;
    this.restoreWorkerRole = new WorkerRole(this, 'RestoreWorker', {
      roleName: CONTROL_PLANE.restoreWorkerRoleName,
      description: 'Backstop restore worker: assumes the restore execution roles, after approval',
      executionRoleArns: workloads.map((w) => restoreExecutionRoleArn(partition, w.accountId, w.region)),
      // Only the restore path's apply function, after it has counted the approvals, reaches a workload.
      assumeFromFunctionArns: [
        restoreFunctionArn(partition, this.account, this.region, RESTORE_FUNCTION_NAMES.apply),
      ],
    }).role;

    this.breakGlass = new BreakGlassRole(this, 'BreakGlass', { principals: config.breakGlass.principals });
    this.breakGlassRole = this.breakGlass.role;

    const output = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });
    output('AuditBucketName', this.auditBucket.bucketName, 'Audit log bucket (Object Lock)');
    output('AuditKeyArn', this.auditKey.keyArn, 'KMS key of the audit records');
    output('ManifestSigningKeyArn', this.manifestSigningKey.keyArn, 'KMS key that signs incident manifests');
    output('StateTableName', this.table.tableName, 'State table');
    output('DataKeyArn', this.dataKey.keyArn, 'KMS key of the state table and the topic');
    output('TopicArn', this.topic.topicArn, 'Notification topic');
    output('EventBusName', this.eventBus.eventBusName, 'Backstop event bus');
    output('EventBusArn', this.eventBus.eventBusArn, 'Backstop event bus ARN');
    output('KillWorkerRoleArn', this.killWorkerRole.roleArn, 'Role of the kill path handlers');
    output('RestoreWorkerRoleArn', this.restoreWorkerRole.roleArn, 'Role of the restore path handlers');
    output('BreakGlassRoleArn', this.breakGlassRole.roleArn, 'Break-glass role (MFA)');

    this.auditSealer = new AuditSealer(this, 'AuditSealer', {
      directory: toDirectory(config),
      auditBucket: this.auditBucket,
      auditKey: this.auditKey,
      signingKey: this.manifestSigningKey,
      table: this.table,
      topic: this.topic,
      approvers: config.restore.approvers,
      quorum: config.restore.quorum,
    });
    this.publicKeyPublisher = new PublicKeyPublisher(this, 'PublicSigningKey', {
      auditBucket: this.auditBucket,
      auditKey: this.auditKey,
      signingKey: this.manifestSigningKey,
    });
    this.actorAttribution = new ActorAttribution(this, 'ActorAttribution', {
      sealer: this.auditSealer.function,
      existingTrail: config.cloudTrail.existingTrail,
      trailRetention: audit.retention,
      auditBucket: this.auditBucket,
      accessLogsBucket: this.accessLogsBucket,
    });
    new AuditKeyAlarms(this, 'AuditKeyAlarms', {
      keys: [this.auditKey, this.manifestSigningKey],
      topic: this.topic,
    });
    new AuditGlueTable(this, 'AuditQuery', { auditBucket: this.auditBucket });
    output(
      'PublicSigningKeyObject',
      `s3://${this.auditBucket.bucketName}/${this.publicKeyPublisher.objectKey}`,
      'The public manifest signing key (PEM), published at deploy time: verify manifests without KMS',
    );

    this.killPath = new KillPath(this, 'KillPath', {
      directory: toDirectory(config),
      auditBucket: this.auditBucket,
      auditKey: this.auditKey,
      signingKey: this.manifestSigningKey,
      table: this.table,
      topic: this.topic,
      workerRole: this.killWorkerRole,
      fanOut: config.killPath,
      sealer: this.auditSealer,
    });
    this.breakGlass.grantStartKill(this.killPath.stateMachine);
    const mappings = config.agents.flatMap((a) =>
      a.alarms.map((alarm) => ({
        agentId: a.id,
        accountId: a.accountId,
        region: a.region,
        alarmName: alarm.alarmName,
        mode: alarm.mode,
      })),
    );
    if (mappings.length > 0) {
      this.alarmTrigger = new AlarmTrigger(this, 'AlarmTrigger', {
        eventBus: this.eventBus,
        stateMachine: this.killPath.stateMachine,
        topic: this.topic,
        table: this.table,
        mappings,
      });
    }
    output('KillStateMachineArn', this.killPath.stateMachine.stateMachineArn, 'Kill path state machine');

    this.restorePath = new RestorePath(this, 'RestorePath', {
      directory: toDirectory(config),
      auditBucket: this.auditBucket,
      auditKey: this.auditKey,
      signingKey: this.manifestSigningKey,
      table: this.table,
      topic: this.topic,
      workerRole: this.restoreWorkerRole,
      killWorkerRole: this.killWorkerRole,
      sealer: this.auditSealer,
      approvers: config.restore.approvers,
      quorum: config.restore.quorum,
      approvalTimeout: Duration.hours(config.restore.approvalTimeoutHours),
      requesters: [
        ...config.restore.approvers,
        ...config.breakGlass.principals,
        roleArn(BREAK_GLASS_ROLE_NAME),
      ],
      breakGlassRole: this.breakGlassRole,
    });
    output(
      'RestoreStateMachineArn',
      this.restorePath.stateMachine.stateMachineArn,
      'Restore path state machine',
    );
    output(
      'RestoreEndpointUrl',
      this.restorePath.endpoint.url.url,
      'Restore endpoint (function URL, AWS_IAM)',
    );
    this.canary = new Canary(this, 'Canary', {
      directory: toDirectory(config),
      workerRole: this.killWorkerRole,
      topic: this.topic,
      intervalMinutes: config.canary?.intervalMinutes ?? DEFAULT_CANARY_INTERVAL_MINUTES,
      namespace: CONTROL_PLANE.metricsNamespace,
    });
    this.dashboard = new OperatorDashboard(this, 'Operations', {
      killStateMachine: this.killPath.stateMachine,
      namespace: CONTROL_PLANE.metricsNamespace,
      alarms: [
        this.killPath.notContainedAlarm,
        this.killPath.executionFailedAlarm,
        this.killPath.auditFailureAlarm,
        ...(this.alarmTrigger ? [this.alarmTrigger.undeliveredAlarm] : []),
      ],
      canaryAlarms: [this.canary.findingsAlarm, this.canary.silentAlarm],
    });
  }
}
