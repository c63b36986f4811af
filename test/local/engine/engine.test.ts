import { Duration } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import {
  createLocalEngine,
  type EngineEvent,
  type EngineHandlers,
  type HandlerContext,
  type LocalEngine,
  StartExecutionError,
  TaskTokenError,
} from '../../../lib/local/engine';
import { backstopFunction, logicalIdOf, newStack, stateMachine, synth, TEST_ENV } from './fixtures/stacks';

const ENVIRONMENT = { region: TEST_ENV.region, accountId: TEST_ENV.account };
const MACHINE_ARN = 'arn:aws:states:eu-west-1:111111111111:stateMachine:engine-test';

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function engineFor(
  build: (stack: ReturnType<typeof newStack>) => sfn.IChainable,
  handlers: EngineHandlers,
  props = {},
) {
  const stack = newStack();
  stateMachine(stack, build(stack), 'engine-test', props);
  return createLocalEngine(synth(stack), { ...ENVIRONMENT, handlers });
}

function ofType(
  events: readonly EngineEvent[],
  type: EngineEvent['type'],
  stateName?: string,
): EngineEvent[] {
  return events.filter((e) => e.type === type && (stateName === undefined || e.stateName === stateName));
}

async function waitFor<T>(probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('condition not met in time');
}

describe('LocalEngine.run', () => {
  test('runs the branches of a Parallel and returns their results in branch order', async () => {
    const engine = engineFor(
      (stack) =>
        new sfn.Parallel(stack, 'Cut every surface')
          .branch(
            new tasks.LambdaInvoke(stack, 'Cut IAM', {
              lambdaFunction: backstopFunction(stack, 'Iam', 'cut-iam'),
              payloadResponseOnly: true,
            }),
          )
          .branch(
            new tasks.LambdaInvoke(stack, 'Cut Lambda', {
              lambdaFunction: backstopFunction(stack, 'Lambda', 'cut-lambda'),
              outputPath: '$.Payload',
            }),
          ),
      {
        'cut-iam': async (event) => ({ surface: 'iam', agent: (event as { agentId: string }).agentId }),
        'cut-lambda': async (event) => ({ surface: 'lambda', agent: (event as { agentId: string }).agentId }),
      },
    );

    const result = await engine.run({ agentId: 'agent-7' }, { executionName: 'parallel', waitScale: 0 });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual([
      { surface: 'iam', agent: 'agent-7' },
      { surface: 'lambda', agent: 'agent-7' },
    ]);
    expect(ofType(result.events, 'ParallelBranchStarted', 'Cut every surface')).toHaveLength(2);
    expect(ofType(result.events, 'ParallelBranchSucceeded', 'Cut every surface')).toHaveLength(2);
    expect(ofType(result.events, 'TaskSucceeded', 'Cut Lambda')[0]).toMatchObject({
      handler: 'cut-lambda',
      scope: [{ state: 'Cut every surface', type: 'Parallel', branch: 1 }],
    });
  });

  test.each([
    ['an inline Map', (stack: ReturnType<typeof newStack>) => new sfn.Map(stack, 'Per agent', mapProps())],
  ])('runs %s over every item, with the item index and value', async (_kind, makeMap) => {
    const seen: unknown[] = [];
    const engine = engineFor(
      (stack) =>
        makeMap(stack).itemProcessor(
          new tasks.LambdaInvoke(stack, 'Contain the agent', {
            lambdaFunction: backstopFunction(stack, 'Contain', 'contain'),
            payloadResponseOnly: true,
          }),
        ),
      {
        contain: async (event) => {
          seen.push(event);
          const { agentId, position } = event as { agentId: string; position: number };
          return { agentId, position, contained: true };
        },
      },
    );

    const result = await engine.run(
      { agents: ['a-1', 'a-2', 'a-3'] },
      { executionName: 'map', waitScale: 0 },
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({
      agents: ['a-1', 'a-2', 'a-3'],
      results: [
        { agentId: 'a-1', position: 0, contained: true },
        { agentId: 'a-2', position: 1, contained: true },
        { agentId: 'a-3', position: 2, contained: true },
      ],
    });
    expect(seen).toHaveLength(3);
    expect(ofType(result.events, 'MapIterationSucceeded', 'Per agent').map((e) => e.index)).toEqual(
      expect.arrayContaining([0, 1, 2]),
    );
    expect(
      ofType(result.events, 'TaskScheduled', 'Contain the agent')
        .map((e) => e.scope[0]?.index)
        .sort(),
    ).toEqual([0, 1, 2]);
  });

  test('runs a distributed Map item by item as child executions, each with its own name and history', async () => {
    const seen: unknown[] = [];
    const engine = engineFor(
      (stack) =>
        new sfn.DistributedMap(stack, 'Per agent', { ...mapProps(), maxConcurrency: 2 }).itemProcessor(
          new tasks.LambdaInvoke(stack, 'Contain the agent', {
            lambdaFunction: backstopFunction(stack, 'Contain', 'contain'),
            payloadResponseOnly: true,
          }),
        ),
      {
        contain: async (event) => {
          seen.push(event);
          const { agentId, position } = event as { agentId: string; position: number };
          return { agentId, position, contained: true };
        },
      },
    );

    const result = await engine.run(
      { agents: ['a-1', 'a-2', 'a-3'] },
      { executionName: 'map', waitScale: 0 },
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({
      agents: ['a-1', 'a-2', 'a-3'],
      results: [
        { agentId: 'a-1', position: 0, contained: true },
        { agentId: 'a-2', position: 1, contained: true },
        { agentId: 'a-3', position: 2, contained: true },
      ],
    });
    expect(seen).toHaveLength(3);
    // Each item ran as a child execution: its events carry its name, and it has a history of its own.
    const children = ofType(result.events, 'TaskScheduled', 'Contain the agent').map((e) => e.childExecution);
    expect(new Set(children).size).toBe(3);
    expect(result.histories).toHaveLength(4);
    expect(result.histories.slice(1).map((h) => h.map)).toEqual(['Per agent', 'Per agent', 'Per agent']);
    for (const h of result.histories.slice(1)) expect(h.events).toBeGreaterThan(0);
    // The parent's history holds the Map, not the items' states.
    expect(result.events.filter((e) => !e.childExecution && e.stateName === 'Contain the agent')).toEqual([]);
  });

  test('fails a child execution whose output is over 256 KB, and the Map with it, as Step Functions does', async () => {
    const engine = engineFor(
      (stack) =>
        new sfn.DistributedMap(stack, 'Per agent', mapProps()).itemProcessor(
          new sfn.Pass(stack, 'Grow', { result: sfn.Result.fromObject({ big: 'x'.repeat(270_000) }) }),
        ),
      {},
    );

    const result = await engine.run({ agents: ['a-1'] }, { executionName: 'too-big', waitScale: 0 });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('States.ExceedToleratedFailureThreshold');
    expect(result.cause).toMatch(/over the 262144-byte payload quota/);
  });

  test('retries a handler that throws a throttling error until it succeeds, with the scaled backoff', async () => {
    const calls: string[] = [];
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Disable mappings', {
          lambdaFunction: backstopFunction(stack, 'Mappings', 'disable-mappings'),
          payloadResponseOnly: true,
        }).addRetry({
          errors: ['Backstop.Throttled'],
          interval: Duration.seconds(1),
          backoffRate: 2,
          maxAttempts: 3,
        }),
      {
        'disable-mappings': async () => {
          calls.push(new Date().toISOString());
          if (calls.length === 1) throw namedError('Lambda.ServiceException', 'the Lambda service failed');
          if (calls.length <= 3) throw namedError('Backstop.Throttled', 'Rate exceeded');
          return { disabled: 2 };
        },
      },
    );

    const started = Date.now();
    const result = await engine.run({}, { executionName: 'retry', waitScale: 0, retryScale: 0.05 });
    const elapsed = Date.now() - started;

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({ disabled: 2 });
    expect(calls).toHaveLength(4);
    // CDK's own Lambda retrier took the service error; ours waited 50 ms, then 100 ms (1 s and 2 s, scaled).
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(2500);
    expect(ofType(result.events, 'TaskFailed').map((e) => e.error)).toEqual([
      'Lambda.ServiceException',
      'Backstop.Throttled',
      'Backstop.Throttled',
    ]);
    expect(ofType(result.events, 'StateRetried')).toHaveLength(3);
    expect(ofType(result.events, 'TaskScheduled')).toHaveLength(4);
  });

  test('catches a handler that always fails: the branch result carries the error, the other branches carry on', async () => {
    const engine = engineFor(
      (stack) => {
        const denied = new tasks.LambdaInvoke(stack, 'Cut network', {
          lambdaFunction: backstopFunction(stack, 'Network', 'cut-network'),
          payloadResponseOnly: true,
          resultPath: '$.result',
        }).addCatch(
          new sfn.Pass(stack, 'Record the failure', {
            parameters: { failure: sfn.JsonPath.objectAt('$.error') },
          }),
          {
            errors: ['States.ALL'],
            resultPath: '$.error',
          },
        );
        return new sfn.Parallel(stack, 'Cut every surface').branch(denied).branch(
          new tasks.LambdaInvoke(stack, 'Cut IAM', {
            lambdaFunction: backstopFunction(stack, 'Iam', 'cut-iam'),
            payloadResponseOnly: true,
          }),
        );
      },
      {
        'cut-network': async () => {
          throw namedError('Backstop.AccessDenied', 'ec2:ModifyNetworkInterfaceAttribute denied');
        },
        'cut-iam': async () => ({ surface: 'iam', contained: true }),
      },
    );

    const result = await engine.run({ agentId: 'a-1' }, { executionName: 'catch', waitScale: 0 });

    expect(result.status).toBe('SUCCEEDED');
    const [network, iam] = result.output as [{ failure: { Error: string; Cause: string } }, unknown];
    expect(iam).toEqual({ surface: 'iam', contained: true });
    expect(network.failure.Error).toBe('Backstop.AccessDenied');
    expect(JSON.parse(network.failure.Cause)).toMatchObject({
      errorType: 'Backstop.AccessDenied',
      errorMessage: 'ec2:ModifyNetworkInterfaceAttribute denied',
      trace: expect.arrayContaining([expect.stringContaining('Backstop.AccessDenied')]),
    });
    expect(ofType(result.events, 'StateCaught', 'Cut network')).toHaveLength(1);
  });

  test('fails the execution with the error of an uncaught handler failure or a Fail state', async () => {
    const failing = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Prepare', {
          lambdaFunction: backstopFunction(stack, 'Prepare', 'prepare'),
          payloadResponseOnly: true,
        }),
      {
        prepare: async () => {
          throw namedError('Backstop.KillRejected', 'unknown agent ghost');
        },
      },
    );
    const failed = await failing.run({ agentId: 'ghost' }, { executionName: 'rejected', waitScale: 0 });
    expect(failed).toMatchObject({ status: 'FAILED', error: 'Backstop.KillRejected' });
    expect(JSON.parse(failed.cause ?? '')).toMatchObject({ errorMessage: 'unknown agent ghost' });

    const partial = engineFor(
      (stack) =>
        new sfn.Fail(stack, 'Report partial', { error: 'Backstop.Partial', cause: 'network not contained' }),
      {},
    );
    expect(await partial.run({}, { executionName: 'partial' })).toMatchObject({
      status: 'FAILED',
      error: 'Backstop.Partial',
      cause: 'network not contained',
    });
  });

  test('polls with Choice and Wait until the handler reports done, waits scaled', async () => {
    const script: Record<string, string[]> = {
      'esm-1': ['Disabling', 'Disabling', 'Disabled'],
      'esm-2': ['Disabling', 'Disabled'],
    };
    const polls: string[] = [];
    const engine = engineFor(
      (stack) => {
        const poll = new tasks.LambdaInvoke(stack, 'Read the mapping', {
          lambdaFunction: backstopFunction(stack, 'Read', 'read-mapping'),
          payloadResponseOnly: true,
          resultPath: '$.mapping',
        });
        const wait = new sfn.Wait(stack, 'Wait for the mapping', {
          time: sfn.WaitTime.duration(Duration.seconds(5)),
        });
        return poll.next(
          new sfn.Choice(stack, 'Is the mapping disabled?')
            .when(
              sfn.Condition.stringEquals('$.mapping.State', 'Disabled'),
              new sfn.Succeed(stack, 'Mapping disabled'),
            )
            .otherwise(wait.next(poll)),
        );
      },
      {
        'read-mapping': async (event) => {
          const { uuid } = event as { uuid: string };
          polls.push(uuid);
          return { State: script[uuid].shift() };
        },
      },
    );

    const started = Date.now();
    const scaled = await engine.run({ uuid: 'esm-1' }, { executionName: 'poll', waitScale: 0.01 });
    const scaledMs = Date.now() - started;
    const skipped = await engine.run({ uuid: 'esm-2' }, { executionName: 'poll-again', waitScale: 0 });

    expect(scaled.status).toBe('SUCCEEDED');
    expect(scaled.output).toEqual({ uuid: 'esm-1', mapping: { State: 'Disabled' } });
    expect(polls).toEqual(['esm-1', 'esm-1', 'esm-1', 'esm-2', 'esm-2']);
    expect(ofType(scaled.events, 'WaitStarted', 'Wait for the mapping')).toHaveLength(2);
    // Two waits of 5 s at 1/100 of real time.
    expect(scaledMs).toBeGreaterThanOrEqual(100);
    expect(scaledMs).toBeLessThan(5000);
    expect(skipped.output).toEqual({ uuid: 'esm-2', mapping: { State: 'Disabled' } });
  });

  test('supplies $$ context values and the function environment to handlers, also inside Map and Parallel', async () => {
    const received: { event: unknown; ctx: HandlerContext }[] = [];
    const startTime = new Date('2026-03-01T12:00:00.000Z');
    const stack = newStack();
    const table = new dynamodb.Table(stack, 'StateTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      tableName: 'backstop-state',
    });
    const fn = backstopFunction(stack, 'Inspect', 'inspect', {
      TABLE_NAME: table.tableName,
      TABLE_ARN: table.tableArn,
    });
    const payload = sfn.TaskInput.fromObject({
      executionId: sfn.JsonPath.executionId,
      executionName: sfn.JsonPath.executionName,
      startTime: sfn.JsonPath.executionStartTime,
      input: sfn.JsonPath.objectAt('$$.Execution.Input'),
      machineId: sfn.JsonPath.stateMachineId,
      machineName: sfn.JsonPath.stateMachineName,
    });
    const top = new tasks.LambdaInvoke(stack, 'Inspect at the top', {
      lambdaFunction: fn,
      payload,
      resultPath: sfn.JsonPath.DISCARD,
    });
    const nested = new sfn.Parallel(stack, 'Fan out', { resultPath: sfn.JsonPath.DISCARD }).branch(
      new sfn.Map(stack, 'Per agent', { itemsPath: '$.agents' }).itemProcessor(
        new tasks.LambdaInvoke(stack, 'Inspect in a Map', { lambdaFunction: fn, payload }),
      ),
    );
    stateMachine(stack, top.next(nested));
    const engine = createLocalEngine(synth(stack), {
      ...ENVIRONMENT,
      handlers: {
        inspect: async (event, ctx) => {
          received.push({ event, ctx });
          return {};
        },
      },
    });

    const input = { agents: ['a-1', 'a-2'], reason: 'drill' };
    const result = await engine.run(input, { executionName: 'kill-2026', startTime, waitScale: 0 });

    expect(result.status).toBe('SUCCEEDED');
    expect(received).toHaveLength(3);
    for (const { event, ctx } of received) {
      expect(event).toEqual({
        executionId: `arn:aws:states:eu-west-1:111111111111:execution:engine-test:kill-2026`,
        executionName: 'kill-2026',
        startTime: '2026-03-01T12:00:00.000Z',
        input,
        machineId: MACHINE_ARN,
        machineName: 'engine-test',
      });
      expect(ctx.env).toMatchObject({
        BACKSTOP_HANDLER: 'inspect',
        TABLE_NAME: 'backstop-state',
        TABLE_ARN: 'arn:aws:dynamodb:eu-west-1:111111111111:table/backstop-state',
      });
      expect(ctx.functionLogicalId).toBe(logicalIdOf(fn));
      expect(ctx.executionArn).toBe(result.executionArn);
    }
    expect(received.map((r) => r.ctx.stateName).sort()).toEqual([
      'Inspect at the top',
      'Inspect in a Map',
      'Inspect in a Map',
    ]);
    expect(result.startTime).toEqual(startTime);
  });

  test('returns the lambda:invoke response shape, and ResultPath "$" replaces the state input with it', async () => {
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Invoke', {
          lambdaFunction: backstopFunction(stack, 'Invoke', 'invoke'),
          resultPath: '$',
        }),
      { invoke: async (event) => ({ echoed: event }) },
    );

    const result = await engine.run({ agentId: 'a-1' }, { executionName: 'shape', waitScale: 0 });

    expect(result.output).toMatchObject({
      StatusCode: 200,
      ExecutedVersion: '$LATEST',
      Payload: { echoed: { agentId: 'a-1' } },
      SdkResponseMetadata: { RequestId: expect.any(String) },
    });
    expect(result.output).not.toHaveProperty('agentId');
  });

  test('evaluates intrinsic functions (States.MathAdd, States.Format, States.Array) in payloads', async () => {
    let received: unknown;
    const engine = engineFor(
      (stack) =>
        new sfn.Pass(stack, 'Shape the request', {
          parameters: {
            total: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.done'), sfn.JsonPath.numberAt('$.left')),
            summary: sfn.JsonPath.format(
              'agent {} in {}',
              sfn.JsonPath.stringAt('$.agent'),
              sfn.JsonPath.executionName,
            ),
            surfaces: sfn.JsonPath.array(sfn.JsonPath.stringAt('$.first'), sfn.JsonPath.stringAt('$.second')),
          },
        }).next(
          new tasks.LambdaInvoke(stack, 'Use it', {
            lambdaFunction: backstopFunction(stack, 'Use', 'use'),
            payloadResponseOnly: true,
          }),
        ),
      {
        use: async (event) => {
          received = event;
          return 'ok';
        },
      },
    );

    const result = await engine.run(
      { done: 3, left: 4, agent: 'a-9', first: 'iam', second: 'lambda' },
      { executionName: 'intrinsics', waitScale: 0 },
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(received).toEqual({ total: 7, summary: 'agent a-9 in intrinsics', surfaces: ['iam', 'lambda'] });
  });

  describe('execution names are idempotency keys', () => {
    let engine: LocalEngine;
    let runs: number;
    beforeEach(() => {
      runs = 0;
      engine = engineFor(
        (stack) =>
          new tasks.LambdaInvoke(stack, 'Kill', {
            lambdaFunction: backstopFunction(stack, 'Kill', 'kill'),
            payloadResponseOnly: true,
          }),
        { kill: async () => ({ run: ++runs }) },
      );
    });

    test('a second start with the same name and input returns the first execution, running the handler once', async () => {
      const first = engine.run(
        { agentId: 'a-1', mode: 'full_stop' },
        { executionName: 'alarm-1', waitScale: 0 },
      );
      const storm = engine.run(
        { mode: 'full_stop', agentId: 'a-1' },
        { executionName: 'alarm-1', waitScale: 0 },
      );
      const later = await engine.run(
        { agentId: 'a-1', mode: 'full_stop' },
        { executionName: 'alarm-1', waitScale: 0 },
      );

      expect(await storm).toBe(await first);
      expect(later).toBe(await first);
      expect(later.output).toEqual({ run: 1 });
      expect(runs).toBe(1);
    });

    test('a start with the same name and another input is refused, changing nothing', async () => {
      await engine.run({ agentId: 'a-1' }, { executionName: 'alarm-1', waitScale: 0 });

      await expect(
        engine.run({ agentId: 'a-2' }, { executionName: 'alarm-1', waitScale: 0 }),
      ).rejects.toMatchObject({
        name: 'ExecutionAlreadyExists',
      });
      expect(runs).toBe(1);
    });

    test('an invalid execution name is refused', async () => {
      await expect(engine.run({}, { executionName: 'kill agent/7' })).rejects.toThrow(StartExecutionError);
      await expect(engine.run({}, { executionName: '' })).rejects.toMatchObject({ name: 'InvalidName' });
      expect(runs).toBe(0);
    });
  });

  test('a .waitForTaskToken task waits for sendTaskSuccess, and a second answer to the token is refused', async () => {
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Wait for approvals', {
          lambdaFunction: backstopFunction(stack, 'Approvals', 'request-approvals'),
          integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
          payload: sfn.TaskInput.fromObject({
            token: sfn.JsonPath.taskToken,
            incident: sfn.JsonPath.stringAt('$.incident'),
          }),
          resultPath: '$.approval',
        }),
      { 'request-approvals': async () => ({ requested: true }) },
    );

    const running = engine.run({ incident: 'inc-1' }, { executionName: 'restore-1', waitScale: 0 });
    const pending = await waitFor(() => engine.pendingTaskTokens('restore-1')[0]);
    expect(pending).toMatchObject({ stateName: 'Wait for approvals', executionName: 'restore-1' });
    engine.sendTaskSuccess(pending.token, JSON.stringify({ approvers: ['alice', 'bob'] }));
    const result = await running;

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({ incident: 'inc-1', approval: { approvers: ['alice', 'bob'] } });
    expect(() => engine.sendTaskSuccess(pending.token, '{}')).toThrow(TaskTokenError);
    expect(() => engine.sendTaskFailure('not-a-token', 'x')).toThrow(/no task of this engine is waiting/);
  });

  test('the handler of a .waitForTaskToken task receives the token, and sendTaskFailure fails the task', async () => {
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Wait for approvals', {
          lambdaFunction: backstopFunction(stack, 'Approvals', 'request-approvals'),
          integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
          payload: sfn.TaskInput.fromObject({ token: sfn.JsonPath.taskToken }),
        }).addCatch(new sfn.Pass(stack, 'Stay killed'), {
          errors: ['Backstop.Rejected'],
          resultPath: '$.rejection',
        }),
      {
        'request-approvals': async (event) => {
          // The approval endpoint would call SendTaskFailure later; here it answers at once.
          setImmediate(() =>
            engine.sendTaskFailure((event as { token: string }).token, 'Backstop.Rejected', 'quorum refused'),
          );
          return {};
        },
      },
    );

    const result = await engine.run({}, { executionName: 'restore-2', waitScale: 0 });

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({ rejection: { Error: 'Backstop.Rejected', Cause: 'quorum refused' } });
    expect(engine.pendingTaskTokens()).toEqual([]);
  });

  test("a callback task without TimeoutSeconds keeps waiting past the interpreter's 60-second default", async () => {
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Wait for approvals', {
          lambdaFunction: backstopFunction(stack, 'Approvals', 'request-approvals'),
          integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
          payload: sfn.TaskInput.fromObject({ token: sfn.JsonPath.taskToken }),
        }),
      { 'request-approvals': async () => ({}) },
    );
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const running = engine.run({}, { executionName: 'slow-approval', waitScale: 0 });
      await jest.advanceTimersByTimeAsync(2 * 60 * 60 * 1000);
      const [pending] = engine.pendingTaskTokens('slow-approval');
      expect(pending).toBeDefined();
      engine.sendTaskSuccess(pending.token, JSON.stringify({ approved: true }));
      await jest.advanceTimersByTimeAsync(0);

      expect(await running).toMatchObject({ status: 'SUCCEEDED', output: { approved: true } });
    } finally {
      jest.useRealTimers();
    }
  });

  test('aborts on the signal: status ABORTED, the handler signal fires', async () => {
    let handlerSignal: AbortSignal | undefined;
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Start', {
          lambdaFunction: backstopFunction(stack, 'Start', 'start'),
          payloadResponseOnly: true,
        }).next(new sfn.Wait(stack, 'Long wait', { time: sfn.WaitTime.duration(Duration.hours(1)) })),
      {
        start: async (_event, ctx) => {
          handlerSignal = ctx.signal;
          return {};
        },
      },
    );
    const controller = new AbortController();

    const running = engine.run({}, { executionName: 'aborted', signal: controller.signal });
    await waitFor(() => (handlerSignal ? true : undefined));
    controller.abort();
    const result = await running;

    expect(result.status).toBe('ABORTED');
    expect(handlerSignal?.aborted).toBe(true);
    expect(ofType(result.events, 'ExecutionAborted')).toHaveLength(1);
  });

  test('aborting while a task waits for its token closes the token', async () => {
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Wait for approvals', {
          lambdaFunction: backstopFunction(stack, 'Approvals', 'request-approvals'),
          integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
          payload: sfn.TaskInput.fromObject({ token: sfn.JsonPath.taskToken }),
        }),
      { 'request-approvals': async () => ({}) },
    );
    const controller = new AbortController();

    const running = engine.run({}, { executionName: 'abandoned', signal: controller.signal });
    const pending = await waitFor(() => engine.pendingTaskTokens('abandoned')[0]);
    controller.abort();

    expect((await running).status).toBe('ABORTED');
    expect(engine.pendingTaskTokens()).toEqual([]);
    expect(() => engine.sendTaskSuccess(pending.token, '{}')).toThrow(
      expect.objectContaining({ name: 'TaskTimedOut' }),
    );
  });

  test('times out when the state machine timeout passes', async () => {
    const engine = engineFor(
      (stack) => new sfn.Wait(stack, 'Long wait', { time: sfn.WaitTime.duration(Duration.hours(1)) }),
      {},
      { timeout: Duration.seconds(1) },
    );

    const result = await engine.run({}, { executionName: 'slow' });

    expect(result).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
  });

  test('fails a task whose result is over the 256 KiB payload quota, even under a catch-all', async () => {
    const engine = engineFor(
      (stack) =>
        new tasks.LambdaInvoke(stack, 'Return too much', {
          lambdaFunction: backstopFunction(stack, 'Big', 'big'),
          payloadResponseOnly: true,
        }).addCatch(new sfn.Pass(stack, 'Swallow'), { errors: ['States.ALL'] }),
      { big: async () => ({ blob: 'x'.repeat(300_000) }) },
    );

    const result = await engine.run({}, { executionName: 'big', waitScale: 0 });

    expect(result).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
  });

  test('reports every transition in time order, each with a wall-clock time and the elapsed milliseconds', async () => {
    const engine = engineFor(
      (stack) =>
        new sfn.Pass(stack, 'First').next(
          new tasks.LambdaInvoke(stack, 'Second', {
            lambdaFunction: backstopFunction(stack, 'Second', 'second'),
            payloadResponseOnly: true,
          }),
        ),
      { second: async () => 'done' },
    );
    const streamed: EngineEvent[] = [];

    const result = await engine.run(
      {},
      { executionName: 'events', waitScale: 0, onEvent: (e) => streamed.push(e) },
    );

    expect(result.events.map((e) => `${e.type}${e.stateName ? ` ${e.stateName}` : ''}`)).toEqual([
      'ExecutionStarted',
      'StateEntered First',
      'StateExited First',
      'StateEntered Second',
      'TaskScheduled Second',
      'TaskSucceeded Second',
      'StateExited Second',
      'ExecutionSucceeded',
    ]);
    expect(streamed).toHaveLength(result.events.length);
    for (const event of result.events) {
      expect(Date.parse(event.time)).toBeGreaterThanOrEqual(result.startTime.getTime());
      expect(event.elapsedMs).toBeGreaterThanOrEqual(0);
    }
  });

  test('refuses a fractional waitScale for a Wait whose duration is only known at run time', async () => {
    const engine = engineFor(
      (stack) => new sfn.Wait(stack, 'Wait as told', { time: sfn.WaitTime.secondsPath('$.seconds') }),
      {},
    );

    await expect(engine.run({ seconds: 5 }, { executionName: 'scaled', waitScale: 0.5 })).rejects.toThrow(
      /cannot scale Wait state 'Wait as told': its duration comes from SecondsPath/,
    );
    expect(await engine.run({ seconds: 5 }, { executionName: 'skipped', waitScale: 0 })).toMatchObject({
      status: 'SUCCEEDED',
    });
  });
});

function mapProps(): sfn.MapProps {
  return {
    itemsPath: '$.agents',
    itemSelector: {
      agentId: sfn.JsonPath.stringAt('$$.Map.Item.Value'),
      position: sfn.JsonPath.numberAt('$$.Map.Item.Index'),
    },
    resultPath: '$.results',
  };
}
