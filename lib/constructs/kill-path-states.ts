import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { SurfaceName } from '../../lambda/shared/types';
import { SURFACE_NAMES } from '../../lambda/shared/types';

/** The kill path's handlers, one function each. */
export interface KillPathFunctions {
  readonly prepare: lambda.IFunction;
  readonly surface: lambda.IFunction;
  readonly verify: lambda.IFunction;
  readonly finalize: lambda.IFunction;
}

export interface KillPathStatesProps {
  readonly functions: KillPathFunctions;
  /**
   * Agents cut at once. Each agent's branches already run in parallel; this bounds the fan-out
   * so that per-account API throttles, not Lambda concurrency, set the pace.
   * @default 40
   */
  readonly maxConcurrentAgents?: number;
  /**
   * Wait between two read-backs while something settles (an event source mapping in `Disabling`).
   * @default Duration.seconds(5)
   */
  readonly verifyInterval?: Duration;
}

/** State names of the surface branches: sentence case, verb first. */
export const SURFACE_STATE_NAMES: Record<SurfaceName, string> = {
  iam: 'Cut IAM authority',
  lambda: 'Stop Lambda functions',
  'event-source-mappings': 'Disable event source mappings',
  'eventbridge-rules': 'Disable EventBridge rules',
  schedules: 'Disable schedules',
  executions: 'Stop running executions',
  network: 'Isolate network interfaces',
};

/** Errors worth retrying a whole handler for: Lambda's own transient errors and lasting throttling. */
const TRANSIENT_ERRORS = [
  'Backstop.Throttled',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

const RETRY: sfn.RetryProps = {
  errors: TRANSIENT_ERRORS,
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 6,
  maxDelay: Duration.seconds(20),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * The kill path's states (docs/design.md section 5), in JSONPath so that the local engine runs the
 * very definition that is deployed:
 *
 * Prepare -> for each agent (Map) { Parallel of surface branches -> verify, re-cut, poll } -> Finalize.
 */
export class KillPathStates extends Construct {
  readonly definition: sfn.IChainable;

  constructor(scope: Construct, id: string, props: KillPathStatesProps) {
    super(scope, id);
    const fns = props.functions;
    const perAgentFields = {
      'incidentId.$': '$.incidentId',
      'executionId.$': '$.executionId',
      'mode.$': '$.mode',
      'dryRun.$': '$.dryRun',
      'requestedAt.$': '$.requestedAt',
      'agentId.$': '$.agentId',
    };

    const prepare = new tasks.LambdaInvoke(this, 'Prepare the kill', {
      lambdaFunction: fns.prepare,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        request: sfn.JsonPath.entirePayload,
        executionId: sfn.JsonPath.stringAt('$$.Execution.Id'),
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
        startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
      }),
      resultPath: '$.prepare',
      comment: 'Validate, resolve the agents, take their locks, record the request, set the control flag',
    });
    prepare.addRetry({ ...RETRY, errors: ['States.ALL'], maxAttempts: 3 });

    const branches = SURFACE_NAMES.map((surface) => {
      const name = SURFACE_STATE_NAMES[surface];
      const cut = new tasks.LambdaInvoke(this, name, {
        lambdaFunction: fns.surface,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({ ...perAgentFields, surface }),
        comment: `Assume the kill role, discover, snapshot and contain: ${surface}`,
      });
      cut.addRetry(RETRY);
      const recordFailure = new sfn.Pass(this, `Record failure: ${name}`, {
        parameters: {
          'agentId.$': '$.agentId',
          surface,
          status: 'FAILED',
          resources: 0,
          changes: 0,
          skipped: [],
          failures: [],
          'error.$': '$.caught.Error',
          'cause.$': '$.caught.Cause',
        },
      });
      cut.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.caught' });
      return cut;
    });
    const cutSurfaces = new sfn.Parallel(this, 'Cut authority surfaces', {
      resultPath: '$.contain',
      comment: 'One branch per surface, so that IAM is cut without waiting for network discovery',
    });
    for (const b of branches) cutSurfaces.branch(b);

    const startVerify = new sfn.Pass(this, 'Start the read-back', {
      result: sfn.Result.fromObject({ attempt: 0, recut: [] }),
      resultPath: '$.verify',
    });
    const verify = new tasks.LambdaInvoke(this, 'Verify the cut', {
      lambdaFunction: fns.verify,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        ...perAgentFields,
        'contain.$': '$.contain',
        'verify.$': '$.verify',
      }),
      resultPath: '$.verify',
      comment: 'Read every surface back; re-cut once what drifted',
    });
    verify.addRetry(RETRY);
    const verifyFailed = new sfn.Pass(this, 'Record failed read-back', {
      parameters: {
        'attempt.$': '$.verify.attempt',
        recut: [],
        pending: false,
        surfaces: [],
        status: 'FAILED',
        'error.$': '$.caught.Error',
        'cause.$': '$.caught.Cause',
      },
      resultPath: '$.verify',
    });
    verify.addCatch(verifyFailed, { errors: ['States.ALL'], resultPath: '$.caught' });
    // One line per agent: the full outcome is in the state table, so a fleet stays under 256 KB.
    const agentDone = new sfn.Pass(this, 'Agent done', {
      parameters: { 'agentId.$': '$.agentId', 'status.$': '$.verify.status' },
    });
    verifyFailed.next(agentDone);
    const settle = new sfn.Wait(this, 'Wait for the cut to settle', {
      time: sfn.WaitTime.duration(props.verifyInterval ?? Duration.seconds(5)),
    });
    const stillSettling = new sfn.Choice(this, 'Anything still settling?')
      .when(sfn.Condition.booleanEquals('$.verify.pending', true), settle.next(verify))
      .otherwise(agentDone);

    const perAgent = new sfn.Map(this, 'Cut each agent', {
      itemsPath: '$.prepare.targets',
      itemSelector: {
        'agentId.$': '$$.Map.Item.Value.agentId',
        'incidentId.$': '$.prepare.incidentId',
        'executionId.$': '$.prepare.executionId',
        'mode.$': '$.prepare.mode',
        'dryRun.$': '$.prepare.dryRun',
        'requestedAt.$': '$.prepare.requestedAt',
      },
      maxConcurrency: props.maxConcurrentAgents ?? 40,
      resultPath: '$.agents',
    });
    perAgent.itemProcessor(cutSurfaces.next(startVerify).next(verify).next(stillSettling));

    const finalize = new tasks.LambdaInvoke(this, 'Finalize the kill', {
      lambdaFunction: fns.finalize,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({ 'prepare.$': '$.prepare', 'agents.$': '$.agents' }),
      comment: 'CONTAINED only after the read-back; write the manifest, notify, publish time to contain',
    });
    finalize.addRetry({ ...RETRY, errors: ['States.ALL'], maxAttempts: 4 });

    const nothingToCut = new sfn.Pass(this, 'Nothing to cut', {
      result: sfn.Result.fromArray([]),
      resultPath: '$.agents',
    });
    const rejected = new sfn.Fail(this, 'Kill rejected', {
      error: 'Backstop.KillRejected',
      causePath: '$.rejection.message',
    });
    const outcome = new sfn.Choice(this, 'Was the kill rejected?')
      .when(sfn.Condition.stringEquals('$.status', 'REJECTED'), rejected)
      .otherwise(new sfn.Succeed(this, 'Kill finished'));
    finalize.next(outcome);

    const anyTargets = new sfn.Choice(this, 'Any agents to cut?')
      .when(sfn.Condition.isPresent('$.prepare.targets[0]'), perAgent.next(finalize))
      .otherwise(nothingToCut.next(finalize));

    this.definition = prepare.next(anyTargets);
  }
}
