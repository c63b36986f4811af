import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { CONTROL_PLANE, killExecutionRoleArn, restoreExecutionRoleArn } from '../../lambda/shared/naming';
import { agentsIn, toDirectory, workloadTargets } from '../config/directory';
import type { BackstopConfig } from '../config/schema';
import { ALARM_FORWARDER_RULE_NAME } from '../constructs/alarm-forwarder';
import { AlarmTrigger } from '../constructs/alarm-trigger';
import { AuditBucket } from '../constructs/audit-bucket';
import { BackstopEventBus } from '../constructs/backstop-event-bus';
import { BreakGlassRole } from '../constructs/break-glass-role';
import { KillPath } from '../constructs/kill-path';
import { ManifestSigningKey } from '../constructs/manifest-signing-key';
import { NotificationTopic } from '../constructs/notification-topic';
import { RETAIN } from '../constructs/secure-defaults';
import { StateTable } from '../constructs/state-table';
import { WorkerRole } from '../constructs/worker-role';

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

    const audit = new AuditBucket(this, 'Audit', {
      retentionDays: config.audit.retentionDays,
      mode: s3.ObjectLockMode[config.audit.mode],
    });
    this.auditBucket = audit.bucket;
    this.auditKey = audit.encryptionKey;
    this.accessLogsBucket = audit.accessLogsBucket;

    this.manifestSigningKey = new ManifestSigningKey(this, 'ManifestSigning').key;

    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'Backstop: encrypts the state table and the notification topic',
      enableKeyRotation: true,
      removalPolicy: RETAIN,
    });
    this.table = new StateTable(this, 'State', { encryptionKey: this.dataKey }).table;
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

    this.killPath = new KillPath(this, 'KillPath', {
      directory: toDirectory(config),
      auditBucket: this.auditBucket,
      auditKey: this.auditKey,
      signingKey: this.manifestSigningKey,
      table: this.table,
      topic: this.topic,
      workerRole: this.killWorkerRole,
      fanOut: config.killPath,
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
        mappings,
      });
    }
    output('KillStateMachineArn', this.killPath.stateMachine.stateMachineArn, 'Kill path state machine');
  }
}
