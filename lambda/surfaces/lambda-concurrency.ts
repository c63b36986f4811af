import {
  DeleteFunctionConcurrencyCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import {
  agentFunctionArns,
  change,
  ReadCache,
  containEach,
  mismatch,
  planEach,
  type ReadError,
  restoreEach,
  snapshotEach,
  unreadNotRestorable,
  unreadState,
  verifyEach,
} from './common';
import type { Surface, SurfaceContext } from './types';

/**
 * Lambda functions (full_stop): reserved concurrency 0 stops every new invocation, whatever the
 * trigger (direct invoke, event source mapping, rule, schedule). The previous value, or its
 * absence, is kept so restore puts back exactly what was there.
 */

export interface FunctionConcurrencySnapshot {
  readonly functionArn: string;
  /** Reserved concurrency before the kill; null when the function had none (it used the unreserved pool). */
  readonly reservedConcurrentExecutions: number | null;
  /**
   * Set when the value could not be read. The function is still cut (contain reads the value it
   * replaces and records it in its change), but restore cannot put it back on its own.
   */
  readonly readError?: ReadError;
}

/** Lambda's control plane allows 15 requests/s per account, shared with event source mapping calls. */
const CONCURRENCY = 5;
/** GetFunction is outside that quota: reads go there, as many at once as the writes allow anyway. */
const READ_CONCURRENCY = 10;

/**
 * The reserved concurrency of a function, read with GetFunction: it answers it outside Lambda's
 * 15 requests/s control plane quota (which GetFunctionConcurrency draws on), so the kill's reads
 * leave that quota to the writes. Restore keeps GetFunctionConcurrency (it is not on a kill's clock).
 */
async function reservedNow(ctx: SurfaceContext, functionArn: string): Promise<number | null> {
  const out = await ctx.clients.lambda.send(new GetFunctionCommand({ FunctionName: functionArn }));
  return out.Concurrency?.ReservedConcurrentExecutions ?? null;
}

async function reserved(ctx: SurfaceContext, functionArn: string): Promise<number | null> {
  const out = await ctx.clients.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionArn }));
  return out.ReservedConcurrentExecutions ?? null;
}

/** The value each function had when this invocation read it (snapshot, or a read-back before a re-cut). */
const lastRead = new ReadCache<number | null>();

const snapshot: Surface<FunctionConcurrencySnapshot>['snapshot'] = async (ctx, ids) =>
  snapshotEach(ids, READ_CONCURRENCY, {
    read: async (functionArn) => {
      const value = await reservedNow(ctx, functionArn);
      lastRead.set(ctx, functionArn, value);
      return { functionArn, reservedConcurrentExecutions: value };
    },
    unread: (functionArn, err) => ({ functionArn, reservedConcurrentExecutions: null, readError: err }),
    gone: (functionArn) => ctx.log.warn('function does not exist: nothing to cut', { functionArn }),
  });

const functionArnOf = (s: FunctionConcurrencySnapshot) => s.functionArn;

const contain: Surface<FunctionConcurrencySnapshot>['contain'] = async (ctx, _mode, snap) => {
  const names = {
    resource: functionArnOf,
    action: 'PutFunctionConcurrency',
    gone: 'the function no longer exists',
  };
  return containEach(snap, CONCURRENCY, names, async (s, out) => {
    // Read moments ago by this invocation (the snapshot, or the read-back that found it drifted);
    // otherwise read now. Verify proves the value either way.
    const cached = lastRead.take(ctx, s.functionArn);
    const current = cached !== undefined ? cached : await reservedNow(ctx, s.functionArn);
    if (current === 0) return;
    await ctx.clients.lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: s.functionArn, ReservedConcurrentExecutions: 0 }),
    );
    out.changes.push(
      change(
        s.functionArn,
        'PutFunctionConcurrency',
        { reservedConcurrentExecutions: current },
        { reservedConcurrentExecutions: 0 },
      ),
    );
  });
};

function concurrencyText(reserved: number | null): string {
  return reserved === null ? 'unreserved' : `reserved ${reserved}`;
}

const plan: Surface<FunctionConcurrencySnapshot>['plan'] = (_ctx, _mode, snap) =>
  planEach(snap, (s, { act, skip }) => {
    const current = s.readError ? unreadState(s.readError) : concurrencyText(s.reservedConcurrentExecutions);
    if (!s.readError && s.reservedConcurrentExecutions === 0) {
      skip({ resource: s.functionArn, current, reason: 'already reserved 0: no invocation can start' });
      return;
    }
    act({
      resource: s.functionArn,
      action: 'PutFunctionConcurrency 0',
      current,
      after: 'reserved 0: no new invocation, whatever the trigger',
    });
  });

const verify: Surface<FunctionConcurrencySnapshot>['verify'] = async (ctx, _mode, snap) => {
  const names = { resource: functionArnOf, action: 'GetFunction' };
  return verifyEach(snap, READ_CONCURRENCY, names, async (s, out) => {
    const current = await reservedNow(ctx, s.functionArn);
    lastRead.set(ctx, s.functionArn, current);
    if (current === 0) return;
    out.drifted.push(
      mismatch(s.functionArn, { reservedConcurrentExecutions: 0 }, { reservedConcurrentExecutions: current }),
    );
  });
};

/** Restore deletes the reserved concurrency of a function that had none, and puts back the value of one that had. */
function restoreAction(s: FunctionConcurrencySnapshot): string {
  return s.reservedConcurrentExecutions === null ? 'DeleteFunctionConcurrency' : 'PutFunctionConcurrency';
}

const restore: Surface<FunctionConcurrencySnapshot>['restore'] = async (ctx, _toMode, snap) => {
  const names = { resource: functionArnOf, action: restoreAction, gone: 'the function no longer exists' };
  return restoreEach(snap, CONCURRENCY, names, async (s, out) => {
    if (s.readError) {
      out.notRestorable.push(
        unreadNotRestorable(
          s.functionArn,
          'reserved concurrency',
          s.readError,
          "set it by hand from the kill's PutFunctionConcurrency change record",
        ),
      );
      return;
    }
    const target = s.reservedConcurrentExecutions;
    const current = await reserved(ctx, s.functionArn);
    if (current === target) return;
    if (target === null) {
      await ctx.clients.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: s.functionArn }));
    } else {
      await ctx.clients.lambda.send(
        new PutFunctionConcurrencyCommand({
          FunctionName: s.functionArn,
          ReservedConcurrentExecutions: target,
        }),
      );
    }
    out.changes.push(
      change(
        s.functionArn,
        restoreAction(s),
        { reservedConcurrentExecutions: current },
        { reservedConcurrentExecutions: target },
      ),
    );
  });
};

export const lambdaConcurrency: Surface<FunctionConcurrencySnapshot> = {
  name: 'lambda',
  appliesTo: (mode) => mode === 'full_stop',
  discover: agentFunctionArns,
  snapshot,
  contain,
  plan,
  verify,
  restore,
};
