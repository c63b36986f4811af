import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { parseExecutionArn } from '../shared/arn';
import { isErrorNamed, isNotFound } from '../shared/aws-errors';
import {
  agentStateMachineArns,
  change,
  containEach,
  emptyRestore,
  mapLimit,
  mismatch,
  paginate,
  planEach,
  ReadCache,
  type ReadError,
  snapshotEach,
  unique,
  unreadState,
  verifyEach,
} from './common';
import type { Surface, SurfaceContext } from './types';

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

/** Each execution as this invocation last listed or read it: its status, start and name. */
const lastRead = new ReadCache<
  Partial<Pick<ExecutionListItem, 'status' | 'startDate' | 'name' | 'stateMachineArn'>>
>();

async function discover(ctx: SurfaceContext): Promise<string[]> {
  const machines = await agentStateMachineArns(ctx);
  const running = await mapLimit(machines, CONCURRENCY, async (stateMachineArn) => {
    try {
      return await paginate(async (token) => {
        const out = await ctx.clients.sfn.send(
          new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken: token }),
        );
        for (const e of out.executions ?? []) if (e.executionArn) lastRead.set(ctx, e.executionArn, e);
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

const snapshot: Surface<ExecutionSnapshot>['snapshot'] = async (ctx, ids) =>
  snapshotEach(ids, CONCURRENCY, {
    read: async (executionArn): Promise<ExecutionSnapshot> => {
      // Listed moments ago with everything the snapshot keeps; read one by one otherwise.
      const d = lastRead.get(ctx, executionArn) ?? (await describe(ctx, executionArn));
      lastRead.set(ctx, executionArn, d);
      return {
        executionArn,
        stateMachineArn: d.stateMachineArn ?? parseExecutionArn(executionArn).stateMachineArn,
        name: d.name ?? parseExecutionArn(executionArn).name,
        startDate: (d.startDate ?? new Date(0)).toISOString(),
        status: d.status ?? 'UNKNOWN',
      };
    },
    unread: (executionArn, err) => {
      const { stateMachineArn, name } = parseExecutionArn(executionArn);
      return { executionArn, stateMachineArn, name, startDate: '', status: 'RUNNING', readError: err };
    },
  });

const executionArnOf = (s: ExecutionSnapshot) => s.executionArn;

const contain: Surface<ExecutionSnapshot>['contain'] = async (ctx, _mode, snap) => {
  const names = { resource: executionArnOf, action: 'StopExecution' };
  return containEach(snap, CONCURRENCY, names, async (s, out) => {
    if (!ACTIVE.has(s.status)) return; // it had ended before the kill
    const current =
      (lastRead.take(ctx, s.executionArn) ?? (await describe(ctx, s.executionArn))).status ?? 'UNKNOWN';
    if (!ACTIVE.has(current)) return;
    const stopped = await ctx.clients.sfn.send(
      new StopExecutionCommand({ executionArn: s.executionArn, error: KILLED_ERROR, cause: killCause(ctx) }),
    );
    out.changes.push(
      change(
        s.executionArn,
        'StopExecution',
        { status: current },
        { status: 'ABORTED', stopDate: stopped.stopDate?.toISOString() ?? null, error: KILLED_ERROR },
      ),
    );
  });
};

const plan: Surface<ExecutionSnapshot>['plan'] = (_ctx, _mode, snap) =>
  planEach(snap, (s, { act, skip }) => {
    const since = s.startDate ? ` since ${s.startDate.slice(0, 19)}Z` : '';
    const current = s.readError ? unreadState(s.readError) : `${s.status}${since}`;
    if (!ACTIVE.has(s.status)) {
      skip({ resource: s.executionArn, current, reason: `already ended (${s.status})` });
      return;
    }
    act({
      resource: s.executionArn,
      action: `StopExecution error=${KILLED_ERROR}`,
      current,
      after: 'ABORTED (a stopped execution cannot be resumed)',
    });
  });

const verify: Surface<ExecutionSnapshot>['verify'] = async (ctx, _mode, snap) => {
  const names = { resource: executionArnOf, action: 'DescribeExecution' };
  return verifyEach(snap, CONCURRENCY, names, async (s, out) => {
    const read = await describe(ctx, s.executionArn);
    lastRead.set(ctx, s.executionArn, read);
    const current = read.status ?? 'UNKNOWN';
    if (!ACTIVE.has(current)) return;
    out.drifted.push(mismatch(s.executionArn, { status: 'not RUNNING' }, { status: current }));
  });
};

/** Executions cannot be restarted where they stopped: restore says so, with what a person needs to re-drive them. */
const restore: Surface<ExecutionSnapshot>['restore'] = async (_ctx, _toMode, snap) => {
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
};

export const executions: Surface<ExecutionSnapshot> = {
  name: 'executions',
  appliesTo: (mode) => mode === 'full_stop',
  discover,
  snapshot,
  contain,
  plan,
  verify,
  restore,
};
