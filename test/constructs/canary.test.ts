/**
 * The canary as the control plane deploys it: one scheduled rehearsal per workload account and
 * region (hourly unless the config says otherwise), run as the kill worker, with its two alarms on
 * the topic; and the config field that sets the interval.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { ConfigError, DEFAULT_CANARY_INTERVAL_MINUTES, workloadTargets } from '../../lib/config';
import { configWith, synthStacks } from '../helpers/cdk';
import { ResolvedTemplate } from '../security/iam-policies';

interface Rule {
  ScheduleExpression?: string;
  Targets: { Arn: unknown; Input?: string }[];
}

function canary(config = synthStacks()) {
  const stack = config.controlPlane;
  const template = Template.fromStack(stack);
  const fnArn = stack.resolve(stack.canary.function.functionArn);
  const rules = Object.values(template.findResources('AWS::Events::Rule'))
    .map((r) => r.Properties as Rule)
    .filter((r) => JSON.stringify(r.Targets?.[0]?.Arn) === JSON.stringify(fnArn));
  return { stack, template, rules, config: config.config };
}

describe('the canary in the control plane', () => {
  const { stack, template, rules, config } = canary();

  it('rehearses every workload account and region, hourly by default', () => {
    expect(DEFAULT_CANARY_INTERVAL_MINUTES).toBe(60);
    expect(rules.map((r) => [r.ScheduleExpression, JSON.parse(r.Targets[0]?.Input ?? '{}')])).toEqual(
      workloadTargets(config).map((w) => ['rate(1 hour)', { accountId: w.accountId, region: w.region }]),
    );
  });

  it('runs as the kill worker, the only principal the kill roles trust, with the fleet compiled in', () => {
    const resolved = new ResolvedTemplate(template, 'aws', '111111111111', 'us-east-1');
    const fnId = stack.getLogicalId(stack.canary.function.node.defaultChild as never);
    expect(resolved.resolve(resolved.resource(fnId).Properties?.Role)).toBe(
      resolved.role(CONTROL_PLANE.killWorkerRoleName).arn,
    );
    expect(resolved.resource(fnId).Properties?.Timeout).toBe(900);
  });

  it('alarms to the topic when it finds a problem, and when it fails or falls silent', () => {
    const topic = JSON.parse(JSON.stringify(stack.resolve(stack.topic.topicArn)));
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    const found =
      alarms[stack.getLogicalId(stack.canary.findingsAlarm.node.defaultChild as never)]?.Properties;
    expect(found).toMatchObject({
      MetricName: 'CanaryFindings',
      Namespace: CONTROL_PLANE.metricsNamespace,
      Period: 3600,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [topic],
    });
    expect(found.AlarmDescription).toContain(
      'names each agent and the missing kill role, permission or read',
    );
    const silent =
      alarms[stack.getLogicalId(stack.canary.silentAlarm.node.defaultChild as never)]?.Properties;
    expect(silent).toMatchObject({
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'breaching',
      AlarmActions: [topic],
    });
    expect(JSON.stringify(silent.Metrics)).toContain('CanaryAgentsChecked');
  });

  it('follows the interval the config sets', () => {
    const custom = canary(synthStacks(configWith((c) => void (c.canary = { intervalMinutes: 15 }))));
    expect(custom.rules.map((r) => r.ScheduleExpression)).toEqual(
      workloadTargets(custom.config).map(() => 'rate(15 minutes)'),
    );
  });
});

describe('the canary config field', () => {
  it('is optional and additive: the sample config has none', () => {
    expect(synthStacks().config.canary).toBeUndefined();
  });

  it.each([
    [4, 'canary.intervalMinutes: must be at least 5 minutes, got 4'],
    [721, 'canary.intervalMinutes: must be at most 720 minutes'],
  ])('refuses %p, naming the field', (intervalMinutes, message) => {
    expect(() => configWith((c) => void (c.canary = { intervalMinutes }))).toThrow(ConfigError);
    expect(() => configWith((c) => void (c.canary = { intervalMinutes }))).toThrow(message);
  });
});
