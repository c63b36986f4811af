/**
 * The canary: a kill rehearsed without cutting anything, per workload account and region. It
 * assumes the kill role exactly as a kill does, runs every surface's discovery and snapshot (the
 * kill path's dry run) for every declared agent, then asks IAM (SimulatePrincipalPolicy on the
 * deployed kill role) whether the role is still allowed what a kill needs on each resource found
 * (lambda/shared/kill-permissions.ts). Each problem is a finding that names the agent and the
 * missing role, permission or read, and says whether a real kill would end FAILED or PARTIAL.
 */
import { GetRoleCommand, type IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { unqualifiedFunctionArn } from '../shared/arn';
import { errorMessage, errorName, isErrorNamed } from '../shared/aws-errors';
import type { ClientFactory, WorkloadClients } from '../shared/clients';
import { mapLimit } from '../shared/concurrency';
import { assumeKillRole } from '../shared/deps';
import {
  CANARY_SELF_CHECK_ACTION,
  KILL_PERMISSIONS,
  type KillPermission,
  type KillRequestContext,
  type KillResourceKind,
  killBoundaryArn,
} from '../shared/kill-permissions';
import {
  AGENT_TAG,
  denyPolicyArn,
  IAM_PATH,
  killExecutionRoleArn,
  killExecutionRoleName,
} from '../shared/naming';
import {
  type AgentTarget,
  type Directory,
  KILL_MODES,
  SURFACE_NAMES,
  type SurfaceName,
  type WorkloadTarget,
} from '../shared/types';
import { taggedArns } from '../surfaces/common';
import type { EventSourceMappingSnapshot } from '../surfaces/event-source-mappings';
import type { EventRuleSnapshot } from '../surfaces/eventbridge-rules';
import type { ExecutionSnapshot } from '../surfaces/executions';
import type { RoleSnapshot } from '../surfaces/iam-roles';
import { SURFACES } from '../surfaces';
import { findIsolationGroups, type NetworkSnapshot } from '../surfaces/network';
import type { ScheduleSnapshot } from '../surfaces/schedules';
import type { Log, ResourceSnapshot, SurfaceContext } from '../surfaces/types';

/**
 * - `KILL_ROLE_UNUSABLE`: the kill role cannot be assumed (no workload stack, broken trust): a
 *   kill of every agent there would be refused (`FAILED`).
 * - `SURFACE_UNREADABLE`: discovery or a snapshot read failed: that surface would not be proven
 *   cut (`PARTIAL`).
 * - `ISOLATION_GROUPS_MISSING`: an agent interface's VPC has no isolation groups (`PARTIAL`).
 * - `PERMISSION_MISSING`: the kill role is not allowed an action a kill needs on a resource found
 *   (`PARTIAL`).
 * - `PERMISSIONS_UNCHECKED`: IAM would not simulate the kill role's policies, so nothing proves
 *   the permissions (`UNPROVEN`).
 */
export type CanaryFindingKind =
  | 'KILL_ROLE_UNUSABLE'
  | 'SURFACE_UNREADABLE'
  | 'ISOLATION_GROUPS_MISSING'
  | 'PERMISSION_MISSING'
  | 'PERMISSIONS_UNCHECKED';

export interface CanaryFinding {
  readonly kind: CanaryFindingKind;
  readonly accountId: string;
  readonly region: string;
  /** Undefined when the finding concerns every agent of the account and region. */
  readonly agentId?: string;
  readonly surface?: SurfaceName;
  /** The permission a kill needs and the role lacks. */
  readonly action?: string;
  /** Up to 10 of the resources concerned. */
  readonly resources?: readonly string[];
  /** What IAM decided (`implicitDeny`, `explicitDeny`) or the error a call answered. */
  readonly cause?: string;
  /** How a real kill would end because of it. */
  readonly effect: 'FAILED' | 'PARTIAL' | 'UNPROVEN';
  /** One sentence for a person: the agent, what is missing, and what to do. */
  readonly message: string;
}

export interface CanaryReport {
  readonly accountId: string;
  readonly region: string;
  /** ISO 8601. */
  readonly checkedAt: string;
  readonly killRoleArn: string;
  /** The agents of this account and region the canary rehearsed. */
  readonly agents: readonly string[];
  /** Authorizations simulated (action x resource). */
  readonly checks: number;
  readonly findings: readonly CanaryFinding[];
}

export interface CanaryDeps {
  readonly directory: Directory;
  /** Control plane clients under the kill worker's identity (the only one the kill roles trust). */
  readonly clients: ClientFactory;
  readonly clock: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Log;
}

/** One authorization to simulate: an action on some resources, with the request's context. */
interface Check {
  readonly agentId?: string;
  readonly surface: SurfaceName;
  readonly action: string;
  readonly resources: string[];
  readonly context: Readonly<Record<string, string>>;
}

/** A resource a surface found, with what a kill's request on it would carry. */
interface Found {
  readonly kind: KillResourceKind;
  readonly arn: string;
  /** Values for the contexts of the permissions on this kind (several values: one check each). */
  readonly context: Partial<Record<KillRequestContext, readonly string[]>>;
}

const AGENTS_AT_ONCE = 4;
const RESOURCES_PER_SIMULATION = 50;
const LISTED = 10;

/** The canary's session in the workload account: `backstop-canary-<time>`, as CloudTrail shows it. */
export function canarySessionId(at: Date): string {
  return `canary-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

function workloadAgent(directory: Directory, target: WorkloadTarget): AgentTarget {
  return {
    agentId: 'canary',
    accountId: target.accountId,
    region: target.region,
    partition: directory.partition,
    roleArns: [],
    resourceArns: [],
    highRiskActions: [],
    draftResources: [],
  };
}

/** Backstop's own policies (deny policies, boundaries) are never detached by a kill. */
const isBackstopPolicy = (arn: string) => arn.includes(`:policy${IAM_PATH}`);

/** Rehearses a kill of every agent of one workload account and region, and reports what would stop it. */
export async function runCanary(target: WorkloadTarget, deps: CanaryDeps): Promise<CanaryReport> {
  const { directory } = deps;
  const partition = directory.partition;
  const checkedAt = deps.clock();
  const killRoleArn = killExecutionRoleArn(partition, target.accountId, target.region);
  const agents = directory.agents.filter(
    (a) => a.accountId === target.accountId && a.region === target.region,
  );
  const where = { accountId: target.accountId, region: target.region };
  const report = (findings: CanaryFinding[], checks: number): CanaryReport => ({
    ...where,
    checkedAt: checkedAt.toISOString(),
    killRoleArn,
    agents: agents.map((a) => a.agentId),
    checks,
    findings,
  });

  let clients: WorkloadClients;
  try {
    clients = await assumeKillRole(deps, workloadAgent(directory, target), canarySessionId(checkedAt));
  } catch (e) {
    const cause = `${errorName(e)}: ${errorMessage(e)}`;
    const fix = 'deploy its WorkloadAccountStack or fix the role’s trust of backstop-kill-worker';
    const findings: CanaryFinding[] = (agents.length > 0 ? agents.map((a) => a.agentId) : [undefined]).map(
      (agentId) => ({
        kind: 'KILL_ROLE_UNUSABLE',
        ...where,
        ...(agentId ? { agentId } : {}),
        cause,
        effect: 'FAILED',
        message: `${agentId ? `agent ${agentId}` : `account ${target.accountId}`}: the kill role ${killExecutionRoleName(target.region)} in ${target.accountId}/${target.region} cannot be assumed (${cause}); a kill would be FAILED: ${fix}`,
      }),
    );
    return report(findings, 0);
  }

  const findings: CanaryFinding[] = [];
  const checks: Check[] = [];
  const perAgent = await mapLimit(agents, AGENTS_AT_ONCE, (agent) =>
    rehearse(agent, clients, deps, checkedAt),
  );
  for (const r of perAgent) {
    findings.push(...r.findings);
    checks.push(...r.checks);
  }
  // The list calls that IAM authorizes only on `*`, once for the account and region.
  const unscoped = new Map<string, SurfaceName>();
  for (const surface of SURFACE_NAMES) {
    for (const p of KILL_PERMISSIONS[surface])
      if (p.resource === '*' && !unscoped.has(p.action)) unscoped.set(p.action, surface);
  }
  for (const [action, surface] of unscoped) checks.push({ surface, action, resources: ['*'], context: {} });

  const simulated = await simulate(clients.iam, killRoleArn, checks, where);
  findings.push(...simulated.findings);
  return report(findings, simulated.count);
}

/** Discovery and snapshot of one agent, and the authorizations its kill would need. */
async function rehearse(
  agent: AgentTarget,
  clients: WorkloadClients,
  deps: CanaryDeps,
  at: Date,
): Promise<{ findings: CanaryFinding[]; checks: Check[] }> {
  const where = { accountId: agent.accountId, region: agent.region, agentId: agent.agentId };
  const ctx: SurfaceContext = {
    agent,
    incidentId: canarySessionId(at),
    killStartedAt: at,
    clients,
    clock: deps.clock,
    sleep: deps.sleep,
    log: deps.log,
  };
  const findings: CanaryFinding[] = [];
  const unreadable = (surface: SurfaceName, resources: string[], cause: string) =>
    findings.push({
      kind: 'SURFACE_UNREADABLE',
      ...where,
      surface,
      ...(resources.length > 0 ? { resources: resources.slice(0, LISTED) } : {}),
      cause,
      effect: 'PARTIAL',
      message: `agent ${agent.agentId}: the kill role cannot read its ${surface}${resources.length > 0 ? ` (${resources.slice(0, 3).join(', ')}${resources.length > 3 ? ', ...' : ''})` : ''} (${cause}); a kill would leave that surface unproven (PARTIAL): grant the read or fix the resource`,
    });

  let tagged = new Set<string>();
  try {
    tagged = new Set(
      await taggedArns(ctx, [
        'lambda:function',
        'lambda:event-source-mapping',
        'events:rule',
        'ec2:network-interface',
        'states:stateMachine',
      ]),
    );
  } catch (e) {
    unreadable('lambda', [], `tag:GetResources ${errorName(e)}: ${errorMessage(e)}`);
  }

  const found: { surface: SurfaceName; items: Found[] }[] = [];
  for (const surface of SURFACE_NAMES) {
    let snapshots: ResourceSnapshot[];
    try {
      const ids = await SURFACES[surface].discover(ctx);
      snapshots = await SURFACES[surface].snapshot(ctx, ids);
    } catch (e) {
      unreadable(surface, [], `${errorName(e)}: ${errorMessage(e)}`);
      continue;
    }
    const unread = snapshots.filter((s) => (s.state as { readError?: unknown }).readError !== undefined);
    if (unread.length > 0) {
      const err = (unread[0]?.state as { readError: { error: string; message: string } }).readError;
      unreadable(
        surface,
        unread.map((s) => s.id),
        `${err.error}: ${err.message}`,
      );
    }
    const readable = snapshots.filter((s) => !unread.includes(s));
    found.push({ surface, items: await resourcesOf(surface, readable, ctx, tagged, findings) });
  }

  const checks: Check[] = [];
  for (const { surface, items } of found) {
    for (const permission of KILL_PERMISSIONS[surface]) {
      if (permission.resource === '*') continue;
      for (const item of items.filter((i) => i.kind === permission.resource)) {
        for (const context of contextsFor(permission, item, agent)) {
          checks.push({
            agentId: agent.agentId,
            surface,
            action: permission.action,
            resources: [item.arn],
            context,
          });
        }
      }
    }
  }
  return { findings, checks };
}

/** Every combination of context values a permission's request would carry on this resource. */
function contextsFor(permission: KillPermission, item: Found, agent: AgentTarget): Record<string, string>[] {
  let contexts: Record<string, string>[] = [{}];
  for (const need of permission.context ?? []) {
    const values =
      need === 'agent-tag' ? item.context['agent-tag'] : (item.context[need] ?? valuesFor(need, agent));
    if (need === 'agent-tag' && (!values || values.length === 0)) continue;
    if (!values || values.length === 0) return []; // e.g. a role with no policy of its own to detach
    const key = CONTEXT_KEYS[need];
    contexts = contexts.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  return contexts;
}

const CONTEXT_KEYS: Readonly<Record<KillRequestContext, string>> = {
  'deny-policy': 'iam:PolicyARN',
  'agent-policy': 'iam:PolicyARN',
  'kill-boundary': 'iam:PermissionsBoundary',
  'pass-to-scheduler': 'iam:PassedToService',
  'mapping-function': 'lambda:FunctionArn',
  'agent-tag': `aws:ResourceTag/${AGENT_TAG}`,
};

function valuesFor(need: KillRequestContext, agent: AgentTarget): readonly string[] | undefined {
  switch (need) {
    case 'deny-policy':
      return KILL_MODES.map((mode) =>
        denyPolicyArn(agent.partition, agent.accountId, agent.region, agent.agentId, mode),
      );
    case 'kill-boundary':
      return [killBoundaryArn(agent.partition, agent.accountId, agent.region)];
    case 'pass-to-scheduler':
      return ['scheduler.amazonaws.com'];
    default:
      return undefined;
  }
}

/** The resources a surface's snapshot holds, by the kind IAM authorizes the kill's calls on. */
async function resourcesOf(
  surface: SurfaceName,
  snapshots: readonly ResourceSnapshot[],
  ctx: SurfaceContext,
  tagged: ReadonlySet<string>,
  findings: CanaryFinding[],
): Promise<Found[]> {
  const { agent, clients } = ctx;
  const arn = (service: string, resource: string) =>
    `arn:${agent.partition}:${service}:${agent.region}:${agent.accountId}:${resource}`;
  const tag = (resourceArn: string) => (tagged.has(resourceArn) ? { 'agent-tag': [agent.agentId] } : {});
  switch (surface) {
    case 'iam':
      return (snapshots as ResourceSnapshot<RoleSnapshot>[]).flatMap(({ state }) => {
        const own = state.attachedPolicies.map((p) => p.policyArn).filter((p) => !isBackstopPolicy(p));
        return [
          {
            kind: 'role' as const,
            arn: state.roleArn,
            context: {
              'agent-policy': own,
              ...(state.tags[AGENT_TAG] === agent.agentId ? { 'agent-tag': [agent.agentId] } : {}),
            },
          },
          ...own.map((p) => ({ kind: 'managed-policy' as const, arn: p, context: {} })),
        ];
      });
    case 'lambda':
      return snapshots.map((s) => ({ kind: 'function' as const, arn: s.id, context: tag(s.id) }));
    case 'event-source-mappings':
      return (snapshots as ResourceSnapshot<EventSourceMappingSnapshot>[]).map(({ state }) => {
        const mappingArn = state.eventSourceMappingArn ?? arn('lambda', `event-source-mapping:${state.uuid}`);
        return {
          kind: 'event-source-mapping' as const,
          arn: mappingArn,
          context: {
            ...tag(mappingArn),
            ...(state.functionArn ? { 'mapping-function': [unqualifiedFunctionArn(state.functionArn)] } : {}),
          },
        };
      });
    case 'eventbridge-rules':
      return (snapshots as ResourceSnapshot<EventRuleSnapshot>[])
        .filter(({ state }) => !state.managedBy)
        .flatMap(({ state }) => [
          { kind: 'rule' as const, arn: state.arn, context: tag(state.arn) },
          { kind: 'event-bus' as const, arn: arn('events', `event-bus/${state.eventBusName}`), context: {} },
        ]);
    case 'schedules': {
      const out: Found[] = [];
      for (const { state } of snapshots as ResourceSnapshot<ScheduleSnapshot>[]) {
        out.push({ kind: 'schedule', arn: state.arn, context: {} });
        out.push({
          kind: 'schedule-group',
          arn: arn('scheduler', `schedule-group/${state.groupName}`),
          context: {},
        });
        const roleArn = state.definition?.Target.RoleArn;
        if (roleArn)
          out.push({
            kind: 'schedule-role',
            arn: roleArn,
            context: await roleTag(roleArn, agent, clients, findings),
          });
      }
      return out;
    }
    case 'executions':
      return (snapshots as ResourceSnapshot<ExecutionSnapshot>[])
        .filter(({ state }) => state.status === 'RUNNING')
        .flatMap(({ state }) => [
          { kind: 'execution' as const, arn: state.executionArn, context: {} },
          { kind: 'state-machine' as const, arn: state.stateMachineArn, context: tag(state.stateMachineArn) },
        ]);
    case 'network': {
      const out: Found[] = [];
      const vpcs = new Set<string>();
      for (const { state } of snapshots as ResourceSnapshot<NetworkSnapshot>[]) {
        if (state.kind === 'function') {
          out.push({ kind: 'function', arn: state.functionArn, context: tag(state.functionArn) });
          continue;
        }
        if (state.requesterManaged) continue; // a kill reports these as skipped, with their owner
        out.push({
          kind: 'network-interface',
          arn: state.networkInterfaceArn,
          context: tag(state.networkInterfaceArn),
        });
        if (state.vpcId) vpcs.add(state.vpcId);
      }
      for (const vpcId of vpcs) {
        try {
          const groups = await findIsolationGroups(ctx, vpcId);
          for (const id of [groups.open, groups.closed])
            out.push({ kind: 'isolation-group', arn: arn('ec2', `security-group/${id}`), context: {} });
        } catch (e) {
          findings.push({
            kind: 'ISOLATION_GROUPS_MISSING',
            accountId: agent.accountId,
            region: agent.region,
            agentId: agent.agentId,
            surface: 'network',
            resources: [vpcId],
            cause: `${errorName(e)}: ${errorMessage(e)}`,
            effect: 'PARTIAL',
            message: `agent ${agent.agentId}: its network interfaces in ${vpcId} could not be isolated (${errorMessage(e)}); a kill would be PARTIAL`,
          });
        }
      }
      return out;
    }
  }
}

/** Whether a schedule's role is tagged for the agent (what the kill role's PassRole may test). */
async function roleTag(
  roleArn: string,
  agent: AgentTarget,
  clients: WorkloadClients,
  findings: CanaryFinding[],
): Promise<Found['context']> {
  try {
    const role = await clients.iam.send(new GetRoleCommand({ RoleName: roleArn.split('/').pop() }));
    const value = role.Role?.Tags?.find((t) => t.Key === AGENT_TAG)?.Value;
    return value === agent.agentId ? { 'agent-tag': [agent.agentId] } : {};
  } catch (e) {
    findings.push({
      kind: 'SURFACE_UNREADABLE',
      accountId: agent.accountId,
      region: agent.region,
      agentId: agent.agentId,
      surface: 'schedules',
      resources: [roleArn],
      cause: `${errorName(e)}: ${errorMessage(e)}`,
      effect: 'PARTIAL',
      message: `agent ${agent.agentId}: the role its schedule passes (${roleArn}) cannot be read (${errorMessage(e)}); a kill may not disable the schedule (PARTIAL)`,
    });
    return {};
  }
}

/**
 * Simulates every check against the kill role, grouping checks of the same action and context
 * into one call, and turns every decision other than `allowed` into a finding.
 */
async function simulate(
  iam: IAMClient,
  killRoleArn: string,
  checks: readonly Check[],
  where: { accountId: string; region: string },
): Promise<{ findings: CanaryFinding[]; count: number }> {
  const groups = new Map<string, Check[]>();
  for (const c of checks) {
    const key = `${c.action}|${JSON.stringify(Object.entries(c.context).sort())}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const denied = new Map<string, { check: Check; resources: string[]; decision: string }>();
  let count = 0;
  try {
    for (const group of groups.values()) {
      const first = group[0] as Check;
      const resources = [...new Set(group.flatMap((c) => c.resources))];
      for (let i = 0; i < resources.length; i += RESOURCES_PER_SIMULATION) {
        const chunk = resources.slice(i, i + RESOURCES_PER_SIMULATION);
        let marker: string | undefined;
        do {
          const out = await iam.send(
            new SimulatePrincipalPolicyCommand({
              PolicySourceArn: killRoleArn,
              ActionNames: [first.action],
              ResourceArns: chunk,
              ContextEntries: Object.entries(first.context).map(([ContextKeyName, value]) => ({
                ContextKeyName,
                ContextKeyValues: [value],
                ContextKeyType: 'string' as const,
              })),
              Marker: marker,
            }),
          );
          for (const result of out.EvaluationResults ?? []) {
            const perResource =
              result.ResourceSpecificResults && result.ResourceSpecificResults.length > 0
                ? result.ResourceSpecificResults.map(
                    (r) => [r.EvalResourceName, r.EvalResourceDecision] as const,
                  )
                : [[result.EvalResourceName, result.EvalDecision] as const];
            for (const [resource, decision] of perResource) {
              count += 1;
              if (decision === 'allowed' || !resource) continue;
              for (const check of group.filter((c) => c.resources.includes(resource))) {
                const key = `${check.agentId ?? '*'}|${check.surface}|${check.action}|${decision}`;
                const entry = denied.get(key) ?? { check, resources: [], decision: String(decision) };
                if (!entry.resources.includes(resource)) entry.resources.push(resource);
                denied.set(key, entry);
              }
            }
          }
          marker = out.IsTruncated ? out.Marker : undefined;
        } while (marker);
      }
    }
  } catch (e) {
    if (!isErrorNamed(e, 'AccessDenied', 'AccessDeniedException', 'InvalidInput', 'NoSuchEntity')) throw e;
    return {
      count,
      findings: [
        {
          kind: 'PERMISSIONS_UNCHECKED',
          ...where,
          action: CANARY_SELF_CHECK_ACTION,
          cause: `${errorName(e)}: ${errorMessage(e)}`,
          effect: 'UNPROVEN',
          message: `account ${where.accountId} ${where.region}: the kill role's permissions could not be simulated (${errorName(e)}: ${errorMessage(e)}); nothing proves a kill would be allowed: deploy the current WorkloadAccountStack (it lets the kill role simulate its own policies)`,
        },
      ],
    };
  }
  const findings = [...denied.values()].map(({ check, resources: unsorted, decision }): CanaryFinding => {
    const resources = [...unsorted].sort();
    return {
      kind: 'PERMISSION_MISSING',
      ...where,
      ...(check.agentId ? { agentId: check.agentId } : {}),
      surface: check.surface,
      action: check.action,
      resources: resources.slice(0, LISTED),
      cause: decision,
      effect: 'PARTIAL',
      message: `${check.agentId ? `agent ${check.agentId}` : `every agent of ${where.accountId}/${where.region}`}: the kill role is not allowed ${check.action} (${decision}) on ${resources.length === 1 ? resources[0] : `${resources.length} resources, e.g. ${resources[0]}`}; a kill would leave its ${check.surface} uncut (PARTIAL): redeploy the WorkloadAccountStack or remove what denies it`,
    };
  });
  return { findings, count };
}
