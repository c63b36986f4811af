import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** Fixed name, so that the README and the runbook can link to it. */
export const OPERATOR_DASHBOARD_NAME = 'backstop';

/**
 * The metrics the dashboard charts, by who publishes them in the Backstop namespace:
 * - kill path (lambda/kill-finalize, lambda/shared/kill-io.ts): `Kills` (dimension `Status`),
 *   `TimeToContain`, `TimeToAuthorityCut`, `AuditWriteFailures`;
 * - restore path (lambda/restore-finalize): `RestoresPending`, `RestoresCompleted`, `TimeToRestore`;
 * - canary (lambda/canary): `CanaryFindings`, `CanaryAgentsChecked`.
 */
export const DASHBOARD_METRICS = {
  kills: 'Kills',
  timeToContain: 'TimeToContain',
  timeToAuthorityCut: 'TimeToAuthorityCut',
  auditWriteFailures: 'AuditWriteFailures',
  restoresPending: 'RestoresPending',
  restoresCompleted: 'RestoresCompleted',
  timeToRestore: 'TimeToRestore',
  canaryFindings: 'CanaryFindings',
  canaryAgentsChecked: 'CanaryAgentsChecked',
} as const;

export interface OperatorDashboardProps {
  /** The kill path's state machine (its started executions are the kills started). */
  readonly killStateMachine: sfn.IStateMachine;
  /** Namespace of Backstop's own metrics. */
  readonly namespace: string;
  /** Alarms of the kill path and the alarm trigger, shown by state. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /** The canary's alarms, shown by state next to its findings. @default - none */
  readonly canaryAlarms?: readonly cloudwatch.IAlarm[];
  /** @default OPERATOR_DASHBOARD_NAME */
  readonly dashboardName?: string;
}

/**
 * The operator's view in the control plane: what kills started and how they ended, how fast
 * authority was cut and the kill contained, restores waiting and done, audit records that could
 * not be written, and whether the canary still proves the switch works.
 */
export class OperatorDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperatorDashboardProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const metric = (
      metricName: string,
      statistic: string,
      label: string,
      dimensionsMap?: Record<string, string>,
    ) =>
      new cloudwatch.Metric({
        namespace: props.namespace,
        metricName,
        statistic,
        label,
        period,
        dimensionsMap,
      });
    const kills = (status: string) =>
      metric(DASHBOARD_METRICS.kills, 'Sum', status.toLowerCase(), { Status: status });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? OPERATOR_DASHBOARD_NAME,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '# Backstop\nKills, restores, the audit log and the canary. A red alarm below names what to do in its description; the runbook is the README\'s "Kill an agent" section.',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: [...props.alarms, ...(props.canaryAlarms ?? [])],
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Kills started and how they ended',
        left: [
          props.killStateMachine.metricStarted({ period, statistic: 'Sum', label: 'started' }),
          kills('CONTAINED'),
          kills('PARTIAL'),
          kills('FAILED'),
        ],
        width: 12,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Time to authority cut and to contain (ms)',
        left: [
          metric(DASHBOARD_METRICS.timeToAuthorityCut, 'p50', 'authority cut p50'),
          metric(DASHBOARD_METRICS.timeToAuthorityCut, 'Maximum', 'authority cut max'),
          metric(DASHBOARD_METRICS.timeToContain, 'p50', 'contain p50'),
          metric(DASHBOARD_METRICS.timeToContain, 'Maximum', 'contain max'),
        ],
        width: 12,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Restores pending and completed',
        left: [
          metric(DASHBOARD_METRICS.restoresPending, 'Maximum', 'pending'),
          metric(DASHBOARD_METRICS.restoresCompleted, 'Sum', 'completed'),
        ],
        right: [metric(DASHBOARD_METRICS.timeToRestore, 'Maximum', 'time to restore after quorum (ms)')],
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Audit write failures',
        left: [metric(DASHBOARD_METRICS.auditWriteFailures, 'Sum', 'records not written to the bucket')],
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Canary: what would stop a kill',
        left: [metric(DASHBOARD_METRICS.canaryFindings, 'Sum', 'findings')],
        right: [metric(DASHBOARD_METRICS.canaryAgentsChecked, 'Sum', 'agents checked')],
        width: 8,
        height: 6,
      }),
    );
  }
}
