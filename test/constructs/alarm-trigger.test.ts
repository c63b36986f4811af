import { Template } from 'aws-cdk-lib/assertions';
import { type AlarmTriggerEvent, killRequestFor } from '../../lambda/alarm-trigger/trigger';
import { validateKillRequest } from '../../lambda/shared/request';
import { toDirectory } from '../../lib/config';
import { synthStacks } from '../helpers/cdk';

interface RuleProps {
  EventBusName: unknown;
  EventPattern: {
    account: string[];
    region: string[];
    detail: { alarmName: string[]; state: { value: string[] } };
  };
  Targets: {
    Arn: unknown;
    DeadLetterConfig?: unknown;
    InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
  }[];
}

/**
 * EventBridge's input transformer, for the paths the trigger uses (`$.a.b`): a placeholder inside
 * a JSON string is replaced by the value's text, one outside by the value as JSON.
 */
function transform(
  t: RuleProps['Targets'][number]['InputTransformer'],
  event: Record<string, unknown>,
): unknown {
  const value = (name: string) =>
    (t.InputPathsMap[name] ?? '')
      .replace(/^\$\./, '')
      .split('.')
      .reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], event);
  const text = t.InputTemplate.split('"')
    .map((part, i) =>
      part.replace(/<([\w-]+)>/g, (_, name: string) =>
        i % 2 === 1 ? String(value(name)) : JSON.stringify(value(name)),
      ),
    )
    .join('"');
  return JSON.parse(text);
}

describe('AlarmTrigger', () => {
  const s = synthStacks();
  const template = Template.fromStack(s.controlPlane);
  const rules = Object.values(template.findResources('AWS::Events::Rule')).map(
    (r) => r.Properties as RuleProps,
  );
  const triggers = rules.filter((r) => r.EventPattern?.detail?.state?.value?.includes('ALARM'));

  it('has one rule per configured alarm, on the Backstop bus, matching that alarm in its own account and region', () => {
    const expected = s.config.agents.flatMap((a) =>
      a.alarms.map((al) => [a.accountId, a.region, al.alarmName]),
    );
    expect(
      triggers
        .map((r) => [r.EventPattern.account[0], r.EventPattern.region[0], r.EventPattern.detail.alarmName[0]])
        .sort(),
    ).toEqual(expected.sort());
    for (const r of triggers) {
      expect(s.controlPlane.resolve(r.EventBusName)).toEqual(
        s.controlPlane.resolve(s.controlPlane.eventBus.eventBusName),
      );
      expect(r.Targets[0]?.Arn).toEqual(
        s.controlPlane.resolve(s.controlPlane.alarmTrigger?.function.functionArn),
      );
      expect(r.Targets[0]?.DeadLetterConfig).toBeDefined();
    }
  });

  it('turns the alarm event into the trigger’s input, and that into a kill request the kill path accepts', () => {
    const directory = toDirectory(s.config);
    for (const agent of s.config.agents) {
      for (const alarm of agent.alarms) {
        const rule = triggers.find((r) => r.EventPattern.detail.alarmName[0] === alarm.alarmName);
        const input = transform(rule?.Targets[0]?.InputTransformer as never, {
          time: '2026-11-22T01:00:00Z',
          account: agent.accountId,
          region: agent.region,
          detail: { alarmName: alarm.alarmName, state: { value: 'ALARM' } },
        });
        expect(input).toEqual({
          agentId: agent.id,
          mode: alarm.mode,
          alarmName: alarm.alarmName,
          accountId: agent.accountId,
          region: agent.region,
          time: '2026-11-22T01:00:00Z',
          state: 'ALARM',
        });
        const request = killRequestFor(input as AlarmTriggerEvent);
        const checked = validateKillRequest(request, directory, 'alarm-execution');
        expect(checked).toEqual({
          ok: true,
          kill: expect.objectContaining({
            mode: alarm.mode,
            agents: [expect.objectContaining({ agentId: agent.id })],
            reason: `CloudWatch alarm ${alarm.alarmName} in ${agent.accountId}/${agent.region} went to ALARM at 2026-11-22T01:00:00Z`,
          }),
        });
      }
    }
  });
});
