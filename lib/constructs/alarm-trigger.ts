import * as path from 'node:path';
import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import { TRIGGER_ENV } from '../../lambda/alarm-trigger/trigger';
import { CONTROL_PLANE, IAM_PATH } from '../../lambda/shared/naming';
import type { KillMode } from '../../lambda/shared/types';
import { wildcardResourceFinding } from './policy-builder';

/** One alarm that starts a kill of one agent. */
export interface AlarmTriggerMapping {
  readonly agentId: string;
  readonly accountId: string;
  readonly region: string;
  readonly alarmName: string;
  readonly mode: KillMode;
}

export interface AlarmTriggerProps {
  /** The Backstop bus, where the workload accounts forward their agents' alarm state changes. */
  readonly eventBus: events.IEventBus;
  readonly stateMachine: sfn.IStateMachine;
  readonly mappings: readonly AlarmTriggerMapping[];
  /** Where a person hears that an alarm could not start its kill. */
  readonly topic: sns.ITopic;
  /** The state table: the trigger reads the agent's control flag before it starts a kill. */
  readonly table: dynamodb.ITable;
}

/** Fixed name of the trigger's role (its identity in CloudTrail). */
export const ALARM_TRIGGER_ROLE_NAME = 'backstop-alarm-trigger';

const ENTRY = path.join(__dirname, '..', '..', 'lambda', 'alarm-trigger', 'index.ts');

/**
 * Starts the kill path when a mapped agent alarm goes to ALARM: one rule per alarm, matched on
 * the account, region and name the alarm really has, so an alarm of the same name elsewhere
 * starts nothing. Each rule hands a small trigger function the agent and mode (the rule's own
 * constants) and the alarm's name, state and time; the trigger starts the kill under an execution
 * name derived from the agent, the mode and its flag's version, so an alarm storm starts one kill
 * (Step Functions never starts a name twice), and an agent already held at the mode starts
 * nothing. An alarm returning to OK matches no rule: only a person restores.
 */
export class AlarmTrigger extends Construct {
  readonly rules: events.Rule[] = [];
  readonly function: lambda.IFunction;
  readonly role: iam.Role;
  /** Alarm events whose kill could not be started after every retry: never dropped silently. */
  readonly deadLetterQueue: sqs.Queue;
  readonly undeliveredAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AlarmTriggerProps) {
    super(scope, id);
    if (props.mappings.length === 0) throw new Error('AlarmTrigger: mappings must name at least one alarm');
    this.deadLetterQueue = new sqs.Queue(this, 'Undelivered', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue.node.defaultChild as IConstruct).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the alarm trigger rules and function; nothing consumes it automatically.',
    });
    this.undeliveredAlarm = new cloudwatch.Alarm(this, 'KillTriggerUndelivered', {
      alarmDescription:
        'An agent alarm fired but Backstop could not start the kill: start it by hand (backstop kill) and read the event in the dead-letter queue.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.undeliveredAlarm.addAlarmAction(new actions.SnsAction(props.topic));

    this.role = new iam.Role(this, 'Role', {
      roleName: ALARM_TRIGGER_ROLE_NAME,
      path: IAM_PATH,
      description: 'Backstop alarm trigger: reads an agent flag and starts the kill path, nothing else',
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: ENTRY,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role: this.role,
      timeout: Duration.seconds(30),
      memorySize: 256,
      logGroup,
      environment: {
        [TRIGGER_ENV.tableName]: props.table.tableName,
        [TRIGGER_ENV.stateMachineArn]: props.stateMachine.stateMachineArn,
        AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      },
      // An invocation that still fails after Lambda's retries lands in the dead-letter queue.
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      bundling: { minify: true, sourceMap: true, target: 'node24', externalModules: [] },
    });
    this.function = fn;
    this.grant(props, logGroup);

    props.mappings.forEach((m, i) => {
      const rule = new events.Rule(this, `Trigger${i}`, {
        eventBus: props.eventBus,
        description: `Backstop: alarm ${m.alarmName} (${m.accountId}/${m.region}) starts a ${m.mode} kill of ${m.agentId}`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          account: [m.accountId],
          region: [m.region],
          detail: { alarmName: [m.alarmName], state: { value: ['ALARM'] } },
        },
      });
      rule.addTarget(
        new targets.LambdaFunction(fn, {
          event: events.RuleTargetInput.fromObject({
            agentId: m.agentId,
            mode: m.mode,
            alarmName: m.alarmName,
            accountId: m.accountId,
            region: m.region,
            time: events.EventField.time,
            state: events.EventField.fromPath('$.detail.state.value'),
          }),
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: this.deadLetterQueue,
        }),
      );
      this.rules.push(rule);
    });
  }

  /** Exactly what the trigger calls: the flag item's table, the kill state machine, its own logs. */
  private grant(props: AlarmTriggerProps, logGroup: logs.LogGroup): void {
    const stack = Stack.of(this);
    const add = (statement: iam.PolicyStatementProps) =>
      this.role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    add({ sid: 'ReadAgentFlags', actions: ['dynamodb:GetItem'], resources: [props.table.tableArn] });
    if (props.table.encryptionKey) {
      add({
        sid: 'DecryptTheTableThroughDynamoDB',
        actions: ['kms:Decrypt'],
        resources: [props.table.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.${stack.urlSuffix}` } },
      });
    }
    add({
      sid: 'StartKills',
      actions: ['states:StartExecution'],
      resources: [props.stateMachine.stateMachineArn],
    });
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      // The kill state machine has a fixed name (the CLI and the break-glass role name it too).
      resourceName: `${CONTROL_PLANE.killStateMachineName}:alarm-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    add({ sid: 'ReadAlarmKills', actions: ['states:DescribeExecution'], resources: [executions] });
    const logStreams = `${logGroup.logGroupArn}:*`;
    add({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logStreams],
    });
    const policy = this.role.node.tryFindChild('DefaultPolicy') as IConstruct;
    for (const [resource, reason] of [
      [
        executions,
        'The trigger reads only the alarm kills it may have started (execution names alarm-<agent>-<mode>-v<flag version>), to tell a running kill from one that ended; their names are chosen at run time.',
      ],
      [
        logStreams,
        'Log streams are created by Lambda at run time under the trigger’s own log group (log-stream ARNs end in :*); no other log group is reachable.',
      ],
    ] as const) {
      Validations.of(policy).acknowledge({ id: wildcardResourceFinding(this, resource), reason });
    }
  }
}
