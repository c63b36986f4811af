import {
  DeleteFunctionConcurrencyCommand,
  GetFunctionConcurrencyCommand,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import { isNotFound, toFailure } from '../shared/aws-errors';
import type { KillMode, Mode } from '../shared/types';
import {
  agentFunctionArns,
  emptyContain,
  emptyRestore,
  emptyVerify,
  forEachResource,
  mapLimit,
  type ReadError,
  readError,
} from './common';
import type {
  ContainResult,
  ResourceSnapshot,
  RestoreResult,
  Surface,
  SurfaceContext,
  VerifyResult,
} from './types';

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

async function reserved(ctx: SurfaceContext, functionArn: string): Promise<number | null> {
  const out = await ctx.clients.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionArn }));
  return out.ReservedConcurrentExecutions ?? null;
}

async function snapshot(
  ctx: SurfaceContext,
  ids: readonly string[],
): Promise<ResourceSnapshot<FunctionConcurrencySnapshot>[]> {
  const snaps = await mapLimit(ids, CONCURRENCY, async (functionArn) => {
    try {
      return {
        id: functionArn,
        state: { functionArn, reservedConcurrentExecutions: await reserved(ctx, functionArn) },
      };
    } catch (e) {
      if (isNotFound(e)) {
        ctx.log.warn('function does not exist: nothing to cut', { functionArn });
        return undefined;
      }
      return {
        id: functionArn,
        state: { functionArn, reservedConcurrentExecutions: null, readError: readError(e) },
      };
    }
  });
  return snaps.filter((s) => s !== undefined);
}

async function contain(
  ctx: SurfaceContext,
  _mode: KillMode,
  snap: readonly ResourceSnapshot<FunctionConcurrencySnapshot>[],
): Promise<ContainResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyContain,
    (s) => s.id,
    async ({ state }, out) => {
      try {
        const current = await reserved(ctx, state.functionArn);
        if (current === 0) return;
        await ctx.clients.lambda.send(
          new PutFunctionConcurrencyCommand({
            FunctionName: state.functionArn,
            ReservedConcurrentExecutions: 0,
          }),
        );
        out.changes.push({
          resource: state.functionArn,
          action: 'PutFunctionConcurrency',
          before: { reservedConcurrentExecutions: current },
          after: { reservedConcurrentExecutions: 0 },
        });
      } catch (e) {
        if (isNotFound(e)) {
          out.skipped.push({ resource: state.functionArn, reason: 'the function no longer exists' });
        } else {
          out.failures.push(toFailure(state.functionArn, 'PutFunctionConcurrency', e));
        }
      }
    },
  );
}

async function verify(
  ctx: SurfaceContext,
  _mode: KillMode,
  snap: readonly ResourceSnapshot<FunctionConcurrencySnapshot>[],
): Promise<VerifyResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyVerify,
    (s) => s.id,
    async ({ state }, out) => {
      try {
        const current = await reserved(ctx, state.functionArn);
        if (current !== 0) {
          out.drifted.push({
            resource: state.functionArn,
            expected: { reservedConcurrentExecutions: 0 },
            actual: { reservedConcurrentExecutions: current },
          });
        }
      } catch (e) {
        if (!isNotFound(e)) out.failures.push(toFailure(state.functionArn, 'GetFunctionConcurrency', e));
      }
    },
  );
}

async function restore(
  ctx: SurfaceContext,
  _toMode: Mode,
  snap: readonly ResourceSnapshot<FunctionConcurrencySnapshot>[],
): Promise<RestoreResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyRestore,
    (s) => s.id,
    async ({ state }, out) => {
      if (state.readError) {
        out.notRestorable.push({
          resource: state.functionArn,
          reason: `its reserved concurrency before the kill could not be read (${state.readError.message}): set it by hand from the kill's PutFunctionConcurrency change record`,
        });
        return;
      }
      const target = state.reservedConcurrentExecutions;
      try {
        const current = await reserved(ctx, state.functionArn);
        if (current === target) return;
        if (target === null) {
          await ctx.clients.lambda.send(
            new DeleteFunctionConcurrencyCommand({ FunctionName: state.functionArn }),
          );
        } else {
          await ctx.clients.lambda.send(
            new PutFunctionConcurrencyCommand({
              FunctionName: state.functionArn,
              ReservedConcurrentExecutions: target,
            }),
          );
        }
        out.changes.push({
          resource: state.functionArn,
          action: target === null ? 'DeleteFunctionConcurrency' : 'PutFunctionConcurrency',
          before: { reservedConcurrentExecutions: current },
          after: { reservedConcurrentExecutions: target },
        });
      } catch (e) {
        if (isNotFound(e)) {
          out.notRestorable.push({ resource: state.functionArn, reason: 'the function no longer exists' });
        } else {
          out.failures.push(
            toFailure(
              state.functionArn,
              target === null ? 'DeleteFunctionConcurrency' : 'PutFunctionConcurrency',
              e,
            ),
          );
        }
      }
    },
  );
}

export const lambdaConcurrency: Surface<FunctionConcurrencySnapshot> = {
  name: 'lambda',
  appliesTo: (mode) => mode === 'full_stop',
  discover: agentFunctionArns,
  snapshot,
  contain,
  verify,
  restore,
};
