import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/env';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import type { Directory } from '../../lambda/shared/types';
import { type KillPathFunctions, KillPathStates } from './kill-path-states';

export interface KillPathProps {
  /** The fleet: compiled into the handlers' bundles (no environment size limit). */
  readonly directory: Directory;
  readonly auditBucket: s3.IBucket;
  readonly auditKey: kms.IKey;
  /** Asymmetric key that signs incident manifests. */
  readonly signingKey: kms.IKey;
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  /** The role the handlers run as: the only principal the workload kill roles trust. */
  readonly workerRole: iam.IRole;
  /**
   * Days the handlers' and the state machine's logs are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Longest a kill may run before Step Functions stops it.
   * @default Duration.hours(1)
   */
  readonly timeout?: Duration;
}

/** Which handler each function runs: `lambda/<name>/index.ts`, and the BACKSTOP_HANDLER it carries. */
const HANDLERS = {
  prepare: { name: 'kill-prepare', timeout: Duration.minutes(1), memory: 512 },
  surface: { name: 'kill-surface', timeout: Duration.minutes(10), memory: 1024 },
  verify: { name: 'kill-verify', timeout: Duration.minutes(5), memory: 1024 },
  finalize: { name: 'kill-finalize', timeout: Duration.minutes(5), memory: 1024 },
} as const;

const LAMBDA_ROOT = path.join(__dirname, '..', '..', 'lambda');

/**
 * The kill path: its four handlers, the Standard workflow that runs them (logged, traced) and
 * the alarms that tell a person when a kill is not contained or its audit trail is incomplete.
 */
export class KillPath extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: KillPathFunctions;
  readonly notContainedAlarm: cloudwatch.Alarm;
  readonly auditFailureAlarm: cloudwatch.Alarm;
  readonly executionFailedAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: KillPathProps) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const environment = {
      [ENV.tableName]: props.table.tableName,
      [ENV.auditBucketName]: props.auditBucket.bucketName,
      [ENV.auditKmsKeyArn]: props.auditKey.keyArn,
      [ENV.manifestSigningKeyArn]: props.signingKey.keyArn,
      [ENV.topicArn]: props.topic.topicArn,
      [ENV.metricsNamespace]: CONTROL_PLANE.metricsNamespace,
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
    };
    const logGroups: logs.LogGroup[] = [];
    const make = (key: keyof typeof HANDLERS): lambda.IFunction => {
      const spec = HANDLERS[key];
      const logGroup = new logs.LogGroup(this, `${spec.name}-logs`, {
        retention,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      logGroups.push(logGroup);
      return new nodejs.NodejsFunction(this, spec.name, {
        entry: path.join(LAMBDA_ROOT, spec.name, 'index.ts'),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        role: props.workerRole,
        timeout: spec.timeout,
        memorySize: spec.memory,
        tracing: lambda.Tracing.ACTIVE,
        logGroup,
        environment: { ...environment, [ENV.handler]: spec.name },
        bundling: {
          minify: true,
          sourceMap: true,
          target: 'node22',
          // The directory is compiled into the bundle: a config change is a new deployment of the
          // handlers, and a fleet of any size fits (Lambda environments stop at 4 KB).
          define: { [`process.env.${ENV.directory}`]: JSON.stringify(JSON.stringify(props.directory)) },
        },
      });
    };
    this.functions = {
      prepare: make('prepare'),
      surface: make('surface'),
      verify: make('verify'),
      finalize: make('finalize'),
    };

    const states = new KillPathStates(this, 'States', { functions: this.functions });
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: CONTROL_PLANE.killStateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(states.definition),
      timeout: props.timeout ?? Duration.hours(1),
      tracingEnabled: true,
      logs: { destination: smLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      comment: 'Backstop kill path: contain, dismantle, prove, audit',
    });

    this.grantHandlerAccess(props, logGroups);

    const alarmAction = new actions.SnsAction(props.topic);
    const metric = (metricName: string) =>
      new cloudwatch.Metric({
        namespace: CONTROL_PLANE.metricsNamespace,
        metricName,
        statistic: 'Sum',
        period: Duration.minutes(1),
      });
    this.notContainedAlarm = new cloudwatch.Alarm(this, 'KillNotContained', {
      alarmDescription:
        'A Backstop kill ended PARTIAL or FAILED: some authority was not proven cut. See the incident in the audit log and the notification for the surfaces.',
      metric: metric('KillsNotContained'),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.auditFailureAlarm = new cloudwatch.Alarm(this, 'AuditWriteFailed', {
      alarmDescription:
        'Backstop could not write an audit record or manifest to the Object Lock bucket; undelivered records wait in the state table.',
      metric: metric('AuditWriteFailures'),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.executionFailedAlarm = new cloudwatch.Alarm(this, 'KillExecutionFailed', {
      alarmDescription: 'A Backstop kill execution failed, timed out or was aborted.',
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedout + aborted',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ period: Duration.minutes(1), statistic: 'Sum' }),
          timedout: this.stateMachine.metricTimedOut({ period: Duration.minutes(1), statistic: 'Sum' }),
          aborted: this.stateMachine.metricAborted({ period: Duration.minutes(1), statistic: 'Sum' }),
        },
        period: Duration.minutes(1),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.notContainedAlarm, this.auditFailureAlarm, this.executionFailedAlarm]) {
      alarm.addAlarmAction(alarmAction);
    }
  }

  /** Exactly what the handlers call in the control plane account; nothing else. */
  private grantHandlerAccess(props: KillPathProps, logGroups: logs.LogGroup[]): void {
    const role = props.workerRole;
    props.table.grantReadWriteData(role);
    // Audit records: write (no overwrite is enforced by If-None-Match), read back for the manifest.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:GetObjectVersion', 's3:GetObjectRetention'],
        resources: [
          props.auditBucket.arnForObjects('incidents/*'),
          props.auditBucket.arnForObjects('manifests/*'),
        ],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [props.auditBucket.bucketArn] }),
    );
    props.auditKey.grantEncryptDecrypt(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Sign', 'kms:GetPublicKey'],
        resources: [props.signingKey.keyArn],
      }),
    );
    props.topic.grantPublish(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': CONTROL_PLANE.metricsNamespace } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: logGroups.map((g) => `${g.logGroupArn}:*`),
      }),
    );
  }
}
