import {
  DescribeNetworkInterfacesCommand,
  type DescribeNetworkInterfacesResult,
  DescribeSecurityGroupsCommand,
  type DescribeSecurityGroupsResult,
  EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import {
  type FunctionConfiguration,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { mockClient } from 'aws-sdk-client-mock';
import { network, requesterManagedOwner } from '../../../lambda/surfaces/network';
import { awsError, loadFixture } from '../../helpers/fixtures';
import { ACCOUNT, context, taggedPage } from './support';

const ec2 = mockClient(EC2Client);
const lambda = mockClient(LambdaClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);

const eniArn = (id: string) => `arn:aws:ec2:us-east-1:${ACCOUNT}:network-interface/${id}`;
const fn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`;

// Recorded: an instance ENI in the `web-tier` group, later seen in `quarantine-group` (our closed group).
const recordedEni = loadFixture<DescribeNetworkInterfacesResult>(
  'test_network_interface_filter/ec2.DescribeNetworkInterfaces_1.json',
).NetworkInterfaces![0];
const quarantined = loadFixture<DescribeNetworkInterfacesResult>(
  'test_network_interface_filter/ec2.DescribeNetworkInterfaces_2.json',
).NetworkInterfaces![0];
const INSTANCE_ENI = recordedEni.NetworkInterfaceId!;
const WEB_TIER = recordedEni.Groups![0].GroupId!;
const CLOSED = quarantined.Groups![0].GroupId!;
const OPEN = 'sg-0a11c0ffee0000001';
// Recorded: a function in a VPC (its UpdateFunctionConfiguration answer is the function's configuration).
const recordedFunction = loadFixture<FunctionConfiguration>(
  'test_lambda_remove_matched_security_groups/lambda.UpdateFunctionConfiguration_1.json',
);
const WORKER = fn('billing-worker');
const FN_VPC = recordedFunction.VpcConfig!.VpcId!;
const FN_OPEN = 'sg-0a11c0ffee0000002';
const FN_CLOSED = 'sg-0a11c0ffee0000003';
// Requester-managed interfaces have no recording: typed from the recorded ENI's members.
const LAMBDA_ENI = 'eni-0lambda000000001';
const ECS_ENI = 'eni-0ecs00000000001';

let enis: Map<string, NetworkInterface>;
/** Interfaces tagged backstop:agent=billing-agent (EC2 filters on the tag). */
let taggedEnis: Set<string>;
let functions: Map<string, FunctionConfiguration>;
let isolationGroups: { vpc: string; id: string; name: string; value: 'open' | 'closed' }[];

beforeEach(() => {
  ec2.reset();
  lambda.reset();
  tagging.reset();
  enis = new Map([
    [INSTANCE_ENI, structuredClone(recordedEni)],
    [
      LAMBDA_ENI,
      {
        ...structuredClone(recordedEni),
        NetworkInterfaceId: LAMBDA_ENI,
        VpcId: FN_VPC,
        SubnetId: recordedFunction.VpcConfig!.SubnetIds![0],
        Groups: recordedFunction.VpcConfig!.SecurityGroupIds!.map((GroupId) => ({ GroupId })),
        RequesterManaged: true,
        InterfaceType: 'lambda',
        Description: 'AWS Lambda VPC ENI-billing-worker',
        RequesterId: 'AROAXXXXXXXXXXXXXXXXX:billing-worker',
      },
    ],
    [
      ECS_ENI,
      {
        ...structuredClone(recordedEni),
        NetworkInterfaceId: ECS_ENI,
        RequesterManaged: true,
        InterfaceType: 'interface',
        Description: `arn:aws:ecs:us-east-1:${ACCOUNT}:attachment/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`,
        RequesterId: '578734482556',
      },
    ],
  ]);
  functions = new Map([
    [WORKER, { ...structuredClone(recordedFunction), FunctionArn: WORKER, FunctionName: 'billing-worker' }],
  ]);
  isolationGroups = [
    { vpc: recordedEni.VpcId!, id: OPEN, name: 'backstop-isolation-open', value: 'open' },
    { vpc: recordedEni.VpcId!, id: CLOSED, name: 'quarantine-group', value: 'closed' },
    { vpc: FN_VPC, id: FN_OPEN, name: 'backstop-isolation-open', value: 'open' },
    { vpc: FN_VPC, id: FN_CLOSED, name: 'backstop-isolation-closed', value: 'closed' },
  ];

  taggedEnis = new Set();
  ec2.on(DescribeNetworkInterfacesCommand).callsFake(({ NetworkInterfaceIds, Filters }) => {
    const tag = (Filters ?? []).find((f: { Name: string }) => f.Name === 'tag:backstop:agent');
    if (tag) {
      expect(tag.Values).toEqual(['billing-agent']);
      return { NetworkInterfaces: [...taggedEnis].map((id) => structuredClone(enis.get(id))) };
    }
    const eni = enis.get(NetworkInterfaceIds[0]);
    if (!eni)
      throw awsError(
        'InvalidNetworkInterfaceID.NotFound',
        `The networkInterface ID '${NetworkInterfaceIds[0]}' does not exist`,
      );
    return { NetworkInterfaces: [structuredClone(eni)] };
  });
  ec2.on(ModifyNetworkInterfaceAttributeCommand).callsFake(({ NetworkInterfaceId, Groups }) => {
    const eni = enis.get(NetworkInterfaceId)!;
    if (eni.RequesterManaged)
      throw awsError('OperationNotPermitted', `You do not have permission to modify ${NetworkInterfaceId}`);
    eni.Groups = Groups.map((GroupId: string) => ({ GroupId }));
    return loadFixture('test_network_interface_filter/ec2.ModifyNetworkInterfaceAttribute_1.json');
  });
  const template = loadFixture<DescribeSecurityGroupsResult>(
    'test_ec2_modify_groups_action/ec2.DescribeSecurityGroups_1.json',
  ).SecurityGroups![0];
  ec2.on(DescribeSecurityGroupsCommand).callsFake(({ Filters }) => {
    const vpc = Filters.find((f: { Name: string }) => f.Name === 'vpc-id').Values[0];
    const groups = isolationGroups
      .filter((g) => g.vpc === vpc)
      .map((g) => ({
        ...template,
        GroupId: g.id,
        GroupName: g.name,
        VpcId: g.vpc,
        IpPermissions: [],
        IpPermissionsEgress: [],
        Tags: [{ Key: 'backstop:isolation', Value: g.value }],
      }));
    return { SecurityGroups: groups };
  });
  lambda.on(GetFunctionConfigurationCommand).callsFake(({ FunctionName }) => {
    const cfg = functions.get(FunctionName);
    if (!cfg) throw awsError('ResourceNotFoundException', `Function not found: ${FunctionName}`, 404);
    return structuredClone(cfg);
  });
  // The kill reads with GetFunction, outside Lambda's 15/s control plane quota.
  lambda.on(GetFunctionCommand).callsFake(({ FunctionName }) => {
    const cfg = functions.get(FunctionName);
    if (!cfg) throw awsError('ResourceNotFoundException', `Function not found: ${FunctionName}`, 404);
    return { Configuration: structuredClone(cfg) };
  });
  lambda.on(UpdateFunctionConfigurationCommand).callsFake(({ FunctionName, VpcConfig }) => {
    const cfg = functions.get(FunctionName)!;
    cfg.VpcConfig = { ...VpcConfig, VpcId: cfg.VpcConfig?.VpcId };
    return structuredClone(cfg);
  });
});

const ALL = [eniArn(INSTANCE_ENI), eniArn(LAMBDA_ENI), eniArn(ECS_ENI), WORKER];
const groupIds = (id: string) => enis.get(id)!.Groups!.map((g) => g.GroupId);

it('names the owner of a requester-managed interface and how to isolate it', () => {
  expect(requesterManagedOwner({ interfaceType: 'lambda' }).owner).toBe('Lambda');
  expect(requesterManagedOwner({ description: `arn:aws:ecs:us-east-1:${ACCOUNT}:attachment/x` })).toEqual({
    owner: 'ECS',
    how: expect.stringContaining('ECS service'),
  });
  expect(requesterManagedOwner({ interfaceType: 'vpc_endpoint' }).owner).toBe('vpc_endpoint');
  expect(requesterManagedOwner({ interfaceType: 'interface', requesterId: 'amazon-elb' }).owner).toBe(
    'amazon-elb',
  );
});

it('discovers tagged interfaces and the agent functions that run in a VPC', async () => {
  tagging.on(GetResourcesCommand).resolves(taggedPage([WORKER, fn('no-vpc'), eniArn(INSTANCE_ENI)]));
  taggedEnis.add(INSTANCE_ENI);
  functions.set(fn('no-vpc'), loadFixture('test_mu_sqs_subscriber/lambda.GetFunctionConfiguration_1.json'));
  const ctx = context();

  expect(await network.discover(ctx)).toEqual([eniArn(INSTANCE_ENI), WORKER]);
  // EC2 describes the tagged interfaces in the same call that finds them, and Lambda the
  // functions' VpcConfig in GetFunction: the snapshot of the same invocation reads neither again.
  ec2.resetHistory();
  lambda.resetHistory();
  const snap = await network.snapshot(ctx, [eniArn(INSTANCE_ENI), WORKER]);
  expect(snap.map((s) => s.state.vpcId)).toEqual(['vpc-c3c27aba', 'vpc-3d05f145']);
  expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(0);
  expect(lambda.calls()).toHaveLength(0);
  expect(lambda.commandCalls(GetFunctionConfigurationCommand)).toHaveLength(0);
});

it('snapshots each interface group list and each function VpcConfig', async () => {
  const snap = await network.snapshot(context(), [eniArn(INSTANCE_ENI), WORKER]);

  expect(snap.map((s) => s.state)).toEqual([
    {
      kind: 'network-interface',
      networkInterfaceArn: eniArn(INSTANCE_ENI),
      networkInterfaceId: INSTANCE_ENI,
      vpcId: 'vpc-c3c27aba',
      subnetId: 'subnet-55061130',
      groups: [{ groupId: 'sg-d29623a3', groupName: 'web-tier' }],
      requesterManaged: false,
      requesterId: 'AIDAIYEUEZZQWE5TZHHAE',
    },
    {
      kind: 'function',
      functionArn: WORKER,
      vpcId: 'vpc-3d05f145',
      subnetIds: ['subnet-4f7a0012', 'subnet-c490a4a0', 'subnet-978689dc'],
      securityGroupIds: ['sg-01a19f602ecaf25f4', 'sg-0b650189861ce4f6c'],
    },
  ]);
});

it('moves each interface to the open group, then to the closed one, and closes the function VpcConfig', async () => {
  const snap = await network.snapshot(context(), ALL);

  const result = await network.contain(context(), 'full_stop', snap);

  expect(ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand).map((c) => c.args[0].input)).toEqual([
    { NetworkInterfaceId: INSTANCE_ENI, Groups: [OPEN] },
    { NetworkInterfaceId: INSTANCE_ENI, Groups: [CLOSED] },
  ]);
  expect(groupIds(INSTANCE_ENI)).toEqual([CLOSED]);
  expect(lambda.commandCalls(UpdateFunctionConfigurationCommand).map((c) => c.args[0].input)).toEqual([
    {
      FunctionName: WORKER,
      VpcConfig: { SubnetIds: recordedFunction.VpcConfig!.SubnetIds, SecurityGroupIds: [FN_CLOSED] },
    },
  ]);
  expect(result.skipped).toEqual([
    {
      resource: eniArn(LAMBDA_ENI),
      reason: `requester-managed by Lambda: isolated through the VpcConfig of ${WORKER}`,
    },
    {
      resource: eniArn(ECS_ENI),
      reason: expect.stringMatching(/^requester-managed by ECS: .*isolate through the ECS service/),
    },
  ]);
  expect(result.changes).toEqual([
    {
      resource: eniArn(INSTANCE_ENI),
      action: 'ModifyNetworkInterfaceAttribute',
      before: { groups: [WEB_TIER] },
      after: { groups: [CLOSED], via: [OPEN] },
    },
    {
      resource: WORKER,
      action: 'UpdateFunctionConfiguration',
      before: {
        subnetIds: recordedFunction.VpcConfig!.SubnetIds,
        securityGroupIds: recordedFunction.VpcConfig!.SecurityGroupIds,
      },
      after: { subnetIds: recordedFunction.VpcConfig!.SubnetIds, securityGroupIds: [FN_CLOSED] },
    },
  ]);
  expect(result.failures).toEqual([]);
});

it('a VPC without Backstop isolation groups is a failure that names the fix; the other VPC is still isolated', async () => {
  isolationGroups = isolationGroups.filter((g) => g.vpc !== recordedEni.VpcId);
  const snap = await network.snapshot(context(), [eniArn(INSTANCE_ENI), WORKER]);

  const result = await network.contain(context(), 'full_stop', snap);

  expect(result.failures).toEqual([
    {
      resource: eniArn(INSTANCE_ENI),
      action: 'ModifyNetworkInterfaceAttribute',
      error: 'IsolationGroupsMissing',
      message:
        'no Backstop isolation groups in vpc-c3c27aba: deploy the WorkloadAccountStack with this VPC declared',
    },
  ]);
  expect(groupIds(INSTANCE_ENI)).toEqual([WEB_TIER]);
  expect(functions.get(WORKER)?.VpcConfig?.SecurityGroupIds).toEqual([FN_CLOSED]);
});

it('leaves an interface already in the closed group alone (the recorded quarantined interface)', async () => {
  const snap = await network.snapshot(context(), [eniArn(INSTANCE_ENI)]);
  enis.set(INSTANCE_ENI, structuredClone(quarantined));

  const result = await network.contain(context(), 'full_stop', snap);

  expect(result.changes).toEqual([]);
  expect(ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand)).toHaveLength(0);
});

it('a second contain changes nothing', async () => {
  const snap = await network.snapshot(context(), ALL);
  await network.contain(context(), 'full_stop', snap);
  ec2.resetHistory();
  lambda.resetHistory();

  const again = await network.contain(context(), 'full_stop', snap);

  expect(again.changes).toEqual([]);
  expect(ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand)).toHaveLength(0);
  expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(0);
});

it('says so when an interface is left in the open group, and the re-cut closes it without reopening', async () => {
  const snap = await network.snapshot(context(), [eniArn(INSTANCE_ENI)]);
  ec2
    .on(ModifyNetworkInterfaceAttributeCommand, { Groups: [CLOSED] })
    .rejectsOnce(awsError('RequestLimitExceeded', 'Request limit exceeded.', 503));

  const first = await network.contain(context(), 'full_stop', snap);
  const verified = await network.verify(context(), 'full_stop', snap);
  ec2.resetHistory();
  ec2
    .on(ModifyNetworkInterfaceAttributeCommand, { Groups: [CLOSED] })
    .callsFake(({ NetworkInterfaceId, Groups }) => {
      enis.get(NetworkInterfaceId)!.Groups = Groups.map((GroupId: string) => ({ GroupId }));
      return {};
    });
  await network.contain(context(), 'full_stop', snap);

  expect(first.failures).toEqual([
    {
      resource: eniArn(INSTANCE_ENI),
      action: 'ModifyNetworkInterfaceAttribute',
      error: 'RequestLimitExceeded',
      message: `left in the open isolation group ${OPEN}, not yet closed: Request limit exceeded.`,
    },
  ]);
  expect(verified.drifted).toEqual([
    { resource: eniArn(INSTANCE_ENI), expected: { groups: [CLOSED] }, actual: { groups: [OPEN] } },
  ]);
  expect(ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand).map((c) => c.args[0].input.Groups)).toEqual(
    [[CLOSED]],
  );
  expect(groupIds(INSTANCE_ENI)).toEqual([CLOSED]);
});

it('verify passes once isolated and reports an interface put back in its old group', async () => {
  const snap = await network.snapshot(context(), ALL);
  await network.contain(context(), 'full_stop', snap);
  expect(await network.verify(context(), 'full_stop', snap)).toEqual({
    pending: [],
    drifted: [],
    failures: [],
  });
  enis.get(INSTANCE_ENI)!.Groups = [{ GroupId: WEB_TIER }];

  expect((await network.verify(context(), 'full_stop', snap)).drifted).toEqual([
    { resource: eniArn(INSTANCE_ENI), expected: { groups: [CLOSED] }, actual: { groups: [WEB_TIER] } },
  ]);
});

it('restore puts back each original group list and VpcConfig exactly', async () => {
  const snap = await network.snapshot(context(), ALL);
  await network.contain(context(), 'full_stop', snap);
  ec2.resetHistory();
  lambda.resetHistory();

  const result = await network.restore(context(), 'normal', snap);

  expect(ec2.commandCalls(ModifyNetworkInterfaceAttributeCommand).map((c) => c.args[0].input)).toEqual([
    { NetworkInterfaceId: INSTANCE_ENI, Groups: recordedEni.Groups!.map((g) => g.GroupId) },
  ]);
  expect(lambda.commandCalls(UpdateFunctionConfigurationCommand).map((c) => c.args[0].input)).toEqual([
    {
      FunctionName: WORKER,
      VpcConfig: {
        SubnetIds: recordedFunction.VpcConfig!.SubnetIds,
        SecurityGroupIds: recordedFunction.VpcConfig!.SecurityGroupIds,
      },
    },
  ]);
  expect(enis.get(INSTANCE_ENI)?.Groups).toEqual([{ GroupId: WEB_TIER }]);
  expect(functions.get(WORKER)?.VpcConfig).toEqual(recordedFunction.VpcConfig);
  expect(result.failures).toEqual([]);
});
