import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PublishCommand } from '@aws-sdk/client-sns';
import { errorMessage, errorName } from '../shared/aws-errors';
import type { WorkloadTarget } from '../shared/types';
import { type CanaryDeps, type CanaryReport, runCanary } from './canary';

/** The canary's metrics, in the Backstop namespace (the dashboard and the canary alarms read them). */
export const CANARY_METRICS = { findings: 'CanaryFindings', agentsChecked: 'CanaryAgentsChecked' } as const;

/** What each scheduled rule sends: the workload account and region to rehearse. */
export interface CanaryEvent {
  readonly accountId: string;
  readonly region: string;
}

export interface CanaryHandlerDeps extends CanaryDeps {
  readonly topicArn: string;
  readonly metricsNamespace: string;
}

/** Findings listed in one notification; the rest are counted. */
const NOTIFIED = 50;

function targetOf(event: CanaryEvent, deps: CanaryDeps): WorkloadTarget {
  const target = deps.directory.workloads.find(
    (w) => w.accountId === event?.accountId && w.region === event?.region,
  );
  if (!target) {
    throw new Error(
      `canary: ${JSON.stringify(event?.accountId)}/${JSON.stringify(event?.region)} is not a workload account and region of the directory`,
    );
  }
  return target;
}

/**
 * The scheduled canary of one workload account and region: rehearse, publish the finding count
 * (the canary alarms read it; no data at all means the canary itself did not run), and notify
 * the topic with every finding, naming the agent and what is missing.
 */
export async function handle(event: CanaryEvent, deps: CanaryHandlerDeps): Promise<CanaryReport> {
  const report = await runCanary(targetOf(event, deps), deps);
  for (const f of report.findings) deps.log.error('canary finding', { ...f });
  deps.log.info('canary done', {
    accountId: report.accountId,
    region: report.region,
    agents: report.agents.length,
    checks: report.checks,
    findings: report.findings.length,
  });
  const dimensions = [
    { Name: 'AccountId', Value: report.accountId },
    { Name: 'Region', Value: report.region },
  ];
  const at = new Date(report.checkedAt);
  try {
    await deps.clients.controlPlane().cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: deps.metricsNamespace,
        MetricData: [
          {
            MetricName: CANARY_METRICS.findings,
            Value: report.findings.length,
            Unit: 'Count',
            Timestamp: at,
          },
          {
            MetricName: CANARY_METRICS.findings,
            Value: report.findings.length,
            Unit: 'Count',
            Timestamp: at,
            Dimensions: dimensions,
          },
          {
            MetricName: CANARY_METRICS.agentsChecked,
            Value: report.agents.length,
            Unit: 'Count',
            Timestamp: at,
          },
        ],
      }),
    );
  } catch (e) {
    deps.log.error('canary metrics not written', { error: errorName(e), message: errorMessage(e) });
  }
  if (report.findings.length > 0) {
    const lines = report.findings.slice(0, NOTIFIED).map((f) => `- ${f.message}`);
    if (report.findings.length > NOTIFIED)
      lines.push(`- and ${report.findings.length - NOTIFIED} more in the canary's log`);
    try {
      await deps.clients.controlPlane().sns.send(
        new PublishCommand({
          TopicArn: deps.topicArn,
          Subject:
            `Backstop canary: ${report.findings.length} problem(s) in ${report.accountId}/${report.region}`.slice(
              0,
              100,
            ),
          Message: [
            `The Backstop canary rehearsed a kill in ${report.accountId}/${report.region} at ${report.checkedAt} and found what would stop a real one:`,
            ...lines,
            'Reproduce it with `backstop canary --local`; fix each problem before an incident needs the kill.',
          ].join('\n'),
        }),
      );
    } catch (e) {
      deps.log.error('canary notification not sent', { error: errorName(e), message: errorMessage(e) });
    }
  }
  return report;
}
