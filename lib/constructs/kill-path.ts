import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
import { handlerBundling } from './directory-bundle';
import { type KillPathFunctions, KillPathStates } from './kill-path-states';
import {
  Acknowledgments,
  defaultPolicyOf,
  logStreamsStatement,
  metricsStatement,
  wildcardResourceFinding,
  xrayReason,
} from './policy-builder';

export interface KillPathProps {
  /** The fleet: a file of every handler's bundle (no environment or command-line size limit). */
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
   * The audit sealer: Finalize runs as its role, the only one the signing key lets sign (the
   * worker, which holds the workload accounts' kill roles, may not sign manifests).
   */
  readonly sealer: { readonly role: iam.IRole; grantLogs(logGroup: logs.ILogGroup): void };
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
  /** How the kill fans out over a fleet (the config's killPath). @default - KillPathStates' defaults */
  readonly fanOut?: { readonly maxConcurrentAgents?: number; readonly maxConcurrentBatches?: number };
}

/** Which handler each function runs: `lambda/<name>/index.ts`, and the BACKSTOP_HANDLER it carries. */
const HANDLERS = {
  // Prepare locks, flags and (in part) cuts every agent of a fleet kill: up to 10,000 of them.
  prepare: { name: 'kill-prepare', timeout: Duration.minutes(10), memory: 1024 },
  surface: { name: 'kill-surface', timeout: Duration.minutes(10), memory: 1024 },
  verify: { name: 'kill-verify', timeout: Duration.minutes(5), memory: 1024 },
  finalize: { name: 'kill-finalize', timeout: Duration.minutes(5), memory: 1024 },
} as const;

const PROJECT_ROOT = path.join(__dirname, '..', '..');
const LAMBDA_ROOT = path.join(PROJECT_ROOT, 'lambda');

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
    const bundling = handlerBundling(this, props.directory);
    const make = (key: keyof typeof HANDLERS): lambda.IFunction => {
      const spec = HANDLERS[key];
      const logGroup = new logs.LogGroup(this, `${spec.name}-logs`, {
        retention,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      const sealed = key === 'finalize';
      if (sealed) props.sealer.grantLogs(logGroup);
      else logGroups.push(logGroup);
      return new nodejs.NodejsFunction(this, spec.name, {
        entry: path.join(LAMBDA_ROOT, spec.name, 'index.ts'),
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        role: sealed ? props.sealer.role : props.workerRole,
        timeout: spec.timeout,
        memorySize: spec.memory,
        tracing: lambda.Tracing.ACTIVE,
        logGroup,
        environment: { ...environment, [ENV.handler]: spec.name },
        bundling,
      });
    };
    this.functions = {
      prepare: make('prepare'),
      surface: make('surface'),
      verify: make('verify'),
      finalize: make('finalize'),
    };

    const states = new KillPathStates(this, 'States', { functions: this.functions, ...props.fanOut });
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

  /**
   * Exactly what the handlers call in the control plane account; nothing else. Keys are granted
   * only the calls the services make for the handlers (`kms:ViaService`), never a `*` family.
   * What cannot be scoped further is acknowledged here, finding by finding, with its reason.
   */
  private grantHandlerAccess(props: KillPathProps, logGroups: logs.LogGroup[]): void {
    const role = props.workerRole;
    const stack = Stack.of(this);
    const viaService = (service: string): iam.PolicyStatementProps['conditions'] => ({
      StringEquals: { 'kms:ViaService': `${service}.${stack.region}.${stack.urlSuffix}` },
    });
    /** Wildcard resources of the worker's policy, with why each is needed. */
    const wildcards: [resource: string, reason: string][] = [];
    const add = (statement: iam.PolicyStatementProps, wildcardReason?: string) => {
      if (!role.addToPrincipalPolicy(new iam.PolicyStatement(statement)).statementAdded) {
        throw new Error(`KillPath: the worker role ${role.node.path} takes no policy statements`);
      }
      for (const resource of statement.resources ?? []) {
        if (!resource.includes('*')) continue;
        if (!wildcardReason)
          throw new Error(`KillPath: statement ${statement.sid} has a wildcard without a reason`);
        wildcards.push([resource, wildcardReason]);
      }
    };

    // State table: the item calls of the state store (TransactWriteItems is authorized per item).
    add({
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
      // What DynamoDB asks KMS for on the caller's behalf (no ReEncrypt*: only a key change re-encrypts).
      add({
        sid: 'UseDataKeyThroughDynamoDB',
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [props.table.encryptionKey.keyArn],
        conditions: viaService('dynamodb'),
      });
    }

    // Audit records: write (the bucket policy refuses any write without If-None-Match), read back
    // after a 412. Manifests are the sealer's: Finalize runs as the sealer role.
    add(
      {
        sid: 'WriteAuditRecords',
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [props.auditBucket.arnForObjects('incidents/*')],
      },
      'Audit records are written under incidents/<incidentId>/, keys named at run time by the incident; the prefix holds nothing else, and the bucket policy denies every delete and every write without If-None-Match.',
    );
    add({ sid: 'ListAuditRecords', actions: ['s3:ListBucket'], resources: [props.auditBucket.bucketArn] });
    // SSE-KMS with the audit key: PutObject asks for a data key, GetObject for its decryption.
    add({
      sid: 'EncryptAuditRecordsThroughS3',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [props.auditKey.keyArn],
      conditions: viaService('s3'),
    });
    // Signing and notifying are Finalize's, under the sealer role.

    add(
      {
        sid: 'CheckKillHoldingTheLock',
        actions: ['states:DescribeExecution'],
        resources: [
          stack.formatArn({
            service: 'states',
            resource: 'execution',
            resourceName: `${CONTROL_PLANE.killStateMachineName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      },
      'Prepare reads the status of the kill execution that holds an agent lock (execution names are chosen at start, so only the state machine part can be named): a failed kill must not block the next one.',
    );
    add(...metricsStatement('PutBackstopMetrics', CONTROL_PLANE.metricsNamespace));
    add(
      ...logStreamsStatement(
        'WriteHandlerLogs',
        logGroups.map((g) => g.logGroupArn),
      ),
    );
    // Active tracing adds xray:PutTraceSegments and PutTelemetryRecords to the role, on *.
    wildcards.push(['*', xrayReason('the handlers')]);
    const acknowledgments = new Acknowledgments();
    const workerPolicy = defaultPolicyOf(role, 'KillPath');
    for (const [resource, reason] of wildcards) {
      acknowledgments.add(workerPolicy, wildcardResourceFinding(this, resource), reason);
    }

    // The state machine's role: CDK's invoke grant, log delivery and X-Ray.
    const machinePolicy = defaultPolicyOf(this.stateMachine.role, 'KillPath');
    for (const fn of Object.values(this.functions)) {
      acknowledgments.add(
        machinePolicy,
        wildcardResourceFinding(this, `${fn.functionArn}:*`),
        "CDK's Lambda invoke grant names the function and its versions and aliases (<function ARN>:*): the state machine invokes only its own four handlers.",
      );
    }
    acknowledgments.add(
      machinePolicy,
      wildcardResourceFinding(this, '*'),
      'Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups...) and X-Ray tracing (xray:PutTraceSegments, GetSamplingRules...) support no resource-level permissions: IAM accepts only *.',
    );
    // The distributed Map of a fleet kill: CDK lets the state machine start, describe, stop and
    // redrive its own child executions (execution ARNs of this state machine only).
    const mapPolicy = this.stateMachine.node.tryFindChild('DistributedMapPolicy');
    if (mapPolicy instanceof iam.Policy) {
      const statements = (mapPolicy.document.toJSON() as { Statement?: { Resource?: unknown }[] }).Statement;
      for (const statement of statements ?? []) {
        for (const resource of [statement.Resource ?? []].flat()) {
          if (typeof resource !== 'string' || !resource.includes('*')) continue;
          acknowledgments.add(
            mapPolicy,
            wildcardResourceFinding(this, resource),
            "A fleet kill's distributed Map runs its batches as child executions: the state machine describes, stops and redrives executions of itself only (<state machine>:* and <state machine>/<map run>:*), whose names Step Functions picks.",
          );
        }
      }
    }
    acknowledgments.apply();
  }
}
