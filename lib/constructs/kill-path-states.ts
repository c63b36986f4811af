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
   * Agents cut at once by one execution (and by each child execution of a fleet kill). Each
   * agent's branches already run in parallel; this bounds the fan-out so that per-account API
   * throttles, not Lambda concurrency, set the pace.
   * @default 40
   */
  readonly maxConcurrentAgents?: number;
  /**
   * Child executions of a fleet kill running at once (the distributed Map's MaxConcurrency). Prepare
   * decides whether a kill is a fleet kill: more agents than its directory's agentsPerBatch.
   * @default 10
   */
  readonly maxConcurrentBatches?: number;
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

/** Lambda's own transient errors: worth retrying a whole handler for, in every state machine. */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];

/** How a state retries a handler on `errors`: 6 attempts, backing off from 1 s to 20 s, jittered. */
export function handlerRetry(errors: readonly string[]): sfn.RetryProps {
  return {
    errors: [...errors],
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.seconds(20),
    jitterStrategy: sfn.JitterType.FULL,
  };
}

/** The kill path also retries a handler that stayed throttled past its own retries. */
const TRANSIENT_ERRORS = ['Backstop.Throttled', ...LAMBDA_TRANSIENT_ERRORS];
const RETRY = handlerRetry(TRANSIENT_ERRORS);

/** The state that fans out over the agents of an execution, and its copy in a fleet kill's child executions. */
export const PER_AGENT_MAP = 'Cut each agent';
/** The distributed Map of a fleet kill: one child execution per batch of agents. */
export const PER_BATCH_MAP = 'Cut each batch';
/**
 * Suffix of the state names of a fleet kill's child executions: state names are unique in a
 * definition, and the child runs the same per-agent states as a kill of one batch.
 */
export const BATCH_SUFFIX = ' (batch)';

/**
 * The kill path's states (docs/design.md section 5), in JSONPath so that the local engine runs the
 * very definition that is deployed:
 *
 * Prepare -> for each agent (Map) { Parallel of surface branches -> verify, re-cut, poll } -> Finalize.
 *
 * A fleet kill (more agents than a batch) runs the same per-agent states in child executions, one
 * per batch, through a distributed Map: each child has its own 25,000-event history, and every
 * payload stays far under 256 KB (the agents of a batch come from the state table).
 */
export class KillPathStates extends Construct {
  readonly definition: sfn.IChainable;
  private readonly fns: KillPathFunctions;

  constructor(scope: Construct, id: string, props: KillPathStatesProps) {
    super(scope, id);
    this.fns = props.functions;
    const fns = props.functions;

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
      comment: 'Validate, resolve the agents, take their locks, set the control flag, cut declared roles',
    });
    prepare.addRetry({ ...RETRY, errors: ['States.ALL'], maxAttempts: 3 });

    const incidentFields = (at: string) => ({
      'incidentId.$': `${at}.incidentId`,
      'executionId.$': `${at}.executionId`,
      'mode.$': `${at}.mode`,
      'dryRun.$': `${at}.dryRun`,
      'requestedAt.$': `${at}.requestedAt`,
    });
    const agentFields = {
      'agentId.$': '$$.Map.Item.Value.agentId',
      'authorityCutAt.$': '$$.Map.Item.Value.authorityCutAt',
    };

    const perAgent = this.perAgentMap('', {
      itemsPath: '$.prepare.targets',
      itemSelector: { ...agentFields, ...incidentFields('$.prepare') },
      maxConcurrency: props.maxConcurrentAgents ?? 40,
      resultPath: '$.agents',
      verifyInterval: props.verifyInterval,
    });

    // A fleet kill: each child execution loads its batch and cuts it with the same states.
    const loadBatch = new tasks.LambdaInvoke(this, 'Load the batch', {
      lambdaFunction: fns.prepare,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        loadBatch: { 'incidentId.$': '$.incidentId', 'batch.$': '$.batch' },
      }),
      resultPath: '$.loaded',
      comment: 'The agents of this batch, as Prepare wrote them to the state table',
    });
    loadBatch.addRetry({ ...RETRY, errors: ['States.ALL'], maxAttempts: 4 });
    const perAgentOfBatch = this.perAgentMap(BATCH_SUFFIX, {
      itemsPath: '$.loaded.targets',
      itemSelector: { ...agentFields, ...incidentFields('$') },
      maxConcurrency: props.maxConcurrentAgents ?? 40,
      resultPath: '$.agents',
      verifyInterval: props.verifyInterval,
    });
    // One line per batch: the outcomes are in the state table, and 10,000 agent lines would not fit.
    const batchDone = new sfn.Pass(this, 'Batch done', {
      parameters: { 'batch.$': '$.batch', 'agents.$': 'States.ArrayLength($.agents)' },
    });
    const perBatch = new sfn.DistributedMap(this, PER_BATCH_MAP, {
      itemsPath: '$.prepare.batches',
      itemSelector: { 'batch.$': '$$.Map.Item.Value.batch', ...incidentFields('$.prepare') },
      maxConcurrency: props.maxConcurrentBatches ?? 10,
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultPath: '$.agents',
      comment: 'A fleet kill: one child execution per batch of agents, each with its own history',
    });
    perBatch.itemProcessor(loadBatch.next(perAgentOfBatch).next(batchDone));

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
      .when(sfn.Condition.isPresent('$.prepare.batches[0]'), perBatch.next(finalize))
      .when(sfn.Condition.isPresent('$.prepare.targets[0]'), perAgent.next(finalize))
      .otherwise(nothingToCut.next(finalize));

    this.definition = prepare.next(anyTargets);
  }

  /**
   * The per-agent Map: a Parallel of surface branches, then the read-back, polled while something
   * settles. Built once for an execution's own agents and once (state names suffixed) for the
   * agents of a fleet kill's batch.
   */
  private perAgentMap(
    suffix: string,
    options: {
      itemsPath: string;
      itemSelector: Record<string, string>;
      maxConcurrency: number;
      resultPath: string;
      verifyInterval?: Duration;
    },
  ): sfn.Map {
    const fns = this.fns;
    const named = (name: string) => `${name}${suffix}`;
    const perAgentFields = {
      'incidentId.$': '$.incidentId',
      'executionId.$': '$.executionId',
      'mode.$': '$.mode',
      'dryRun.$': '$.dryRun',
      'requestedAt.$': '$.requestedAt',
      'agentId.$': '$.agentId',
    };

    const branches = SURFACE_NAMES.map((surface) => {
      const name = named(SURFACE_STATE_NAMES[surface]);
      const cut = new tasks.LambdaInvoke(this, name, {
        lambdaFunction: fns.surface,
        payloadResponseOnly: true,
        payload: sfn.TaskInput.fromObject({
          ...perAgentFields,
          surface,
          ...(surface === 'iam' ? { 'authorityCutAt.$': '$.authorityCutAt' } : {}),
        }),
        comment: `Assume the kill role, discover, snapshot and contain: ${surface}`,
      });
      cut.addRetry(RETRY);
      const recordFailure = new sfn.Pass(this, named(`Record failure: ${SURFACE_STATE_NAMES[surface]}`), {
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
    const cutSurfaces = new sfn.Parallel(this, named('Cut authority surfaces'), {
      resultPath: '$.contain',
      comment: 'One branch per surface, so that IAM is cut without waiting for network discovery',
    });
    for (const b of branches) cutSurfaces.branch(b);

    const startVerify = new sfn.Pass(this, named('Start the read-back'), {
      result: sfn.Result.fromObject({ attempt: 0, recut: [] }),
      resultPath: '$.verify',
    });
    const verify = new tasks.LambdaInvoke(this, named('Verify the cut'), {
      lambdaFunction: fns.verify,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        ...perAgentFields,
        'contain.$': '$.contain',
        'verify.$': '$.verify',
      }),
      resultPath: '$.verify',
      comment: 'Read back what is not proven yet, every surface at once; re-cut once what drifted',
    });
    verify.addRetry(RETRY);
    const verifyFailed = new sfn.Pass(this, named('Record failed read-back'), {
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
    const agentDone = new sfn.Pass(this, named('Agent done'), {
      parameters: { 'agentId.$': '$.agentId', 'status.$': '$.verify.status' },
    });
    verifyFailed.next(agentDone);
    const settle = new sfn.Wait(this, named('Wait for the cut to settle'), {
      time: sfn.WaitTime.duration(options.verifyInterval ?? Duration.seconds(5)),
    });
    const stillSettling = new sfn.Choice(this, named('Anything still settling?'))
      .when(sfn.Condition.booleanEquals('$.verify.pending', true), settle.next(verify))
      .otherwise(agentDone);

    const map = new sfn.Map(this, named(PER_AGENT_MAP), {
      itemsPath: options.itemsPath,
      itemSelector: options.itemSelector,
      maxConcurrency: options.maxConcurrency,
      resultPath: options.resultPath,
    });
    map.itemProcessor(cutSurfaces.next(startVerify).next(verify).next(stillSettling));
    return map;
  }
}
