import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { AuditChain } from '../shared/audit';
import { errorMessage, errorName, isErrorNamed } from '../shared/aws-errors';
import { mapLimit } from '../shared/concurrency';
import { assumeKillRole, type HandlerDeps } from '../shared/deps';
import { openChain, openStore } from '../shared/kill-io';
import type { KillTarget, PrepareInput, PrepareOutput } from '../shared/kill-types';
import { refusalIncidentId, validateKillRequest } from '../shared/request';
import { cancelRestores } from '../restore-shared/cancel';
import { type AgentTarget, modeRank } from '../shared/types';

/** How long a kill's per-agent lock lives if the execution dies without releasing it. */
export const LOCK_TTL_SECONDS = 15 * 60;

/** State table calls in flight at once for a fleet kill (Phase 0 is on the critical path). */
const PARALLEL = 25;

/**
 * Orders the agents round-robin across accounts and regions. The Map cuts a bounded number of
 * agents at a time and each account has its own API throttles: spreading every wave over as
 * many accounts as possible lets their token buckets drain in parallel instead of one by one.
 */
export function interleaveByAccount(targets: readonly KillTarget[]): KillTarget[] {
  const groups = new Map<string, KillTarget[]>();
  for (const t of targets) {
    const key = `${t.accountId}/${t.region}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const queues = [...groups.values()];
  const out: KillTarget[] = [];
  for (let i = 0; out.length < targets.length; i++) {
    for (const q of queues) if (i < q.length) out.push(q[i] as KillTarget);
  }
  return out;
}

/**
 * Phase 0 of the kill path: validate, resolve the agents, take each agent's lock, record the
 * request and set the control flag (the agent runtime's first and fastest stop).
 */
export async function run(input: PrepareInput, deps: HandlerDeps): Promise<PrepareOutput> {
  const requestedAt = input.startTime || deps.clock().toISOString();
  const actor = { type: 'execution' as const, arn: input.executionId };
  const checked = validateKillRequest(input.request, deps.env.directory, input.executionName);
  const store = openStore(deps);

  // Incidents are immutable: an id belongs to the first execution that claims it. Another
  // execution asking for it is refused before it writes anything there (its refusal goes to an
  // incident of its own); a retry of the same execution carries on.
  const wanted = checked.ok ? checked.kill.incidentId : checked.incidentId;
  // What only reads goes alongside the claim: the agents' current modes, and whether each
  // account's kill role can be assumed at all. Nothing is written before the claim is won.
  const [claim, modes, unreachable] = await Promise.all([
    store.claimIncident(wanted, input.executionId),
    checked.ok ? mapLimit(checked.kill.agents, PARALLEL, (agent) => store.getMode(agent.agentId)) : [],
    checked.ok ? unreachableAgents(deps, checked.kill.agents, checked.kill.incidentId) : [],
  ]);
  if (!claim.claimed) {
    const incidentId = refusalIncidentId(input.executionId);
    await store.claimIncident(incidentId, input.executionId);
    const rejection = {
      code: 'INCIDENT_EXISTS' as const,
      message: `incident ${wanted} belongs to another kill (execution ${claim.holder}); an incident id names one kill: start a new kill without an incident id, or with a new one`,
    };
    const chain = openChain(deps, incidentId, 'prepare', actor);
    void chain.write('KillRejected', {
      detail: { ...rejection, requestedIncidentId: wanted, request: input.request },
    });
    await chain.flush();
    deps.log.warn('kill rejected', { incidentId, ...rejection });
    return {
      incidentId,
      executionId: input.executionId,
      mode: null,
      reason: null,
      dryRun: false,
      requestedAt,
      status: 'REJECTED',
      targets: [],
      joined: [],
      rejection,
    };
  }

  if (!checked.ok) {
    const chain = openChain(deps, checked.incidentId, 'prepare', actor);
    void chain.write('KillRejected', {
      reason:
        typeof (input.request as { reason?: unknown })?.reason === 'string'
          ? (input.request as { reason: string }).reason.slice(0, 1024)
          : undefined,
      detail: { code: checked.rejection.code, message: checked.rejection.message, request: input.request },
    });
    await chain.flush();
    deps.log.warn('kill rejected', { incidentId: checked.incidentId, ...checked.rejection });
    return {
      incidentId: checked.incidentId,
      executionId: input.executionId,
      mode: null,
      reason: null,
      dryRun: false,
      requestedAt,
      status: 'REJECTED',
      targets: [],
      joined: [],
      rejection: checked.rejection,
    };
  }

  const { kill } = checked;
  const chain = openChain(deps, kill.incidentId, 'prepare', actor);
  void chain.write('KillRequested', {
    mode: kill.mode,
    reason: kill.reason,
    detail: {
      agents: kill.agents.map((a) => ({ agentId: a.agentId, accountId: a.accountId, region: a.region })),
      dryRun: kill.dryRun,
      executionId: input.executionId,
    },
  });

  // A kill never loosens: an agent already held at a stricter mode is refused as a whole request,
  // because the caller asked for something that would lower it.
  const stricter = kill.agents.flatMap((agent, i) => {
    const current = modes[i];
    return current && modeRank(current.mode) > modeRank(kill.mode)
      ? [`agent ${agent.agentId} is at ${current.mode} (incident ${current.incidentId})`]
      : [];
  });
  if (stricter.length > 0) {
    const rejection = {
      code: 'WOULD_LOOSEN',
      message: `a ${kill.mode} kill would loosen: ${stricter.join('; ')}. Only a restore lowers a mode.`,
    };
    void chain.write('KillRejected', { mode: kill.mode, reason: kill.reason, detail: rejection });
    await chain.flush();
    return { ...base(kill, input, requestedAt), status: 'REJECTED', targets: [], joined: [], rejection };
  }

  // Fail fast where the kill role cannot be assumed at all (stack not deployed, trust broken):
  // those agents cannot be cut from here and the person must know now, not after every branch fails.
  for (const u of unreachable) {
    void chain.write('KillRejected', {
      agentId: u.agentId,
      accountId: u.accountId,
      region: u.region,
      mode: kill.mode,
      reason: kill.reason,
      detail: { code: 'NO_KILL_ROLE', message: u.message },
    });
  }
  if (unreachable.length === kill.agents.length) {
    const rejection = { code: 'NO_KILL_ROLE', message: unreachable.map((u) => u.message).join('; ') };
    await chain.flush();
    return {
      ...base(kill, input, requestedAt),
      status: 'REJECTED',
      targets: [],
      joined: [],
      rejection,
      unreachable,
    };
  }

  const reachable = kill.agents.filter((a) => !unreachable.some((u) => u.agentId === a.agentId));
  // A dry run takes no lock: a real kill that starts while it runs must cut, never join a plan.
  if (kill.dryRun) {
    await store.putIncident({
      incidentId: kill.incidentId,
      executionName: input.executionName,
      status: 'RUNNING',
      mode: kill.mode,
      agentIds: kill.agents.map((a) => a.agentId),
      requestedAt,
      reason: kill.reason,
      actor,
    });
    await chain.flush();
    return {
      ...base(kill, input, requestedAt),
      status: 'ACCEPTED',
      targets: interleaveByAccount(
        reachable.map((a) => ({ agentId: a.agentId, accountId: a.accountId, region: a.region })),
      ),
      joined: [],
      rejection: null,
      unreachable,
    };
  }
  const locks = await mapLimit(reachable, PARALLEL, async (agent) => {
    const request = {
      incidentId: kill.incidentId,
      mode: kill.mode,
      at: deps.clock(),
      ttlSeconds: LOCK_TTL_SECONDS,
      executionId: input.executionId,
    };
    let lock = await store.acquireLock(agent.agentId, request);
    if (lock.outcome === 'JOINED') {
      // Join only a kill that is still running: one that failed or was stopped before releasing
      // its lock must not leave the agent uncut until the lock expires.
      const stopped = await stoppedExecution(deps, lock.holder.executionId);
      if (stopped) {
        lock = await store.acquireLock(agent.agentId, { ...request, takeOverFrom: lock.holder.incidentId });
      }
    }
    return lock;
  });
  const targets: KillTarget[] = [];
  const joined: PrepareOutput['joined'] = [];
  reachable.forEach((agent, i) => {
    const lock = locks[i] as (typeof locks)[number];
    if (lock.outcome === 'JOINED') {
      joined.push({ agentId: agent.agentId, incidentId: lock.holder.incidentId, mode: lock.holder.mode });
      void chain.write('KillJoined', {
        agentId: agent.agentId,
        mode: kill.mode,
        detail: { joinedIncidentId: lock.holder.incidentId, joinedMode: lock.holder.mode },
      });
      return;
    }
    void chain.write('LockAcquired', {
      agentId: agent.agentId,
      mode: kill.mode,
      detail: {
        outcome: lock.outcome,
        previousHolder: lock.outcome === 'RAISED' || lock.outcome === 'TAKEN_OVER' ? lock.holder : undefined,
      },
    });
    targets.push({ agentId: agent.agentId, accountId: agent.accountId, region: agent.region });
  });

  // A kill wins over a restore: cancel any pending or running restore of these agents before the
  // flag goes up (lambda/restore-shared/cancel.ts). A dry run returned above.
  await cancelRestores(
    deps,
    chain,
    targets.map((t) => t.agentId),
    kill.incidentId,
  );
  await setFlags(store, chain, kill.mode, kill.incidentId, kill.reason, targets, deps);

  await store.putIncident({
    incidentId: kill.incidentId,
    executionName: input.executionName,
    status: targets.length > 0 ? 'RUNNING' : 'JOINED',
    mode: kill.mode,
    agentIds: kill.agents.map((a) => a.agentId),
    requestedAt,
    reason: kill.reason,
    actor,
  });
  await chain.flush();
  return {
    ...base(kill, input, requestedAt),
    status: targets.length === 0 && joined.length > 0 ? 'JOINED' : 'ACCEPTED',
    targets: interleaveByAccount(targets),
    joined,
    rejection: null,
    unreachable,
  };
}

/**
 * The status of the execution holding a lock, when it is definitely no longer running; undefined
 * when it runs or cannot be told (then the caller joins it, as the lock says).
 */
async function stoppedExecution(
  deps: HandlerDeps,
  executionArn: string | undefined,
): Promise<string | undefined> {
  if (!executionArn) return undefined;
  try {
    const out = await deps.clients.controlPlane().sfn.send(new DescribeExecutionCommand({ executionArn }));
    return out.status && out.status !== 'RUNNING' ? out.status : undefined;
  } catch (e) {
    if (isErrorNamed(e, 'ExecutionDoesNotExist')) return 'DOES_NOT_EXIST';
    deps.log.warn('cannot tell whether the kill holding the lock still runs; joining it', {
      executionArn,
      error: errorName(e),
    });
    return undefined;
  }
}

/**
 * Tries the kill role of every account and region once. Only a definite refusal (AccessDenied:
 * no such role, or a trust that does not admit the worker) makes an agent unreachable; a transient
 * error never blocks a kill, the branches retry it.
 */
async function unreachableAgents(
  deps: HandlerDeps,
  agents: readonly AgentTarget[],
  incidentId: string,
): Promise<NonNullable<PrepareOutput['unreachable']>> {
  const refused = new Map<string, string>();
  const seen = new Set<string>();
  await Promise.all(
    agents.map(async (agent) => {
      const key = `${agent.accountId}/${agent.region}`;
      if (seen.has(key)) return;
      seen.add(key);
      try {
        await assumeKillRole(deps, agent, incidentId);
      } catch (e) {
        if (isErrorNamed(e, 'AccessDenied')) {
          refused.set(
            key,
            `account ${agent.accountId} region ${agent.region}: the Backstop kill role cannot be assumed (${errorMessage(e)}); deploy its WorkloadAccountStack or fix the trust`,
          );
        } else {
          deps.log.warn('kill role check inconclusive; the branches will retry', {
            key,
            error: errorName(e),
          });
        }
      }
    }),
  );
  return agents
    .filter((a) => refused.has(`${a.accountId}/${a.region}`))
    .map((a) => ({
      agentId: a.agentId,
      accountId: a.accountId,
      region: a.region,
      message: `agent ${a.agentId}: ${refused.get(`${a.accountId}/${a.region}`)}`,
    }));
}

function base(
  kill: { incidentId: string; mode: PrepareOutput['mode']; reason: string; dryRun: boolean },
  input: PrepareInput,
  requestedAt: string,
) {
  return {
    incidentId: kill.incidentId,
    executionId: input.executionId,
    mode: kill.mode,
    reason: kill.reason,
    dryRun: kill.dryRun,
    requestedAt,
  };
}

async function setFlags(
  store: ReturnType<typeof openStore>,
  chain: AuditChain,
  mode: NonNullable<PrepareOutput['mode']>,
  incidentId: string,
  reason: string,
  targets: KillTarget[],
  deps: HandlerDeps,
): Promise<void> {
  await mapLimit(targets, PARALLEL, async (t) => {
    const result = await store.raiseMode(t.agentId, { mode, incidentId, reason, at: deps.clock() });
    void chain.write('ControlFlagSet', {
      agentId: t.agentId,
      mode,
      detail: {
        before: result.previous ?? { mode: 'normal' },
        after: result.current,
        changed: result.changed,
      },
    });
  });
}
