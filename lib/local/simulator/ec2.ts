/**
 * EC2, per account and region: VPCs, subnets, security groups (with their rules) and network
 * interfaces. Interfaces that AWS Lambda creates for a function in a VPC are requester-managed
 * (`InterfaceType: 'lambda'`) and EC2 refuses to change their groups (`OperationNotPermitted`, as
 * AWS has answered since 2023): they follow the function's `VpcConfig` instead.
 */
import type {
  AuthorizeSecurityGroupEgressCommandInput,
  AuthorizeSecurityGroupEgressCommandOutput,
  AuthorizeSecurityGroupIngressCommandInput,
  AuthorizeSecurityGroupIngressCommandOutput,
  CreateNetworkInterfaceCommandInput,
  CreateNetworkInterfaceCommandOutput,
  CreateSecurityGroupCommandInput,
  CreateSecurityGroupCommandOutput,
  CreateSubnetCommandInput,
  CreateSubnetCommandOutput,
  CreateTagsCommandInput,
  CreateTagsCommandOutput,
  CreateVpcCommandInput,
  CreateVpcCommandOutput,
  DeleteTagsCommandInput,
  DeleteTagsCommandOutput,
  DescribeNetworkInterfacesCommandInput,
  DescribeNetworkInterfacesCommandOutput,
  DescribeSecurityGroupsCommandInput,
  DescribeSecurityGroupsCommandOutput,
  DescribeSubnetsCommandInput,
  DescribeSubnetsCommandOutput,
  DescribeVpcsCommandInput,
  DescribeVpcsCommandOutput,
  Filter,
  IpPermission,
  ModifyNetworkInterfaceAttributeCommandInput,
  ModifyNetworkInterfaceAttributeCommandOutput,
  NetworkInterface,
  RevokeSecurityGroupEgressCommandInput,
  RevokeSecurityGroupEgressCommandOutput,
  RevokeSecurityGroupIngressCommandInput,
  RevokeSecurityGroupIngressCommandOutput,
  SecurityGroup,
  Subnet,
  TagSpecification,
  Vpc,
} from '@aws-sdk/client-ec2';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { paginate, sortedBy } from './pagination';
import {
  type CallContext,
  compact,
  copy,
  globMatch,
  mergeTags,
  partitionOf,
  Scoped,
  type TaggedResource,
  tagsFromList,
  tagsToList,
  validateTags,
} from './world';

interface VpcRecord {
  readonly VpcId: string;
  readonly CidrBlock: string;
  readonly tags: Map<string, string>;
}

interface SubnetRecord {
  readonly SubnetId: string;
  readonly VpcId: string;
  readonly CidrBlock: string;
  readonly AvailabilityZone: string;
  readonly tags: Map<string, string>;
  nextHost: number;
}

interface GroupRecord {
  readonly GroupId: string;
  readonly GroupName: string;
  readonly Description: string;
  readonly VpcId: string;
  ingress: IpPermission[];
  egress: IpPermission[];
  readonly tags: Map<string, string>;
}

interface EniRecord {
  readonly NetworkInterfaceId: string;
  readonly SubnetId: string;
  readonly VpcId: string;
  readonly AvailabilityZone: string;
  Description: string;
  groups: string[];
  readonly InterfaceType: 'interface' | 'lambda';
  readonly RequesterManaged: boolean;
  readonly RequesterId: string;
  readonly MacAddress: string;
  readonly PrivateIpAddress: string;
  SourceDestCheck: boolean;
  readonly tags: Map<string, string>;
  /** The Lambda function whose VpcConfig owns this interface. */
  readonly ownerFunctionArn?: string;
}

interface Region {
  readonly vpcs: Map<string, VpcRecord>;
  readonly subnets: Map<string, SubnetRecord>;
  readonly groups: Map<string, GroupRecord>;
  readonly enis: Map<string, EniRecord>;
}

const ALL_TRAFFIC: IpPermission = {
  IpProtocol: '-1',
  IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  Ipv6Ranges: [],
  PrefixListIds: [],
  UserIdGroupPairs: [],
};

function missing(name: string): SimError {
  return new SimError('MissingParameter', `The request must contain the parameter ${name}`, 400);
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function tagsFromSpecs(specs: TagSpecification[] | undefined, resourceType: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const spec of specs ?? []) {
    if (spec.ResourceType && spec.ResourceType !== resourceType) {
      throw new SimError(
        'InvalidParameterValue',
        `'${spec.ResourceType}' is not a valid taggable resource type for this operation.`,
      );
    }
    for (const [k, v] of tagsFromList(spec.Tags)) tags.set(k, v);
  }
  validateTags(tags, 'InvalidParameterValue');
  return tags;
}

type FilterValues<T> = (item: T, name: string) => string[] | undefined;

function tagFilterValues(tags: ReadonlyMap<string, string>, name: string): string[] | undefined {
  if (name.startsWith('tag:')) {
    const value = tags.get(name.slice(4));
    return value === undefined ? [] : [value];
  }
  if (name === 'tag-key') return [...tags.keys()];
  if (name === 'tag-value') return [...tags.values()];
  return undefined;
}

function applyFilters<T>(items: T[], filters: Filter[] | undefined, values: FilterValues<T>): T[] {
  let out = items;
  for (const filter of filters ?? []) {
    const name = filter.Name;
    if (!name) throw new SimError('InvalidParameterValue', 'The filter name must not be empty');
    const wanted = filter.Values ?? [];
    if (out.length === 0) break;
    if (values(out[0], name) === undefined) {
      throw new SimError('InvalidParameterValue', `The filter '${name}' is invalid`);
    }
    out = out.filter((item) => {
      const have = values(item, name) ?? [];
      return have.some((v) => wanted.some((w) => globMatch(w, v)));
    });
  }
  return out;
}

function sameRule(a: IpPermission, b: IpPermission): boolean {
  return a.IpProtocol === b.IpProtocol && a.FromPort === b.FromPort && a.ToPort === b.ToPort;
}

function mergeRules(existing: IpPermission[], added: IpPermission[], code: string): IpPermission[] {
  const out = copy(existing);
  for (const perm of added) {
    if (!perm.IpProtocol) throw missing('IpProtocol');
    const target = out.find((p) => sameRule(p, perm));
    if (!target) {
      out.push(
        compact({ IpRanges: [], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [], ...copy(perm) }),
      );
      continue;
    }
    for (const range of perm.IpRanges ?? []) {
      if (target.IpRanges?.some((r) => r.CidrIp === range.CidrIp)) {
        throw new SimError(code, `the specified rule "peer: ${range.CidrIp}, ALL, ALLOW" already exists`);
      }
      target.IpRanges = [...(target.IpRanges ?? []), copy(range)];
    }
    for (const pair of perm.UserIdGroupPairs ?? []) {
      target.UserIdGroupPairs = [...(target.UserIdGroupPairs ?? []), copy(pair)];
    }
  }
  return out;
}

function removeRules(
  existing: IpPermission[],
  removed: IpPermission[],
): { rules: IpPermission[]; unknown: IpPermission[] } {
  let out = copy(existing);
  const unknown: IpPermission[] = [];
  for (const perm of removed) {
    const target = out.find((p) => sameRule(p, perm));
    if (!target) {
      unknown.push(perm);
      continue;
    }
    const cidrs = new Set((perm.IpRanges ?? []).map((r) => r.CidrIp));
    const groups = new Set((perm.UserIdGroupPairs ?? []).map((g) => g.GroupId));
    target.IpRanges = (target.IpRanges ?? []).filter((r) => !cidrs.has(r.CidrIp));
    target.UserIdGroupPairs = (target.UserIdGroupPairs ?? []).filter((g) => !groups.has(g.GroupId));
    const empty =
      (target.IpRanges?.length ?? 0) === 0 &&
      (target.UserIdGroupPairs?.length ?? 0) === 0 &&
      (target.Ipv6Ranges?.length ?? 0) === 0 &&
      (target.PrefixListIds?.length ?? 0) === 0;
    if (empty) out = out.filter((p) => p !== target);
  }
  return { rules: out, unknown };
}

/** A VPC to create with a known id (the ids a Backstop config declares). */
export interface SeedVpc {
  readonly vpcId?: string;
  /** @default '10.0.0.0/16' */
  readonly cidrBlock?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

export class Ec2Service {
  private readonly regions = new Scoped<Region>(() => ({
    vpcs: new Map(),
    subnets: new Map(),
    groups: new Map(),
    enis: new Map(),
  }));

  constructor(private readonly core: SimCore) {}

  private state(ctx: { accountId: string; region: string }): Region {
    return this.regions.get(ctx.accountId, ctx.region);
  }

  private id(prefix: string): string {
    return `${prefix}-0${this.core.ids.hex(16)}`;
  }

  private vpc(ctx: CallContext, vpcId: string | undefined): VpcRecord {
    if (!vpcId) throw missing('VpcId');
    const vpc = this.state(ctx).vpcs.get(vpcId);
    if (!vpc) throw new SimError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    return vpc;
  }

  private group(ctx: { accountId: string; region: string }, groupId: string): GroupRecord {
    const group = this.state(ctx).groups.get(groupId);
    if (!group) throw new SimError('InvalidGroup.NotFound', `The security group '${groupId}' does not exist`);
    return group;
  }

  private createVpcRecord(
    ctx: { accountId: string; region: string },
    vpcId: string,
    cidr: string,
    tags: Map<string, string>,
  ): VpcRecord {
    const state = this.state(ctx);
    const vpc: VpcRecord = { VpcId: vpcId, CidrBlock: cidr, tags };
    state.vpcs.set(vpcId, vpc);
    const defaultGroupId = this.id('sg');
    state.groups.set(defaultGroupId, {
      GroupId: defaultGroupId,
      GroupName: 'default',
      Description: 'default VPC security group',
      VpcId: vpcId,
      ingress: [
        {
          IpProtocol: '-1',
          IpRanges: [],
          Ipv6Ranges: [],
          PrefixListIds: [],
          UserIdGroupPairs: [{ UserId: ctx.accountId, GroupId: defaultGroupId }],
        },
      ],
      egress: [copy(ALL_TRAFFIC)],
      tags: new Map(),
    });
    return vpc;
  }

  private vpcOutput(vpc: VpcRecord, ctx: CallContext): Vpc {
    return compact({
      VpcId: vpc.VpcId,
      CidrBlock: vpc.CidrBlock,
      State: 'available' as const,
      OwnerId: ctx.accountId,
      InstanceTenancy: 'default' as const,
      IsDefault: false,
      DhcpOptionsId: 'default',
      CidrBlockAssociationSet: [
        {
          AssociationId: `vpc-cidr-assoc-${vpc.VpcId.slice(4)}`,
          CidrBlock: vpc.CidrBlock,
          CidrBlockState: { State: 'associated' as const },
        },
      ],
      Tags: vpc.tags.size > 0 ? tagsToList(vpc.tags) : undefined,
    });
  }

  private subnetOutput(s: SubnetRecord, ctx: CallContext): Subnet {
    return compact({
      SubnetId: s.SubnetId,
      VpcId: s.VpcId,
      CidrBlock: s.CidrBlock,
      AvailabilityZone: s.AvailabilityZone,
      State: 'available' as const,
      OwnerId: ctx.accountId,
      AvailableIpAddressCount: 250,
      DefaultForAz: false,
      MapPublicIpOnLaunch: false,
      SubnetArn: `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.accountId}:subnet/${s.SubnetId}`,
      Tags: s.tags.size > 0 ? tagsToList(s.tags) : undefined,
    });
  }

  private groupOutput(g: GroupRecord, ctx: CallContext): SecurityGroup {
    return compact({
      Description: g.Description,
      GroupName: g.GroupName,
      IpPermissions: copy(g.ingress),
      OwnerId: ctx.accountId,
      GroupId: g.GroupId,
      IpPermissionsEgress: copy(g.egress),
      VpcId: g.VpcId,
      SecurityGroupArn: `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.accountId}:security-group/${g.GroupId}`,
      Tags: g.tags.size > 0 ? tagsToList(g.tags) : undefined,
    });
  }

  private eniOutput(e: EniRecord, ctx: { accountId: string; region: string }): NetworkInterface {
    const groups = e.groups.map((id) => ({
      GroupId: id,
      GroupName: this.state(ctx).groups.get(id)?.GroupName ?? id,
    }));
    return compact({
      Attachment:
        e.InterfaceType === 'lambda'
          ? {
              AttachmentId: `ela-attach-0${e.NetworkInterfaceId.slice(5)}`,
              DeleteOnTermination: false,
              DeviceIndex: 1,
              InstanceOwnerId: 'amazon-aws',
              Status: 'attached' as const,
            }
          : undefined,
      AvailabilityZone: e.AvailabilityZone,
      Description: e.Description,
      Groups: groups,
      InterfaceType: e.InterfaceType,
      Ipv6Addresses: [],
      MacAddress: e.MacAddress,
      NetworkInterfaceId: e.NetworkInterfaceId,
      OwnerId: ctx.accountId,
      PrivateIpAddress: e.PrivateIpAddress,
      PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: e.PrivateIpAddress }],
      RequesterId: e.RequesterId,
      RequesterManaged: e.RequesterManaged,
      SourceDestCheck: e.SourceDestCheck,
      Status: e.InterfaceType === 'lambda' ? ('in-use' as const) : ('available' as const),
      SubnetId: e.SubnetId,
      TagSet: tagsToList(e.tags),
      VpcId: e.VpcId,
    });
  }

  private newEni(
    ctx: { accountId: string; region: string },
    subnet: SubnetRecord,
    fields: Pick<
      EniRecord,
      | 'Description'
      | 'groups'
      | 'InterfaceType'
      | 'RequesterManaged'
      | 'RequesterId'
      | 'tags'
      | 'ownerFunctionArn'
    >,
  ): EniRecord {
    const base = ipToInt(subnet.CidrBlock.split('/')[0]);
    subnet.nextHost += 1;
    const eni: EniRecord = {
      NetworkInterfaceId: this.id('eni'),
      SubnetId: subnet.SubnetId,
      VpcId: subnet.VpcId,
      AvailabilityZone: subnet.AvailabilityZone,
      MacAddress: `02:${this.core.ids.hex(10).match(/../g)!.join(':')}`,
      PrivateIpAddress: intToIp(base + subnet.nextHost),
      SourceDestCheck: true,
      ...fields,
    };
    this.state(ctx).enis.set(eni.NetworkInterfaceId, eni);
    return eni;
  }

  // ---- AWS actions ----

  CreateVpc(input: CreateVpcCommandInput, ctx: CallContext): Out<CreateVpcCommandOutput> {
    const cidr = input.CidrBlock;
    if (!cidr) throw missing('CidrBlock');
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) {
      throw new SimError(
        'InvalidParameterValue',
        `Value (${cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`,
      );
    }
    const vpc = this.createVpcRecord(
      ctx,
      this.id('vpc'),
      cidr,
      tagsFromSpecs(input.TagSpecifications, 'vpc'),
    );
    return { Vpc: this.vpcOutput(vpc, ctx) };
  }

  CreateSubnet(input: CreateSubnetCommandInput, ctx: CallContext): Out<CreateSubnetCommandOutput> {
    const vpc = this.vpc(ctx, input.VpcId);
    if (!input.CidrBlock) throw missing('CidrBlock');
    const subnet: SubnetRecord = {
      SubnetId: this.id('subnet'),
      VpcId: vpc.VpcId,
      CidrBlock: input.CidrBlock,
      AvailabilityZone: input.AvailabilityZone ?? `${ctx.region}a`,
      tags: tagsFromSpecs(input.TagSpecifications, 'subnet'),
      nextHost: 3,
    };
    this.state(ctx).subnets.set(subnet.SubnetId, subnet);
    return { Subnet: this.subnetOutput(subnet, ctx) };
  }

  CreateSecurityGroup(
    input: CreateSecurityGroupCommandInput,
    ctx: CallContext,
  ): Out<CreateSecurityGroupCommandOutput> {
    if (!input.GroupName) throw missing('GroupName');
    if (!input.Description) throw missing('GroupDescription');
    const vpc = this.vpc(ctx, input.VpcId);
    if (input.GroupName === 'default') {
      throw new SimError('InvalidParameterValue', 'Cannot use reserved security group name: default');
    }
    const state = this.state(ctx);
    if ([...state.groups.values()].some((g) => g.VpcId === vpc.VpcId && g.GroupName === input.GroupName)) {
      throw new SimError(
        'InvalidGroup.Duplicate',
        `The security group '${input.GroupName}' already exists for VPC '${vpc.VpcId}'`,
      );
    }
    const group: GroupRecord = {
      GroupId: this.id('sg'),
      GroupName: input.GroupName,
      Description: input.Description,
      VpcId: vpc.VpcId,
      ingress: [],
      egress: [copy(ALL_TRAFFIC)],
      tags: tagsFromSpecs(input.TagSpecifications, 'security-group'),
    };
    state.groups.set(group.GroupId, group);
    return compact({
      GroupId: group.GroupId,
      Tags: group.tags.size > 0 ? tagsToList(group.tags) : undefined,
      SecurityGroupArn: `arn:${ctx.partition}:ec2:${ctx.region}:${ctx.accountId}:security-group/${group.GroupId}`,
    });
  }

  AuthorizeSecurityGroupIngress(
    input: AuthorizeSecurityGroupIngressCommandInput,
    ctx: CallContext,
  ): Out<AuthorizeSecurityGroupIngressCommandOutput> {
    if (!input.GroupId) throw missing('GroupId');
    const group = this.group(ctx, input.GroupId);
    group.ingress = mergeRules(group.ingress, input.IpPermissions ?? [], 'InvalidPermission.Duplicate');
    return { Return: true };
  }

  AuthorizeSecurityGroupEgress(
    input: AuthorizeSecurityGroupEgressCommandInput,
    ctx: CallContext,
  ): Out<AuthorizeSecurityGroupEgressCommandOutput> {
    if (!input.GroupId) throw missing('GroupId');
    const group = this.group(ctx, input.GroupId);
    group.egress = mergeRules(group.egress, input.IpPermissions ?? [], 'InvalidPermission.Duplicate');
    return { Return: true };
  }

  RevokeSecurityGroupEgress(
    input: RevokeSecurityGroupEgressCommandInput,
    ctx: CallContext,
  ): Out<RevokeSecurityGroupEgressCommandOutput> {
    if (!input.GroupId) throw missing('GroupId');
    const group = this.group(ctx, input.GroupId);
    const { rules, unknown } = removeRules(group.egress, input.IpPermissions ?? []);
    group.egress = rules;
    return compact({ Return: true, UnknownIpPermissions: unknown.length > 0 ? unknown : undefined });
  }

  RevokeSecurityGroupIngress(
    input: RevokeSecurityGroupIngressCommandInput,
    ctx: CallContext,
  ): Out<RevokeSecurityGroupIngressCommandOutput> {
    if (!input.GroupId) throw missing('GroupId');
    const group = this.group(ctx, input.GroupId);
    const { rules, unknown } = removeRules(group.ingress, input.IpPermissions ?? []);
    group.ingress = rules;
    return compact({ Return: true, UnknownIpPermissions: unknown.length > 0 ? unknown : undefined });
  }

  CreateNetworkInterface(
    input: CreateNetworkInterfaceCommandInput,
    ctx: CallContext,
  ): Out<CreateNetworkInterfaceCommandOutput> {
    if (!input.SubnetId) throw missing('SubnetId');
    const subnet = this.subnet(ctx, input.SubnetId);
    const groups = input.Groups?.length
      ? input.Groups
      : [...this.state(ctx).groups.values()]
          .filter((g) => g.VpcId === subnet.VpcId && g.GroupName === 'default')
          .map((g) => g.GroupId);
    this.checkGroups(ctx, groups, subnet.VpcId);
    const eni = this.newEni(ctx, subnet, {
      Description: input.Description ?? '',
      groups: [...groups],
      InterfaceType: 'interface',
      RequesterManaged: false,
      RequesterId: ctx.caller.userId.split(':')[0],
      tags: tagsFromSpecs(input.TagSpecifications, 'network-interface'),
    });
    return { NetworkInterface: this.eniOutput(eni, ctx) };
  }

  CreateTags(input: CreateTagsCommandInput, ctx: CallContext): Out<CreateTagsCommandOutput> {
    const tags = tagsFromList(input.Tags);
    for (const id of input.Resources ?? []) {
      mergeTags(this.taggable(ctx, id), tags, 'InvalidParameterValue');
    }
    return {};
  }

  DeleteTags(input: DeleteTagsCommandInput, ctx: CallContext): Out<DeleteTagsCommandOutput> {
    for (const id of input.Resources ?? []) {
      const target = this.taggable(ctx, id);
      for (const tag of input.Tags ?? []) {
        if (tag.Key && (tag.Value === undefined || target.get(tag.Key) === tag.Value)) target.delete(tag.Key);
      }
    }
    return {};
  }

  private taggable(ctx: CallContext, id: string): Map<string, string> {
    const s = this.state(ctx);
    const found =
      s.vpcs.get(id)?.tags ?? s.subnets.get(id)?.tags ?? s.groups.get(id)?.tags ?? s.enis.get(id)?.tags;
    if (!found) throw new SimError('InvalidID', `The ID '${id}' is not valid`);
    return found;
  }

  DescribeVpcs(input: DescribeVpcsCommandInput, ctx: CallContext): Out<DescribeVpcsCommandOutput> {
    const state = this.state(ctx);
    let vpcs = [...state.vpcs.values()];
    if (input.VpcIds?.length) {
      for (const id of input.VpcIds)
        if (!state.vpcs.has(id))
          throw new SimError('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
      vpcs = vpcs.filter((v) => input.VpcIds!.includes(v.VpcId));
    }
    vpcs = applyFilters(vpcs, input.Filters, (v, name) =>
      name === 'vpc-id'
        ? [v.VpcId]
        : name === 'cidr' || name === 'cidr-block'
          ? [v.CidrBlock]
          : tagFilterValues(v.tags, name),
    );
    const page = this.page(vpcs, (v) => v.VpcId, input.MaxResults, input.NextToken, 5);
    return compact({ Vpcs: page.items.map((v) => this.vpcOutput(v, ctx)), NextToken: page.next });
  }

  DescribeSubnets(input: DescribeSubnetsCommandInput, ctx: CallContext): Out<DescribeSubnetsCommandOutput> {
    const state = this.state(ctx);
    let subnets = [...state.subnets.values()];
    if (input.SubnetIds?.length) {
      for (const id of input.SubnetIds) this.subnet(ctx, id);
      subnets = subnets.filter((s) => input.SubnetIds!.includes(s.SubnetId));
    }
    subnets = applyFilters(subnets, input.Filters, (s, name) => {
      if (name === 'subnet-id') return [s.SubnetId];
      if (name === 'vpc-id') return [s.VpcId];
      if (name === 'availability-zone') return [s.AvailabilityZone];
      if (name === 'cidr-block') return [s.CidrBlock];
      return tagFilterValues(s.tags, name);
    });
    const page = this.page(subnets, (s) => s.SubnetId, input.MaxResults, input.NextToken, 5);
    return compact({ Subnets: page.items.map((s) => this.subnetOutput(s, ctx)), NextToken: page.next });
  }

  DescribeSecurityGroups(
    input: DescribeSecurityGroupsCommandInput,
    ctx: CallContext,
  ): Out<DescribeSecurityGroupsCommandOutput> {
    if (input.GroupNames?.length) {
      throw new SimError(
        'InvalidParameterValue',
        'GroupNames applies to the default VPC only, which the simulator does not model; filter by group-name instead',
      );
    }
    if (input.GroupIds?.length && input.MaxResults !== undefined) {
      throw new SimError(
        'InvalidParameterCombination',
        'The parameter groupIdSet cannot be used with the parameter maxResults',
      );
    }
    let groups = [...this.state(ctx).groups.values()];
    if (input.GroupIds?.length) {
      for (const id of input.GroupIds) this.group(ctx, id);
      groups = groups.filter((g) => input.GroupIds!.includes(g.GroupId));
    }
    groups = applyFilters(groups, input.Filters, (g, name) => {
      if (name === 'group-id') return [g.GroupId];
      if (name === 'group-name') return [g.GroupName];
      if (name === 'vpc-id') return [g.VpcId];
      if (name === 'description') return [g.Description];
      if (name === 'owner-id') return [ctx.accountId];
      return tagFilterValues(g.tags, name);
    });
    const page = this.page(groups, (g) => g.GroupId, input.MaxResults, input.NextToken, 5);
    return compact({ SecurityGroups: page.items.map((g) => this.groupOutput(g, ctx)), NextToken: page.next });
  }

  DescribeNetworkInterfaces(
    input: DescribeNetworkInterfacesCommandInput,
    ctx: CallContext,
  ): Out<DescribeNetworkInterfacesCommandOutput> {
    if (input.NetworkInterfaceIds?.length && input.MaxResults !== undefined) {
      throw new SimError(
        'InvalidParameterCombination',
        'The parameter NetworkInterfaceIds cannot be used with the parameter maxResults',
      );
    }
    const state = this.state(ctx);
    let enis = [...state.enis.values()];
    if (input.NetworkInterfaceIds?.length) {
      for (const id of input.NetworkInterfaceIds) {
        if (!state.enis.has(id)) {
          throw new SimError(
            'InvalidNetworkInterfaceID.NotFound',
            `The networkInterface ID '${id}' does not exist`,
          );
        }
      }
      enis = enis.filter((e) => input.NetworkInterfaceIds!.includes(e.NetworkInterfaceId));
    }
    enis = applyFilters(enis, input.Filters, (e, name) => {
      switch (name) {
        case 'network-interface-id':
          return [e.NetworkInterfaceId];
        case 'vpc-id':
          return [e.VpcId];
        case 'subnet-id':
          return [e.SubnetId];
        case 'group-id':
          return e.groups;
        case 'group-name':
          return e.groups.map((id) => state.groups.get(id)?.GroupName ?? id);
        case 'requester-managed':
          return [String(e.RequesterManaged)];
        case 'requester-id':
          return [e.RequesterId];
        case 'interface-type':
          return [e.InterfaceType];
        case 'description':
          return [e.Description];
        case 'status':
          return [e.InterfaceType === 'lambda' ? 'in-use' : 'available'];
        case 'availability-zone':
          return [e.AvailabilityZone];
        case 'owner-id':
          return [ctx.accountId];
        case 'private-ip-address':
        case 'addresses.private-ip-address':
          return [e.PrivateIpAddress];
        case 'attachment.instance-owner-id':
          return e.InterfaceType === 'lambda' ? ['amazon-aws'] : [];
        default:
          return tagFilterValues(e.tags, name);
      }
    });
    const page = this.page(enis, (e) => e.NetworkInterfaceId, input.MaxResults, input.NextToken, 5);
    return compact({
      NetworkInterfaces: page.items.map((e) => this.eniOutput(e, ctx)),
      NextToken: page.next,
    });
  }

  ModifyNetworkInterfaceAttribute(
    input: ModifyNetworkInterfaceAttributeCommandInput,
    ctx: CallContext,
  ): Out<ModifyNetworkInterfaceAttributeCommandOutput> {
    if (!input.NetworkInterfaceId) throw missing('networkInterfaceId');
    const eni = this.state(ctx).enis.get(input.NetworkInterfaceId);
    if (!eni) {
      throw new SimError(
        'InvalidNetworkInterfaceID.NotFound',
        `The networkInterface ID '${input.NetworkInterfaceId}' does not exist`,
      );
    }
    const changes = [input.Groups, input.SourceDestCheck, input.Description, input.Attachment].filter(
      (v) => v !== undefined,
    );
    if (changes.length === 0) throw missing('attribute');
    if (changes.length > 1) {
      throw new SimError('InvalidParameterCombination', 'Fields for multiple attribute types specified');
    }
    if (eni.RequesterManaged) {
      throw new SimError(
        'OperationNotPermitted',
        `You are not allowed to manage network interface ${eni.NetworkInterfaceId}: it is requester-managed (${eni.InterfaceType}); change it through the service that owns it`,
      );
    }
    if (input.Groups !== undefined) {
      if (input.Groups.length === 0) throw missing('SecurityGroupId');
      if (input.Groups.length > 5) {
        throw new SimError(
          'SecurityGroupsPerInterfaceLimitExceeded',
          'The maximum number of security groups per interface has been reached.',
        );
      }
      this.checkGroups(ctx, input.Groups, eni.VpcId);
      eni.groups = [...new Set(input.Groups)];
    }
    if (input.SourceDestCheck?.Value !== undefined) eni.SourceDestCheck = input.SourceDestCheck.Value;
    if (input.Description?.Value !== undefined) eni.Description = input.Description.Value;
    return {};
  }

  private checkGroups(
    ctx: { accountId: string; region: string },
    groups: readonly string[],
    vpcId: string,
  ): void {
    for (const id of groups) {
      const group = this.group(ctx, id);
      if (group.VpcId !== vpcId) {
        throw new SimError(
          'InvalidGroup.NotFound',
          `The security group '${id}' does not exist in VPC '${vpcId}'`,
        );
      }
    }
  }

  private subnet(ctx: { accountId: string; region: string }, subnetId: string): SubnetRecord {
    const subnet = this.state(ctx).subnets.get(subnetId);
    if (!subnet) throw new SimError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    return subnet;
  }

  private page<T>(
    items: T[],
    keyOf: (t: T) => string,
    maxResults: number | undefined,
    token: string | undefined,
    min: number,
  ) {
    // EC2 paginates only when asked to: without MaxResults every match comes back at once.
    if (maxResults === undefined && !token) return { items, next: undefined };
    return paginate(sortedBy(items, keyOf), this.core.settings.pageSize, {
      token,
      requested: maxResults,
      awsDefault: 1000,
      min,
      max: 1000,
      keyOf,
      errorCode: 'InvalidParameterValue',
      sizeName: 'MaxResults',
    });
  }

  // ---- used by the Lambda model, the tagging model, seeding and tests ----

  /** Checks a function's VpcConfig as Lambda does (through EC2) and returns its VPC id. */
  resolveVpcConfig(
    ctx: { accountId: string; region: string },
    subnetIds: readonly string[],
    groupIds: readonly string[],
  ): string {
    const vpcIds = new Set(
      subnetIds.map((id) => {
        const subnet = this.state(ctx).subnets.get(id);
        if (!subnet) {
          throw new SimError(
            'InvalidParameterValueException',
            `Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. EC2 Error Message: The subnet ID '${id}' does not exist`,
          );
        }
        return subnet.VpcId;
      }),
    );
    if (vpcIds.size !== 1) {
      throw new SimError(
        'InvalidParameterValueException',
        'All subnets of a function must belong to the same VPC.',
      );
    }
    const vpcId = [...vpcIds][0];
    for (const id of groupIds) {
      const group = this.state(ctx).groups.get(id);
      if (!group || group.VpcId !== vpcId) {
        throw new SimError(
          'InvalidParameterValueException',
          `Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. EC2 Error Message: The security group '${id}' does not exist in VPC '${vpcId}'`,
        );
      }
    }
    return vpcId;
  }

  /**
   * Keeps the requester-managed interfaces of a Lambda function in step with its VpcConfig: one
   * interface per subnet, carrying the function's security groups. (AWS shares Hyperplane
   * interfaces between functions with the same subnet and group set; the simulator gives each
   * function its own, which is what the network surface observes.)
   */
  syncLambdaInterfaces(
    ctx: { accountId: string; region: string },
    functionArn: string,
    functionName: string,
    vpc: { subnetIds: readonly string[]; groupIds: readonly string[] } | undefined,
  ): void {
    const state = this.state(ctx);
    const owned = [...state.enis.values()].filter((e) => e.ownerFunctionArn === functionArn);
    const subnetIds = vpc?.subnetIds ?? [];
    for (const eni of owned) {
      if (!subnetIds.includes(eni.SubnetId)) state.enis.delete(eni.NetworkInterfaceId);
      else eni.groups = [...(vpc?.groupIds ?? [])];
    }
    for (const subnetId of subnetIds) {
      if (owned.some((e) => e.SubnetId === subnetId)) continue;
      this.newEni(ctx, this.subnet(ctx, subnetId), {
        Description: `AWS Lambda VPC ENI-${functionName}-${this.core.ids.uuid()}`,
        groups: [...(vpc?.groupIds ?? [])],
        InterfaceType: 'lambda',
        RequesterManaged: true,
        RequesterId: `AROA${this.core.ids.upper(17)}:${functionName}`,
        tags: new Map(),
        ownerFunctionArn: functionArn,
      });
    }
  }

  /** Creates a VPC with a given id (the ids a Backstop config declares), with its default group. */
  seedVpc(accountId: string, region: string, vpc: SeedVpc): string {
    const vpcId = vpc.vpcId ?? this.id('vpc');
    if (!/^vpc-[0-9a-f]{8,17}$/.test(vpcId))
      throw new Error(`"${vpcId}" is not a VPC id (vpc- and 8 or 17 hex digits)`);
    const state = this.state({ accountId, region });
    if (state.vpcs.has(vpcId)) throw new Error(`VPC ${vpcId} already exists in ${accountId}/${region}`);
    this.createVpcRecord(
      { accountId, region },
      vpcId,
      vpc.cidrBlock ?? '10.0.0.0/16',
      new Map(Object.entries(vpc.tags ?? {})),
    );
    return vpcId;
  }

  /** Whether a VPC exists. */
  hasVpc(accountId: string, region: string, vpcId: string): boolean {
    return this.state({ accountId, region }).vpcs.has(vpcId);
  }

  /** Security group ids of an interface, for inspection. */
  interfaceGroups(accountId: string, region: string, eniId: string): string[] | undefined {
    const eni = this.state({ accountId, region }).enis.get(eniId);
    return eni ? [...eni.groups] : undefined;
  }

  /** Taggable resources, for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, state] of this.regions.entries()) {
      const partition = partitionOf(region);
      const arn = (type: string, id: string) => `arn:${partition}:ec2:${region}:${accountId}:${type}/${id}`;
      for (const v of state.vpcs.values())
        yield { accountId, region, arn: arn('vpc', v.VpcId), tags: v.tags };
      for (const s of state.subnets.values())
        yield { accountId, region, arn: arn('subnet', s.SubnetId), tags: s.tags };
      for (const g of state.groups.values())
        yield { accountId, region, arn: arn('security-group', g.GroupId), tags: g.tags };
      for (const e of state.enis.values()) {
        yield { accountId, region, arn: arn('network-interface', e.NetworkInterfaceId), tags: e.tags };
      }
    }
  }
}
