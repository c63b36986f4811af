import {
  DescribeRuleCommand,
  type DescribeRuleResponse,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  ListRuleNamesByTargetCommand,
  ListRulesCommand,
  type ListRulesResponse,
  PutRuleCommand,
  type Rule,
} from '@aws-sdk/client-eventbridge';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { mockClient } from 'aws-sdk-client-mock';
import { eventBridgeRules } from '../../../lambda/surfaces/eventbridge-rules';
import { awsError, loadFixture } from '../../helpers/fixtures';
import { ACCOUNT, agent, context, taggedPage } from './support';

const events = mockClient(EventBridgeClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);

// The recordings were made in us-west-1: a default bus with rule-1, and a custom bus `my-event-bus`.
const REGION = 'us-west-1';
const WORKER = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:billing-worker`;
const ruleArn = (bus: string, name: string) =>
  `arn:aws:events:${REGION}:${ACCOUNT}:rule/${bus === 'default' ? '' : `${bus}/`}${name}`;
const RULE_1 = ruleArn('default', 'rule-1');
const MANAGED = ruleArn('default', 'SchemasDiscoveryManagedRule');
const NIGHTLY = ruleArn('my-event-bus', 'billing-nightly');
const TAGGED = ruleArn('my-event-bus', 'billing-audit-trail');

const recordedDefaultRules = loadFixture<ListRulesResponse>(
  'test_cwe_disable_rule/events.ListRules_1.json',
).Rules!;
const managedRule: Rule = {
  Name: 'SchemasDiscoveryManagedRule',
  Arn: MANAGED,
  EventPattern: '{"source":["aws.billing"]}',
  State: 'ENABLED',
  ManagedBy: 'schemas.amazonaws.com',
  EventBusName: 'default',
};
const customRules: Rule[] = [
  {
    Name: 'billing-nightly',
    Arn: NIGHTLY,
    ScheduleExpression: 'rate(1 day)',
    State: 'ENABLED',
    EventBusName: 'my-event-bus',
  },
  {
    Name: 'billing-audit-trail',
    Arn: TAGGED,
    EventPattern: '{"source":["aws.s3"],"detail-type":["AWS API Call via CloudTrail"]}',
    State: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
    Description: 'billing agent reacts to S3 API calls',
    RoleArn: `arn:aws:iam::${ACCOUNT}:role/billing-events`,
    EventBusName: 'my-event-bus',
  },
];

/** Rules as EventBridge holds them, by bus and name. */
let rules: Map<string, Rule>;
const key = (bus: string | undefined, name: string | undefined) => `${bus ?? 'default'}|${name}`;

beforeEach(() => {
  events.reset();
  tagging.reset();
  rules = new Map(
    [...recordedDefaultRules, managedRule, ...customRules].map((r) => [
      key(r.EventBusName, r.Name),
      { ...r },
    ]),
  );
  const get = (bus: string | undefined, name: string) => {
    const rule = rules.get(key(bus, name));
    if (!rule)
      throw awsError(
        'ResourceNotFoundException',
        `Rule ${name} does not exist on EventBus ${bus ?? 'default'}.`,
      );
    return rule;
  };
  const describeTemplate = loadFixture<DescribeRuleResponse>(
    'test_cwe_disable_rule/events.DescribeRule_1.json',
  );
  events
    .on(DescribeRuleCommand)
    .callsFake(({ Name, EventBusName }) => ({ ...describeTemplate, ...get(EventBusName, Name) }));
  events.on(DisableRuleCommand).callsFake(({ Name, EventBusName }) => {
    const rule = get(EventBusName, Name);
    if (rule.ManagedBy)
      throw awsError('ManagedRuleException', `Rule ${Name} is managed by ${rule.ManagedBy}.`);
    rule.State = 'DISABLED';
    return loadFixture('test_cwe_disable_rule/events.DisableRule_1.json');
  });
  events.on(EnableRuleCommand).callsFake(({ Name, EventBusName }) => {
    get(EventBusName, Name).State = 'ENABLED';
    return loadFixture('test_cwe_enable_rule/events.EnableRule_1.json');
  });
  events.on(PutRuleCommand).callsFake(({ Name, EventBusName, ...rest }) => {
    const rule = get(EventBusName, Name);
    // PutRule replaces the definition: what is not sent is lost
    rules.set(key(EventBusName, Name), { Name, Arn: rule.Arn, EventBusName: rule.EventBusName, ...rest });
    return { RuleArn: rule.Arn };
  });
  events.on(ListRulesCommand).callsFake(({ EventBusName, NextToken }) => {
    if (EventBusName === 'my-event-bus' && !NextToken) {
      return { ...loadFixture('test_cwe_disable_rule/events.ListRules_2.json'), NextToken: 'rules-2' };
    }
    const onBus = [...rules.values()].filter(
      (r) => (r.EventBusName ?? 'default') === (EventBusName ?? 'default'),
    );
    return { Rules: onBus };
  });
});

async function snapshotAll() {
  return eventBridgeRules.snapshot(context({ agent: agent({ region: REGION }) }), [
    RULE_1,
    MANAGED,
    NIGHTLY,
    TAGGED,
  ]);
}
const ctx = () => context({ agent: agent({ region: REGION, resourceArns: [WORKER] }) });

it('discovers rules on every bus that target the agent, across pages, and rules tagged for it', async () => {
  events
    .on(ListEventBusesCommand)
    .resolves(loadFixture('test_cwe_disable_rule/events.ListEventBuses_1.json'));
  events.on(ListRuleNamesByTargetCommand).callsFake(({ EventBusName, NextToken }) => {
    if (EventBusName === 'default') return { RuleNames: ['rule-1', 'SchemasDiscoveryManagedRule'] };
    return NextToken ? { RuleNames: ['billing-nightly'] } : { RuleNames: [], NextToken: 'names-2' };
  });
  tagging.on(GetResourcesCommand).resolves(taggedPage([TAGGED]));

  const ids = await eventBridgeRules.discover(ctx());

  expect(ids.sort()).toEqual([RULE_1, MANAGED, NIGHTLY, TAGGED].sort());
  const lookups = events.commandCalls(ListRuleNamesByTargetCommand).map((c) => c.args[0].input);
  expect(lookups).toEqual(
    expect.arrayContaining([
      { TargetArn: WORKER, EventBusName: 'default', NextToken: undefined },
      { TargetArn: WORKER, EventBusName: 'my-event-bus', NextToken: undefined },
      { TargetArn: WORKER, EventBusName: 'my-event-bus', NextToken: 'names-2' },
    ]),
  );
});

it('snapshots rules bus by bus with ListRules, naming the custom bus and paginating', async () => {
  const snap = await snapshotAll();

  expect(snap.map((s) => s.state)).toEqual([
    {
      arn: RULE_1,
      name: 'rule-1',
      eventBusName: 'default',
      state: 'ENABLED',
      eventPattern: recordedDefaultRules[0].EventPattern,
    },
    {
      arn: MANAGED,
      name: 'SchemasDiscoveryManagedRule',
      eventBusName: 'default',
      state: 'ENABLED',
      managedBy: 'schemas.amazonaws.com',
      eventPattern: managedRule.EventPattern,
    },
    {
      arn: NIGHTLY,
      name: 'billing-nightly',
      eventBusName: 'my-event-bus',
      state: 'ENABLED',
      scheduleExpression: 'rate(1 day)',
    },
    {
      arn: TAGGED,
      name: 'billing-audit-trail',
      eventBusName: 'my-event-bus',
      state: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
      eventPattern: customRules[1].EventPattern,
      description: customRules[1].Description,
      roleArn: customRules[1].RoleArn,
    },
  ]);
  expect(events.commandCalls(ListRulesCommand).map((c) => c.args[0].input)).toEqual(
    expect.arrayContaining([
      { EventBusName: 'my-event-bus', NextToken: undefined },
      { EventBusName: 'my-event-bus', NextToken: 'rules-2' },
      { EventBusName: 'default', NextToken: undefined },
    ]),
  );
});

it('disables the agent rules on both buses and records the managed rule as skipped, with its service', async () => {
  const result = await eventBridgeRules.contain(ctx(), 'full_stop', await snapshotAll());

  expect(events.commandCalls(DisableRuleCommand).map((c) => c.args[0].input)).toEqual([
    { Name: 'rule-1', EventBusName: 'default' },
    { Name: 'billing-nightly', EventBusName: 'my-event-bus' },
    { Name: 'billing-audit-trail', EventBusName: 'my-event-bus' },
  ]);
  expect(result.skipped).toEqual([
    { resource: MANAGED, reason: expect.stringMatching(/^managed by schemas\.amazonaws\.com/) },
  ]);
  expect(result.changes.map((c) => [c.resource, c.before])).toEqual([
    [RULE_1, { state: 'ENABLED' }],
    [NIGHTLY, { state: 'ENABLED' }],
    [TAGGED, { state: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' }],
  ]);
  expect(rules.get(key('default', 'SchemasDiscoveryManagedRule'))?.State).toBe('ENABLED');
});

it('a second contain leaves disabled rules alone (the recorded DescribeRule answer)', async () => {
  const snap = await snapshotAll();
  await eventBridgeRules.contain(ctx(), 'full_stop', snap);
  events.resetHistory();
  events
    .on(DescribeRuleCommand, { Name: 'rule-1' })
    .resolves(loadFixture('test_cwe_disable_rule/events.DescribeRule_1.json'));

  const again = await eventBridgeRules.contain(ctx(), 'full_stop', snap);

  expect(again.changes).toEqual([]);
  expect(events.commandCalls(DisableRuleCommand)).toHaveLength(0);
});

it('an AccessDenied on one rule is recorded and the others are still disabled', async () => {
  const snap = await snapshotAll();
  events
    .on(DisableRuleCommand, { Name: 'billing-nightly' })
    .rejects(awsError('AccessDeniedException', 'User is not authorized to perform: events:DisableRule', 400));

  const result = await eventBridgeRules.contain(ctx(), 'full_stop', snap);

  expect(result.failures).toEqual([
    {
      resource: NIGHTLY,
      action: 'DisableRule',
      error: 'AccessDeniedException',
      message: expect.stringContaining('events:DisableRule'),
    },
  ]);
  expect(rules.get(key('default', 'rule-1'))?.State).toBe('DISABLED');
  expect(rules.get(key('my-event-bus', 'billing-audit-trail'))?.State).toBe('DISABLED');
});

it('verify reports a rule the agent re-enabled, and ignores the managed one', async () => {
  const snap = await snapshotAll();
  await eventBridgeRules.contain(ctx(), 'full_stop', snap);
  expect(await eventBridgeRules.verify(ctx(), 'full_stop', snap)).toEqual({
    pending: [],
    drifted: [],
    failures: [],
  });
  rules.get(key('my-event-bus', 'billing-nightly'))!.State = 'ENABLED';

  const result = await eventBridgeRules.verify(ctx(), 'full_stop', snap);

  expect(result.drifted).toEqual([
    { resource: NIGHTLY, expected: { state: 'DISABLED' }, actual: { state: 'ENABLED' } },
  ]);
});

it('restore enables what was enabled and puts back the CloudTrail-management state with the full definition', async () => {
  const snap = await snapshotAll();
  await eventBridgeRules.contain(ctx(), 'full_stop', snap);
  events.resetHistory();

  const result = await eventBridgeRules.restore(ctx(), 'normal', snap);

  expect(events.commandCalls(EnableRuleCommand).map((c) => c.args[0].input)).toEqual([
    { Name: 'rule-1', EventBusName: 'default' },
    { Name: 'billing-nightly', EventBusName: 'my-event-bus' },
  ]);
  expect(events.commandCalls(PutRuleCommand).map((c) => c.args[0].input)).toEqual([
    {
      Name: 'billing-audit-trail',
      EventBusName: 'my-event-bus',
      State: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
      EventPattern: customRules[1].EventPattern,
      ScheduleExpression: undefined,
      Description: customRules[1].Description,
      RoleArn: customRules[1].RoleArn,
    },
  ]);
  for (const original of [...recordedDefaultRules, managedRule, ...customRules]) {
    expect(rules.get(key(original.EventBusName, original.Name))).toEqual(
      expect.objectContaining({ State: original.State }),
    );
  }
  expect(rules.get(key('my-event-bus', 'billing-audit-trail'))).toEqual(customRules[1]);
  expect(result.failures).toEqual([]);
});
