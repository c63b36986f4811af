import { errorMessage, errorName } from '../shared/aws-errors';
import { assumeKillRole, type HandlerDeps } from '../shared/deps';
import { findAgent } from '../shared/env';
import { openChain, openStore } from '../shared/kill-io';
import { summarizeAgent } from '../shared/outcome';
import { OutcomeStore } from '../shared/outcome-store';
import type { SurfaceVerification, VerifyInput, VerifyOutput } from '../shared/kill-types';
import type { SurfaceName } from '../shared/types';
import { getSurface } from '../surfaces';
import { mergeContain } from '../surfaces/common';
import type { SurfaceContext, VerifyResult } from '../surfaces/types';

/**
 * How many read-backs the state machine makes before a surface that is still settling is
 * reported as failed (with the construct's wait between them, about a minute in all).
 */
export const MAX_VERIFY_ATTEMPTS = 12;

/** Errors that mean "not now", not "not allowed". */
const TRANSIENT = new Set([
  'ResourceInUseException',
  'ResourceConflictException',
  'ConcurrentModificationException',
]);

/**
 * Phase 3 for one agent: read every contained surface back. A surface that drifted (the agent,
 * or anyone, undid the cut) is re-cut once and read back again on the next attempt; one that is
 * still settling (an event source mapping in `Disabling`) is polled. The state machine loops
 * while `pending` is true.
 */
export async function run(input: VerifyInput, deps: HandlerDeps): Promise<VerifyOutput> {
  const written: Promise<unknown>[] = [];
  const out = await readBack(input, deps, written);
  if (out.pending) {
    await Promise.all(written);
    return out;
  }
  // The last read-back: keep the agent's whole outcome in the state table and hand the state
  // machine one line, so a fleet kill stays under the 256 KB payload limit. It is stored while
  // the audit records of the read-back land.
  const outcome = { agentId: input.agentId, contain: input.contain, verify: out };
  await Promise.all([
    ...written,
    new OutcomeStore(deps.clients.controlPlane().dynamo, deps.env.tableName).put(input.incidentId, outcome),
  ]);
  return { ...out, status: summarizeAgent(outcome, input.dryRun).status };
}

/** Reads the agent back; what it writes to the audit log lands in `written`, for the caller to await. */
async function readBack(
  input: VerifyInput,
  deps: HandlerDeps,
  written: Promise<unknown>[],
): Promise<VerifyOutput> {
  const attempt = input.verify.attempt + 1;
  const recut = new Set<SurfaceName>(input.verify.recut);
  const previous = new Map((input.verify.surfaces ?? []).map((s) => [s.surface, s]));
  const agent = findAgent(deps.env.directory, input.agentId);
  const finalAttempt = attempt >= MAX_VERIFY_ATTEMPTS;
  const surfaces: SurfaceVerification[] = [];
  const attempted = input.contain.filter((c) => c.status !== 'NOT_APPLICABLE');

  if (input.dryRun || !agent) {
    for (const c of input.contain) {
      surfaces.push({
        surface: c.surface,
        status: c.status === 'NOT_APPLICABLE' ? 'NOT_APPLICABLE' : !agent ? 'FAILED' : 'VERIFIED',
        pending: [],
        drifted: [],
        failures: [],
        message: input.dryRun
          ? 'dry run: nothing was cut, nothing to verify'
          : `agent ${input.agentId} is unknown`,
      });
    }
    return { agentId: input.agentId, attempt, recut: [...recut], pending: false, surfaces };
  }

  const actor = { type: 'execution' as const, arn: input.executionId };
  const chain = openChain(deps, input.incidentId, `verify-${input.agentId}-${attempt}`, actor);
  const common = {
    agentId: agent.agentId,
    accountId: agent.accountId,
    region: agent.region,
    mode: input.mode,
  };
  void chain.write('VerifyStarted', {
    ...common,
    detail: {
      attempt,
      surfaces: attempted.filter((c) => previous.get(c.surface)?.status !== 'VERIFIED').map((c) => c.surface),
    },
  });

  // The snapshots (of every surface still to prove, in one query) are read while the kill role
  // is assumed.
  const store = openStore(deps);
  const unproven = attempted
    .filter((c) => previous.get(c.surface)?.status !== 'VERIFIED')
    .map((c) => c.surface);
  const snapshots = store.getSnapshots(agent.agentId, unproven);
  snapshots.catch(() => undefined); // awaited (and reported) by each surface's read-back
  let ctx: SurfaceContext;
  try {
    const clients = await assumeKillRole(deps, agent, input.incidentId);
    ctx = {
      agent,
      incidentId: input.incidentId,
      killStartedAt: new Date(input.requestedAt),
      clients,
      clock: deps.clock,
      sleep: deps.sleep,
      log: deps.log,
    };
  } catch (e) {
    // Cannot even read back: every surface stays unproven. Poll again unless out of attempts.
    const failure = {
      resource: agent.accountId,
      action: 'sts:AssumeRole',
      error: errorName(e),
      message: errorMessage(e),
    };
    for (const c of attempted) {
      const before = previous.get(c.surface);
      surfaces.push(
        before?.status === 'VERIFIED'
          ? before
          : {
              surface: c.surface,
              status: finalAttempt ? 'FAILED' : 'PENDING',
              pending: [],
              drifted: [],
              failures: [failure],
            },
      );
    }
    void chain.write(finalAttempt ? 'VerifyFailed' : 'VerifyPending', { ...common, detail: { ...failure } });
    await chain.flush();
    return { agentId: agent.agentId, attempt, recut: [...recut], pending: !finalAttempt, surfaces };
  }

  const results = await Promise.all(
    input.contain.map((c) =>
      verifySurface(c, previous.get(c.surface), {
        ctx,
        // Only surfaces not proven yet reach their snapshot: every one of them is in the query.
        snapshotOf: (surface) => snapshots.then((all) => all.get(surface) ?? []),
        chain,
        common,
        mode: input.mode,
        attempt,
        finalAttempt,
        recut,
        deps,
      }),
    ),
  );
  surfaces.push(...results);
  written.push(chain.flush());
  const pending = surfaces.some((s) => s.status === 'PENDING' || s.status === 'RECUT');
  return { agentId: agent.agentId, attempt, recut: [...recut], pending, surfaces };
}

interface VerifyScope {
  readonly ctx: SurfaceContext;
  readonly snapshotOf: (surface: SurfaceName) => ReturnType<ReturnType<typeof openStore>['getSnapshot']>;
  readonly chain: ReturnType<typeof openChain>;
  readonly common: { agentId: string; accountId: string; region: string; mode: VerifyInput['mode'] };
  readonly mode: VerifyInput['mode'];
  readonly attempt: number;
  readonly finalAttempt: boolean;
  readonly recut: Set<SurfaceName>;
  readonly deps: HandlerDeps;
}

/**
 * Pauses before reading again, in the same invocation, what is still settling (an event source
 * mapping in `Disabling`): a new read-back step would cost a state transition, an invocation, an
 * assumed role and a snapshot read for the one resource. What is still settling after them goes
 * back to the state machine, which waits and calls the read-back again.
 */
export const SETTLE_POLL_MS = [1000, 2000];

/** Reads one surface back: verified, pending (still settling), re-cut once (drifted), or failed. */
async function verifySurface(
  c: VerifyInput['contain'][number],
  before: SurfaceVerification | undefined,
  v: VerifyScope,
): Promise<SurfaceVerification> {
  if (c.status === 'NOT_APPLICABLE') {
    return { surface: c.surface, status: 'NOT_APPLICABLE', pending: [], drifted: [], failures: [] };
  }
  // Read back already: a surface proven cut on an earlier attempt is not read again.
  if (before?.status === 'VERIFIED') return before;
  const surface = getSurface(c.surface);
  const scoped = { ...v.common, surface: c.surface };
  const { chain, ctx } = v;
  try {
    const snapshot = (await v.snapshotOf(c.surface)).map((s) => ({
      id: s.id,
      state: s.state,
    }));
    if (c.error && snapshot.length === 0) {
      // The branch failed before it could snapshot: nothing was proven cut.
      const message = `contain failed before a snapshot was taken: ${c.error}: ${c.cause ?? ''}`;
      void chain.write('VerifyFailed', { ...scoped, detail: { message } });
      return { surface: c.surface, status: 'FAILED', pending: [], drifted: [], failures: [], message };
    }
    let result = await surface.verify(ctx, v.mode, snapshot);
    // Still settling and nothing else wrong: read the settling resources again, after a pause.
    for (const pause of v.finalAttempt ? [] : SETTLE_POLL_MS) {
      if (result.pending.length === 0 || result.drifted.length > 0 || result.failures.length > 0) break;
      await v.deps.sleep(pause);
      const settling = new Set(result.pending.map((p) => p.resource));
      const again = snapshot.filter((s) => settling.has(s.id));
      result = await surface.verify(ctx, v.mode, again.length > 0 ? again : snapshot);
    }
    const clean = result.drifted.length === 0 && result.pending.length === 0 && result.failures.length === 0;
    if (clean) {
      void chain.write('SurfaceVerified', {
        ...scoped,
        detail: { attempt: v.attempt, resources: snapshot.length, recut: v.recut.has(c.surface) },
      });
      return { surface: c.surface, status: 'VERIFIED', ...trim(result) };
    }
    if (result.drifted.length > 0 && !v.recut.has(c.surface)) {
      void chain.write('DriftDetected', { ...scoped, detail: { drifted: result.drifted } });
      // A re-cut is the cut (where the surface has one) and then the rest of contain.
      const recutFirst = surface.cut
        ? await surface.cut(
            ctx,
            v.mode,
            snapshot.map((s) => s.id),
          )
        : undefined;
      const rest = await surface.contain(ctx, v.mode, snapshot);
      const again = recutFirst ? mergeContain(recutFirst, rest) : rest;
      for (const found of again.evidence)
        void chain.write('PlantedPolicyFound', { ...scoped, detail: { ...found } });
      // A re-cut refused only because a resource is mid-transition (a mapping still Enabling)
      // has not happened yet: try again on the next read-back instead of using up the one re-cut.
      if (again.failures.length === 0 || !again.failures.every((f) => TRANSIENT.has(f.error))) {
        v.recut.add(c.surface);
      }
      for (const change of again.changes) void chain.write('Recut', { ...scoped, detail: { ...change } });
      for (const failure of again.failures)
        void chain.write('SurfaceFailed', { ...scoped, detail: { ...failure } });
      return {
        surface: c.surface,
        status: v.finalAttempt ? 'FAILED' : 'RECUT',
        ...trim(result),
        message: v.finalAttempt ? 're-cut on the last read-back: not proven' : undefined,
      };
    }
    if (result.drifted.length > 0 || v.finalAttempt) {
      const message =
        result.drifted.length > 0
          ? 'still not cut after one re-cut: something keeps undoing it'
          : `still settling after ${v.attempt} read-backs`;
      void chain.write('VerifyFailed', { ...scoped, detail: { message, ...trim(result) } });
      return { surface: c.surface, status: 'FAILED', ...trim(result), message };
    }
    void chain.write('VerifyPending', {
      ...scoped,
      detail: { attempt: v.attempt, pending: result.pending, failures: result.failures },
    });
    return { surface: c.surface, status: 'PENDING', ...trim(result) };
  } catch (e) {
    const failure = {
      resource: c.surface,
      action: 'verify',
      error: errorName(e),
      message: errorMessage(e),
    };
    void chain.write(v.finalAttempt ? 'VerifyFailed' : 'VerifyPending', {
      ...scoped,
      detail: { ...failure },
    });
    return {
      surface: c.surface,
      status: v.finalAttempt ? 'FAILED' : 'PENDING',
      pending: [],
      drifted: [],
      failures: [failure],
    };
  }
}

const MAX_LISTED = 25;

/** Keeps the state machine payload small: the audit log has the full lists. */
function trim(r: VerifyResult): VerifyResult {
  return {
    pending: r.pending.slice(0, MAX_LISTED),
    drifted: r.drifted.slice(0, MAX_LISTED),
    failures: r.failures.slice(0, MAX_LISTED),
  };
}
