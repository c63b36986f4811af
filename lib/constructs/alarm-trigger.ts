import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import type { KillMode } from '../../lambda/shared/types';

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
}

/**
 * Starts the kill path when a mapped agent alarm goes to ALARM: one rule per alarm, matched on
 * the account, region and name the alarm really has, so an alarm of the same name elsewhere
 * starts nothing. An alarm storm starts several executions; the per-agent lock makes all but the
 * first join it instead of racing it.
 */
export class AlarmTrigger extends Construct {
  readonly rules: events.Rule[] = [];
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
        'This queue is itself the dead-letter queue of the alarm trigger rules; nothing consumes it automatically.',
    });
    this.undeliveredAlarm = new cloudwatch.Alarm(this, 'KillTriggerUndelivered', {
      alarmDescription:
        'An agent alarm fired but EventBridge could not start the Backstop kill: start it by hand (backstop kill) and read the event in the dead-letter queue.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.undeliveredAlarm.addAlarmAction(new actions.SnsAction(props.topic));
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
        new targets.SfnStateMachine(props.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            agentId: m.agentId,
            mode: m.mode,
            reason: `CloudWatch alarm ${m.alarmName} in ${m.accountId}/${m.region} went to ALARM at ${events.EventField.time}`,
          }),
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: this.deadLetterQueue,
        }),
      );
      this.rules.push(rule);
    });
  }
}
