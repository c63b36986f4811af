/**
 * The kill state machine "deployed" in the simulated control plane: Step Functions calls that name
 * it (StartExecution, DescribeExecution, StopExecution, ListExecutions) are answered by the
 * simulator with AWS's semantics (a name is started once; a running execution with the same name
 * and input is returned, anything else is `ExecutionAlreadyExists`), and every execution the
 * simulator creates is run by the local engine with the real handlers; when it ends, the
 * simulator's execution ends with its status and output. Code that starts kills through the SDK
 * (the alarm trigger) then runs unchanged here.
 */
import type { ClientPlugin } from '../../lambda/shared/clients';
import type { KillRequest } from '../../lambda/shared/types';
import type { LocalKillOutcome, LocalKillRunner } from './kill-runner';
import type { Simulator } from './simulator';
import { simulatorPlugin } from './simulator/middleware';

export interface KillMachineBridgeOptions {
  /** Multiplies the kill path's waits and retry intervals. @default 0 */
  readonly waitScale?: number;
}

export interface KillMachineBridge {
  readonly stateMachineArn: string;
  /** Use it in place of `sim.plugin()` for the clients that start kills. */
  readonly plugin: ClientPlugin;
  /** Every execution the simulator started, by name, with the engine's outcome. */
  readonly runs: ReadonlyMap<string, Promise<LocalKillOutcome>>;
  /** Resolves once every execution started so far (and any they start) has ended. */
  settled(): Promise<void>;
}

/**
 * Creates the kill state machine (the runner's, with its definition and name) in the simulated
 * control plane account and returns the plugin that runs its executions on the engine.
 */
export async function bridgeKillStateMachine(
  sim: Simulator,
  runner: LocalKillRunner,
  options: KillMachineBridgeOptions = {},
): Promise<KillMachineBridge> {
  const machine = runner.engine.machine;
  const { stateMachineArn } = await sim.as(machine.accountId, machine.region).states.CreateStateMachine({
    name: machine.name,
    definition: JSON.stringify(machine.definition),
    roleArn:
      machine.roleArn ?? `arn:${machine.partition}:iam::${machine.accountId}:role/backstop-kill-machine`,
    type: 'STANDARD',
  });
  if (stateMachineArn !== machine.arn) {
    throw new Error(
      `bridgeKillStateMachine: the simulator named the machine ${stateMachineArn}, not ${machine.arn}`,
    );
  }
  const runs = new Map<string, Promise<LocalKillOutcome>>();
  const exists = (executionArn: string) => {
    try {
      sim.states.executionStatus(executionArn);
      return true;
    } catch {
      return false;
    }
  };
  const execute = (executionArn: string, name: string, input: string) => {
    const run = runner
      .kill(JSON.parse(input) as KillRequest, { executionName: name, waitScale: options.waitScale ?? 0 })
      .then((outcome) => {
        const status = outcome.execution.status === 'ABORTED' ? 'FAILED' : outcome.execution.status;
        if (sim.states.executionStatus(executionArn) === 'RUNNING') {
          sim.states.finishExecution(executionArn, status, JSON.stringify(outcome.result ?? null));
        }
        return outcome;
      });
    runs.set(name, run);
  };
  const plugin = simulatorPlugin(async (request) => {
    const input = (request.input ?? {}) as { stateMachineArn?: string; name?: string; input?: string };
    const starting =
      request.clientName === 'SFNClient' &&
      request.commandName === 'StartExecutionCommand' &&
      input.stateMachineArn === stateMachineArn;
    const named =
      starting && input.name
        ? `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`
        : undefined;
    const existed = named !== undefined && exists(named);
    const response = await sim.handle(request);
    if (starting && !existed) {
      const executionArn = String(response.output.executionArn);
      execute(executionArn, executionArn.split(':').pop() as string, input.input ?? '{}');
    }
    return response;
  });
  return {
    stateMachineArn,
    plugin,
    runs,
    async settled() {
      let seen = -1;
      while (seen !== runs.size) {
        seen = runs.size;
        await Promise.allSettled([...runs.values()]);
      }
    },
  };
}
