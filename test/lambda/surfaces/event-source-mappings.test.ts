import {
  DeleteEventSourceMappingCommand,
  type EventSourceMappingConfiguration,
  GetEventSourceMappingCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  type ListEventSourceMappingsResponse,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { mockClient } from 'aws-sdk-client-mock';
import { eventSourceMappings } from '../../../lambda/surfaces/event-source-mappings';
import { awsError, loadFixture } from '../../helpers/fixtures';
import { ACCOUNT, agent, context, taggedPage } from './support';

const lambda = mockClient(LambdaClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);

const fn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`;
const HELLO = fn('c7n-hello-sqs');
const JERRY = fn('test-jerry');

// Recorded mappings: two SQS mappings of c7n-hello-sqs (one Enabled, one Disabled) and test-jerry's
// filtered SQS mapping. The Kinesis mapping has no recording; it is typed with the same members.
const helloMappings = loadFixture<ListEventSourceMappingsResponse>(
  'test_mu_sqs_subscriber/lambda.ListEventSourceMappings_2.json',
).EventSourceMappings!;
const jerryMapping = loadFixture<EventSourceMappingConfiguration>(
  'test_aws_lambda_event_source_mapping/lambda.GetEventSourceMapping_1.json',
);
const kinesisMapping: EventSourceMappingConfiguration = {
  UUID: 'a1b2c3d4-0000-4000-8000-00000000k1n5',
  EventSourceArn: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/billing-events`,
  FunctionArn: HELLO,
  StartingPosition: 'LATEST',
  BatchSize: 100,
  State: 'Enabled',
  StateTransitionReason: 'User action',
};
const [DISABLED_SQS, ENABLED_SQS] = helloMappings.map((m) => m.UUID!);
const JERRY_SQS = jerryMapping.UUID!;
const KINESIS = kinesisMapping.UUID!;

/** The recorded 202 answer to UpdateEventSourceMapping (an enable: Lambda answered `Enabling`). */
const recordedUpdate = loadFixture<EventSourceMappingConfiguration>(
  'test_mu_sqs_subscriber/lambda.UpdateEventSourceMapping_1.json',
);

/** Mappings as Lambda holds them: Update moves them to Disabling/Enabling, `settle()` finishes the transition. */
let mappings: Map<string, EventSourceMappingConfiguration>;

function settle(uuid: string) {
  const m = mappings.get(uuid)!;
  const next = { Disabling: 'Disabled', Enabling: 'Enabled' }[m.State ?? ''];
  if (next) mappings.set(uuid, { ...m, State: next });
}

beforeEach(() => {
  lambda.reset();
  tagging.reset();
  mappings = new Map([...helloMappings, kinesisMapping, jerryMapping].map((m) => [m.UUID!, { ...m }]));
  const get = (uuid: string) => {
    const m = mappings.get(uuid);
    if (!m)
      throw awsError(
        'ResourceNotFoundException',
        `The resource you requested does not exist. (Service: Lambda, Status Code: 404)`,
        404,
      );
    return m;
  };
  lambda
    .on(GetEventSourceMappingCommand)
    .callsFake(({ UUID }) => ({ ...get(UUID), $metadata: { httpStatusCode: 200 } }));
  lambda.on(UpdateEventSourceMappingCommand).callsFake(({ UUID, Enabled }) => {
    const m = get(UUID);
    if (['Enabling', 'Disabling', 'Creating', 'Updating'].includes(m.State ?? '')) {
      throw awsError(
        'ResourceInUseException',
        `Cannot update the event source mapping '${UUID}' because it is in use.`,
        409,
      );
    }
    const State = Enabled ? 'Enabling' : 'Disabling';
    mappings.set(UUID, { ...m, State });
    return { ...recordedUpdate, ...m, State, $metadata: { httpStatusCode: 202 } };
  });
});

async function snapshotAll() {
  return eventSourceMappings.snapshot(context(), [DISABLED_SQS, ENABLED_SQS, KINESIS, JERRY_SQS]);
}

it('discovers the mappings of every agent function across pages, any source type, plus tagged mappings', async () => {
  lambda.on(ListEventSourceMappingsCommand).callsFake(({ FunctionName, Marker }) => {
    if (FunctionName === HELLO && !Marker)
      return { EventSourceMappings: helloMappings, NextMarker: 'page-2' };
    if (FunctionName === HELLO) return { EventSourceMappings: [kinesisMapping] };
    if (FunctionName === JERRY) return { EventSourceMappings: [jerryMapping] };
    throw awsError('ResourceNotFoundException', `Function not found: ${FunctionName}`, 404);
  });
  const taggedMapping = `arn:aws:lambda:us-east-1:${ACCOUNT}:event-source-mapping:5e1f0a2b-1111-4222-8333-444455556666`;
  // Everything tagged for the agent comes in one lookup: its queue is of no concern here.
  tagging
    .on(GetResourcesCommand)
    .resolves(
      taggedPage([JERRY, fn('deleted-fn'), taggedMapping, `arn:aws:sqs:us-east-1:${ACCOUNT}:billing-inbox`]),
    );
  const ctx = context({ agent: agent({ resourceArns: [HELLO] }) });

  const ids = await eventSourceMappings.discover(ctx);

  expect(ids).toEqual([
    DISABLED_SQS,
    ENABLED_SQS,
    KINESIS,
    JERRY_SQS,
    '5e1f0a2b-1111-4222-8333-444455556666',
  ]);
  // functions are listed concurrently: compare the calls, not their interleaving
  const calls = lambda
    .commandCalls(ListEventSourceMappingsCommand)
    .map((c) => `${c.args[0].input.FunctionName} ${c.args[0].input.Marker}`);
  expect(calls.sort()).toEqual(
    [`${HELLO} undefined`, `${HELLO} page-2`, `${JERRY} undefined`, `${fn('deleted-fn')} undefined`].sort(),
  );
  // The mappings listed carry their whole configuration: the snapshot reads none of them again.
  lambda.resetHistory();
  const snap = await eventSourceMappings.snapshot(ctx, ids.slice(0, 4));
  expect(snap.map((m) => m.state.state)).toEqual(['Disabled', 'Enabled', 'Enabled', 'Enabled']);
  expect(lambda.commandCalls(GetEventSourceMappingCommand)).toHaveLength(0);
  expect(tagging.commandCalls(GetResourcesCommand)).toHaveLength(1);
});

it('snapshots UUID, state, source and function of each mapping', async () => {
  const snap = await snapshotAll();

  expect(snap.find((s) => s.id === JERRY_SQS)?.state).toEqual({
    uuid: JERRY_SQS,
    state: 'Enabled',
    eventSourceArn: 'arn:aws:sqs:us-east-1:644160558196:my-c7n-test',
    functionArn: JERRY,
    eventSourceMappingArn: `arn:aws:lambda:us-east-1:644160558196:event-source-mapping:${JERRY_SQS}`,
  });
  expect(snap.map((s) => s.state.state)).toEqual(['Disabled', 'Enabled', 'Enabled', 'Enabled']);
});

it('disables every enabled mapping (Lambda answers 202 Disabling), leaves disabled ones and never deletes one', async () => {
  const result = await eventSourceMappings.contain(context(), 'full_stop', await snapshotAll());

  expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([
    { UUID: ENABLED_SQS, Enabled: false },
    { UUID: KINESIS, Enabled: false },
    { UUID: JERRY_SQS, Enabled: false },
  ]);
  expect(result.changes).toContainEqual({
    resource: ENABLED_SQS,
    action: 'UpdateEventSourceMapping',
    before: { state: 'Enabled' },
    after: { state: 'Disabling' },
  });
  expect(result.failures).toEqual([]);
  expect(lambda.commandCalls(DeleteEventSourceMappingCommand)).toHaveLength(0);
  expect(mappings.get(DISABLED_SQS)?.State).toBe('Disabled');
});

it('verify reports Disabling as pending until Lambda settles it, even when it stays stuck', async () => {
  const snap = await snapshotAll();
  await eventSourceMappings.contain(context(), 'full_stop', snap);

  const first = await eventSourceMappings.verify(context(), 'full_stop', snap);
  const stillStuck = await eventSourceMappings.verify(context(), 'full_stop', snap);
  settle(ENABLED_SQS);
  settle(KINESIS);
  const partly = await eventSourceMappings.verify(context(), 'full_stop', snap);
  settle(JERRY_SQS);
  const done = await eventSourceMappings.verify(context(), 'full_stop', snap);

  expect(first.pending.map((p) => p.resource)).toEqual([ENABLED_SQS, KINESIS, JERRY_SQS]);
  expect(first.pending[0]).toEqual({
    resource: ENABLED_SQS,
    expected: { state: 'Disabled' },
    actual: { state: 'Disabling' },
  });
  expect(first.drifted).toEqual([]);
  expect(stillStuck.pending).toHaveLength(3);
  expect(partly.pending.map((p) => p.resource)).toEqual([JERRY_SQS]);
  expect(done).toEqual({ pending: [], drifted: [], failures: [] });
});

it('a second contain does not touch mappings already Disabling or Disabled', async () => {
  const snap = await snapshotAll();
  await eventSourceMappings.contain(context(), 'full_stop', snap);
  settle(KINESIS);
  lambda.resetHistory();

  expect(await eventSourceMappings.contain(context(), 'full_stop', snap)).toEqual({
    changes: [],
    skipped: [],
    evidence: [],
    failures: [],
  });
  expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(0);
});

it('a mapping mid-transition is a failure that verify reports as drift, and the re-cut disables it', async () => {
  mappings.set(KINESIS, { ...kinesisMapping, State: 'Enabling' });
  const snap = await snapshotAll();

  const contained = await eventSourceMappings.contain(context(), 'full_stop', snap);
  const verified = await eventSourceMappings.verify(context(), 'full_stop', snap);
  settle(KINESIS);
  const recut = await eventSourceMappings.contain(context(), 'full_stop', snap);

  expect(contained.failures).toEqual([
    {
      resource: KINESIS,
      action: 'UpdateEventSourceMapping',
      error: 'ResourceInUseException',
      message: expect.stringContaining('in use'),
    },
  ]);
  expect(verified.drifted).toEqual([
    { resource: KINESIS, expected: { state: 'Disabled' }, actual: { state: 'Enabling' } },
  ]);
  expect(recut.changes).toEqual([
    {
      resource: KINESIS,
      action: 'UpdateEventSourceMapping',
      before: { state: 'Enabled' },
      after: { state: 'Disabling' },
    },
  ]);
});

it('verify reports a mapping the agent re-enabled as drifted', async () => {
  const snap = await snapshotAll();
  await eventSourceMappings.contain(context(), 'full_stop', snap);
  for (const uuid of [ENABLED_SQS, KINESIS, JERRY_SQS]) settle(uuid);
  mappings.set(ENABLED_SQS, { ...mappings.get(ENABLED_SQS)!, State: 'Enabled' });

  const result = await eventSourceMappings.verify(context(), 'full_stop', snap);

  expect(result.drifted).toEqual([
    { resource: ENABLED_SQS, expected: { state: 'Disabled' }, actual: { state: 'Enabled' } },
  ]);
  expect(result.pending).toEqual([]);
});

it('restore re-enables exactly the mappings that were enabled before the kill', async () => {
  const snap = await snapshotAll();
  await eventSourceMappings.contain(context(), 'full_stop', snap);
  for (const uuid of [ENABLED_SQS, KINESIS, JERRY_SQS]) settle(uuid);
  lambda.resetHistory();

  const result = await eventSourceMappings.restore(context(), 'normal', snap);

  const wasEnabled = snap
    .filter((s) => s.state.state === 'Enabled')
    .map((s) => ({ UUID: s.state.uuid, Enabled: true }));
  expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual(
    wasEnabled,
  );
  expect(result.changes[0]).toEqual({
    resource: ENABLED_SQS,
    action: 'UpdateEventSourceMapping',
    before: { state: 'Disabled' },
    after: { state: recordedUpdate.State },
  });
  expect(mappings.get(DISABLED_SQS)?.State).toBe('Disabled');
  expect(result.failures).toEqual([]);
});

it('restore says plainly when the state before the kill does not tell whether a mapping was enabled', async () => {
  mappings.set(KINESIS, { ...kinesisMapping, State: 'Creating' });
  const snap = await eventSourceMappings.snapshot(context(), [KINESIS]);

  const result = await eventSourceMappings.restore(context(), 'normal', snap);

  expect(result.notRestorable).toEqual([
    { resource: KINESIS, reason: expect.stringContaining('it was Creating when the kill read it') },
  ]);
  expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toHaveLength(0);
});
