import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  ExecutionStatus,
  ListExecutionsCommand,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { executions, KILLED_ERROR } from '../../../lambda/surfaces/executions';
import { awsError } from '../../helpers/fixtures';
import { ACCOUNT, agent, context, taggedPage } from './support';

// Step Functions has no recordings: the shapes follow the ListExecutions and DescribeExecution
// documentation, with the members a Standard workflow's execution carries.

const sfn = mockClient(SFNClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);

const machine = (name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${name}`;
const execution = (m: string, name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:execution:${m}:${name}`;
const CLOSE = machine('billing-close');
const EXPRESS = machine('billing-express');
const RUN_1 = execution('billing-close', 'run-1');
const RUN_2 = execution('billing-close', 'run-2');
const RUN_3 = execution('billing-close', 'run-3');

let runs: Map<string, DescribeExecutionOutput>;

beforeEach(() => {
  sfn.reset();
  tagging.reset();
  runs = new Map(
    [RUN_1, RUN_2, RUN_3].map((arn, i) => [
      arn,
      {
        executionArn: arn,
        stateMachineArn: CLOSE,
        name: arn.split(':').pop(),
        status: ExecutionStatus.RUNNING,
        startDate: new Date(Date.UTC(2025, 6, 24, 11, 50 + i)),
        input: '{"month":"2025-07"}',
      },
    ]),
  );
  const get = (arn: string) => {
    const run = runs.get(arn);
    if (!run) throw awsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return run;
  };
  sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }) => ({ ...get(executionArn) }));
  sfn.on(StopExecutionCommand).callsFake(({ executionArn, error, cause }) => {
    const run = get(executionArn);
    runs.set(executionArn, {
      ...run,
      status: ExecutionStatus.ABORTED,
      error,
      cause,
      stopDate: new Date('2025-07-24T12:00:02Z'),
    });
    return { stopDate: new Date('2025-07-24T12:00:02Z') };
  });
});

it('discovers the running executions of tagged and declared state machines across pages', async () => {
  tagging.on(GetResourcesCommand).resolves(taggedPage([EXPRESS]));
  sfn.on(ListExecutionsCommand).callsFake(({ stateMachineArn, nextToken }) => {
    if (stateMachineArn === EXPRESS) {
      throw awsError(
        'StateMachineTypeNotSupported',
        'This operation is not supported by this type of state machine',
      );
    }
    const page = (arns: string[]) => arns.map((a) => ({ ...runs.get(a) }));
    return nextToken
      ? { executions: page([RUN_3]) }
      : { executions: page([RUN_1, RUN_2]), nextToken: 'next' };
  });
  const ctx = context({ agent: agent({ resourceArns: [CLOSE] }) });

  expect(await executions.discover(ctx)).toEqual([RUN_1, RUN_2, RUN_3]);
  expect(
    sfn
      .commandCalls(ListExecutionsCommand)
      .filter((c) => c.args[0].input.stateMachineArn === CLOSE)
      .map((c) => c.args[0].input),
  ).toEqual([
    { stateMachineArn: CLOSE, statusFilter: 'RUNNING', nextToken: undefined },
    { stateMachineArn: CLOSE, statusFilter: 'RUNNING', nextToken: 'next' },
  ]);
  expect(ctx.logs).toContainEqual(
    expect.objectContaining({ level: 'warn', extra: { stateMachineArn: EXPRESS } }),
  );
});

it('snapshots each execution with its machine, name and start time as JSON', async () => {
  const [snap] = await executions.snapshot(context(), [RUN_1]);

  expect(snap.state).toEqual({
    executionArn: RUN_1,
    stateMachineArn: CLOSE,
    name: 'run-1',
    startDate: '2025-07-24T11:50:00.000Z',
    status: 'RUNNING',
  });
});

it('stops each running execution with Backstop.Killed and a cause naming the incident; an ended one is fine', async () => {
  const snap = await executions.snapshot(context(), [RUN_1, RUN_2, RUN_3]);
  runs.set(RUN_2, { ...runs.get(RUN_2)!, status: ExecutionStatus.SUCCEEDED });
  runs.delete(RUN_3);

  const result = await executions.contain(context(), 'full_stop', snap);

  expect(sfn.commandCalls(StopExecutionCommand).map((c) => c.args[0].input)).toEqual([
    {
      executionArn: RUN_1,
      error: KILLED_ERROR,
      cause:
        'Stopped by the Backstop kill of agent billing-agent (incident inc-20250724-0001) at 2025-07-24T12:00:00.000Z',
    },
  ]);
  expect(runs.get(RUN_1)?.status).toBe('ABORTED');
  expect(result).toEqual({
    changes: [
      {
        resource: RUN_1,
        action: 'StopExecution',
        before: { status: 'RUNNING' },
        after: { status: 'ABORTED', stopDate: '2025-07-24T12:00:02.000Z', error: KILLED_ERROR },
      },
    ],
    skipped: [],
    evidence: [],
    failures: [],
  });
});

it('an AccessDenied on one execution is recorded and the others are still stopped', async () => {
  const snap = await executions.snapshot(context(), [RUN_1, RUN_2]);
  sfn
    .on(StopExecutionCommand, { executionArn: RUN_1 })
    .rejects(
      awsError('AccessDeniedException', 'User is not authorized to perform: states:StopExecution', 400),
    );

  const result = await executions.contain(context(), 'full_stop', snap);

  expect(result.failures).toEqual([
    {
      resource: RUN_1,
      action: 'StopExecution',
      error: 'AccessDeniedException',
      message: expect.stringContaining('states:StopExecution'),
    },
  ]);
  expect(runs.get(RUN_2)?.status).toBe('ABORTED');
});

it('verify passes once stopped and reports one still running; a second contain stops nothing twice', async () => {
  const snap = await executions.snapshot(context(), [RUN_1, RUN_2]);
  sfn
    .on(StopExecutionCommand, { executionArn: RUN_2 })
    .rejects(awsError('ThrottlingException', 'Rate exceeded', 400));
  await executions.contain(context(), 'full_stop', snap);

  const result = await executions.verify(context(), 'full_stop', snap);
  sfn.resetHistory();
  const again = await executions.contain(context(), 'full_stop', [snap[0]]);

  expect(result).toEqual({
    pending: [],
    drifted: [{ resource: RUN_2, expected: { status: 'not RUNNING' }, actual: { status: 'RUNNING' } }],
    failures: [],
  });
  expect(again.changes).toEqual([]);
  expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
});

it('restore cannot restart executions: it lists each one for a person to re-drive, and calls nothing', async () => {
  const snap = await executions.snapshot(context(), [RUN_1, RUN_2]);
  await executions.contain(context(), 'full_stop', snap);
  sfn.resetHistory();

  const result = await executions.restore(context(), 'normal', snap);

  expect(result.changes).toEqual([]);
  expect(result.notRestorable.map((n) => n.resource)).toEqual([RUN_1, RUN_2]);
  expect(result.notRestorable[0].reason).toContain(`redrive-execution --execution-arn ${RUN_1}`);
  expect(result.notRestorable[0].reason).toContain(CLOSE);
  expect(sfn.calls()).toHaveLength(0);
});
