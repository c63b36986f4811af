import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import {
  DescribeRuleCommand,
  DisableRuleCommand,
  ResourceNotFoundException as EventsNotFound,
  ListEventBusesCommand,
  ListRuleNamesByTargetCommand,
  ListRulesCommand,
  ListTagsForResourceCommand as ListRuleTagsCommand,
  ManagedRuleException,
} from '@aws-sdk/client-eventbridge';
import { GetResourcesCommand } from '@aws-sdk/client-resource-groups-tagging-api';
import {
  GetScheduleCommand,
  ListSchedulesCommand,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { AGENT, agentRole, REGION, rejection, WL, type World, world } from './helpers';

const VPC = 'vpc-0a1b2c3d4e5f60718';
const FN = `arn:aws:lambda:${REGION}:${WL}:function:agent-fn`;
const TAG = [{ Key: 'backstop:agent', Value: AGENT }];

async function seeded(options = {}): Promise<World> {
  const w = await world(options);
  const api = w.sim.as(WL, REGION);
  const role = await agentRole(w, 'agent-role');
  await api.lambda.CreateFunction({
    FunctionName: 'agent-fn',
    Role: role,
    Runtime: 'nodejs22.x',
    Handler: 'i.h',
    Code: { ZipFile: new Uint8Array([1]) },
    Tags: { 'backstop:agent': AGENT },
  });
  await api.events.CreateEventBus({ Name: 'agent-bus' });
  await api.events.PutRule({ Name: 'nightly', ScheduleExpression: 'rate(1 day)', Tags: TAG });
  await api.events.PutTargets({ Rule: 'nightly', Targets: [{ Id: 'fn', Arn: FN }] });
  await api.events.PutRule({
    Name: 'on-task',
    EventBusName: 'agent-bus',
    EventPattern: '{"source":["agent"]}',
  });
  await api.events.PutTargets({
    Rule: 'on-task',
    EventBusName: 'agent-bus',
    Targets: [{ Id: 'fn', Arn: FN }],
  });
  w.sim.events.seedManagedRule(WL, REGION, {
    name: 'Managed-By-Scheduler',
    managedBy: 'scheduler.amazonaws.com',
    eventPattern: '{"source":["x"]}',
    targets: [{ Id: 't', Arn: FN }],
  });
  await api.scheduler.CreateScheduleGroup({ Name: 'agent-jobs', Tags: TAG });
  for (const [GroupName, Name] of [
    ['default', 'hourly'],
    ['agent-jobs', 'poll'],
    ['agent-jobs', 'report'],
  ]) {
    await api.scheduler.CreateSchedule({
      Name,
      GroupName,
      ScheduleExpression: 'rate(1 hour)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: FN, RoleArn: role },
    });
  }
  return w;
}

describe('EventBridge', () => {
  test('rules live on their bus: ListRules without a bus shows the default bus only', async () => {
    const w = await seeded();
    const buses = await w.workload.events.send(new ListEventBusesCommand({}));
    expect(buses.EventBuses?.map((b) => b.Name)).toEqual(['agent-bus', 'default']);
    const onDefault = await w.workload.events.send(new ListRulesCommand({}));
    expect(onDefault.Rules?.map((r) => r.Name)).toEqual(['Managed-By-Scheduler', 'nightly']);
    const onCustom = await w.workload.events.send(new ListRulesCommand({ EventBusName: 'agent-bus' }));
    expect(onCustom.Rules).toEqual([
      expect.objectContaining({
        Name: 'on-task',
        EventBusName: 'agent-bus',
        Arn: `arn:aws:events:${REGION}:${WL}:rule/agent-bus/on-task`,
        State: 'ENABLED',
      }),
    ]);
    const byTarget = await w.workload.events.send(
      new ListRuleNamesByTargetCommand({ TargetArn: FN, EventBusName: 'agent-bus' }),
    );
    expect(byTarget.RuleNames).toEqual(['on-task']);
    const tags = await w.workload.events.send(
      new ListRuleTagsCommand({ ResourceARN: `arn:aws:events:${REGION}:${WL}:rule/nightly` }),
    );
    expect(tags.Tags).toEqual(TAG);
  });

  test('disabling a rule sticks; a managed rule refuses with ManagedRuleException and stays enabled', async () => {
    const w = await seeded();
    await w.workload.events.send(new DisableRuleCommand({ Name: 'on-task', EventBusName: 'agent-bus' }));
    expect(
      (await w.workload.events.send(new DescribeRuleCommand({ Name: 'on-task', EventBusName: 'agent-bus' })))
        .State,
    ).toBe('DISABLED');
    const managed = await rejection(
      w.workload.events.send(new DisableRuleCommand({ Name: 'Managed-By-Scheduler' })),
    );
    expect(managed).toBeInstanceOf(ManagedRuleException);
    expect(w.sim.events.ruleState(WL, REGION, 'Managed-By-Scheduler')).toBe('ENABLED');
    const missing = await rejection(w.workload.events.send(new DisableRuleCommand({ Name: 'on-task' })));
    expect(missing).toBeInstanceOf(EventsNotFound);
    expect(missing.message).toBe('Rule on-task does not exist on EventBus default.');
  });
});

describe('EventBridge Scheduler', () => {
  test('ListSchedules pages across groups with NextToken', async () => {
    const w = await seeded({ pageSize: 2 });
    const names: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await w.workload.scheduler.send(new ListSchedulesCommand({ NextToken }));
      names.push(...(page.Schedules ?? []).map((s) => `${s.GroupName}/${s.Name}`));
      NextToken = page.NextToken;
    } while (NextToken);
    expect(names).toEqual(['agent-jobs/poll', 'agent-jobs/report', 'default/hourly']);
  });

  test('UpdateSchedule replaces the schedule and refuses a request without the required members', async () => {
    const w = await seeded();
    const current = await w.workload.scheduler.send(
      new GetScheduleCommand({ Name: 'poll', GroupName: 'agent-jobs' }),
    );
    const missing = await rejection(
      w.workload.scheduler.send(
        new UpdateScheduleCommand({
          Name: 'poll',
          GroupName: 'agent-jobs',
          ScheduleExpression: current.ScheduleExpression,
          Target: current.Target,
          State: 'DISABLED',
        } as never),
      ),
    );
    expect(missing).toBeInstanceOf(ValidationException);
    expect(missing.message).toMatch(/flexibleTimeWindow/);
    expect(w.sim.scheduler.scheduleState(WL, REGION, 'poll', 'agent-jobs')).toBe('ENABLED');
    await w.workload.scheduler.send(
      new UpdateScheduleCommand({
        Name: 'poll',
        GroupName: 'agent-jobs',
        ScheduleExpression: current.ScheduleExpression,
        FlexibleTimeWindow: current.FlexibleTimeWindow,
        Target: current.Target,
        State: 'DISABLED',
      }),
    );
    const after = await w.workload.scheduler.send(
      new GetScheduleCommand({ Name: 'poll', GroupName: 'agent-jobs' }),
    );
    expect(after).toMatchObject({
      State: 'DISABLED',
      Target: current.Target,
      ScheduleExpression: 'rate(1 hour)',
    });
  });
});

describe('Step Functions', () => {
  test('a started execution stays RUNNING until stopped; stopping it is recorded as ABORTED', async () => {
    const w = await seeded();
    const api = w.sim.as(WL, REGION);
    const machine = (
      await api.states.CreateStateMachine({
        name: 'agent-loop',
        roleArn: `arn:aws:iam::${WL}:role/agent-role`,
        definition: JSON.stringify({
          StartAt: 'Loop',
          States: { Loop: { Type: 'Wait', Seconds: 60, Next: 'Loop' } },
        }),
        tags: [{ key: 'backstop:agent', value: AGENT }],
      })
    ).stateMachineArn!;
    const started = await w.workload.sfn.send(
      new StartExecutionCommand({ stateMachineArn: machine, name: 'run-1', input: '{}' }),
    );
    const running = await w.workload.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: machine, statusFilter: 'RUNNING' }),
    );
    expect(running.executions?.map((e) => e.executionArn)).toEqual([started.executionArn]);
    await w.workload.sfn.send(
      new StopExecutionCommand({
        executionArn: started.executionArn,
        error: 'Backstop.Killed',
        cause: 'incident i-1',
      }),
    );
    const described = await w.workload.sfn.send(
      new DescribeExecutionCommand({ executionArn: started.executionArn }),
    );
    expect(described).toMatchObject({ status: 'ABORTED', error: 'Backstop.Killed', cause: 'incident i-1' });
    expect(described.stopDate).toBeInstanceOf(Date);
    const none = await w.workload.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: machine, statusFilter: 'RUNNING' }),
    );
    expect(none.executions).toEqual([]);
    const unknown = await rejection(
      w.workload.sfn.send(
        new StopExecutionCommand({ executionArn: `${machine.replace('stateMachine', 'execution')}:nope` }),
      ),
    );
    expect(unknown).toBeInstanceOf(ExecutionDoesNotExist);
  });
});

describe('EC2 network interfaces and the two-step isolation', () => {
  test('interfaces are found by tag, VPC and requester-managed filters, and moved open then closed', async () => {
    const w = await seeded();
    const api = w.sim.as(WL, REGION);
    const subnet = (await api.ec2.CreateSubnet({ VpcId: VPC, CidrBlock: '10.0.1.0/24' })).Subnet!.SubnetId!;
    const app = (await api.ec2.CreateSecurityGroup({ GroupName: 'app', Description: 'app', VpcId: VPC }))
      .GroupId!;
    const eni = (
      await api.ec2.CreateNetworkInterface({
        SubnetId: subnet,
        Groups: [app],
        TagSpecifications: [{ ResourceType: 'network-interface', Tags: TAG }],
      })
    ).NetworkInterface!.NetworkInterfaceId!;
    await api.ec2.CreateNetworkInterface({ SubnetId: subnet });
    const found = await w.workload.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: `tag:backstop:agent`, Values: [AGENT] },
          { Name: 'vpc-id', Values: [VPC] },
          { Name: 'requester-managed', Values: ['false'] },
        ],
      }),
    );
    expect(found.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).toEqual([eni]);
    const isolation = await w.workload.ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [VPC] },
          { Name: 'tag:backstop:isolation', Values: ['open', 'closed'] },
        ],
      }),
    );
    expect(isolation.SecurityGroups?.map((g) => g.GroupId).sort()).toEqual(
      [w.wl.isolationGroups[VPC].open, w.wl.isolationGroups[VPC].closed].sort(),
    );
    const closedGroup = isolation.SecurityGroups!.find(
      (g) => g.GroupId === w.wl.isolationGroups[VPC].closed,
    )!;
    expect(closedGroup.IpPermissions).toEqual([]);
    expect(closedGroup.IpPermissionsEgress?.map((p) => p.IpProtocol)).toEqual(['icmp']);

    for (const step of ['open', 'closed'] as const) {
      await w.workload.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni,
          Groups: [w.wl.isolationGroups[VPC][step]],
        }),
      );
      expect(w.sim.ec2.interfaceGroups(WL, REGION, eni)).toEqual([w.wl.isolationGroups[VPC][step]]);
    }
  });

  test('a group that does not exist or sits in another VPC is refused with InvalidGroup.NotFound', async () => {
    const w = await seeded();
    const api = w.sim.as(WL, REGION);
    const subnet = (await api.ec2.CreateSubnet({ VpcId: VPC, CidrBlock: '10.0.1.0/24' })).Subnet!.SubnetId!;
    const eni = (await api.ec2.CreateNetworkInterface({ SubnetId: subnet })).NetworkInterface!
      .NetworkInterfaceId!;
    const before = w.sim.ec2.interfaceGroups(WL, REGION, eni);
    const other = (await api.ec2.CreateVpc({ CidrBlock: '10.8.0.0/16' })).Vpc!.VpcId!;
    const foreign = (await api.ec2.CreateSecurityGroup({ GroupName: 'f', Description: 'f', VpcId: other }))
      .GroupId!;
    for (const group of ['sg-0123456789abcdef0', foreign]) {
      const error = await rejection(
        w.workload.ec2.send(
          new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Groups: [group] }),
        ),
      );
      expect(error.name).toBe('InvalidGroup.NotFound');
    }
    expect(w.sim.ec2.interfaceGroups(WL, REGION, eni)).toEqual(before);
    const noEni = await rejection(
      w.workload.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: 'eni-0123456789abcdef0',
          Groups: [foreign],
        }),
      ),
    );
    expect(noEni.name).toBe('InvalidNetworkInterfaceID.NotFound');
  });
});

describe('Resource Groups Tagging API', () => {
  test('GetResources finds tagged resources by tag and type, pages, and ends with an empty token', async () => {
    const w = await seeded({ pageSize: 2 });
    w.sim.tag.seedTaggedResource(`arn:aws:sqs:${REGION}:${WL}:agent-tasks`, { 'backstop:agent': AGENT });
    w.sim.tag.seedTaggedResource(`arn:aws:sqs:${REGION}:${WL}:other`, { team: 'x' });
    const all: string[] = [];
    let PaginationToken: string | undefined;
    let pages = 0;
    do {
      const page = await w.workload.tagging.send(
        new GetResourcesCommand({
          TagFilters: [{ Key: 'backstop:agent', Values: [AGENT] }],
          PaginationToken,
        }),
      );
      all.push(...(page.ResourceTagMappingList ?? []).map((r) => r.ResourceARN!));
      PaginationToken = page.PaginationToken;
      pages++;
    } while (PaginationToken);
    expect(pages).toBe(2);
    expect(all).toEqual([
      `arn:aws:events:${REGION}:${WL}:rule/nightly`,
      FN,
      `arn:aws:scheduler:${REGION}:${WL}:schedule-group/agent-jobs`,
      `arn:aws:sqs:${REGION}:${WL}:agent-tasks`,
    ]);
    const typed = await w.workload.tagging.send(
      new GetResourcesCommand({
        TagFilters: [{ Key: 'backstop:agent' }],
        ResourceTypeFilters: ['lambda:function', 'sqs'],
      }),
    );
    expect(typed.ResourceTagMappingList?.map((r) => r.ResourceARN)).toEqual([
      FN,
      `arn:aws:sqs:${REGION}:${WL}:agent-tasks`,
    ]);
    expect(typed.PaginationToken).toBe('');
  });
});

describe('notifications and metrics', () => {
  test('published messages and metric data are kept for inspection; AWS/ namespaces are refused', async () => {
    const w = await world();
    const cp = w.factory.controlPlane();
    await cp.sns.send(
      new PublishCommand({
        TopicArn: w.cp.topicArn,
        Subject: 'Kill CONTAINED',
        Message: '{"status":"CONTAINED"}',
      }),
    );
    expect(w.sim.sns.published(w.cp.topicArn)).toEqual([
      expect.objectContaining({
        subject: 'Kill CONTAINED',
        message: '{"status":"CONTAINED"}',
        publisherArn: expect.stringContaining('backstop-kill-worker'),
      }),
    ]);
    const noTopic = await rejection(
      cp.sns.send(new PublishCommand({ TopicArn: `${w.cp.topicArn}-x`, Message: 'x' })),
    );
    expect(noTopic.name).toBe('NotFoundException');

    await cp.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'Backstop',
        MetricData: [
          {
            MetricName: 'TimeToContain',
            Value: 4.2,
            Unit: 'Seconds',
            Dimensions: [{ Name: 'Agent', Value: AGENT }],
          },
        ],
      }),
    );
    expect(w.sim.cloudwatch.metrics({ metricName: 'TimeToContain' })).toEqual([
      expect.objectContaining({
        namespace: 'Backstop',
        value: 4.2,
        unit: 'Seconds',
        dimensions: { Agent: AGENT },
      }),
    ]);
    const reserved = await rejection(
      cp.cloudwatch.send(
        new PutMetricDataCommand({ Namespace: 'AWS/Lambda', MetricData: [{ MetricName: 'x', Value: 1 }] }),
      ),
    );
    expect(reserved.name).toBe('InvalidParameterValueException');
    expect(w.sim.cloudwatch.metrics()).toHaveLength(1);
  });
});
