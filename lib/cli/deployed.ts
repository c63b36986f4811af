import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { KillResult } from '../../lambda/shared/kill-types';
import type { KillRequest } from '../../lambda/shared/types';
import { agentDone, errorDetail } from './progress';
import type { BatchCounts } from './fleet-progress';
import type { ProgressEvent } from './render';

export interface DeployedKillOptions {
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly executionName: string;
  readonly wait: boolean;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** A fleet kill's child executions (one per batch), counted at each poll once they start. */
  readonly onBatches?: (counts: BatchCounts, elapsedMs: number) => void;
}

export interface DeployedKillOutcome {
  readonly executionArn: string;
  readonly status: string;
  readonly result?: KillResult;
  readonly error?: string;
  readonly cause?: string;
}

function progressFromHistory(e: HistoryEvent, start: number): ProgressEvent | undefined {
  const elapsedMs = (e.timestamp?.getTime() ?? start) - start;
  const exited = e.stateExitedEventDetails;
  if (exited && e.type === 'TaskStateExited') {
    let output: { agentId?: string; status?: string } = {};
    try {
      output = JSON.parse(exited.output ?? '{}');
    } catch {
      // Output redacted or truncated: the state name alone still tells the progress.
    }
    return {
      elapsedMs,
      state: exited.name ?? '',
      kind: 'succeeded',
      agentId: output.agentId,
      detail: output.status,
    };
  }
  if (exited && e.type === 'PassStateExited') {
    let output: unknown;
    try {
      output = JSON.parse(exited.output ?? '{}');
    } catch {
      return undefined;
    }
    const done = agentDone(exited.name, output);
    return (
      done && {
        elapsedMs,
        state: exited.name ?? '',
        kind: 'succeeded',
        agentId: done.agentId,
        detail: done.status,
        agentStatus: done.status,
      }
    );
  }
  if (e.type === 'LambdaFunctionFailed') {
    return {
      elapsedMs,
      state: 'Lambda task',
      kind: 'failed',
      detail: errorDetail(
        e.lambdaFunctionFailedEventDetails?.error,
        e.lambdaFunctionFailedEventDetails?.cause,
      ),
    };
  }
  if (e.type === 'ExecutionSucceeded') return { elapsedMs, state: 'Kill finished', kind: 'succeeded' };
  if (e.type === 'ExecutionFailed') {
    return {
      elapsedMs,
      state: 'Kill ended',
      kind: 'failed',
      detail: errorDetail(e.executionFailedEventDetails?.error, e.executionFailedEventDetails?.cause),
    };
  }
  return undefined;
}

/** Starts the deployed kill path and, unless told not to, follows it to the end. */
export async function runDeployedKill(
  request: KillRequest,
  o: DeployedKillOptions,
): Promise<DeployedKillOutcome> {
  const started = await o.sfn.send(
    new StartExecutionCommand({
      stateMachineArn: o.stateMachineArn,
      name: o.executionName,
      input: JSON.stringify(request),
    }),
  );
  const executionArn = started.executionArn as string;
  if (!o.wait) return { executionArn, status: 'RUNNING' };
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const start = started.startDate?.getTime() ?? Date.now();
  const seen = new Set<number>();
  // The Distributed Map of a fleet kill: its children's histories are their own, it counts them.
  let mapRunArn: string | undefined;
  for (;;) {
    let token: string | undefined;
    do {
      const page = await o.sfn.send(
        new GetExecutionHistoryCommand({ executionArn, nextToken: token, maxResults: 1000 }),
      );
      for (const e of page.events ?? []) {
        if (e.id === undefined || seen.has(e.id)) continue;
        seen.add(e.id);
        mapRunArn ??= e.mapRunStartedEventDetails?.mapRunArn;
        const p = progressFromHistory(e, start);
        if (p) o.onProgress?.(p);
      }
      token = page.nextToken;
    } while (token);
    if (mapRunArn && o.onBatches) mapRunArn = await countBatches(o, mapRunArn, start);
    const d = await o.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING' && d.status !== 'PENDING_REDRIVE') {
      return {
        executionArn,
        status: d.status ?? 'UNKNOWN',
        result: d.output ? (JSON.parse(d.output) as KillResult) : undefined,
        error: d.error,
        cause: d.cause,
      };
    }
    await sleep(o.pollMs ?? 2000);
  }
}

/**
 * Reports the child executions of a fleet kill's map run. A role that may not describe map runs
 * (deployed before it could) loses the count, not the kill: undefined stops asking.
 */
async function countBatches(
  o: DeployedKillOptions,
  mapRunArn: string,
  start: number,
): Promise<string | undefined> {
  try {
    const run = await o.sfn.send(new DescribeMapRunCommand({ mapRunArn }));
    const c = run.executionCounts;
    if (c) {
      o.onBatches?.(
        {
          total: c.total ?? 0,
          succeeded: c.succeeded ?? 0,
          running: (c.running ?? 0) + (c.pending ?? 0),
          failed: (c.failed ?? 0) + (c.timedOut ?? 0) + (c.aborted ?? 0),
        },
        Date.now() - start,
      );
    }
    return mapRunArn;
  } catch {
    return undefined;
  }
}
