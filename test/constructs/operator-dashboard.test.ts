/**
 * The operator's dashboard as CloudFormation deploys it: the body resolved with the stack's names,
 * each widget found by its title, and the metrics it charts read back from the body.
 */
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { OPERATOR_DASHBOARD_NAME } from '../../lib/constructs/operator-dashboard';
import { synthStacks } from '../helpers/cdk';
import { ResolvedTemplate } from '../security/iam-policies';

const CP = '111111111111';
const REGION = 'us-east-1';
const NS = CONTROL_PLANE.metricsNamespace;

interface Widget {
  readonly type: string;
  readonly properties: {
    readonly title?: string;
    readonly markdown?: string;
    readonly metrics?: unknown[][];
    readonly alarms?: string[];
  };
}

const synth = synthStacks();
const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
const dashboards = template.find('AWS::CloudWatch::Dashboard');
const body = JSON.parse(template.resolve<string>(dashboards[0]?.[1].Properties?.DashboardBody)) as {
  widgets: Widget[];
};
const deployed = (value: string) => template.resolve<string>(synth.controlPlane.resolve(value));

function widget(title: string): Widget {
  const found = body.widgets.filter((w) => w.properties.title === title);
  if (found.length !== 1) throw new Error(`expected one widget "${title}", found ${found.length}`);
  return found[0] as Widget;
}

/** Each charted metric as `namespace metric [dimension=value...] stat`. */
function charted(title: string): string[] {
  return (widget(title).properties.metrics ?? []).map((m) => {
    const options = (typeof m[m.length - 1] === 'object' ? m[m.length - 1] : {}) as { stat?: string };
    const names = m.filter((x) => typeof x === 'string') as string[];
    const [namespace, name, ...dims] = names;
    const pairs: string[] = [];
    for (let i = 0; i < dims.length; i += 2) pairs.push(`${dims[i]}=${dims[i + 1]}`);
    return [namespace, name, ...pairs, options.stat ?? 'Average'].join(' ');
  });
}

describe('the operator dashboard', () => {
  it('is one dashboard with the fixed name the README links to', () => {
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]?.[1].Properties?.DashboardName).toBe(OPERATOR_DASHBOARD_NAME);
  });

  it('charts kills started (the kill state machine’s executions) and contained, partial, failed', () => {
    const machine = deployed(synth.controlPlane.killPath.stateMachine.stateMachineArn);
    expect(charted('Kills started and how they ended')).toEqual([
      `AWS/States ExecutionsStarted StateMachineArn=${machine} Sum`,
      `${NS} Kills Status=CONTAINED Sum`,
      `${NS} Kills Status=PARTIAL Sum`,
      `${NS} Kills Status=FAILED Sum`,
    ]);
  });

  it('charts time to authority cut and time to contain', () => {
    expect(charted('Time to authority cut and to contain (ms)')).toEqual([
      `${NS} TimeToAuthorityCut p50`,
      `${NS} TimeToAuthorityCut Maximum`,
      `${NS} TimeToContain p50`,
      `${NS} TimeToContain Maximum`,
    ]);
  });

  it('charts restores pending and completed, and audit write failures', () => {
    expect(charted('Restores pending and completed')).toEqual([
      `${NS} RestoresPending Maximum`,
      `${NS} RestoresCompleted Sum`,
      `${NS} TimeToRestore Maximum`,
    ]);
    expect(charted('Audit write failures')).toEqual([`${NS} AuditWriteFailures Sum`]);
  });

  it('shows the canary: its findings, the agents it checked, and its alarms', () => {
    expect(charted('Canary: what would stop a kill')).toEqual([
      `${NS} CanaryFindings Sum`,
      `${NS} CanaryAgentsChecked Sum`,
    ]);
    const alarms = widget('Alarms').properties.alarms ?? [];
    const canary = synth.controlPlane.canary;
    expect(alarms).toEqual(
      expect.arrayContaining([canary.findingsAlarm, canary.silentAlarm].map((a) => deployed(a.alarmArn))),
    );
  });

  it('shows the state of every kill path and trigger alarm', () => {
    const cp = synth.controlPlane;
    const expected = [
      cp.killPath.notContainedAlarm,
      cp.killPath.executionFailedAlarm,
      cp.killPath.auditFailureAlarm,
      ...(cp.alarmTrigger ? [cp.alarmTrigger.undeliveredAlarm] : []),
    ].map((a) => deployed(a.alarmArn));
    expect(widget('Alarms').properties.alarms).toEqual(expect.arrayContaining(expected));
  });
});
