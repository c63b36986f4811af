import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { IAM_PATH } from '../../lambda/shared/naming';

/** Name of the forwarding rule in every workload account and region (the control plane's bus policy names it). */
export const ALARM_FORWARDER_RULE_NAME = 'backstop-alarm-forwarder';
/** Prefix of every Backstop rule in a workload account: agents and execution roles may not touch them. */
export const BACKSTOP_RULE_PREFIX = 'backstop-';

export interface AlarmForwarderProps {
  /** Alarm names in this account and region whose state changes start kills. */
  readonly alarmNames: readonly string[];
  /** The Backstop event bus in the control plane account. */
  readonly controlPlaneBus: events.IEventBus;
}

/**
 * Forwards the state changes of the configured CloudWatch alarms to the Backstop event bus in
 * the control plane account, through a role (on Backstop's path, which the agent boundary
 * protects) that may only put events on that bus.
 */
export class AlarmForwarder extends Construct {
  readonly rule: events.Rule;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: AlarmForwarderProps) {
    super(scope, id);
    if (props.alarmNames.length === 0) {
      throw new Error('AlarmForwarder: alarmNames must name at least one alarm');
    }
    this.rule = new events.Rule(this, 'Rule', {
      ruleName: ALARM_FORWARDER_RULE_NAME,
      description: 'Backstop: forwards agent alarm state changes to the control plane',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [...props.alarmNames] },
      },
    });
    this.role = new iam.Role(this, 'Role', {
      path: IAM_PATH,
      description: 'Backstop alarm forwarder: puts alarm state changes on the control plane bus',
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        // Built from the fixed name, not the rule's attribute: the rule's target already refers to this role.
        ArnEquals: {
          'aws:SourceArn': Stack.of(this).formatArn({
            service: 'events',
            resource: 'rule',
            resourceName: ALARM_FORWARDER_RULE_NAME,
          }),
        },
      }),
    });
    this.rule.addTarget(new targets.EventBus(props.controlPlaneBus, { role: this.role }));
  }
}
