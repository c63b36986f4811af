import {
  GetResourcesCommand,
  ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import {
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ListScheduleGroupsCommand,
  ListSchedulesCommand,
  ListTagsForResourceCommand,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { schedules } from '../../../lambda/surfaces/schedules';
import { awsError } from '../../helpers/fixtures';
import { ACCOUNT, agent, context, KILL_STARTED_AT, taggedPage } from './support';

// Scheduler has no recordings: the shapes below follow the GetSchedule and ListSchedules
// documentation, with only the members a real schedule of this kind carries.

const scheduler = mockClient(SchedulerClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);

const WORKER = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:billing-worker`;
const QUEUE = `arn:aws:sqs:us-east-1:${ACCOUNT}:billing-jobs`;
const SCHEDULER_ROLE = `arn:aws:iam::${ACCOUNT}:role/billing-scheduler`;
const groupArn = (group: string) => `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule-group/${group}`;
const scheduleArn = (group: string, name: string) =>
  `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/${group}/${name}`;

const HOURLY = scheduleArn('default', 'billing-hourly');
const NIGHTLY = scheduleArn('billing-jobs', 'nightly-close');
const PAUSED = scheduleArn('billing-jobs', 'paused-report');
const QUEUE_FEED = scheduleArn('other-team', 'feed-billing-queue');

type Definition = Omit<GetScheduleCommandOutput, '$metadata'>;

function definition(group: string, name: string, overrides: Partial<Definition> = {}): Definition {
  return {
    Arn: scheduleArn(group, name),
    GroupName: group,
    Name: name,
    ScheduleExpression: 'rate(1 hour)',
    ScheduleExpressionTimezone: 'Europe/Paris',
    StartDate: new Date('2025-07-20T00:00:00.000Z'),
    EndDate: new Date('2026-07-20T00:00:00.000Z'),
    Description: `${name} for the billing agent`,
    State: 'ENABLED',
    Target: {
      Arn: WORKER,
      RoleArn: SCHEDULER_ROLE,
      Input: '{"job":"close-books"}',
      RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      DeadLetterConfig: { Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:billing-dlq` },
    },
    FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
    ActionAfterCompletion: 'NONE',
    CreationDate: new Date('2025-07-19T09:30:00.000Z'),
    LastModificationDate: new Date('2025-07-19T09:30:00.000Z'),
    ...overrides,
  };
}

let stored: Map<string, Definition>;
/** Whether UpdateSchedule refuses a start date in the past, as Scheduler may. */
let refusePastStart: boolean;
const NOW = new Date(KILL_STARTED_AT.getTime() + 1000);

beforeEach(() => {
  scheduler.reset();
  tagging.reset();
  refusePastStart = false;
  stored = new Map(
    [
      definition('default', 'billing-hourly'),
      definition('billing-jobs', 'nightly-close', {
        ScheduleExpression: 'cron(0 22 * * ? *)',
        KmsKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      }),
      definition('billing-jobs', 'paused-report', { State: 'DISABLED' }),
      definition('other-team', 'feed-billing-queue', { Target: { Arn: QUEUE, RoleArn: SCHEDULER_ROLE } }),
    ].map((d) => [d.Arn!, d]),
  );
  const get = (group: string | undefined, name: string) => {
    const d = stored.get(scheduleArn(group ?? 'default', name));
    if (!d) throw awsError('ResourceNotFoundException', `Schedule ${name} does not exist.`, 404);
    return d;
  };
  scheduler.on(GetScheduleCommand).callsFake(({ GroupName, Name }) => ({
    ...structuredClone(get(GroupName, Name)),
    $metadata: { httpStatusCode: 200 },
  }));
  scheduler.on(UpdateScheduleCommand).callsFake(({ ClientToken: _token, ...input }) => {
    const before = get(input.GroupName, input.Name);
    if (refusePastStart && input.StartDate && input.StartDate.getTime() < NOW.getTime() - 5 * 60_000) {
      throw awsError(
        'ValidationException',
        'The StartDate you specify cannot be earlier than 5 minutes ago.',
        400,
      );
    }
    // UpdateSchedule replaces the definition: whatever is not sent is reset
    stored.set(before.Arn!, {
      ...structuredClone(input),
      Arn: before.Arn,
      CreationDate: before.CreationDate,
      LastModificationDate: NOW,
    });
    return { ScheduleArn: before.Arn };
  });
});

const ctx = () => context({ agent: agent({ resourceArns: [WORKER] }), now: NOW });

it('discovers schedules in every group that target the agent, or sit in a group tagged for it', async () => {
  scheduler.on(ListScheduleGroupsCommand).callsFake(({ NextToken }) =>
    NextToken
      ? {
          ScheduleGroups: [
            { Name: 'billing-jobs', Arn: groupArn('billing-jobs'), State: 'ACTIVE' },
            { Name: 'other-team', Arn: groupArn('other-team'), State: 'ACTIVE' },
          ],
        }
      : {
          ScheduleGroups: [{ Name: 'default', Arn: groupArn('default'), State: 'ACTIVE' }],
          NextToken: 'groups-2',
        },
  );
  scheduler
    .on(ListTagsForResourceCommand)
    .callsFake(({ ResourceArn }) =>
      ResourceArn === groupArn('billing-jobs')
        ? { Tags: [{ Key: 'backstop:agent', Value: 'billing-agent' }] }
        : { Tags: [{ Key: 'team', Value: 'ops' }] },
    );
  const summary = (arn: string) => {
    const d = stored.get(arn)!;
    return {
      Arn: d.Arn,
      Name: d.Name,
      GroupName: d.GroupName,
      State: d.State,
      Target: { Arn: d.Target!.Arn },
    };
  };
  const unrelated = {
    Arn: scheduleArn('default', 'unrelated'),
    Name: 'unrelated',
    GroupName: 'default',
    State: 'ENABLED' as const,
    Target: { Arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:someone-else` },
  };
  scheduler.on(ListSchedulesCommand).callsFake(({ GroupName, NextToken }) => {
    if (GroupName === 'default')
      return NextToken
        ? { Schedules: [summary(HOURLY)] }
        : { Schedules: [unrelated], NextToken: 'schedules-2' };
    if (GroupName === 'billing-jobs') return { Schedules: [summary(NIGHTLY), summary(PAUSED)] };
    return { Schedules: [summary(QUEUE_FEED)] };
  });
  tagging.on(GetResourcesCommand).resolves(taggedPage([QUEUE]));

  const ids = await schedules.discover(ctx());

  expect(ids).toEqual([HOURLY, NIGHTLY, PAUSED, QUEUE_FEED]);
  // the default group cannot carry tags and is not asked for them
  expect(
    scheduler
      .commandCalls(ListTagsForResourceCommand)
      .map((c) => c.args[0].input.ResourceArn)
      .sort(),
  ).toEqual([groupArn('billing-jobs'), groupArn('other-team')]);
});

it('snapshots the full GetSchedule output as JSON', async () => {
  const [snap] = await schedules.snapshot(ctx(), [NIGHTLY]);

  expect(snap.state).toEqual({
    arn: NIGHTLY,
    groupName: 'billing-jobs',
    name: 'nightly-close',
    definition: JSON.parse(JSON.stringify(stored.get(NIGHTLY))),
  });
  expect(snap.state.definition?.StartDate).toBe('2025-07-20T00:00:00.000Z');
  expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
});

it('disables with every field of the definition sent back, so nothing but the state changes', async () => {
  const originals = new Map([...stored].map(([k, v]) => [k, structuredClone(v)]));
  const snap = await schedules.snapshot(ctx(), [HOURLY, NIGHTLY, PAUSED]);

  const result = await schedules.contain(ctx(), 'full_stop', snap);

  const sent = scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input);
  expect(sent.map((i) => i.Name)).toEqual(['billing-hourly', 'nightly-close']);
  const { Arn: _a, CreationDate: _c, LastModificationDate: _l, ...nightlyFields } = originals.get(NIGHTLY)!;
  expect(sent[1]).toEqual({ ...nightlyFields, State: 'DISABLED' });
  for (const arn of [HOURLY, NIGHTLY]) {
    expect(stored.get(arn)).toEqual({ ...originals.get(arn), State: 'DISABLED', LastModificationDate: NOW });
  }
  expect(stored.get(PAUSED)).toEqual(originals.get(PAUSED));
  expect(result.changes.map((c) => c.resource)).toEqual([HOURLY, NIGHTLY]);
  expect(result.failures).toEqual([]);
});

it('sends the update again without a start date that has passed when Scheduler refuses it', async () => {
  refusePastStart = true;
  const snap = await schedules.snapshot(ctx(), [HOURLY]);

  const result = await schedules.contain(ctx(), 'full_stop', snap);

  const sent = scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input);
  expect(sent).toHaveLength(2);
  expect(sent[1]).not.toHaveProperty('StartDate');
  expect(sent[1]).toEqual(
    expect.objectContaining({ State: 'DISABLED', EndDate: new Date('2026-07-20T00:00:00.000Z') }),
  );
  expect(stored.get(HOURLY)?.State).toBe('DISABLED');
  expect(result.failures).toEqual([]);
});

it('a second contain leaves disabled schedules alone', async () => {
  const snap = await schedules.snapshot(ctx(), [HOURLY, NIGHTLY]);
  await schedules.contain(ctx(), 'full_stop', snap);
  scheduler.resetHistory();

  expect(await schedules.contain(ctx(), 'full_stop', snap)).toEqual({
    changes: [],
    skipped: [],
    evidence: [],
    failures: [],
  });
  expect(scheduler.commandCalls(UpdateScheduleCommand)).toHaveLength(0);
});

it('an AccessDenied on one schedule is recorded and the other is still disabled', async () => {
  const snap = await schedules.snapshot(ctx(), [HOURLY, NIGHTLY]);
  scheduler
    .on(UpdateScheduleCommand, { Name: 'billing-hourly' })
    .rejects(
      awsError('AccessDeniedException', 'User is not authorized to perform: scheduler:UpdateSchedule', 403),
    );

  const result = await schedules.contain(ctx(), 'full_stop', snap);

  expect(result.failures).toEqual([
    {
      resource: HOURLY,
      action: 'UpdateSchedule',
      error: 'AccessDeniedException',
      message: expect.stringContaining('scheduler:UpdateSchedule'),
    },
  ]);
  expect(stored.get(NIGHTLY)?.State).toBe('DISABLED');
});

it('verify reports a schedule that was enabled again', async () => {
  const snap = await schedules.snapshot(ctx(), [HOURLY, NIGHTLY]);
  await schedules.contain(ctx(), 'full_stop', snap);
  expect(await schedules.verify(ctx(), 'full_stop', snap)).toEqual({
    pending: [],
    drifted: [],
    failures: [],
  });
  stored.get(NIGHTLY)!.State = 'ENABLED';

  expect((await schedules.verify(ctx(), 'full_stop', snap)).drifted).toEqual([
    { resource: NIGHTLY, expected: { State: 'DISABLED' }, actual: { State: 'ENABLED' } },
  ]);
});

it('restore sends the snapshot verbatim, state included, and leaves alone what the kill did not change', async () => {
  const originals = new Map([...stored].map(([k, v]) => [k, structuredClone(v)]));
  const snap = await schedules.snapshot(ctx(), [HOURLY, NIGHTLY, PAUSED]);
  await schedules.contain(ctx(), 'full_stop', snap);
  scheduler.resetHistory();

  const result = await schedules.restore(ctx(), 'normal', snap);

  const sent = scheduler.commandCalls(UpdateScheduleCommand).map((c) => c.args[0].input);
  const { Arn: _a, CreationDate: _c, LastModificationDate: _l, ...hourlyFields } = originals.get(HOURLY)!;
  expect(sent.map((i) => i.Name)).toEqual(['billing-hourly', 'nightly-close']);
  expect(sent[0]).toEqual(hourlyFields);
  for (const arn of [HOURLY, NIGHTLY, PAUSED]) {
    const { LastModificationDate: _x, ...now } = stored.get(arn)!;
    const { LastModificationDate: _y, ...before } = originals.get(arn)!;
    expect(now).toEqual(before);
  }
  expect(result.failures).toEqual([]);
});
