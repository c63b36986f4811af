import { DescribeExecutionCommand, ListExecutionsCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { parseExecutionArn } from '../shared/arn';
import { isErrorNamed, isNotFound, toFailure } from '../shared/aws-errors';
import type { KillMode, Mode } from '../shared/types';
import {
  agentStateMachineArns,
  emptyContain,
  emptyRestore,
  emptyVerify,
  forEachResource,
  mapLimit,
  paginate,
  type ReadError,
  readError,
  unique,
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
 * Running Step Functions executions (full_stop) of the agent's state machines: stopped with the
 * error `Backstop.Killed` and a cause naming the incident. A stopped execution cannot be resumed,
 * so restore lists them (ARN, machine, name, start time) for a person to re-drive or restart.
 */

export interface ExecutionSnapshot {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  /** ISO time the execution started. */
  readonly startDate: string;
  /** Status when the kill read it (RUNNING for every execution discovery finds, unless it ended meanwhile). */
  readonly status: string;
  readonly readError?: ReadError;
}

/** The error name every execution stopped by a kill carries (visible in the console and in EventBridge). */
export const KILLED_ERROR = 'Backstop.Killed';
const CONCURRENCY = 5;
/** Statuses in which the execution still runs, or is about to run again. */
const ACTIVE = new Set(['RUNNING', 'PENDING_REDRIVE']);

export function killCause(ctx: SurfaceContext): string {
  return `Stopped by the Backstop kill of agent ${ctx.agent.agentId} (incident ${ctx.incidentId}) at ${ctx.killStartedAt.toISOString()}`;
}

async function discover(ctx: SurfaceContext): Promise<string[]> {
  const machines = await agentStateMachineArns(ctx);
  const running = await mapLimit(machines, CONCURRENCY, async (stateMachineArn) => {
    try {
      return await paginate(async (token) => {
        const out = await ctx.clients.sfn.send(
          new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken: token }),
        );
        return { items: out.executions?.map((e) => e.executionArn ?? ''), next: out.nextToken };
      });
    } catch (e) {
      if (isNotFound(e)) return [];
      if (isErrorNamed(e, 'StateMachineTypeNotSupported')) {
        // Express workflows keep no execution list and cannot be stopped; their runs last at most
        // five minutes and the Lambda and IAM cuts stop what they call.
        ctx.log.warn('express state machine: its executions cannot be listed or stopped', {
          stateMachineArn,
        });
        return [];
      }
      throw e;
    }
  });
  return unique(running.flat().filter((a) => a !== ''));
}

async function describe(ctx: SurfaceContext, executionArn: string) {
  return ctx.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
}

async function snapshot(
  ctx: SurfaceContext,
  ids: readonly string[],
): Promise<ResourceSnapshot<ExecutionSnapshot>[]> {
  const snaps = await mapLimit(ids, CONCURRENCY, async (executionArn) => {
    try {
      const d = await describe(ctx, executionArn);
      const state: ExecutionSnapshot = {
        executionArn,
        stateMachineArn: d.stateMachineArn ?? parseExecutionArn(executionArn).stateMachineArn,
        name: d.name ?? parseExecutionArn(executionArn).name,
        startDate: (d.startDate ?? new Date(0)).toISOString(),
        status: d.status ?? 'UNKNOWN',
      };
      return { id: executionArn, state };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      const { stateMachineArn, name } = parseExecutionArn(executionArn);
      const state: ExecutionSnapshot = {
        executionArn,
        stateMachineArn,
        name,
        startDate: '',
        status: 'RUNNING',
        readError: readError(e),
      };
      return { id: executionArn, state };
    }
  });
  return snaps.filter((s) => s !== undefined);
}

async function contain(
  ctx: SurfaceContext,
  _mode: KillMode,
  snap: readonly ResourceSnapshot<ExecutionSnapshot>[],
): Promise<ContainResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyContain,
    (s) => s.id,
    async ({ state: s }, out) => {
      if (!ACTIVE.has(s.status)) return; // it had ended before the kill
      try {
        const current = (await describe(ctx, s.executionArn)).status ?? 'UNKNOWN';
        if (!ACTIVE.has(current)) return;
        const stopped = await ctx.clients.sfn.send(
          new StopExecutionCommand({
            executionArn: s.executionArn,
            error: KILLED_ERROR,
            cause: killCause(ctx),
          }),
        );
        out.changes.push({
          resource: s.executionArn,
          action: 'StopExecution',
          before: { status: current },
          after: {
            status: 'ABORTED',
            stopDate: stopped.stopDate?.toISOString() ?? null,
            error: KILLED_ERROR,
          },
        });
      } catch (e) {
        if (!isNotFound(e)) out.failures.push(toFailure(s.executionArn, 'StopExecution', e));
      }
    },
  );
}

async function verify(
  ctx: SurfaceContext,
  _mode: KillMode,
  snap: readonly ResourceSnapshot<ExecutionSnapshot>[],
): Promise<VerifyResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyVerify,
    (s) => s.id,
    async ({ state: s }, out) => {
      try {
        const current = (await describe(ctx, s.executionArn)).status ?? 'UNKNOWN';
        if (ACTIVE.has(current)) {
          out.drifted.push({
            resource: s.executionArn,
            expected: { status: 'not RUNNING' },
            actual: { status: current },
          });
        }
      } catch (e) {
        if (!isNotFound(e)) out.failures.push(toFailure(s.executionArn, 'DescribeExecution', e));
      }
    },
  );
}

/** Executions cannot be restarted where they stopped: restore says so, with what a person needs to re-drive them. */
async function restore(
  _ctx: SurfaceContext,
  _toMode: Mode,
  snap: readonly ResourceSnapshot<ExecutionSnapshot>[],
): Promise<RestoreResult> {
  const out = emptyRestore();
  for (const { state: s } of snap) {
    if (!ACTIVE.has(s.status)) continue;
    const started = s.startDate ? `, started ${s.startDate}` : '';
    out.notRestorable.push({
      resource: s.executionArn,
      reason:
        `a stopped execution cannot be resumed: execution "${s.name}" of ${s.stateMachineArn}${started} was running at the kill, which stopped it unless it ended first. ` +
        `Re-drive it (aws stepfunctions redrive-execution --execution-arn ${s.executionArn}) or start it again if its work must finish.`,
    });
  }
  return out;
}

export const executions: Surface<ExecutionSnapshot> = {
  name: 'executions',
  appliesTo: (mode) => mode === 'full_stop',
  discover,
  snapshot,
  contain,
  verify,
  restore,
};
