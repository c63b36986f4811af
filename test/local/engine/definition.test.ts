import { Duration, type Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import {
  type CfnTemplate,
  createLocalEngine,
  loadStateMachine,
  type RefusalProblem,
  StateMachineNotFoundError,
  StateMachineRefusedError,
} from '../../../lib/local/engine';
import { backstopFunction, logicalIdOf, newStack, stateMachine, synth, TEST_ENV } from './fixtures/stacks';

// asl-validator ships no types; it mutates its input, so it always gets a clone.
const aslValidator: (definition: unknown) => {
  isValid: boolean;
  errorsText: (separator?: string) => string;
} = require('asl-validator');

const ENVIRONMENT = { region: TEST_ENV.region, accountId: TEST_ENV.account };
const noop = async () => ({});

function refusal(template: CfnTemplate, stateMachineName: string) {
  try {
    createLocalEngine(template, { ...ENVIRONMENT, stateMachineName, handlers: { work: noop } });
  } catch (e) {
    if (e instanceof StateMachineRefusedError) return e;
    throw e;
  }
  throw new Error('the engine accepted the state machine');
}

function problemOf(error: StateMachineRefusedError, state: string): RefusalProblem {
  const problem = error.problems.find((p) => p.state === state);
  if (!problem) throw new Error(`no problem reported for state ${state}: ${error.message}`);
  return problem;
}

describe('loadStateMachine', () => {
  test('extracts the deployed definition as concrete ASL that asl-validator accepts, with every Task bound to its handler', () => {
    const stack = newStack();
    const prepare = backstopFunction(stack, 'Prepare', 'kill-prepare');
    const surface = backstopFunction(stack, 'Surface', 'kill-surface');
    const perAgent = new sfn.Map(stack, 'Per agent', {
      itemsPath: '$.agents',
      resultPath: '$.results',
    }).itemProcessor(new tasks.LambdaInvoke(stack, 'Cut IAM authority', { lambdaFunction: surface }));
    const chain = new tasks.LambdaInvoke(stack, 'Prepare the kill', {
      lambdaFunction: prepare,
      payloadResponseOnly: true,
    }).next(perAgent);
    stateMachine(stack, chain, 'backstop-kill');

    const machine = loadStateMachine(synth(stack), ENVIRONMENT);

    expect(machine.name).toBe('backstop-kill');
    expect(machine.arn).toBe('arn:aws:states:eu-west-1:111111111111:stateMachine:backstop-kill');
    const text = JSON.stringify(machine.definition);
    expect(text).not.toMatch(/Fn::|"Ref"/);
    const clone = structuredClone(machine.definition);
    const validation = aslValidator(clone);
    expect(validation.errorsText()).toBe('');
    expect(validation.isValid).toBe(true);
    expect(machine.tasks['Prepare the kill']).toMatchObject({
      integration: 'function-arn',
      handler: 'kill-prepare',
      functionArn: expect.stringMatching(
        /^arn:aws:lambda:eu-west-1:111111111111:function:PrepareFunction[0-9A-F]{8}$/,
      ),
    });
    expect(machine.tasks['Prepare the kill'].resource).toBe(machine.tasks['Prepare the kill'].functionArn);
    expect(machine.tasks['Cut IAM authority']).toMatchObject({
      integration: 'lambda-invoke',
      handler: 'kill-surface',
      path: 'Per agent/ItemProcessor/Cut IAM authority',
      env: { BACKSTOP_HANDLER: 'kill-surface' },
    });
  });

  test('applies DefinitionSubstitutions before binding tasks', () => {
    const stack = newStack();
    const fn = backstopFunction(stack, 'Worker', 'work');
    new sfn.StateMachine(stack, 'Machine', {
      stateMachineName: 'substituted',
      definitionBody: sfn.DefinitionBody.fromString(
        JSON.stringify({
          StartAt: 'Work',
          States: { Work: { Type: 'Task', Resource: '${WorkerArn}', End: true } },
        }),
      ),
      definitionSubstitutions: { WorkerArn: fn.functionArn },
    });

    const machine = loadStateMachine(synth(stack), ENVIRONMENT);

    expect(machine.tasks.Work.functionLogicalId).toBe(logicalIdOf(fn));
  });

  test('selects a state machine by name, and says which exist when the selector matches none', () => {
    const stack = newStack();
    const fn = backstopFunction(stack, 'Worker', 'work');
    new sfn.StateMachine(stack, 'Kill', {
      stateMachineName: 'backstop-kill',
      definitionBody: sfn.DefinitionBody.fromChainable(
        new tasks.LambdaInvoke(stack, 'Kill it', { lambdaFunction: fn }),
      ),
    });
    new sfn.StateMachine(stack, 'Restore', {
      stateMachineName: 'backstop-restore',
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Restore it')),
    });
    const template = synth(stack);

    expect(loadStateMachine(template, { ...ENVIRONMENT, stateMachineName: 'backstop-restore' }).name).toBe(
      'backstop-restore',
    );
    expect(() => loadStateMachine(template, ENVIRONMENT)).toThrow(StateMachineNotFoundError);
    expect(() => loadStateMachine(template, { ...ENVIRONMENT, stateMachineName: 'nope' })).toThrow(
      /no state machine named nope; state machines in the template: Kill[0-9A-F]{8} \(backstop-kill\), Restore[0-9A-F]{8} \(backstop-restore\)/,
    );
  });
});

describe('refusal at load time', () => {
  const cases: {
    readonly name: string;
    readonly state: string;
    readonly reason: RegExp;
    readonly build: (stack: Stack) => sfn.IChainable;
    readonly machineProps?: Partial<sfn.StateMachineProps>;
  }[] = [
    {
      name: 'a JSONata state machine',
      state: 'Invoke it',
      reason: /JSONata/,
      build: (stack) =>
        tasks.LambdaInvoke.jsonata(stack, 'Invoke it', {
          lambdaFunction: backstopFunction(stack, 'Fn', 'work'),
        }).next(sfn.Pass.jsonata(stack, 'Shape', { outputs: { x: '{% $states.input %}' } })),
      machineProps: { queryLanguage: sfn.QueryLanguage.JSONATA },
    },
    {
      name: 'a Task publishing to SNS',
      state: 'Notify on-call',
      reason: /calls sns:publish: only Lambda invocations/,
      build: (stack) =>
        new tasks.SnsPublish(stack, 'Notify on-call', {
          topic: new sns.Topic(stack, 'Topic'),
          message: sfn.TaskInput.fromText('killed'),
        }),
    },
    {
      name: 'a Task calling an AWS SDK integration',
      state: 'Disable the rule',
      reason: /calls aws-sdk:eventbridge:disableRule: only Lambda invocations/,
      build: (stack) =>
        new tasks.CallAwsService(stack, 'Disable the rule', {
          service: 'eventbridge',
          action: 'disableRule',
          parameters: { Name: 'agent-rule' },
          iamResources: ['*'],
        }),
    },
    {
      name: 'a .sync integration',
      state: 'Run the child',
      reason: /calls states:startExecution\.sync:2/,
      build: (stack) =>
        new tasks.StepFunctionsStartExecution(stack, 'Run the child', {
          stateMachine: new sfn.StateMachine(stack, 'Child', {
            definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Child step')),
          }),
          integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        }),
    },
    {
      name: 'a Task whose function has no BACKSTOP_HANDLER',
      state: 'Call the legacy function',
      reason:
        /function LegacyFunction[0-9A-F]{8} \(LegacyFunction[0-9A-F]{8}\) has no BACKSTOP_HANDLER environment variable/,
      build: (stack) =>
        new tasks.LambdaInvoke(stack, 'Call the legacy function', {
          lambdaFunction: backstopFunction(stack, 'Legacy', undefined),
        }),
    },
    {
      name: 'a Task whose handler is not registered',
      state: 'Call the unknown handler',
      reason:
        /handler 'not-registered' \(BACKSTOP_HANDLER of function StrangerFunction[0-9A-F]{8}\) is not registered/,
      build: (stack) =>
        new tasks.LambdaInvoke(stack, 'Call the unknown handler', {
          lambdaFunction: backstopFunction(stack, 'Stranger', 'not-registered'),
        }),
    },
    {
      name: 'variables (Assign)',
      state: 'Remember the incident',
      reason: /has Assign/,
      build: (stack) =>
        new sfn.Pass(stack, 'Remember the incident', { assign: { incident: '$.incidentId' } }),
    },
    {
      name: 'a context field the interpreter does not provide',
      state: 'Stamp the entry',
      reason: /\$\$\.State \(Name, EnteredTime, RetryCount\) is not provided/,
      build: (stack) =>
        new sfn.Pass(stack, 'Stamp the entry', { parameters: { 'entered.$': '$$.State.EnteredTime' } }),
    },
    {
      name: 'a task token outside a .waitForTaskToken task',
      state: 'Leak the token',
      reason: /\$\$\.Task\.Token exists only in the Parameters of a \.waitForTaskToken task/,
      build: (stack) =>
        new tasks.LambdaInvoke(stack, 'Leak the token', {
          lambdaFunction: backstopFunction(stack, 'Fn', 'work'),
          payload: sfn.TaskInput.fromObject({ token: sfn.JsonPath.taskToken }),
        }),
    },
    {
      name: 'a heartbeat timeout',
      state: 'Beat',
      reason: /HeartbeatSeconds is not modelled/,
      build: (stack) =>
        new tasks.LambdaInvoke(stack, 'Beat', {
          lambdaFunction: backstopFunction(stack, 'Fn', 'work'),
          heartbeatTimeout: sfn.Timeout.duration(Duration.seconds(30)),
        }),
    },
    {
      name: 'a Pass state with a false Result (the interpreter would pass its input through)',
      state: 'Not retried yet',
      reason: /has Result false/,
      build: (stack) =>
        new sfn.Pass(stack, 'Not retried yet', {
          result: sfn.Result.fromBoolean(false),
          resultPath: '$.retried',
        }),
    },
    {
      name: 'a distributed Map reading items from S3',
      state: 'Per agent from S3',
      reason: /has ItemReader/,
      build: (stack) =>
        new sfn.DistributedMap(stack, 'Per agent from S3', {
          itemReader: new sfn.S3JsonItemReader({ bucket: new s3.Bucket(stack, 'Items'), key: 'agents.json' }),
        }).itemProcessor(new sfn.Pass(stack, 'Item')),
    },
    {
      name: 'a Map with batching',
      state: 'Per batch',
      reason: /has ItemBatcher/,
      build: (stack) =>
        new sfn.DistributedMap(stack, 'Per batch', {
          itemsPath: '$.agents',
          itemBatcher: new sfn.ItemBatcher({ maxItemsPerBatch: 10 }),
        }).itemProcessor(new sfn.Pass(stack, 'Batch')),
    },
    {
      name: 'a Map that tolerates failures',
      state: 'Per agent, tolerant',
      reason: /has ToleratedFailureCount/,
      build: (stack) =>
        new sfn.DistributedMap(stack, 'Per agent, tolerant', {
          itemsPath: '$.agents',
          toleratedFailureCount: 2,
        }).itemProcessor(new sfn.Pass(stack, 'Tolerated item')),
    },
    {
      name: 'the execution context inside a distributed Map (each item is its own child execution)',
      state: 'Cut in a child execution',
      reason: /inside a distributed Map each item runs as a child execution with its own \$\$\.Execution/,
      build: (stack) =>
        new sfn.DistributedMap(stack, 'Per agent, distributed', { itemsPath: '$.agents' }).itemProcessor(
          new tasks.LambdaInvoke(stack, 'Cut in a child execution', {
            lambdaFunction: backstopFunction(stack, 'Fn', 'work'),
            payload: sfn.TaskInput.fromObject({ incident: sfn.JsonPath.executionName }),
          }),
        ),
    },
  ];

  test.each(cases)('refuses $name, naming the state', ({ state, reason, build, machineProps }) => {
    const stack = newStack();
    stateMachine(stack, build(stack), 'refused', machineProps);

    const error = refusal(synth(stack), 'refused');

    expect(error.message).toContain('the local engine refuses state machine refused');
    expect(error.message).toContain(state);
    expect(problemOf(error, state).reason).toMatch(reason);
  });

  test('lists every offending state in one error, each with its path', () => {
    const stack = newStack();
    const topic = new sns.Topic(stack, 'Topic');
    const branches = new sfn.Parallel(stack, 'Cut every surface')
      .branch(new tasks.SnsPublish(stack, 'Tell the team', { topic, message: sfn.TaskInput.fromText('x') }))
      .branch(
        new tasks.LambdaInvoke(stack, 'Run legacy', {
          lambdaFunction: backstopFunction(stack, 'Legacy', undefined),
        }),
      )
      .branch(
        new tasks.LambdaInvoke(stack, 'Run fine', {
          lambdaFunction: backstopFunction(stack, 'Fine', 'work'),
        }),
      );
    stateMachine(stack, branches, 'several');

    const error = refusal(synth(stack), 'several');

    expect(error.problems.map((p) => [p.state, p.path])).toEqual([
      ['Tell the team', 'Cut every surface/Branches[0]/Tell the team'],
      ['Run legacy', 'Cut every surface/Branches[1]/Run legacy'],
    ]);
    expect(error.message.split('\n')).toHaveLength(3);
  });
});
