/**
 * After a restore, every surface is read back and compared with its snapshot: each resource must
 * hold again what it held before the kill, with the exceptions the restore means to leave.
 * IAM keeps the deny of the mode the agent returns to and the dated session deny (sessions issued
 * before the kill stay dead); stopped executions are listed, never restarted; a schedule's start
 * date that had passed may be dropped (Scheduler refuses a start date in the past).
 */
import { canonicalJson } from '../shared/hash';
import { BACKSTOP_INLINE_POLICY_NAMES, denyPolicyArn, REVOKE_SESSIONS_POLICY } from '../shared/naming';
import { isKillMode, KILL_MODES, type Mode, type SurfaceName } from '../shared/types';
import { sameSet } from '../surfaces/common';
import type { EventSourceMappingSnapshot } from '../surfaces/event-source-mappings';
import type { EventRuleSnapshot } from '../surfaces/eventbridge-rules';
import { isBackstopInline, revokedBefore, type RoleSnapshot } from '../surfaces/iam-roles';
import { getSurface } from '../surfaces';
import type { FunctionConcurrencySnapshot } from '../surfaces/lambda-concurrency';
import type { NetworkSnapshot } from '../surfaces/network';
import { type ScheduleDefinition, type ScheduleSnapshot, updateInput } from '../surfaces/schedules';
import type { Mismatch, ResourceSnapshot, SurfaceContext } from '../surfaces/types';

const ACTIVE_MAPPING = new Set(['Enabled', 'Enabling']);
const RUNNING_MAPPING = new Set(['Enabled', 'Enabling', 'Creating', 'Updating']);

type Compare<S> = (ctx: SurfaceContext, toMode: Mode, before: S, now: S) => Mismatch | undefined;

function backstopDenies(ctx: SurfaceContext): Set<string> {
  const { partition, accountId, region, agentId } = ctx.agent;
  return new Set(KILL_MODES.map((m) => denyPolicyArn(partition, accountId, region, agentId, m)));
}

const iam: Compare<RoleSnapshot> = (ctx, toMode, before, now) => {
  if (before.readError) return undefined; // reported as not restorable by the restore
  const denies = backstopDenies(ctx);
  const keep = isKillMode(toMode)
    ? denyPolicyArn(ctx.agent.partition, ctx.agent.accountId, ctx.agent.region, ctx.agent.agentId, toMode)
    : undefined;
  const expectedAttached = [
    ...before.attachedPolicies.map((p) => p.policyArn).filter((a) => !denies.has(a)),
    ...(keep ? [keep] : []),
  ].sort();
  const actualAttached = now.attachedPolicies.map((p) => p.policyArn).sort();
  const own = (role: RoleSnapshot) =>
    Object.fromEntries(
      role.inlinePolicies
        .filter((p) => !BACKSTOP_INLINE_POLICY_NAMES.includes(p.policyName))
        .map((p) => [p.policyName, p.document]),
    );
  const sessionDeny = now.inlinePolicies.find((p) => p.policyName === REVOKE_SESSIONS_POLICY);
  const cutoff = sessionDeny ? revokedBefore(sessionDeny.document) : undefined;
  const sessionsDead =
    sessionDeny !== undefined &&
    isBackstopInline(REVOKE_SESSIONS_POLICY, sessionDeny.document, ctx.clock()) &&
    cutoff !== undefined &&
    cutoff.getTime() >= ctx.killStartedAt.getTime();
  const expected = {
    attachedPolicies: expectedAttached,
    inlinePolicies: own(before),
    permissionsBoundaryArn: before.permissionsBoundaryArn ?? null,
    sessionsIssuedBeforeTheKill: 'denied',
  };
  const actual = {
    attachedPolicies: actualAttached,
    inlinePolicies: own(now),
    permissionsBoundaryArn: now.permissionsBoundaryArn ?? null,
    sessionsIssuedBeforeTheKill: sessionsDead ? 'denied' : 'not denied',
  };
  return canonicalJson(expected) === canonicalJson(actual)
    ? undefined
    : { resource: before.roleArn, expected, actual };
};

const lambda: Compare<FunctionConcurrencySnapshot> = (_ctx, _toMode, before, now) => {
  if (before.readError || before.reservedConcurrentExecutions === now.reservedConcurrentExecutions)
    return undefined;
  return {
    resource: before.functionArn,
    expected: { reservedConcurrentExecutions: before.reservedConcurrentExecutions },
    actual: { reservedConcurrentExecutions: now.reservedConcurrentExecutions },
  };
};

const mappings: Compare<EventSourceMappingSnapshot> = (_ctx, _toMode, before, now) => {
  if (before.readError) return undefined;
  if (ACTIVE_MAPPING.has(before.state)) {
    return ACTIVE_MAPPING.has(now.state)
      ? undefined
      : { resource: before.uuid, expected: { state: before.state }, actual: { state: now.state } };
  }
  if (RUNNING_MAPPING.has(before.state)) return undefined; // unknown whether it polled: said by the restore
  return RUNNING_MAPPING.has(now.state)
    ? { resource: before.uuid, expected: { state: before.state }, actual: { state: now.state } }
    : undefined;
};

const rules: Compare<EventRuleSnapshot> = (_ctx, _toMode, before, now) => {
  if (before.readError || before.managedBy || before.state === now.state) return undefined;
  return { resource: before.arn, expected: { state: before.state }, actual: { state: now.state } };
};

function comparableSchedule(d: ScheduleDefinition, dropPastStart: boolean, now: Date): string {
  const input = { ...updateInput(d, d.State) } as Record<string, unknown>;
  if (dropPastStart && d.StartDate && new Date(d.StartDate).getTime() <= now.getTime())
    delete input.StartDate;
  return canonicalJson(input);
}

const schedules: Compare<ScheduleSnapshot> = (ctx, _toMode, before, now) => {
  if (!before.definition || !now.definition) return undefined;
  const dropPastStart = now.definition.StartDate === undefined;
  if (
    comparableSchedule(before.definition, dropPastStart, ctx.clock()) ===
    comparableSchedule(now.definition, dropPastStart, ctx.clock())
  )
    return undefined;
  return {
    resource: before.arn,
    expected: {
      State: before.definition.State,
      definition: updateInput(before.definition, before.definition.State),
    },
    actual: { State: now.definition.State, definition: updateInput(now.definition, now.definition.State) },
  };
};

const network: Compare<NetworkSnapshot> = (_ctx, _toMode, before, now) => {
  if (before.readError) return undefined;
  if (before.kind === 'network-interface' && now.kind === 'network-interface') {
    if (before.requesterManaged) return undefined;
    const want = before.groups.map((g) => g.groupId);
    const got = now.groups.map((g) => g.groupId);
    return sameSet(want, got)
      ? undefined
      : { resource: before.networkInterfaceArn, expected: { groups: want }, actual: { groups: got } };
  }
  if (before.kind === 'function' && now.kind === 'function') {
    return sameSet(before.subnetIds, now.subnetIds) && sameSet(before.securityGroupIds, now.securityGroupIds)
      ? undefined
      : {
          resource: before.functionArn,
          expected: { subnetIds: before.subnetIds, securityGroupIds: before.securityGroupIds },
          actual: { subnetIds: now.subnetIds, securityGroupIds: now.securityGroupIds },
        };
  }
  return undefined;
};

const COMPARE: Partial<Record<SurfaceName, Compare<never>>> = {
  iam: iam as Compare<never>,
  lambda: lambda as Compare<never>,
  'event-source-mappings': mappings as Compare<never>,
  'eventbridge-rules': rules as Compare<never>,
  schedules: schedules as Compare<never>,
  network: network as Compare<never>,
};

/**
 * Reads the surface's resources back (the surface's own snapshot read) and answers each one that
 * does not hold what its snapshot says it should after the restore. Executions are not read back:
 * a stopped execution stays stopped.
 */
export async function readBack(
  surfaceName: SurfaceName,
  ctx: SurfaceContext,
  toMode: Mode,
  snapshot: readonly ResourceSnapshot[],
): Promise<Mismatch[]> {
  const compare = COMPARE[surfaceName] as Compare<unknown> | undefined;
  if (!compare || snapshot.length === 0) return [];
  const now = await getSurface(surfaceName).snapshot(
    ctx,
    snapshot.map((s) => s.id),
  );
  const byId = new Map(now.map((s) => [s.id, s.state]));
  const found: Mismatch[] = [];
  for (const before of snapshot) {
    const current = byId.get(before.id);
    if (current === undefined) continue; // gone: the restore said so
    const mismatch = compare(ctx, toMode, before.state, current);
    if (mismatch) found.push(mismatch);
  }
  return found;
}
