import { type Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { handlerRetry, LAMBDA_TRANSIENT_ERRORS } from './kill-path-states';

/** The restore path's handlers, one function each. */
export interface RestorePathFunctions {
  readonly prepare: lambda.IFunction;
  readonly await: lambda.IFunction;
  readonly apply: lambda.IFunction;
  readonly finalize: lambda.IFunction;
}

export interface RestorePathStatesProps {
  readonly functions: RestorePathFunctions;
  /** How long the restore waits for its approvals (`restore.approvalTimeoutHours`). */
  readonly approvalTimeout: Duration;
}

/** State names, as the console and the CLI show them. */
export const RESTORE_STATE_NAMES = {
  prepare: 'Check the restore request',
  refused: 'Was the request refused?',
  await: 'Wait for approvals',
  apply: 'Restore the agent',
  finalize: 'Finalize the restore',
  done: 'Restore finished',
} as const;

const RETRY = handlerRetry(LAMBDA_TRANSIENT_ERRORS);

/**
 * The restore path (issue 9), in JSONPath so that the local engine runs the deployed definition:
 *
 * Check the request -> Wait for approvals (`.waitForTaskToken`, timeout from the config) ->
 * Restore the agent -> Finalize (record, seal, notify). A refusal, a rejection, a kill of the agent
 * or the timeout goes straight to Finalize: nothing is changed.
 */
export class RestorePathStates extends Construct {
  readonly definition: sfn.IChainable;

  constructor(scope: Construct, id: string, props: RestorePathStatesProps) {
    super(scope, id);
    const fns = props.functions;
    const N = RESTORE_STATE_NAMES;

    const prepare = new tasks.LambdaInvoke(this, N.prepare, {
      lambdaFunction: fns.prepare,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        request: sfn.JsonPath.entirePayload,
        executionId: sfn.JsonPath.stringAt('$$.Execution.Id'),
        executionName: sfn.JsonPath.stringAt('$$.Execution.Name'),
        startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
      }),
      resultPath: '$.prepare',
      comment: 'The execution must be the restore the endpoint recorded, with who asked',
    });
    prepare.addRetry({ ...RETRY, errors: ['States.ALL'], maxAttempts: 3 });

    const waitForApprovals = new tasks.LambdaInvoke(this, N.await, {
      lambdaFunction: fns.await,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        'restoreId.$': '$.prepare.restoreId',
        'executionId.$': '$.prepare.executionId',
        taskToken: sfn.JsonPath.taskToken,
      }),
      taskTimeout: sfn.Timeout.duration(props.approvalTimeout),
      resultPath: '$.approval',
      comment: 'Keep the task token in the state table; the approval endpoint completes it at quorum',
    });

    const apply = new tasks.LambdaInvoke(this, N.apply, {
      lambdaFunction: fns.apply,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        'restoreId.$': '$.prepare.restoreId',
        'executionId.$': '$.prepare.executionId',
      }),
      resultPath: '$.apply',
      comment: 'Count the quorum again, check the snapshots against the audit log, put back in reverse order',
    });
    apply.addRetry(RETRY);

    const finalize = new tasks.LambdaInvoke(this, N.finalize, {
      lambdaFunction: fns.finalize,
      payloadResponseOnly: true,
      // No payload: the whole state (`approval`, `apply` and `caught` are there when their step ran).
      comment: 'Record the outcome, release the lock, notify, seal the restore manifest',
    });
    finalize.addRetry({ ...RETRY, errors: ['States.ALL'], maxAttempts: 4 });
    finalize.next(new sfn.Succeed(this, N.done));

    waitForApprovals.addCatch(finalize, { errors: ['States.ALL'], resultPath: '$.caught' });
    apply.addCatch(finalize, { errors: ['States.ALL'], resultPath: '$.caught' });

    const refused = new sfn.Choice(this, N.refused)
      .when(sfn.Condition.stringEquals('$.prepare.status', 'REFUSED'), finalize)
      .otherwise(waitForApprovals.next(apply).next(finalize));

    this.definition = prepare.next(refused);
  }
}
