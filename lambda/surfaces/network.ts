import {
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  ModifyNetworkInterfaceAttributeCommand,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import {
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import {
  isArn,
  networkInterfaceArn,
  networkInterfaceId,
  parseArn,
  resourceKind,
  unqualifiedFunctionArn,
} from '../shared/arn';
import { isNotFound, toFailure } from '../shared/aws-errors';
import { AGENT_TAG, ISOLATION_TAG } from '../shared/naming';
import {
  agentFunctionArns,
  change,
  containEach,
  declared,
  mapLimit,
  mismatch,
  paginate,
  planEach,
  ReadCache,
  type ReadError,
  restoreEach,
  sameSet,
  snapshotEach,
  unique,
  unreadFailure,
  unreadState,
  verifyEach,
} from './common';
import type { ContainResult, Failure, ResourceSnapshot, Surface, SurfaceContext } from './types';

/**
 * Network (full_stop): the agent's network interfaces and its Lambda functions that run in a VPC.
 *
 * Isolation follows the connection-tracking rule: security groups only cut tracked flows when a
 * rule is removed, so each interface first moves to the VPC's `open` isolation group (allow all:
 * every flow becomes untracked), then to the `closed` group (no rules at all), which drops them.
 * Both groups are made by the WorkloadAccountStack per declared VPC and found by their
 * `backstop:isolation` tag. EC2 refuses to modify requester-managed interfaces: Lambda's are
 * isolated through the function's VpcConfig; others (ECS, load balancers, endpoints) are
 * reported as skipped with the service that owns them.
 */

export interface SecurityGroupRef {
  readonly groupId: string;
  readonly groupName?: string;
}

export interface NetworkInterfaceSnapshot {
  readonly kind: 'network-interface';
  readonly networkInterfaceArn: string;
  readonly networkInterfaceId: string;
  readonly vpcId: string;
  readonly subnetId: string;
  /** The interface's security groups before the kill, in AWS's order. */
  readonly groups: readonly SecurityGroupRef[];
  readonly requesterManaged: boolean;
  readonly interfaceType?: string;
  readonly requesterId?: string;
  readonly description?: string;
  readonly readError?: ReadError;
}

export interface FunctionNetworkSnapshot {
  readonly kind: 'function';
  readonly functionArn: string;
  readonly vpcId: string;
  /** VpcConfig before the kill. */
  readonly subnetIds: readonly string[];
  readonly securityGroupIds: readonly string[];
  readonly ipv6AllowedForDualStack?: boolean;
  readonly readError?: ReadError;
}

export type NetworkSnapshot = NetworkInterfaceSnapshot | FunctionNetworkSnapshot;

export interface IsolationGroups {
  readonly open: string;
  readonly closed: string;
}

/** EC2's ModifyNetworkInterfaceAttribute bucket refills at 5/s; Lambda's control plane at 15/s. */
const CONCURRENCY = 4;
/** Reads (EC2 Describe*, Lambda GetFunction) are outside those quotas. */
const READ_CONCURRENCY = 10;

function resourceOf(s: NetworkSnapshot): string {
  return s.kind === 'function' ? s.functionArn : s.networkInterfaceArn;
}

/** A kill cannot isolate what EC2 will not let it modify: who owns such an interface, and how to cut it. */
export function requesterManagedOwner(
  eni: Pick<NetworkInterfaceSnapshot, 'interfaceType' | 'description' | 'requesterId'>,
): {
  readonly owner: string;
  readonly how: string;
} {
  if (eni.interfaceType === 'lambda' || eni.description?.startsWith('AWS Lambda VPC ENI')) {
    return { owner: 'Lambda', how: "isolate through the function's VpcConfig" };
  }
  if (isArn(eni.description) && parseArn(eni.description).service === 'ecs') {
    return { owner: 'ECS', how: 'isolate through the ECS service (its awsvpc network configuration)' };
  }
  const owner =
    eni.interfaceType && eni.interfaceType !== 'interface'
      ? eni.interfaceType
      : (eni.requesterId ?? 'another service');
  return { owner, how: 'isolate through the service that owns it' };
}

/** What this invocation read of each interface (by ARN) and function (VpcConfig), for the next phase. */
const eniRead = new ReadCache<NetworkInterface>();
const functionRead = new ReadCache<FunctionVpc>();

/** A function's VpcConfig as the snapshot keeps it. */
type FunctionVpc = Omit<FunctionNetworkSnapshot, 'kind' | 'functionArn' | 'readError'>;

function vpcOf(
  vpc:
    | { VpcId?: string; SubnetIds?: string[]; SecurityGroupIds?: string[]; Ipv6AllowedForDualStack?: boolean }
    | undefined,
): FunctionVpc {
  const v = vpc ?? {};
  return {
    vpcId: v.VpcId ?? '',
    subnetIds: v.SubnetIds ?? [],
    securityGroupIds: v.SecurityGroupIds ?? [],
    ...(v.Ipv6AllowedForDualStack !== undefined
      ? { ipv6AllowedForDualStack: v.Ipv6AllowedForDualStack }
      : {}),
  };
}

/**
 * A function's VpcConfig, read with GetFunction: outside Lambda's 15 requests/s control plane
 * quota, which GetFunctionConfiguration draws on (the kill leaves it to the writes).
 */
async function functionVpcNow(ctx: SurfaceContext, functionArn: string): Promise<FunctionVpc> {
  const out = await ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName: functionArn }));
  const vpc = vpcOf(out.Configuration?.VpcConfig);
  functionRead.set(ctx, functionArn, vpc);
  return vpc;
}

const isolationLookups = new WeakMap<SurfaceContext, Map<string, Promise<IsolationGroups | Error>>>();

/**
 * The isolation groups of a VPC, looked up once per invocation: discovery starts the lookup as
 * soon as it knows a VPC, so contain finds it answered.
 */
function isolationOf(ctx: SurfaceContext, vpcId: string): Promise<IsolationGroups | Error> {
  let byVpc = isolationLookups.get(ctx);
  if (!byVpc) {
    byVpc = new Map();
    isolationLookups.set(ctx, byVpc);
  }
  let found = byVpc.get(vpcId);
  if (!found) {
    found = findIsolationGroups(ctx, vpcId).catch((e: unknown) =>
      e instanceof Error ? e : new Error(String(e)),
    );
    byVpc.set(vpcId, found);
  }
  return found;
}

/** Interfaces tagged for the agent, described in one call (EC2 filters by tag; its reads are not throttled). */
async function taggedInterfaces(ctx: SurfaceContext): Promise<NetworkInterface[]> {
  return paginate(async (token) => {
    const out = await ctx.clients.ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: `tag:${AGENT_TAG}`, Values: [ctx.agent.agentId] }],
        NextToken: token,
      }),
    );
    return { items: out.NetworkInterfaces, next: out.NextToken };
  });
}

async function discover(ctx: SurfaceContext): Promise<string[]> {
  const { partition, region, accountId } = ctx.agent;
  const remember = (eni: NetworkInterface): string => {
    const arn = networkInterfaceArn(partition, region, accountId, eni.NetworkInterfaceId ?? '');
    eniRead.set(ctx, arn, eni);
    if (eni.VpcId) void isolationOf(ctx, eni.VpcId);
    return arn;
  };
  const inVpc = async (functionArn: string) => {
    try {
      const vpc = await functionVpcNow(ctx, functionArn);
      if (vpc.subnetIds.length === 0) return undefined;
      if (vpc.vpcId) void isolationOf(ctx, vpc.vpcId);
      return functionArn;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  // The declared functions are read beside the tag lookups, the tagged ones after them.
  const declaredFunctions = unique(declared(ctx, 'lambda-function').map(unqualifiedFunctionArn));
  const [tagged, fromDeclared, functions] = await Promise.all([
    taggedInterfaces(ctx).then((enis) => enis.map(remember)),
    mapLimit(declaredFunctions, READ_CONCURRENCY, inVpc),
    agentFunctionArns(ctx),
  ]);
  const read = new Set(declaredFunctions);
  const fromTagged = await mapLimit(
    functions.filter((f) => !read.has(f)),
    READ_CONCURRENCY,
    inVpc,
  );
  return unique([
    ...declared(ctx, 'network-interface'),
    ...tagged,
    ...[...fromDeclared, ...fromTagged].filter((a): a is string => a !== undefined),
  ]);
}

async function describeEni(ctx: SurfaceContext, eniId: string): Promise<NetworkInterface | undefined> {
  const out = await ctx.clients.ec2.send(
    new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }),
  );
  return out.NetworkInterfaces?.[0];
}

function groupsOf(eni: NetworkInterface): SecurityGroupRef[] {
  return (eni.Groups ?? []).map((g) => ({
    groupId: g.GroupId ?? '',
    ...(g.GroupName ? { groupName: g.GroupName } : {}),
  }));
}

function eniIds(arn: string) {
  return {
    kind: 'network-interface' as const,
    networkInterfaceArn: arn,
    networkInterfaceId: networkInterfaceId(arn),
  };
}

async function snapshotEni(ctx: SurfaceContext, arn: string): Promise<NetworkInterfaceSnapshot | undefined> {
  const ids = eniIds(arn);
  const eni = eniRead.get(ctx, arn) ?? (await describeEni(ctx, ids.networkInterfaceId));
  if (!eni) return undefined;
  eniRead.set(ctx, arn, eni);
  if (eni.VpcId) void isolationOf(ctx, eni.VpcId);
  return {
    ...ids,
    vpcId: eni.VpcId ?? '',
    subnetId: eni.SubnetId ?? '',
    groups: groupsOf(eni),
    requesterManaged: eni.RequesterManaged === true,
    ...(eni.InterfaceType ? { interfaceType: eni.InterfaceType } : {}),
    ...(eni.RequesterId ? { requesterId: eni.RequesterId } : {}),
    ...(eni.Description ? { description: eni.Description } : {}),
  };
}

async function functionVpc(ctx: SurfaceContext, functionArn: string) {
  const cfg = await ctx.clients.lambda.send(
    new GetFunctionConfigurationCommand({ FunctionName: functionArn }),
  );
  const vpc = cfg.VpcConfig ?? {};
  return {
    vpcId: vpc.VpcId ?? '',
    subnetIds: vpc.SubnetIds ?? [],
    securityGroupIds: vpc.SecurityGroupIds ?? [],
    ...(vpc.Ipv6AllowedForDualStack !== undefined
      ? { ipv6AllowedForDualStack: vpc.Ipv6AllowedForDualStack }
      : {}),
  };
}

async function snapshotFunction(ctx: SurfaceContext, functionArn: string): Promise<FunctionNetworkSnapshot> {
  const vpc = functionRead.get(ctx, functionArn) ?? (await functionVpcNow(ctx, functionArn));
  if (vpc.vpcId) void isolationOf(ctx, vpc.vpcId);
  return { kind: 'function', functionArn, ...vpc };
}

/** The snapshot of a resource whose state could not be read: where it was, no one knows. */
function unreadSnapshot(id: string, err: ReadError): NetworkSnapshot {
  if (resourceKind(id) === 'lambda-function') {
    return {
      kind: 'function',
      functionArn: id,
      vpcId: '',
      subnetIds: [],
      securityGroupIds: [],
      readError: err,
    };
  }
  return { ...eniIds(id), vpcId: '', subnetId: '', groups: [], requesterManaged: false, readError: err };
}

const snapshot: Surface<NetworkSnapshot>['snapshot'] = async (ctx, ids) =>
  snapshotEach(ids, READ_CONCURRENCY, {
    read: (id) => (resourceKind(id) === 'lambda-function' ? snapshotFunction(ctx, id) : snapshotEni(ctx, id)),
    unread: unreadSnapshot,
    gone: (id) => ctx.log.warn('resource does not exist: nothing to isolate', { id }),
  });

class IsolationGroupsError extends Error {
  override readonly name = 'IsolationGroupsMissing';
}

/** Finds the VPC's two isolation groups by tag; a VPC without exactly one of each is an error that names the fix. */
export async function findIsolationGroups(ctx: SurfaceContext, vpcId: string): Promise<IsolationGroups> {
  const groups = await paginate(async (token) => {
    const out = await ctx.clients.ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: `tag:${ISOLATION_TAG}`, Values: ['open', 'closed'] },
        ],
        NextToken: token,
      }),
    );
    return { items: out.SecurityGroups, next: out.NextToken };
  });
  const withTag = (value: string) =>
    groups
      .filter((g) => g.VpcId === vpcId && g.Tags?.some((t) => t.Key === ISOLATION_TAG && t.Value === value))
      .map((g) => g.GroupId ?? '');
  const open = withTag('open');
  const closed = withTag('closed');
  if (open.length === 0 || closed.length === 0) {
    throw new IsolationGroupsError(
      `no Backstop isolation groups in ${vpcId}: deploy the WorkloadAccountStack with this VPC declared`,
    );
  }
  if (open.length > 1 || closed.length > 1) {
    throw new IsolationGroupsError(
      `more than one Backstop isolation group of a kind in ${vpcId} (open: ${open.join(', ')}; closed: ${closed.join(', ')}): keep one of each`,
    );
  }
  return { open: open[0], closed: closed[0] };
}

/** The isolation groups of every VPC in the snapshot, or the error that stopped the lookup, per VPC. */
async function isolationByVpc(
  ctx: SurfaceContext,
  snap: readonly ResourceSnapshot<NetworkSnapshot>[],
): Promise<Map<string, IsolationGroups | Error>> {
  const vpcs = unique(snap.map((s) => s.state.vpcId).filter((v) => v !== ''));
  const found = await Promise.all(vpcs.map(async (vpcId) => [vpcId, await isolationOf(ctx, vpcId)] as const));
  return new Map(found);
}

function lambdaEniCoveredBy(
  eni: NetworkInterfaceSnapshot,
  snap: readonly ResourceSnapshot<NetworkSnapshot>[],
) {
  const eniGroups = eni.groups.map((g) => g.groupId);
  return snap
    .map((s) => s.state)
    .find(
      (s): s is FunctionNetworkSnapshot =>
        s.kind === 'function' &&
        s.vpcId === eni.vpcId &&
        s.subnetIds.includes(eni.subnetId) &&
        sameSet(s.securityGroupIds, eniGroups),
    );
}

function requesterManagedReason(
  eni: NetworkInterfaceSnapshot,
  snap: readonly ResourceSnapshot<NetworkSnapshot>[],
): string {
  const { owner, how } = requesterManagedOwner(eni);
  const fn = owner === 'Lambda' ? lambdaEniCoveredBy(eni, snap) : undefined;
  if (fn) return `requester-managed by Lambda: isolated through the VpcConfig of ${fn.functionArn}`;
  return `requester-managed by ${owner}: EC2 will not modify it; ${how}`;
}

type Lookup = Map<string, IsolationGroups | Error>;

function groupsFor(
  lookup: Lookup,
  resource: string,
  vpcId: string,
  action: string,
  out: { failures: Failure[] },
) {
  const found = lookup.get(vpcId);
  if (found && !(found instanceof Error)) return found;
  out.failures.push(
    toFailure(resource, action, found ?? new IsolationGroupsError(`no VPC recorded for ${resource}`)),
  );
  return undefined;
}

async function containEni(
  ctx: SurfaceContext,
  s: NetworkInterfaceSnapshot,
  snap: readonly ResourceSnapshot<NetworkSnapshot>[],
  lookup: Lookup,
  out: ContainResult,
) {
  if (s.readError) {
    out.failures.push(unreadFailure(s.networkInterfaceArn, s.readError));
    return;
  }
  if (s.requesterManaged) {
    out.skipped.push({ resource: s.networkInterfaceArn, reason: requesterManagedReason(s, snap) });
    return;
  }
  const iso = groupsFor(lookup, s.networkInterfaceArn, s.vpcId, 'ModifyNetworkInterfaceAttribute', out);
  if (!iso) return;
  // As this invocation last read it (discovery, the snapshot, or the read-back), else now.
  const eni = eniRead.take(ctx, s.networkInterfaceArn) ?? (await describeEni(ctx, s.networkInterfaceId));
  if (!eni) return;
  const current = groupsOf(eni).map((g) => g.groupId);
  if (sameSet(current, [iso.closed])) return;
  const modify = (group: string) =>
    ctx.clients.ec2.send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: s.networkInterfaceId,
        Groups: [group],
      }),
    );
  // Step 1 (skipped when a previous attempt already got there): untrack every flow.
  if (!sameSet(current, [iso.open])) await modify(iso.open);
  // Step 2: drop them all. When this step fails, the failure says the interface is left open.
  try {
    await modify(iso.closed);
  } catch (e) {
    if (isNotFound(e)) return;
    const failure = toFailure(s.networkInterfaceArn, 'ModifyNetworkInterfaceAttribute', e);
    out.failures.push({
      ...failure,
      message: `left in the open isolation group ${iso.open}, not yet closed: ${failure.message}`,
    });
    return;
  }
  out.changes.push(
    change(
      s.networkInterfaceArn,
      'ModifyNetworkInterfaceAttribute',
      { groups: current },
      { groups: [iso.closed], via: [iso.open] },
    ),
  );
}

async function containFunction(
  ctx: SurfaceContext,
  s: FunctionNetworkSnapshot,
  lookup: Lookup,
  out: ContainResult,
) {
  if (s.readError) {
    out.failures.push(unreadFailure(s.functionArn, s.readError));
    return;
  }
  const iso = groupsFor(lookup, s.functionArn, s.vpcId, 'UpdateFunctionConfiguration', out);
  if (!iso) return;
  const current = functionRead.take(ctx, s.functionArn) ?? (await functionVpcNow(ctx, s.functionArn));
  if (current.subnetIds.length > 0 && sameSet(current.securityGroupIds, [iso.closed])) return;
  // A function taken out of its VPC since the snapshot goes back into the snapshot's subnets, closed.
  const subnetIds = current.subnetIds.length > 0 ? current.subnetIds : s.subnetIds;
  const ipv6 = current.ipv6AllowedForDualStack ?? s.ipv6AllowedForDualStack;
  await ctx.clients.lambda.send(
    new UpdateFunctionConfigurationCommand({
      FunctionName: s.functionArn,
      VpcConfig: {
        SubnetIds: [...subnetIds],
        SecurityGroupIds: [iso.closed],
        ...(ipv6 !== undefined ? { Ipv6AllowedForDualStack: ipv6 } : {}),
      },
    }),
  );
  out.changes.push(
    change(
      s.functionArn,
      'UpdateFunctionConfiguration',
      { subnetIds: current.subnetIds, securityGroupIds: current.securityGroupIds },
      { subnetIds, securityGroupIds: [iso.closed] },
    ),
  );
}

/** The write that cuts (and restores) each kind of resource. */
function writeAction(s: NetworkSnapshot): string {
  return s.kind === 'function' ? 'UpdateFunctionConfiguration' : 'ModifyNetworkInterfaceAttribute';
}

const contain: Surface<NetworkSnapshot>['contain'] = async (ctx, _mode, snap) => {
  const lookup = await isolationByVpc(ctx, snap);
  // A resource found gone is passed over. ResourceConflictException (a function update in
  // progress) is a failure: verify sees it and re-cuts.
  const names = { resource: resourceOf, action: writeAction };
  return containEach(snap, CONCURRENCY, names, (s, out) =>
    s.kind === 'function' ? containFunction(ctx, s, lookup, out) : containEni(ctx, s, snap, lookup, out),
  );
};

/** `sg-0abc (support-bot-app)`, as the snapshot names the groups. */
function groupsText(groups: readonly SecurityGroupRef[]): string {
  if (groups.length === 0) return 'no groups';
  return groups.map((g) => (g.groupName ? `${g.groupId} (${g.groupName})` : g.groupId)).join(', ');
}

const plan: Surface<NetworkSnapshot>['plan'] = (_ctx, _mode, snap) => {
  // Names of the groups the interfaces carry, so a function's VpcConfig can be named too.
  const names = new Map<string, string>();
  for (const { state } of snap) {
    if (state.kind === 'network-interface')
      for (const g of state.groups) if (g.groupName) names.set(g.groupId, g.groupName);
  }
  return planEach(snap, (s, { act, skip }) => {
    const resource = resourceOf(s);
    if (s.readError) {
      skip({
        resource,
        current: unreadState(s.readError),
        reason: 'its state could not be read: the kill would report it FAILED, not isolate it blind',
      });
      return;
    }
    const isolate = `the closed isolation group of ${s.vpcId}, via the open one (connection tracking)`;
    if (s.kind === 'function') {
      const groups = s.securityGroupIds.map((id) => ({ groupId: id, groupName: names.get(id) }));
      act({
        resource,
        label: `function ${s.functionArn.split(':').pop() ?? ''} (VpcConfig)`,
        action: 'UpdateFunctionConfiguration VpcConfig',
        current: groupsText(groups),
        after: isolate,
      });
      return;
    }
    const label = s.description ? `${s.networkInterfaceId} (${s.description})` : s.networkInterfaceId;
    if (s.requesterManaged) {
      skip({ resource, label, current: groupsText(s.groups), reason: requesterManagedReason(s, snap) });
      return;
    }
    act({
      resource,
      label,
      action: 'ModifyNetworkInterfaceAttribute Groups',
      current: groupsText(s.groups),
      after: isolate,
    });
  });
};

const verify: Surface<NetworkSnapshot>['verify'] = async (ctx, _mode, snap) => {
  // The groups are looked up while the resources are read, not before.
  const lookup = isolationByVpc(ctx, snap);
  const names = {
    resource: resourceOf,
    action: (s: NetworkSnapshot) => (s.kind === 'function' ? 'GetFunction' : 'DescribeNetworkInterfaces'),
  };
  return verifyEach(snap, READ_CONCURRENCY, names, async (s, out) => {
    const resource = resourceOf(s);
    if (s.readError) {
      out.failures.push(unreadFailure(resource, s.readError));
      return;
    }
    if (s.kind === 'network-interface' && s.requesterManaged) return; // skipped by contain, with its reason
    if (s.kind === 'function') {
      const current = await functionVpcNow(ctx, s.functionArn);
      const iso = groupsFor(await lookup, resource, s.vpcId, 'DescribeSecurityGroups', out);
      if (!iso) return;
      if (current.subnetIds.length > 0 && sameSet(current.securityGroupIds, [iso.closed])) return;
      out.drifted.push(
        mismatch(
          resource,
          { securityGroupIds: [iso.closed] },
          { subnetIds: current.subnetIds, securityGroupIds: current.securityGroupIds },
        ),
      );
    } else {
      const eni = await describeEni(ctx, s.networkInterfaceId);
      const iso = groupsFor(await lookup, resource, s.vpcId, 'DescribeSecurityGroups', out);
      if (!iso || !eni) return;
      eniRead.set(ctx, s.networkInterfaceArn, eni);
      const current = groupsOf(eni).map((g) => g.groupId);
      if (sameSet(current, [iso.closed])) return;
      out.drifted.push(mismatch(resource, { groups: [iso.closed] }, { groups: current }));
    }
  });
};

const restore: Surface<NetworkSnapshot>['restore'] = async (ctx, _toMode, snap) => {
  const names = {
    resource: resourceOf,
    action: writeAction,
    gone: (s: NetworkSnapshot) =>
      `the ${s.kind === 'function' ? 'function' : 'network interface'} no longer exists`,
  };
  return restoreEach(snap, CONCURRENCY, names, async (s, out) => {
    const resource = resourceOf(s);
    if (s.readError || (s.kind === 'network-interface' && s.requesterManaged)) return; // contain never changed it
    if (s.kind === 'function') {
      const current = await functionVpc(ctx, s.functionArn);
      if (sameSet(current.subnetIds, s.subnetIds) && sameSet(current.securityGroupIds, s.securityGroupIds))
        return;
      await ctx.clients.lambda.send(
        new UpdateFunctionConfigurationCommand({
          FunctionName: s.functionArn,
          VpcConfig: {
            SubnetIds: [...s.subnetIds],
            SecurityGroupIds: [...s.securityGroupIds],
            ...(s.ipv6AllowedForDualStack !== undefined
              ? { Ipv6AllowedForDualStack: s.ipv6AllowedForDualStack }
              : {}),
          },
        }),
      );
      out.changes.push(
        change(
          resource,
          'UpdateFunctionConfiguration',
          { subnetIds: current.subnetIds, securityGroupIds: current.securityGroupIds },
          { subnetIds: s.subnetIds, securityGroupIds: s.securityGroupIds },
        ),
      );
    } else {
      const eni = await describeEni(ctx, s.networkInterfaceId);
      if (!eni) {
        out.notRestorable.push({ resource, reason: 'the network interface no longer exists' });
        return;
      }
      const current = groupsOf(eni).map((g) => g.groupId);
      const original = s.groups.map((g) => g.groupId);
      if (sameSet(current, original)) return;
      await ctx.clients.ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: s.networkInterfaceId,
          Groups: original,
        }),
      );
      out.changes.push(
        change(resource, 'ModifyNetworkInterfaceAttribute', { groups: current }, { groups: original }),
      );
    }
  });
};

export const network: Surface<NetworkSnapshot> = {
  name: 'network',
  appliesTo: (mode) => mode === 'full_stop',
  discover,
  snapshot,
  contain,
  plan,
  verify,
  restore,
};
