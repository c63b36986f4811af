import { CfnResource } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { CONTROL_PLANE } from '../../lambda/shared/naming';

/** A workload account and region whose alarm forwarder may put events on the bus. */
export interface AlarmSource {
  readonly accountId: string;
  readonly region: string;
}

export interface BackstopEventBusProps {
  /** Partition of the ARNs the bus policy names. */
  readonly partition: string;
  /** Workload accounts and regions that forward alarm state changes to this bus. @default - none */
  readonly alarmSources?: readonly AlarmSource[];
  /** Name of the forwarding rule in each workload account and region. */
  readonly forwarderRuleName: string;
  /** Organization the forwarding accounts belong to. @default - no organization condition */
  readonly organizationId?: string;
}

/**
 * The Backstop event bus. Alarm state changes arrive here from the workload accounts; its policy
 * admits them only when they come through Backstop's own forwarding rule (`aws:SourceArn`), so a
 * principal in a workload account cannot put events on it directly.
 */
export class BackstopEventBus extends Construct {
  readonly eventBus: events.EventBus;

  constructor(scope: Construct, id: string, props: BackstopEventBusProps) {
    super(scope, id);
    this.eventBus = new events.EventBus(this, 'Bus', { eventBusName: CONTROL_PLANE.eventBusName });

    const sources = props.alarmSources ?? [];
    if (sources.length > 0) {
      const accounts = [...new Set(sources.map((s) => s.accountId))];
      // A raw AWS::Events::EventBusPolicy: both the L2 helper and the generated CfnEventBusPolicy
      // class go through its deprecated `principal` property, which prints a warning on every synth.
      new CfnResource(this, 'AlarmForwardingPolicy', {
        type: 'AWS::Events::EventBusPolicy',
        properties: {
          EventBusName: this.eventBus.eventBusName,
          StatementId: 'AllowAlarmForwardingFromWorkloadAccounts',
          Statement: new iam.PolicyStatement({
            principals: accounts.map((account) => new iam.AccountPrincipal(account)),
            actions: ['events:PutEvents'],
            resources: [this.eventBus.eventBusArn],
            conditions: {
              ArnEquals: {
                'aws:SourceArn': sources.map(
                  (s) =>
                    `arn:${props.partition}:events:${s.region}:${s.accountId}:rule/${props.forwarderRuleName}`,
                ),
              },
              ...(props.organizationId
                ? { StringEquals: { 'aws:PrincipalOrgID': props.organizationId } }
                : {}),
            },
          }).toStatementJson(),
        },
      });
    }
  }
}
