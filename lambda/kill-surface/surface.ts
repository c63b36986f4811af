import { errorMessage, errorName, isThrottling } from '../shared/aws-errors';
import { assumeKillRole, type HandlerDeps } from '../shared/deps';
import { findAgent } from '../shared/env';
import { openChain, openStore } from '../shared/kill-io';
import type { AuditChain } from '../shared/audit';
import type { SurfaceOutcome, SurfaceTaskInput } from '../shared/kill-types';
import { PlanStore } from '../shared/plan-store';
import { KILL_MODES, type KillMode } from '../shared/types';
import { getSurface } from '../surfaces';
import { mergeContain } from '../surfaces/common';
import type {
  ContainResult,
  ResourceSnapshot,
  Surface,
  SurfaceContext,
  SurfacePlan,
} from '../surfaces/types';

/** The last path segment of an ARN or id: a role's name, whatever path the ARN carries. */
function resourceName(id: string): string {
  return id.split('/').pop() ?? id;
}

/**
 * Thrown when AWS keeps throttling after the SDK's own retries: the state machine retries the
 * whole branch with backoff and jitter. Every step of a branch is idempotent, so that is safe.
 */
export class ThrottledError extends Error {
  override readonly name = 'Backstop.Throttled';
}

const MAX_LISTED = 25;

/**
 * One surface of one agent: assume the kill role, discover, snapshot (the first snapshot is kept
 * across repeated kills), contain for the mode. Failures are recorded and returned, never thrown,
 * so the other branches carry on; only throttling is thrown, to be retried by the state machine.
 */
export async function run(input: SurfaceTaskInput, deps: HandlerDeps): Promise<SurfaceOutcome> {
  const surface = getSurface(input.surface);
  const agent = findAgent(deps.env.directory, input.agentId);
  const outcome = (status: SurfaceOutcome['status'], rest: Partial<SurfaceOutcome> = {}): SurfaceOutcome => ({
    agentId: input.agentId,
    surface: input.surface,
    status,
    resources: 0,
    changes: 0,
    skipped: [],
    failures: [],
    ...rest,
  });
  if (!agent) {
    return outcome('FAILED', {
      error: 'UnknownAgent',
      cause: `agent ${input.agentId} is not in the directory`,
    });
  }
  // A dry run looks at every surface, also those the mode leaves alone, to say what it leaves.
  if (!surface.appliesTo(input.mode) && !input.dryRun) return outcome('NOT_APPLICABLE');

  const actor = { type: 'execution' as const, arn: input.executionId };
  const chain = openChain(deps, input.incidentId, `${input.surface}-${input.agentId}`, actor);
  const common = {
    agentId: agent.agentId,
    accountId: agent.accountId,
    region: agent.region,
    surface: input.surface,
    mode: input.mode,
  };
  /** Every change, skip, failure and piece of evidence of a phase goes to the audit log as it is. */
  const recordContain = (r: ContainResult) => {
    for (const change of r.changes) void chain.write('ResourceChanged', { ...common, detail: { ...change } });
    for (const skip of r.skipped) void chain.write('ResourceSkipped', { ...common, detail: { ...skip } });
    for (const failure of r.failures)
      void chain.write('SurfaceFailed', { ...common, detail: { ...failure } });
    for (const found of r.evidence)
      void chain.write('PlantedPolicyFound', { ...common, detail: { ...found } });
  };
  let authorityCutAt: string | undefined;
  try {
    const clients = await assumeKillRole(deps, agent, input.incidentId);
    const precutAt = input.authorityCutAt ?? undefined;
    const ctx: SurfaceContext = {
      agent,
      incidentId: input.incidentId,
      killStartedAt: new Date(input.requestedAt),
      clients,
      clock: deps.clock,
      sleep: deps.sleep,
      log: deps.log,
      ...(precutAt ? { authorityCutAt: precutAt } : {}),
    };
    // Authority first: where the surface has a cut (a deny that destroys nothing), it goes on each
    // resource as soon as the resource is known: declared ones at once, discovered ones next.
    let cutResult: ContainResult | undefined;
    let ids: string[];
    if (surface.cut && !input.dryRun) {
      const cutNow = surface.cut.bind(surface);
      const known = surface.known?.(ctx) ?? [];
      // The cut is in force on every resource when its last write lands: the declared ones' (made
      // by Prepare already, when it says so), unless discovery found more.
      let earlyAt = deps.clock();
      const [early, discovered] = await Promise.all([
        cutNow(ctx, input.mode, known).then((r) => {
          earlyAt = deps.clock();
          return r;
        }),
        surface.discover(ctx),
      ]);
      const knownNames = new Set(known.map(resourceName));
      const more = discovered.filter((id) => !knownNames.has(resourceName(id)));
      const late = await cutNow(ctx, input.mode, more);
      cutResult = mergeContain(early, late);
      ids = discovered;
      authorityCutAt = more.length > 0 ? deps.clock().toISOString() : (precutAt ?? earlyAt.toISOString());
      void chain.write('SurfaceDiscovered', { ...common, detail: { resources: ids } });
      void chain.write('AuthorityCut', {
        ...common,
        detail: {
          at: authorityCutAt,
          changes: cutResult.changes.length,
          failures: cutResult.failures.length,
        },
      });
      recordContain(cutResult);
    } else {
      ids = await surface.discover(ctx);
      void chain.write('SurfaceDiscovered', { ...common, detail: { resources: ids } });
    }
    const current = await surface.snapshot(ctx, ids, cutResult);

    if (input.dryRun) {
      const plan = planFor(surface, ctx, input.mode, current);
      void chain.write('SnapshotTaken', { ...common, detail: { dryRun: true, resources: current, plan } });
      await storePlan(deps, input, {
        applies: surface.appliesTo(input.mode),
        resources: current.length,
        ...plan,
      });
      await chain.flush();
      // The state machine gets counts only: the plan itself is in the state table and the audit log.
      return outcome(surface.appliesTo(input.mode) ? 'PLANNED' : 'NOT_APPLICABLE', {
        resources: current.length,
        skipped: plan.skipped.slice(0, MAX_LISTED).map(({ resource, reason }) => ({ resource, reason })),
      });
    }

    const store = openStore(deps);
    const kept = await store.putSnapshot(agent.agentId, input.surface, input.incidentId, current);
    void chain.write('SnapshotTaken', {
      ...common,
      detail: { added: kept.added, resources: current.filter((r) => kept.added.includes(r.id)) },
    });
    if (kept.preserved.length > 0) {
      void chain.write('SnapshotPreserved', {
        ...common,
        detail: {
          preserved: kept.preserved,
          note: 'an earlier kill that has not been restored holds the pre-kill state of these resources; it is kept',
        },
      });
    }

    const contained = await surface.contain(ctx, input.mode, kept.stored);
    recordContain(contained);
    const result = cutResult ? mergeContain(cutResult, contained) : contained;
    const status = result.failures.length > 0 ? 'FAILED' : 'CONTAINED';
    void chain.write('SurfaceContained', {
      ...common,
      detail: {
        status,
        changes: result.changes.length,
        skipped: result.skipped.length,
        failures: result.failures.length,
      },
    });
    await chain.flush();
    return outcome(status, {
      resources: kept.stored.length,
      changes: result.changes.length,
      skipped: result.skipped.slice(0, MAX_LISTED),
      failures: result.failures.slice(0, MAX_LISTED),
      ...(authorityCutAt ? { authorityCutAt } : {}),
    });
  } catch (e) {
    const error = errorName(e);
    const message = errorMessage(e);
    void chain.write('SurfaceFailed', { ...common, detail: { action: 'branch', error, message } });
    if (input.dryRun) await storePlanFailure(deps, input, chain, `${error}: ${message}`);
    await chain.flush();
    if (isThrottling(e))
      throw new ThrottledError(
        `${input.surface} for ${input.agentId}: still throttled (${error}): ${message}`,
      );
    deps.log.error('surface failed', { ...common, error, message });
    return outcome('FAILED', { error, cause: message });
  }
}

/**
 * The dry run's plan of one surface. In a mode that does not cut the surface, every resource is
 * reported as left alone, with what it is and what state it is in: that is the honest answer to
 * "does a read_only kill stop our scheduled jobs?".
 */
function planFor(
  surface: Surface,
  ctx: SurfaceContext,
  mode: KillMode,
  current: readonly ResourceSnapshot[],
): SurfacePlan {
  const plan = surface.plan(ctx, mode, current);
  if (surface.appliesTo(mode)) return plan;
  const cutBy = KILL_MODES.filter((m) => surface.appliesTo(m));
  const reason = `${/^[aeiou]/.test(mode) ? 'an' : 'a'} ${mode} kill leaves it as it is (only ${cutBy.join(', ')} cuts this surface)`;
  return {
    actions: [],
    skipped: [
      ...plan.actions.map(({ resource, label, current: now }) => ({ resource, label, current: now, reason })),
      ...plan.skipped,
    ],
  };
}

async function storePlan(
  deps: HandlerDeps,
  input: SurfaceTaskInput,
  plan: SurfacePlan & { applies: boolean; resources: number; error?: string },
): Promise<void> {
  const store = new PlanStore(deps.clients.controlPlane().dynamo, deps.env.tableName, deps.clock);
  await store.put(input.incidentId, {
    agentId: input.agentId,
    surface: input.surface,
    mode: input.mode,
    ...plan,
  });
}

/** A surface that could not be planned is said so in the plan, not left out of it. */
async function storePlanFailure(
  deps: HandlerDeps,
  input: SurfaceTaskInput,
  chain: AuditChain,
  error: string,
) {
  try {
    const applies = getSurface(input.surface).appliesTo(input.mode);
    await storePlan(deps, input, { applies, resources: 0, actions: [], skipped: [], error });
  } catch (e) {
    void chain.write('SurfaceFailed', {
      agentId: input.agentId,
      surface: input.surface,
      mode: input.mode,
      detail: { action: 'store plan', error: errorName(e), message: errorMessage(e) },
    });
  }
}
