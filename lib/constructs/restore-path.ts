import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
import { RESTORE_FUNCTION_NAMES } from '../../lambda/restore-shared/names';
import { RESTORE_ENV } from '../../lambda/restore-shared/settings';
import { ENV } from '../../lambda/shared/env';
import { CONTROL_PLANE, PUBLIC_KEY_PREFIX } from '../../lambda/shared/naming';
import type { Directory } from '../../lambda/shared/types';
import { ApprovalEndpoint } from './approval-endpoint';
import {
  Acknowledgments,
  defaultPolicyOf,
  logStreamsStatement,
  metricsStatement,
  wildcardResourceFinding,
  xrayReason,
} from './policy-builder';
import { RestorePathStates } from './restore-path-states';
import { handlerBundling } from './directory-bundle';

export interface RestorePathProps {
  /** The fleet: compiled into the handlers' bundles, as for the kill path. */
  readonly directory: Directory;
  readonly auditBucket: s3.IBucket;
  readonly auditKey: kms.IKey;
  readonly signingKey: kms.IKey;
  readonly table: dynamodb.ITable;
  readonly topic: sns.ITopic;
  /** `backstop-restore-worker`: the role of every restore handler but Finalize. */
  readonly workerRole: iam.IRole;
  /** The kill worker: kill prepare fails the wait of a restore it cancels. */
  readonly killWorkerRole: iam.IRole;
  /** The audit sealer: Finalize runs as its role (the only signer), refusals are sealed by its function. */
  readonly sealer: {
    readonly role: iam.IRole;
    readonly function: lambda.IFunction;
    grantLogs(logGroup: logs.ILogGroup): void;
  };
  /** `restore.approvers`, `restore.quorum` and `restore.approvalTimeoutHours`. */
  readonly approvers: readonly string[];
  readonly quorum: number;
  readonly approvalTimeout: Duration;
  /** Who may ask for a restore: the approvers, the break-glass principals and the break-glass role. */
  readonly requesters: readonly string[];
  /** The break-glass role: it may call the endpoint (request, reject). @default - not granted */
  readonly breakGlassRole?: iam.IRole;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

const HANDLERS = {
  prepare: { dir: 'restore-prepare', name: RESTORE_FUNCTION_NAMES.prepare, timeout: Duration.minutes(1) },
  await: { dir: 'restore-await', name: RESTORE_FUNCTION_NAMES.await, timeout: Duration.minutes(1) },
  apply: { dir: 'restore-apply', name: RESTORE_FUNCTION_NAMES.apply, timeout: Duration.minutes(15) },
  finalize: { dir: 'restore-finalize', name: RESTORE_FUNCTION_NAMES.finalize, timeout: Duration.minutes(5) },
} as const;

const LAMBDA_ROOT = path.join(__dirname, '..', '..', 'lambda');

/**
 * The restore path (issue 9): the `backstop-restore` Standard workflow and its handlers, and the
 * restore endpoint people call (a function URL with AWS_IAM auth). Every restore handler but
 * Finalize runs as `backstop-restore-worker`; each of the worker's calls that matters is pinned
 * to the function that needs it by `lambda:SourceFunctionArn`: only the apply function (which
 * counts the quorum again before anything) may assume the workload restore roles, only the
 * endpoint may start a restore or hand a decision to the waiting task.
 */
export class RestorePath extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly endpoint: ApprovalEndpoint;
  readonly functions: Record<keyof typeof HANDLERS, lambda.IFunction>;
  private readonly acknowledgments = new Acknowledgments();

  constructor(scope: Construct, id: string, props: RestorePathProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const environment = {
      [ENV.tableName]: props.table.tableName,
      [ENV.auditBucketName]: props.auditBucket.bucketName,
      [ENV.auditKmsKeyArn]: props.auditKey.keyArn,
      [ENV.manifestSigningKeyArn]: props.signingKey.keyArn,
      [ENV.topicArn]: props.topic.topicArn,
      [ENV.metricsNamespace]: CONTROL_PLANE.metricsNamespace,
      [RESTORE_ENV.approvers]: JSON.stringify(props.approvers),
      [RESTORE_ENV.quorum]: String(props.quorum),
      [RESTORE_ENV.requesters]: JSON.stringify(props.requesters),
      [RESTORE_ENV.approvalTimeoutSeconds]: String(props.approvalTimeout.toSeconds()),
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
    };
    const workerLogs: logs.LogGroup[] = [];
    const bundling = handlerBundling(this, props.directory);
    const make = (
      key: string,
      spec: { dir: string; name: string; timeout: Duration },
      role: iam.IRole,
      extraEnv: Record<string, string> = {},
    ): nodejs.NodejsFunction => {
      const logGroup = new logs.LogGroup(this, `${spec.dir}-logs`, {
        retention,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      if (role === props.sealer.role) props.sealer.grantLogs(logGroup);
      else workerLogs.push(logGroup);
      return new nodejs.NodejsFunction(this, key, {
        functionName: spec.name,
        entry: path.join(LAMBDA_ROOT, spec.dir, 'index.ts'),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        role,
        timeout: spec.timeout,
        memorySize: 1024,
        tracing: lambda.Tracing.ACTIVE,
        logGroup,
        environment: { ...environment, ...extraEnv, [ENV.handler]: spec.dir },
        bundling,
      });
    };
    this.functions = {
      prepare: make('prepare', HANDLERS.prepare, props.workerRole),
      await: make('await', HANDLERS.await, props.workerRole),
      apply: make('apply', HANDLERS.apply, props.workerRole),
      finalize: make('finalize', HANDLERS.finalize, props.sealer.role),
    };

    const states = new RestorePathStates(this, 'States', {
      functions: this.functions,
      approvalTimeout: props.approvalTimeout,
    });
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: CONTROL_PLANE.restoreStateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(states.definition),
      timeout: props.approvalTimeout.plus(Duration.hours(1)),
      tracingEnabled: true,
      logs: { destination: smLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: 'Backstop restore path: two approvers, exact restore in reverse order, audited',
    });

    const endpointLogs = new logs.LogGroup(this, 'endpoint-logs', {
      retention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    workerLogs.push(endpointLogs);
    this.endpoint = new ApprovalEndpoint(this, 'Endpoint', {
      functionName: RESTORE_FUNCTION_NAMES.endpoint,
      role: props.workerRole,
      logGroup: endpointLogs,
      environment: {
        ...environment,
        [ENV.handler]: 'approval-endpoint',
        [RESTORE_ENV.stateMachineArn]: this.stateMachine.stateMachineArn,
        [RESTORE_ENV.sealerFunction]: props.sealer.function.functionName,
      },
      directory: props.directory,
      callers: props.approvers,
      ...(props.breakGlassRole && { breakGlassRole: props.breakGlassRole }),
    });

    this.grantWorker(props, stack, workerLogs);
    this.grantKillWorker(props);
    this.acknowledgments.apply();
  }

  /** The state machine's ARN from its fixed name: a Ref would make the worker's policy depend on it (a cycle). */
  private stateMachineArn(): string {
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: CONTROL_PLANE.restoreStateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private functionArn(name: string): string {
    return Stack.of(this).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** What the restore handlers call in the control plane, each pinned to the function that needs it. */
  private grantWorker(props: RestorePathProps, stack: Stack, logGroups: logs.LogGroup[]): void {
    const role = props.workerRole;
    const viaService = (service: string): iam.PolicyStatementProps['conditions'] => ({
      StringEquals: { 'kms:ViaService': `${service}.${stack.region}.${stack.urlSuffix}` },
    });
    const from = (...names: string[]): iam.PolicyStatementProps['conditions'] => ({
      ArnEquals: { 'lambda:SourceFunctionArn': names.map((n) => this.functionArn(n)) },
    });
    const add = (statement: iam.PolicyStatementProps, wildcardReason?: string) => {
      role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
      for (const resource of statement.resources ?? []) {
        if (!resource.includes('*')) continue;
        if (!wildcardReason)
          throw new Error(`RestorePath: statement ${statement.sid} has a wildcard without a reason`);
        this.acknowledgments.add(
          defaultPolicyOf(role, 'RestorePath'),
          wildcardResourceFinding(this, resource),
          wildcardReason,
        );
      }
    };
    const F = RESTORE_FUNCTION_NAMES;
    const restoreFunctions = [F.prepare, F.await, F.apply, F.endpoint];
    add({
      sid: 'RestoreReadWriteStateTable',
      actions: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
        'dynamodb:ConditionCheckItem',
      ],
      resources: [props.table.tableArn],
      conditions: from(...restoreFunctions),
    });
    if (props.table.encryptionKey) {
      add({
        sid: 'RestoreUseDataKeyThroughDynamoDB',
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [props.table.encryptionKey.keyArn],
        conditions: viaService('dynamodb'),
      });
    }
    const bucket = props.auditBucket;
    add(
      {
        sid: 'RestoreWriteAndReadAuditRecords',
        actions: ['s3:PutObject', 's3:GetObject'],
        resources: [bucket.arnForObjects('incidents/*')],
        conditions: from(...restoreFunctions),
      },
      "Restore records go under incidents/<incidentId>/ (the kill incident), keys named at run time; apply reads the kill's SnapshotTaken and ActorAttributed records there. The bucket policy denies every delete and every write without If-None-Match.",
    );
    add(
      {
        sid: 'RestoreReadManifestsAndPublicKey',
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects('manifests/*'), bucket.arnForObjects(`${PUBLIC_KEY_PREFIX}*`)],
        conditions: from(F.apply),
      },
      "Apply checks that the kill's SnapshotTaken records are sealed: it reads the incident's manifests (manifests/<incidentId>/) and the published public signing key (public-keys/<key id>.pem), read only.",
    );
    add({ sid: 'RestoreListAuditObjects', actions: ['s3:ListBucket'], resources: [bucket.bucketArn] });
    add({
      sid: 'RestoreEncryptAuditRecordsThroughS3',
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resources: [props.auditKey.keyArn],
      conditions: viaService('s3'),
    });
    add({
      sid: 'RestoreNotify',
      actions: ['sns:Publish'],
      resources: [props.topic.topicArn],
      conditions: from(F.await),
    });
    if (props.topic.masterKey) {
      add({
        sid: 'RestoreEncryptNotificationsThroughSns',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [props.topic.masterKey.keyArn],
        conditions: viaService('sns'),
      });
    }
    add({
      sid: 'StartRestoresFromTheEndpointOnly',
      actions: ['states:StartExecution'],
      resources: [this.stateMachineArn()],
      conditions: from(F.endpoint),
    });
    add(
      {
        sid: 'DeliverDecisionsFromTheEndpointOnly',
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: ['*'],
        conditions: from(F.endpoint),
      },
      'states:SendTaskSuccess and SendTaskFailure support no resource-level permissions (IAM accepts only *): the task token, kept in the state table, names the task. The lambda:SourceFunctionArn condition limits them to the restore endpoint.',
    );
    add(
      {
        sid: 'ReadRestoreExecutions',
        actions: ['states:DescribeExecution'],
        resources: [
          stack.formatArn({
            service: 'states',
            resource: 'execution',
            resourceName: `${CONTROL_PLANE.restoreStateMachineName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
        conditions: from(F.endpoint),
      },
      "A request reads the status of the restore execution that holds an agent's restore lock (execution names are restore ids, chosen at request time): one that ended must not block the next restore.",
    );
    add({
      sid: 'AskTheSealerToSealRefusals',
      actions: ['lambda:InvokeFunction'],
      resources: [props.sealer.function.functionArn],
      conditions: from(F.endpoint),
    });
    add(...metricsStatement('RestorePutBackstopMetrics', CONTROL_PLANE.metricsNamespace));
    add(
      ...logStreamsStatement(
        'WriteRestoreHandlerLogs',
        logGroups.map((g) => g.logGroupArn),
      ),
    );
    this.acknowledgments.add(
      defaultPolicyOf(role, 'RestorePath'),
      wildcardResourceFinding(this, '*'),
      xrayReason('the restore handlers'),
    );

    const machinePolicy = defaultPolicyOf(this.stateMachine.role, 'RestorePath');
    for (const fn of Object.values(this.functions)) {
      this.acknowledgments.add(
        machinePolicy,
        wildcardResourceFinding(this, `${fn.functionArn}:*`),
        "CDK's Lambda invoke grant names the function and its versions and aliases (<function ARN>:*): the restore state machine invokes only its own four handlers.",
      );
    }
    this.acknowledgments.add(
      machinePolicy,
      wildcardResourceFinding(this, '*'),
      'Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups...) and X-Ray tracing (xray:PutTraceSegments, GetSamplingRules...) support no resource-level permissions: IAM accepts only *.',
    );
  }

  /** Kill prepare fails the wait of a restore it cancels (a kill wins over a restore). */
  private grantKillWorker(props: RestorePathProps): void {
    props.killWorkerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CancelWaitingRestores',
        actions: ['states:SendTaskFailure'],
        resources: ['*'],
      }),
    );
    this.acknowledgments.add(
      defaultPolicyOf(props.killWorkerRole, 'RestorePath'),
      wildcardResourceFinding(this, '*'),
      'states:SendTaskFailure supports no resource-level permissions (IAM accepts only *): the task token, read from the state table, names the task. Failing a task can only end a wait: kill prepare ends the wait of a restore it cancels.',
    );
  }
}
