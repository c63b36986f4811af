import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, type IConstruct } from 'constructs';
import { CANARY_METRICS } from '../../lambda/canary/handler';
import { ENV } from '../../lambda/shared/env';
import type { Directory } from '../../lambda/shared/types';
import { wildcardResourceFinding } from './policy-builder';
import { handlerBundling } from './directory-bundle';

export interface CanaryProps {
  /** The fleet: compiled into the handler's bundle, as the kill path's handlers have it. */
  readonly directory: Directory;
  /** `backstop-kill-worker`: the only principal the kill execution roles trust. */
  readonly workerRole: iam.IRole;
  /** Where the canary's findings and alarms go. */
  readonly topic: sns.ITopic;
  /** Minutes between two rehearsals (5 to 720). */
  readonly intervalMinutes: number;
  /** Namespace of Backstop's metrics. */
  readonly namespace: string;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

const ENTRY = path.join(__dirname, '..', '..', 'lambda', 'canary', 'index.ts');

/**
 * The canary: on a schedule, one rehearsal per workload account and region, run as the kill
 * worker. Each assumes the kill role as a kill does, discovers every declared agent's surfaces and
 * has IAM simulate what a kill needs on the deployed role; what would make a kill PARTIAL or FAILED
 * goes to the topic (naming the agent and the missing role, permission or read) and raises
 * `findingsAlarm`. `silentAlarm` fires when the canary itself fails or stops reporting.
 */
export class Canary extends Construct {
  readonly function: lambda.IFunction;
  readonly logGroup: logs.LogGroup;
  readonly rules: events.Rule[] = [];
  readonly findingsAlarm: cloudwatch.Alarm;
  readonly silentAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CanaryProps) {
    super(scope, id);
    const minutes = props.intervalMinutes;
    if (!Number.isInteger(minutes) || minutes < 5 || minutes > 720) {
      throw new Error(`Canary: intervalMinutes must be a whole number from 5 to 720, got ${minutes}`);
    }
    if (props.directory.workloads.length === 0)
      throw new Error('Canary: the directory declares no workload account');
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.logGroup = logGroup;
    const fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: ENTRY,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role: props.workerRole,
      timeout: Duration.minutes(15),
      memorySize: 1024,
      logGroup,
      environment: {
        [ENV.topicArn]: props.topic.topicArn,
        [ENV.metricsNamespace]: props.namespace,
        AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      },
      // A failed rehearsal is not retried: the next one comes at the next interval, and the
      // silence alarm tells a person in between.
      retryAttempts: 0,
      bundling: handlerBundling(this, props.directory),
    });
    this.function = fn;

    const logStreams = `${logGroup.logGroupArn}:*`;
    const stack = Stack.of(this);
    const statements = [
      new iam.PolicyStatement({
        sid: 'WriteCanaryLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logStreams],
      }),
      // The canary's findings go to the topic (Finalize publishes as the audit sealer, not as this role).
      new iam.PolicyStatement({
        sid: 'PublishCanaryFindings',
        actions: ['sns:Publish'],
        resources: [props.topic.topicArn],
      }),
      ...(props.topic.masterKey
        ? [
            new iam.PolicyStatement({
              sid: 'EncryptCanaryFindingsThroughSns',
              actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
              resources: [props.topic.masterKey.keyArn],
              conditions: { StringEquals: { 'kms:ViaService': `sns.${stack.region}.${stack.urlSuffix}` } },
            }),
          ]
        : []),
    ];
    for (const statement of statements) {
      if (!props.workerRole.addToPrincipalPolicy(statement).statementAdded) {
        throw new Error(`Canary: the worker role ${props.workerRole.node.path} takes no policy statements`);
      }
    }
    const workerPolicy = props.workerRole.node.tryFindChild('DefaultPolicy') as IConstruct | undefined;
    if (workerPolicy) {
      Validations.of(workerPolicy).acknowledge({
        id: wildcardResourceFinding(this, logStreams),
        reason:
          "Log streams are created by Lambda at run time under the canary's own log group (log-stream ARNs end in :*); no other log group is reachable.",
      });
    }

    for (const w of props.directory.workloads) {
      const rule = new events.Rule(this, `Rehearse-${w.accountId}-${w.region}`, {
        description: `Backstop canary: rehearse a kill in ${w.accountId}/${w.region} every ${minutes} minutes`,
        schedule: events.Schedule.rate(Duration.minutes(minutes)),
      });
      rule.addTarget(
        new targets.LambdaFunction(fn, {
          event: events.RuleTargetInput.fromObject({ accountId: w.accountId, region: w.region }),
          retryAttempts: 2,
          maxEventAge: Duration.minutes(Math.min(minutes, 60)),
        }),
      );
      this.rules.push(rule);
    }

    const period = Duration.minutes(minutes);
    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: props.namespace, metricName, statistic, period });
    this.findingsAlarm = new cloudwatch.Alarm(this, 'CanaryFoundProblem', {
      alarmDescription:
        'The Backstop canary found what would make a real kill PARTIAL or FAILED. The notification on the Backstop topic names each agent and the missing kill role, permission or read; reproduce it with `backstop canary --local` and fix it before an incident needs the kill.',
      metric: metric(CANARY_METRICS.findings, 'Maximum'),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.silentAlarm = new cloudwatch.Alarm(this, 'CanarySilent', {
      alarmDescription:
        'The Backstop canary failed or has not reported for two intervals: nothing proves the kill switch works. Read the canary function’s log.',
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(errors, 0) + IF(FILL(runs, 0) < 1, 1, 0)',
        usingMetrics: {
          errors: fn.metricErrors({ period, statistic: 'Sum' }),
          runs: metric(CANARY_METRICS.agentsChecked, 'SampleCount'),
        },
        period,
      }),
      threshold: 1,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const notify = new actions.SnsAction(props.topic);
    for (const alarm of [this.findingsAlarm, this.silentAlarm]) alarm.addAlarmAction(notify);
  }
}
