import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isErrorNamed } from '../shared/aws-errors';
import { StateStore } from '../shared/state-store';
import { isKillMode, type KillMode, type KillRequest, modeRank } from '../shared/types';
import type { Log } from '../surfaces/types';

/**
 * What each alarm rule hands the trigger (lib/constructs/alarm-trigger.ts builds it with an input
 * transformer): the agent and mode are the rule's own constants, never taken from the event; the
 * rest says which alarm changed state, where and when.
 */
export interface AlarmTriggerEvent {
  readonly agentId: string;
  readonly mode: string;
  readonly alarmName: string;
  readonly accountId: string;
  readonly region: string;
  /** The event's time (ISO 8601). */
  readonly time: string;
  /** The alarm's new state: only `ALARM` starts anything. */
  readonly state: string;
}

/**
 * - `STARTED`: this event started the kill.
 * - `JOINED`: a kill of the agent at this mode, started by an earlier alarm, is still running.
 * - `ALREADY_HELD`: the agent's flag is already at this mode or stricter (a kill set it).
 * - `IGNORED`: not an ALARM state (an alarm returning to OK restores nothing; only a person does).
 */
export type TriggerOutcome =
  | { readonly outcome: 'STARTED'; readonly executionArn: string; readonly executionName: string }
  | { readonly outcome: 'JOINED'; readonly executionArn: string; readonly executionName: string }
  | { readonly outcome: 'ALREADY_HELD'; readonly mode: string; readonly incidentId: string }
  | { readonly outcome: 'IGNORED'; readonly reason: string };

export interface TriggerDeps {
  readonly sfn: SFNClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly log: Log;
}

/** Environment of the trigger function. */
export const TRIGGER_ENV = {
  tableName: 'BACKSTOP_TABLE_NAME',
  stateMachineArn: 'BACKSTOP_KILL_STATE_MACHINE_ARN',
} as const;

/** Executions one storm may find closed before giving up (each was a kill that did not raise the flag). */
const MAX_ATTEMPTS = 20;

/**
 * The execution name of an alarm kill: the agent, the mode, and the version of the agent's flag
 * the alarm saw. Every alarm of a storm sees the same version, so they all name the same
 * execution and Step Functions starts it once; once the kill has raised the flag, later alarms
 * find the agent held and start nothing. After a restore the version has moved on, so the next
 * alarm starts a new kill. `attempt` > 1 follows a kill of that name that ended without raising
 * the flag (refused, failed early): the alarm may start another.
 */
export function alarmExecutionName(
  agentId: string,
  mode: KillMode,
  flagVersion: number,
  attempt = 1,
): string {
  return `alarm-${agentId}-${mode}-v${flagVersion}${attempt > 1 ? `-${attempt}` : ''}`;
}

/** The kill request an alarm event makes: the rule's agent and mode, and which alarm fired when. */
export function killRequestFor(event: AlarmTriggerEvent): KillRequest {
  const { agentId, mode } = checkEvent(event);
  return {
    agentId,
    mode,
    reason: `CloudWatch alarm ${event.alarmName} in ${event.accountId}/${event.region} went to ALARM at ${event.time}`,
  };
}

function checkEvent(event: AlarmTriggerEvent): { agentId: string; mode: KillMode } {
  if (typeof event !== 'object' || event === null) throw new Error('the trigger takes an alarm event object');
  const problems: string[] = [];
  if (typeof event.agentId !== 'string' || !/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/.test(event.agentId))
    problems.push(`agentId ${JSON.stringify(event.agentId)} is not an agent id`);
  if (!isKillMode(event.mode)) problems.push(`mode ${JSON.stringify(event.mode)} is not a kill mode`);
  for (const field of ['alarmName', 'accountId', 'region', 'time'] as const) {
    if (typeof event[field] !== 'string' || event[field] === '') problems.push(`${field} is missing`);
  }
  if (problems.length > 0) throw new Error(`alarm trigger: ${problems.join('; ')}`);
  return { agentId: event.agentId, mode: event.mode as KillMode };
}

/**
 * Starts at most one kill per agent and mode for a storm of alarm events: the flag is read first
 * (an agent already held at the mode or stricter starts nothing), then the kill is started under
 * {@link alarmExecutionName}, which Step Functions refuses to start twice.
 */
export async function run(event: AlarmTriggerEvent, deps: TriggerDeps): Promise<TriggerOutcome> {
  if (event?.state !== 'ALARM') {
    const reason = `alarm ${String(event?.alarmName)} is ${String(event?.state)}, not ALARM: nothing to start (an alarm never restores; a person does)`;
    deps.log.info('alarm ignored', {
      agentId: event?.agentId,
      alarmName: event?.alarmName,
      state: event?.state,
    });
    return { outcome: 'IGNORED', reason };
  }
  const { agentId, mode } = checkEvent(event);
  const request = killRequestFor(event);
  const store = new StateStore({ doc: deps.dynamo, tableName: deps.tableName });
  const executionPrefix = deps.stateMachineArn.replace(':stateMachine:', ':execution:');

  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const flag = await store.getMode(agentId);
    if (flag && modeRank(flag.mode) >= modeRank(mode)) {
      deps.log.info('agent already held', { agentId, mode: flag.mode, incidentId: flag.incidentId });
      return { outcome: 'ALREADY_HELD', mode: flag.mode, incidentId: flag.incidentId };
    }
    const executionName = alarmExecutionName(agentId, mode, flag?.version ?? 0, attempt);
    try {
      const out = await deps.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: deps.stateMachineArn,
          name: executionName,
          input: JSON.stringify(request),
        }),
      );
      deps.log.info('kill started', { agentId, mode, executionName, alarmName: event.alarmName });
      return {
        outcome: 'STARTED',
        executionArn: out.executionArn ?? `${executionPrefix}:${executionName}`,
        executionName,
      };
    } catch (e) {
      if (!isErrorNamed(e, 'ExecutionAlreadyExists')) throw e;
    }
    const executionArn = `${executionPrefix}:${executionName}`;
    const existing = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (existing.status === 'RUNNING') {
      deps.log.info('kill already running', { agentId, mode, executionName, alarmName: event.alarmName });
      return { outcome: 'JOINED', executionArn, executionName };
    }
    // That kill ended without holding the agent at the mode: read the flag again and try the next name.
    deps.log.warn('an earlier alarm kill ended without raising the flag', {
      agentId,
      executionName,
      status: existing.status,
    });
  }
  throw new Error(
    `alarm trigger: ${MAX_ATTEMPTS} alarm kills of ${agentId} at ${mode} ended without raising its flag; start one by hand (backstop kill) and read their executions`,
  );
}
