import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { AuditChain } from '../shared/audit';
import { errorMessage, errorName, isErrorNamed } from '../shared/aws-errors';
import { BatchStore, MAX_LISTED_IN_OUTPUT } from '../shared/batch-store';
import type { WorkloadClients } from '../shared/clients';
import { mapLimit } from '../shared/concurrency';
import { assumeKillRole, type HandlerDeps } from '../shared/deps';
import { openChain, openStore } from '../shared/kill-io';
import {
  type ModeChangeResult,
  type ModeState,
  ModeWouldLoosenError,
  type StoredLock,
} from '../shared/state-store';
import type {
  BatchRef,
  KillTarget,
  LoadBatchInput,
  LoadBatchOutput,
  PrepareInput,
  PrepareOutput,
} from '../shared/kill-types';
import { denyPolicyArn } from '../shared/naming';
import { refusalIncidentId, validateKillRequest } from '../shared/request';
import { cancelRestores } from '../restore-shared/cancel';
import { type AgentTarget, type KillMode, modeRank } from '../shared/types';
import { attachModeDeny } from '../surfaces/iam-roles';

/** How long a kill's per-agent lock lives if the execution dies without releasing it. */
export const LOCK_TTL_SECONDS = 15 * 60;

/** State table calls in flight at once for a fleet kill (Phase 0 is on the critical path; DynamoDB takes them). */
const PARALLEL = 100;
/** IAM writes in flight per account in the early cut (IAM's write quota is small and per account). */
const CUT_CONCURRENCY = 4;
/**
 * Roles per account and region Prepare cuts itself (IAM's burst): a fleet's other roles are cut
 * first thing by their IAM branches, so that Prepare never waits out an account's IAM quota.
 */
export const EARLY_CUT_PER_ACCOUNT = 10;
/** Agents per batch when the directory does not say (the config's killPath.agentsPerBatch). */
const DEFAULT_AGENTS_PER_BATCH = 100;

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
  const [claim, modes, heldLocks, reached] = await Promise.all([
    store.claimIncident(wanted, input.executionId),
    checked.ok ? mapLimit(checked.kill.agents, PARALLEL, (agent) => store.getMode(agent.agentId)) : [],
    checked.ok && !checked.kill.dryRun
      ? mapLimit(checked.kill.agents, PARALLEL, (agent) => store.getLock(agent.agentId))
      : [],
    checked.ok
      ? reachAccounts(deps, checked.kill.agents, checked.kill.incidentId)
      : { unreachable: [], clients: new Map<string, WorkloadClients>() },
  ]);
  const { unreachable } = reached;
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

  const unreachableIds = new Set(unreachable.map((u) => u.agentId));
  const seen = new Map(
    kill.agents.map((a, i) => [a.agentId, { mode: modes[i], lock: heldLocks[i] }] as const),
  );
  const reachable = kill.agents.filter((a) => !unreachableIds.has(a.agentId));
  // A dry run takes no lock: a real kill that starts while it runs must cut, never join a plan.
  // All at once, each agent on its own: the deny on the roles it declares (the authority cut: one
  // write that destroys nothing, made here because the kill role of each account is assumed
  // already), its lock and its control flag.
  const cutAt = new Map<string, string>();
  const cutter = kill.dryRun ? undefined : new EarlyCut(deps, chain, reached.clients, kill.mode);
  const locks = await mapLimit(kill.dryRun ? [] : reachable, PARALLEL, async (agent) => {
    // A kill wins over a restore: the agent's live restore (lambda/restore-shared/cancel.ts) is
    // cancelled before the flag can go up where the restore could still lower it.
    const cancelled = cancelRestores(deps, chain, [agent.agentId], kill.incidentId);
    const before = seen.get(agent.agentId) ?? { mode: undefined, lock: undefined };
    // An agent whose lock a kill of this mode or stricter holds is left to that kill (this one
    // joins it and changes nothing); when that is only found out by the lock, the deny attached
    // here is the one the other kill attaches too.
    const [lock, at] = await Promise.all([
      lockAndFlag(deps, store, chain, agent, kill, input.executionId, { seen: before, cancelled }),
      heldByAnother(before.lock, kill, deps.clock()) ? undefined : cutter?.cut(agent),
      cancelled,
    ]);
    if (at && lock.outcome !== 'JOINED') cutAt.set(agent.agentId, at);
    return lock;
  });
  const targets: KillTarget[] = [];
  const joined: PrepareOutput['joined'] = [];
  if (kill.dryRun) {
    for (const a of reachable) {
      targets.push({ agentId: a.agentId, accountId: a.accountId, region: a.region, authorityCutAt: null });
    }
  }
  (kill.dryRun ? [] : reachable).forEach((agent, i) => {
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
    targets.push({
      agentId: agent.agentId,
      accountId: agent.accountId,
      region: agent.region,
      authorityCutAt: cutAt.get(agent.agentId) ?? null,
    });
  });

  // A fleet larger than one batch goes to the state table, a batch per child execution: neither
  // this output nor any state's payload may pass 256 KB.
  const ordered = interleaveByAccount(targets);
  const perBatch = deps.env.directory.agentsPerBatch ?? DEFAULT_AGENTS_PER_BATCH;
  const batched = ordered.length > perBatch ? splitBatches(ordered, perBatch) : undefined;
  const lists = new BatchStore(deps.clients.controlPlane().dynamo, deps.env.tableName);
  await Promise.all([
    store.putIncident({
      incidentId: kill.incidentId,
      executionName: input.executionName,
      status: targets.length > 0 ? 'RUNNING' : 'JOINED',
      mode: kill.mode,
      agentIds: kill.agents.map((a) => a.agentId),
      requestedAt,
      reason: kill.reason,
      actor,
    }),
    batched ? lists.putBatches(kill.incidentId, batched) : undefined,
    joined.length > MAX_LISTED_IN_OUTPUT ? lists.putList(kill.incidentId, 'joined', joined) : undefined,
    unreachable.length > MAX_LISTED_IN_OUTPUT
      ? lists.putList(kill.incidentId, 'unreachable', unreachable)
      : undefined,
    chain.flush(),
  ]);
  await chain.flush();
  return {
    ...base(kill, input, requestedAt),
    status: targets.length === 0 && joined.length > 0 ? 'JOINED' : 'ACCEPTED',
    targets: batched ? [] : ordered,
    ...(batched ? { batches: batched.map((b, batch): BatchRef => ({ batch, agents: b.length })) } : {}),
    targetCount: ordered.length,
    joined: joined.slice(0, MAX_LISTED_IN_OUTPUT),
    joinedCount: joined.length,
    rejection: null,
    unreachable: unreachable.slice(0, MAX_LISTED_IN_OUTPUT),
    unreachableCount: unreachable.length,
  };
}

/** Consecutive runs of `size` targets (the order Prepare chose: accounts interleaved). */
function splitBatches(targets: readonly KillTarget[], size: number): KillTarget[][] {
  const out: KillTarget[][] = [];
  for (let i = 0; i < targets.length; i += size) out.push(targets.slice(i, i + size));
  return out;
}

/**
 * A child execution of a fleet kill asks for its batch: the agents Prepare wrote to the state
 * table, with everything their branches need (their accounts, whether Prepare cut their roles).
 */
export async function loadBatch(input: LoadBatchInput, deps: HandlerDeps): Promise<LoadBatchOutput> {
  const { incidentId, batch } = input.loadBatch;
  const store = new BatchStore(deps.clients.controlPlane().dynamo, deps.env.tableName);
  return { targets: await store.getBatch(incidentId, batch) };
}

/** The kill-prepare function's two jobs: prepare a kill, or hand a child execution its batch. */
export function handle(input: PrepareInput | LoadBatchInput, deps: HandlerDeps) {
  return 'loadBatch' in input ? loadBatch(input, deps) : run(input, deps);
}

/**
 * The agent's lock and control flag. Usually one transaction (a first kill, or a stricter one:
 * the flag then names this incident, which no restore of another can lower). Otherwise, once the
 * agent's restores are cancelled, the lock ({@link lockAgent}) and then, unless this kill joins
 * one under way, the flag.
 */
async function lockAndFlag(
  deps: HandlerDeps,
  store: ReturnType<typeof openStore>,
  chain: AuditChain,
  agent: AgentTarget,
  kill: { incidentId: string; mode: KillMode; reason: string },
  executionId: string,
  context: {
    seen: { mode: ModeState | undefined; lock: StoredLock | undefined };
    cancelled: Promise<unknown>;
  },
) {
  const request = lockRequest(deps, kill, executionId);
  const change = { mode: kill.mode, incidentId: kill.incidentId, reason: kill.reason, at: request.at };
  const both = await store.lockAndRaise(agent.agentId, request, change, context.seen);
  if (both) {
    recordFlag(chain, agent, kill.mode, both.flag);
    return both.lock;
  }
  await context.cancelled;
  const lock = await lockAgent(deps, store, agent, kill, executionId);
  if (lock.outcome !== 'JOINED')
    await setFlag(store, chain, kill.mode, kill.incidentId, kill.reason, agent, deps);
  return lock;
}

/** Whether a live lock of another kill, at this mode or a stricter one, holds the agent. */
function heldByAnother(
  lock: StoredLock | undefined,
  kill: { incidentId: string; mode: KillMode },
  now: Date,
): boolean {
  return (
    lock !== undefined &&
    lock.ttl > Math.floor(now.getTime() / 1000) &&
    lock.incidentId !== kill.incidentId &&
    modeRank(lock.mode) >= modeRank(kill.mode)
  );
}

function lockRequest(deps: HandlerDeps, kill: { incidentId: string; mode: KillMode }, executionId: string) {
  return {
    incidentId: kill.incidentId,
    mode: kill.mode,
    at: deps.clock(),
    ttlSeconds: LOCK_TTL_SECONDS,
    executionId,
  };
}

/** Takes the agent's lock; joins a kill that still runs, takes over from one that died. */
async function lockAgent(
  deps: HandlerDeps,
  store: ReturnType<typeof openStore>,
  agent: AgentTarget,
  kill: { incidentId: string; mode: KillMode },
  executionId: string,
) {
  const request = lockRequest(deps, kill, executionId);
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
}

/**
 * The authority cut of the roles an agent declares, made by Prepare: the mode's deny attached to
 * each (it destroys nothing; the IAM branch still adds what the mode adds on top and cuts every
 * role discovery finds). At most EARLY_CUT_PER_ACCOUNT roles per account, CUT_CONCURRENCY at a
 * time; an agent left out (a refusal, too many roles in its account) is cut whole by its branch.
 */
class EarlyCut {
  private readonly budget = new Map<string, number>();
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(
    private readonly deps: HandlerDeps,
    private readonly chain: AuditChain,
    private readonly clients: ReadonlyMap<string, WorkloadClients>,
    private readonly mode: KillMode,
  ) {}

  /** When the last declared role of the agent took the deny; undefined when one did not (or none was tried). */
  async cut(agent: AgentTarget): Promise<string | undefined> {
    const key = `${agent.accountId}/${agent.region}`;
    const iam = this.clients.get(key)?.iam;
    const left = this.budget.get(key) ?? EARLY_CUT_PER_ACCOUNT;
    if (!iam || agent.roleArns.length === 0 || agent.roleArns.length > left) return undefined;
    this.budget.set(key, left - agent.roleArns.length);
    const policyArn = denyPolicyArn(agent.partition, agent.accountId, agent.region, agent.agentId, this.mode);
    const times = await Promise.all(
      agent.roleArns.map((roleArn) =>
        this.limited(key, async () => {
          try {
            await attachModeDeny(iam, roleArn, policyArn);
          } catch (e) {
            this.deps.log.warn('early cut refused; the IAM branch cuts the role', {
              agentId: agent.agentId,
              roleArn,
              error: errorName(e),
            });
            return undefined;
          }
          void this.chain.write('ResourceChanged', {
            agentId: agent.agentId,
            accountId: agent.accountId,
            region: agent.region,
            surface: 'iam',
            mode: this.mode,
            detail: { resource: roleArn, action: 'AttachRolePolicy', before: null, after: { policyArn } },
          });
          return this.deps.clock().toISOString();
        }),
      ),
    );
    if (times.some((t) => t === undefined)) return undefined;
    const at = (times as string[]).sort().at(-1) as string;
    void this.chain.write('AuthorityCut', {
      agentId: agent.agentId,
      accountId: agent.accountId,
      region: agent.region,
      surface: 'iam',
      mode: this.mode,
      detail: { at, changes: agent.roleArns.length, failures: 0, by: 'prepare' },
    });
    return at;
  }

  /** Runs `job` with at most CUT_CONCURRENCY jobs of the same account in flight. */
  private async limited<T>(key: string, job: () => Promise<T>): Promise<T> {
    if ((this.running.get(key) ?? 0) >= CUT_CONCURRENCY) {
      // Wait for a slot: the job that frees it hands it over.
      await new Promise<void>((resolve) =>
        this.waiting.set(key, [...(this.waiting.get(key) ?? []), resolve]),
      );
    } else {
      this.running.set(key, (this.running.get(key) ?? 0) + 1);
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.get(key)?.shift();
      if (next) next();
      else this.running.set(key, (this.running.get(key) ?? 1) - 1);
    }
  }
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
async function reachAccounts(
  deps: HandlerDeps,
  agents: readonly AgentTarget[],
  incidentId: string,
): Promise<{
  unreachable: NonNullable<PrepareOutput['unreachable']>;
  clients: ReadonlyMap<string, WorkloadClients>;
}> {
  const refused = new Map<string, string>();
  const clients = new Map<string, WorkloadClients>();
  const seen = new Set<string>();
  await Promise.all(
    agents.map(async (agent) => {
      const key = `${agent.accountId}/${agent.region}`;
      if (seen.has(key)) return;
      seen.add(key);
      try {
        clients.set(key, await assumeKillRole(deps, agent, incidentId));
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
  const unreachable = agents
    .filter((a) => refused.has(`${a.accountId}/${a.region}`))
    .map((a) => ({
      agentId: a.agentId,
      accountId: a.accountId,
      region: a.region,
      message: `agent ${a.agentId}: ${refused.get(`${a.accountId}/${a.region}`)}`,
    }));
  return { unreachable, clients };
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

async function setFlag(
  store: ReturnType<typeof openStore>,
  chain: AuditChain,
  mode: NonNullable<PrepareOutput['mode']>,
  incidentId: string,
  reason: string,
  agent: { agentId: string },
  deps: HandlerDeps,
): Promise<void> {
  let result;
  try {
    result = await store.raiseMode(agent.agentId, { mode, incidentId, reason, at: deps.clock() });
  } catch (e) {
    // Another kill raised the flag higher since it was read (this agent then joins that kill).
    if (!(e instanceof ModeWouldLoosenError)) throw e;
    result = { previous: e.current, current: e.current, changed: false };
  }
  recordFlag(chain, agent, mode, result);
}

function recordFlag(chain: AuditChain, agent: { agentId: string }, mode: KillMode, result: ModeChangeResult) {
  void chain.write('ControlFlagSet', {
    agentId: agent.agentId,
    mode,
    detail: {
      before: result.previous ?? { mode: 'normal' },
      after: result.current,
      changed: result.changed,
    },
  });
}
