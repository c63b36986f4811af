import {
  DescribeNetworkInterfacesCommand,
  ModifyNetworkInterfaceAttributeCommand,
} from '@aws-sdk/client-ec2';
import {
  DeleteFunctionConcurrencyCommand,
  GetEventSourceMappingCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  ListEventSourceMappingsCommand,
  PutFunctionConcurrencyCommand,
  ResourceConflictException,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateEventSourceMappingCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { createClientFactory } from '../../../lambda/shared/clients';
import { ManualClock, type SimulatorOptions } from '../../../lib/local/simulator';
import { agentRole, REGION, rejection, WL, type World, world } from './helpers';

const ZIP = { ZipFile: new Uint8Array([0x50, 0x4b, 3, 4]) };
const VPC = 'vpc-0a1b2c3d4e5f60718';

async function withFunction(
  options: SimulatorOptions = {},
): Promise<World & { role: string; mappings: string[] }> {
  const w = await world(options);
  const role = await agentRole(w, 'agent-worker');
  const api = w.sim.as(WL, REGION);
  await api.lambda.CreateFunction({
    FunctionName: 'agent-fn',
    Role: role,
    Runtime: 'nodejs22.x',
    Handler: 'index.handler',
    Code: ZIP,
    Tags: { 'backstop:agent': 'research-bot' },
  });
  const mappings: string[] = [];
  for (const queue of ['tasks', 'retries']) {
    const m = await api.lambda.CreateEventSourceMapping({
      FunctionName: 'agent-fn',
      EventSourceArn: `arn:aws:sqs:${REGION}:${WL}:${queue}`,
    });
    mappings.push(m.UUID!);
  }
  return { ...w, role, mappings };
}

async function stateOf(w: World, uuid: string): Promise<string | undefined> {
  return (await w.workload.lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }))).State;
}

describe('event source mappings change state asynchronously', () => {
  test('seeded mappings start Enabled', async () => {
    const w = await withFunction();
    expect(await stateOf(w, w.mappings[0])).toBe('Enabled');
  });

  test('disabling answers 202 Disabling, the next read still shows Disabling, then Disabled', async () => {
    const w = await withFunction();
    const out = await w.workload.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: w.mappings[0], Enabled: false }),
    );
    expect(out.$metadata.httpStatusCode).toBe(202);
    expect(out.State).toBe('Disabling');
    expect(await stateOf(w, w.mappings[0])).toBe('Disabling');
    expect(await stateOf(w, w.mappings[0])).toBe('Disabled');
    expect(await stateOf(w, w.mappings[1])).toBe('Enabled');
  });

  test('an update while the mapping is Disabling answers ResourceInUseException and changes nothing', async () => {
    const w = await withFunction({ esmSettleReads: 3 });
    await w.workload.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: w.mappings[0], Enabled: false }),
    );
    const error = await rejection(
      w.workload.lambda.send(new UpdateEventSourceMappingCommand({ UUID: w.mappings[0], Enabled: true })),
    );
    expect(error).toBeInstanceOf(ResourceInUseException);
    expect(w.sim.lambda.mappingState(w.mappings[0])).toBe('Disabling');
  });

  test('a stuck mapping stays Disabling however often it is read', async () => {
    const w = await withFunction();
    w.sim.lambda.stickMapping(w.mappings[1]);
    await w.workload.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: w.mappings[1], Enabled: false }),
    );
    for (let i = 0; i < 5; i++) expect(await stateOf(w, w.mappings[1])).toBe('Disabling');
    const listed = await w.workload.lambda.send(
      new ListEventSourceMappingsCommand({ FunctionName: 'agent-fn' }),
    );
    expect(listed.EventSourceMappings?.map((m) => m.State)).toEqual(['Enabled', 'Disabling']);
    w.sim.lambda.unstickMapping(w.mappings[1]);
    expect(await stateOf(w, w.mappings[1])).toBe('Disabled');
  });

  test('with esmSettleMs, mappings settle when the simulator clock passes the delay', async () => {
    const clock = new ManualClock();
    const w = await withFunction({ clock, esmSettleMs: 2000 });
    await w.workload.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: w.mappings[0], Enabled: false }),
    );
    for (let i = 0; i < 3; i++) expect(await stateOf(w, w.mappings[0])).toBe('Disabling');
    await clock.advance(2000);
    expect(await stateOf(w, w.mappings[0])).toBe('Disabled');
  });

  test('an agent fighting back re-enables its mapping with its own credentials', async () => {
    const w = await withFunction({ esmSettleReads: 0 });
    await w.workload.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: w.mappings[0], Enabled: false }),
    );
    expect(await stateOf(w, w.mappings[0])).toBe('Disabled');
    const agent = createClientFactory({ region: REGION, plugins: [w.sim.plugin()] }).workload(
      REGION,
      w.sim.credentialsFor(w.role, { sessionName: 'agent' }),
    );
    const out = await agent.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: w.mappings[0], Enabled: true }),
    );
    expect(out.State).toBe('Enabling');
    expect(await stateOf(w, w.mappings[0])).toBe('Enabled');
    expect(w.sim.calls.at(-2)).toMatchObject({
      action: 'UpdateEventSourceMapping',
      caller: `arn:aws:sts::${WL}:assumed-role/agent-worker/agent`,
    });
  });

  test('ListEventSourceMappings filters by function name or ARN and pages with Marker', async () => {
    const w = await withFunction({ pageSize: 2 });
    const api = w.sim.as(WL, REGION);
    for (const q of ['a', 'b', 'c']) {
      await api.lambda.CreateEventSourceMapping({
        FunctionName: 'agent-fn',
        EventSourceArn: `arn:aws:sqs:${REGION}:${WL}:${q}`,
      });
    }
    const collect = async (FunctionName: string) => {
      const uuids: string[] = [];
      let Marker: string | undefined;
      let pages = 0;
      do {
        const page = await w.workload.lambda.send(
          new ListEventSourceMappingsCommand({ FunctionName, Marker }),
        );
        uuids.push(...(page.EventSourceMappings ?? []).map((m) => m.UUID!));
        Marker = page.NextMarker;
        pages++;
      } while (Marker);
      return { uuids, pages };
    };
    const byName = await collect('agent-fn');
    expect(byName.uuids).toHaveLength(5);
    expect(byName.pages).toBe(3);
    const byArn = await collect(`arn:aws:lambda:${REGION}:${WL}:function:agent-fn`);
    expect(byArn.uuids).toEqual(byName.uuids);
    const unknown = await rejection(
      w.workload.lambda.send(new ListEventSourceMappingsCommand({ FunctionName: 'nope' })),
    );
    expect(unknown).toBeInstanceOf(ResourceNotFoundException);
  });
});

describe('function concurrency and configuration', () => {
  test('reserved concurrency 0 is kept and shown by GetFunction; deleting it removes the limit', async () => {
    const w = await withFunction();
    const put = await w.workload.lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: 'agent-fn', ReservedConcurrentExecutions: 0 }),
    );
    expect(put.ReservedConcurrentExecutions).toBe(0);
    const fn = await w.workload.lambda.send(new GetFunctionCommand({ FunctionName: 'agent-fn' }));
    expect(fn.Concurrency).toEqual({ ReservedConcurrentExecutions: 0 });
    expect(fn.Tags).toEqual({ 'backstop:agent': 'research-bot' });
    const deleted = await w.workload.lambda.send(
      new DeleteFunctionConcurrencyCommand({ FunctionName: 'agent-fn' }),
    );
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    const after = await w.workload.lambda.send(
      new GetFunctionConcurrencyCommand({ FunctionName: 'agent-fn' }),
    );
    expect(after.ReservedConcurrentExecutions).toBeUndefined();
  });

  test('reserving more than the account can spare is refused', async () => {
    const w = await withFunction();
    const error = await rejection(
      w.workload.lambda.send(
        new PutFunctionConcurrencyCommand({ FunctionName: 'agent-fn', ReservedConcurrentExecutions: 950 }),
      ),
    );
    expect(error.name).toBe('InvalidParameterValueException');
    expect(w.sim.lambda.reservedConcurrency(WL, REGION, 'agent-fn')).toBeUndefined();
  });

  test("a VPC function's requester-managed interfaces follow its VpcConfig; EC2 refuses to change them directly", async () => {
    const w = await withFunction();
    const api = w.sim.as(WL, REGION);
    const subnet = (await api.ec2.CreateSubnet({ VpcId: VPC, CidrBlock: '10.0.2.0/24' })).Subnet!.SubnetId!;
    const app = (await api.ec2.CreateSecurityGroup({ GroupName: 'app', Description: 'app', VpcId: VPC }))
      .GroupId!;
    await api.lambda.CreateFunction({
      FunctionName: 'vpc-fn',
      Role: w.role,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Code: ZIP,
      VpcConfig: { SubnetIds: [subnet], SecurityGroupIds: [app] },
    });
    const enis = await w.workload.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: 'description', Values: ['AWS Lambda VPC ENI-vpc-fn-*'] }],
      }),
    );
    const eni = enis.NetworkInterfaces![0];
    expect(eni).toMatchObject({
      RequesterManaged: true,
      InterfaceType: 'lambda',
      Groups: [{ GroupId: app, GroupName: 'app' }],
    });

    const refused = await rejection(
      w.workload.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni.NetworkInterfaceId,
          Groups: [w.wl.isolationGroups[VPC].closed],
        }),
      ),
    );
    expect(refused.name).toBe('OperationNotPermitted');

    const closed = w.wl.isolationGroups[VPC].closed;
    const updated = await w.workload.lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'vpc-fn',
        VpcConfig: { SubnetIds: [subnet], SecurityGroupIds: [closed] },
      }),
    );
    expect(updated.VpcConfig).toMatchObject({ SecurityGroupIds: [closed], VpcId: VPC });
    expect(w.sim.ec2.interfaceGroups(WL, REGION, eni.NetworkInterfaceId!)).toEqual([closed]);
  });

  test('a group from another VPC is refused by UpdateFunctionConfiguration', async () => {
    const w = await withFunction();
    const api = w.sim.as(WL, REGION);
    const subnet = (await api.ec2.CreateSubnet({ VpcId: VPC, CidrBlock: '10.0.3.0/24' })).Subnet!.SubnetId!;
    const other = (await api.ec2.CreateVpc({ CidrBlock: '10.9.0.0/16' })).Vpc!.VpcId!;
    const foreign = (await api.ec2.CreateSecurityGroup({ GroupName: 'x', Description: 'x', VpcId: other }))
      .GroupId!;
    const error = await rejection(
      w.workload.lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: 'agent-fn',
          VpcConfig: { SubnetIds: [subnet], SecurityGroupIds: [foreign] },
        }),
      ),
    );
    expect(error.name).toBe('InvalidParameterValueException');
    expect(error.message).toContain('InvalidGroup.NotFound');
    expect(w.sim.lambda.functionSecurityGroups(WL, REGION, 'agent-fn')).toBeUndefined();
  });

  test('with functionUpdateSettleReads, a second update during InProgress answers ResourceConflictException', async () => {
    const w = await withFunction({ functionUpdateSettleReads: 1 });
    const first = await w.workload.lambda.send(
      new UpdateFunctionConfigurationCommand({ FunctionName: 'agent-fn', Timeout: 30 }),
    );
    expect(first.LastUpdateStatus).toBe('InProgress');
    const error = await rejection(
      w.workload.lambda.send(
        new UpdateFunctionConfigurationCommand({ FunctionName: 'agent-fn', Timeout: 60 }),
      ),
    );
    expect(error).toBeInstanceOf(ResourceConflictException);
    expect(
      (await w.workload.lambda.send(new GetFunctionCommand({ FunctionName: 'agent-fn' }))).Configuration
        ?.LastUpdateStatus,
    ).toBe('InProgress');
    const settled = await w.workload.lambda.send(new GetFunctionCommand({ FunctionName: 'agent-fn' }));
    expect(settled.Configuration).toMatchObject({ LastUpdateStatus: 'Successful', Timeout: 30 });
  });

  test('an unknown function answers ResourceNotFoundException with its ARN', async () => {
    const w = await withFunction();
    const error = await rejection(w.workload.lambda.send(new GetFunctionCommand({ FunctionName: 'ghost' })));
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error.$metadata?.httpStatusCode).toBe(404);
    expect(error.message).toBe(`Function not found: arn:aws:lambda:${REGION}:${WL}:function:ghost`);
  });
});
