import {
  DeleteFunctionConcurrencyCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  type GetFunctionResponse,
  LambdaClient,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { mockClient } from 'aws-sdk-client-mock';
import {
  type FunctionConcurrencySnapshot,
  lambdaConcurrency,
} from '../../../lambda/surfaces/lambda-concurrency';
import type { ResourceSnapshot } from '../../../lambda/surfaces/types';
import { awsError, loadFixture } from '../../helpers/fixtures';
import { ACCOUNT, agent, context, taggedPage } from './support';

const lambda = mockClient(LambdaClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);

const fn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`;
const ENVCHECK = fn('envcheck');
const WORKER = fn('billing-worker');

/** The recorded function had 10 reserved; GetFunctionConcurrency answers with the same value. */
const RECORDED_RESERVED = loadFixture<GetFunctionResponse>(
  'test_aws_lambda_set_concurrency/lambda.GetFunction_3.json',
).Concurrency!.ReservedConcurrentExecutions!;

/** Reserved concurrency per function, changed by Put/Delete as Lambda would. */
let reserved: Map<string, number | undefined>;
/** Functions whose next GetFunctionConcurrency fails with a 500 that outlasted the SDK's retries. */
let failNextRead: Set<string>;

beforeEach(() => {
  lambda.reset();
  tagging.reset();
  failNextRead = new Set();
  reserved = new Map([
    [ENVCHECK, RECORDED_RESERVED],
    [WORKER, undefined],
  ]);
  const known = (name: string) => {
    if (!reserved.has(name)) throw awsError('ResourceNotFoundException', `Function not found: ${name}`, 404);
  };
  lambda.on(GetFunctionConcurrencyCommand).callsFake(({ FunctionName }) => {
    known(FunctionName);
    if (failNextRead.delete(FunctionName)) throw awsError('ServiceException', 'internal error', 500);
    const value = reserved.get(FunctionName);
    return value === undefined ? {} : { ReservedConcurrentExecutions: value };
  });
  // The kill reads with GetFunction (outside Lambda's 15/s control plane quota): the recorded
  // answer, with the concurrency Lambda has now (absent when the function has none).
  lambda.on(GetFunctionCommand).callsFake(({ FunctionName }) => {
    known(FunctionName);
    if (failNextRead.delete(FunctionName)) throw awsError('ServiceException', 'internal error', 500);
    const value = reserved.get(FunctionName);
    const { Concurrency: _recorded, ...recorded } = loadFixture<GetFunctionResponse>(
      'test_aws_lambda_set_concurrency/lambda.GetFunction_3.json',
    );
    return {
      ...recorded,
      ...(value === undefined ? {} : { Concurrency: { ReservedConcurrentExecutions: value } }),
    };
  });
  lambda.on(PutFunctionConcurrencyCommand).callsFake(({ FunctionName, ReservedConcurrentExecutions }) => {
    known(FunctionName);
    reserved.set(FunctionName, ReservedConcurrentExecutions);
    return {
      ...loadFixture('test_aws_lambda_set_concurrency/lambda.PutFunctionConcurrency_1.json'),
      ReservedConcurrentExecutions,
    };
  });
  lambda.on(DeleteFunctionConcurrencyCommand).callsFake(({ FunctionName }) => {
    known(FunctionName);
    reserved.set(FunctionName, undefined);
    return loadFixture('test_aws_lambda_delete_concurrency/lambda.DeleteFunctionConcurrency_1.json');
  });
});

async function snapshotBoth(): Promise<ResourceSnapshot<FunctionConcurrencySnapshot>[]> {
  return lambdaConcurrency.snapshot(context(), [ENVCHECK, WORKER]);
}

it('applies to full_stop only', () => {
  expect(
    ['approval_gated', 'draft_only', 'read_only', 'full_stop'].filter((m) =>
      lambdaConcurrency.appliesTo(m as never),
    ),
  ).toEqual(['full_stop']);
});

it('discovers tagged functions across pages and declared ones without their alias', async () => {
  tagging
    .on(GetResourcesCommand)
    .callsFake(({ PaginationToken }) =>
      PaginationToken === 'p2'
        ? taggedPage([fn('billing-b')])
        : taggedPage([fn('billing-a')], undefined, 'p2'),
    );
  const ctx = context({
    agent: agent({ resourceArns: [`${ENVCHECK}:live`, `arn:aws:sqs:us-east-1:${ACCOUNT}:billing-queue`] }),
  });

  expect(await lambdaConcurrency.discover(ctx)).toEqual([ENVCHECK, fn('billing-a'), fn('billing-b')]);
  // One lookup of everything tagged for the agent, shared by every surface of the invocation.
  expect(tagging.commandCalls(GetResourcesCommand)[0].args[0].input).toEqual({
    TagFilters: [{ Key: 'backstop:agent', Values: ['billing-agent'] }],
    PaginationToken: undefined,
    ResourcesPerPage: 100,
  });
});

it('reads with GetFunction, never GetFunctionConcurrency, and does not read again what it just read', async () => {
  const ctx = context();
  const snap = await lambdaConcurrency.snapshot(ctx, [ENVCHECK, WORKER]);
  await lambdaConcurrency.contain(ctx, 'full_stop', snap);
  expect(await lambdaConcurrency.verify(context(), 'full_stop', snap)).toEqual({
    pending: [],
    drifted: [],
    failures: [],
  });

  // Two reads for the snapshot (contain of the same invocation uses them), two for the read-back.
  expect(lambda.commandCalls(GetFunctionCommand)).toHaveLength(4);
  expect(lambda.commandCalls(GetFunctionConcurrencyCommand)).toHaveLength(0);
  expect(lambda.commandCalls(PutFunctionConcurrencyCommand)).toHaveLength(2);
});

it('snapshots the reserved value, or null when the function had none', async () => {
  expect((await snapshotBoth()).map((s) => s.state)).toEqual([
    { functionArn: ENVCHECK, reservedConcurrentExecutions: 10 },
    { functionArn: WORKER, reservedConcurrentExecutions: null },
  ]);
});

it('sets reserved concurrency to 0 and records what it replaced', async () => {
  const result = await lambdaConcurrency.contain(context(), 'full_stop', await snapshotBoth());

  expect(reserved.get(ENVCHECK)).toBe(0);
  expect(reserved.get(WORKER)).toBe(0);
  expect(result.changes).toEqual([
    {
      resource: ENVCHECK,
      action: 'PutFunctionConcurrency',
      before: { reservedConcurrentExecutions: 10 },
      after: { reservedConcurrentExecutions: 0 },
    },
    {
      resource: WORKER,
      action: 'PutFunctionConcurrency',
      before: { reservedConcurrentExecutions: null },
      after: { reservedConcurrentExecutions: 0 },
    },
  ]);
});

it('a second contain sends no write', async () => {
  const snap = await snapshotBoth();
  await lambdaConcurrency.contain(context(), 'full_stop', snap);
  lambda.resetHistory();

  expect(await lambdaConcurrency.contain(context(), 'full_stop', snap)).toEqual({
    changes: [],
    skipped: [],
    evidence: [],
    failures: [],
  });
  expect(lambda.commandCalls(PutFunctionConcurrencyCommand)).toHaveLength(0);
});

it('an AccessDenied on one function is recorded and the other is still cut; a deleted one is skipped', async () => {
  const snap = await snapshotBoth();
  lambda
    .on(PutFunctionConcurrencyCommand, { FunctionName: ENVCHECK })
    .rejects(
      awsError(
        'AccessDeniedException',
        'User is not authorized to perform: lambda:PutFunctionConcurrency',
        403,
      ),
    );
  reserved.delete(fn('gone'));

  const result = await lambdaConcurrency.contain(context(), 'full_stop', [
    ...snap,
    { id: fn('gone'), state: { functionArn: fn('gone'), reservedConcurrentExecutions: 5 } },
  ]);

  expect(result.failures).toEqual([
    {
      resource: ENVCHECK,
      action: 'PutFunctionConcurrency',
      error: 'AccessDeniedException',
      message: expect.stringContaining('lambda:PutFunctionConcurrency'),
    },
  ]);
  expect(reserved.get(WORKER)).toBe(0);
  expect(result.skipped).toEqual([{ resource: fn('gone'), reason: 'the function no longer exists' }]);
});

it('verify reports a function whose concurrency was raised again as drifted', async () => {
  const snap = await snapshotBoth();
  await lambdaConcurrency.contain(context(), 'full_stop', snap);
  expect(await lambdaConcurrency.verify(context(), 'full_stop', snap)).toEqual({
    pending: [],
    drifted: [],
    failures: [],
  });
  reserved.set(WORKER, undefined); // someone deleted the reserved setting: the function runs again

  const result = await lambdaConcurrency.verify(context(), 'full_stop', snap);

  expect(result.drifted).toEqual([
    {
      resource: WORKER,
      expected: { reservedConcurrentExecutions: 0 },
      actual: { reservedConcurrentExecutions: null },
    },
  ]);
});

it('restore puts back the recorded value, and removes the setting where there was none', async () => {
  const snap = await snapshotBoth();
  await lambdaConcurrency.contain(context(), 'full_stop', snap);
  lambda.resetHistory();

  const result = await lambdaConcurrency.restore(context(), 'normal', snap);

  expect(lambda.commandCalls(PutFunctionConcurrencyCommand).map((c) => c.args[0].input)).toEqual([
    { FunctionName: ENVCHECK, ReservedConcurrentExecutions: snap[0].state.reservedConcurrentExecutions },
  ]);
  expect(lambda.commandCalls(DeleteFunctionConcurrencyCommand).map((c) => c.args[0].input)).toEqual([
    { FunctionName: WORKER },
  ]);
  expect(reserved.get(ENVCHECK)).toBe(10);
  expect(reserved.get(WORKER)).toBeUndefined();
  expect(result.failures).toEqual([]);
});

it('a function whose value could not be read is still cut, and restore says it cannot put the value back', async () => {
  failNextRead.add(ENVCHECK);
  const snap = await snapshotBoth();
  expect(snap[0].state.readError).toEqual({ error: 'ServiceException', message: 'internal error' });

  const contained = await lambdaConcurrency.contain(context(), 'full_stop', snap);
  const restored = await lambdaConcurrency.restore(context(), 'normal', snap);

  expect(contained.changes[0]).toEqual({
    resource: ENVCHECK,
    action: 'PutFunctionConcurrency',
    before: { reservedConcurrentExecutions: 10 },
    after: { reservedConcurrentExecutions: 0 },
  });
  expect(restored.notRestorable).toEqual([
    { resource: ENVCHECK, reason: expect.stringContaining('could not be read') },
  ]);
  expect(reserved.get(ENVCHECK)).toBe(0);
});
