import {
  type FlexibleTimeWindow,
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ListScheduleGroupsCommand,
  ListSchedulesCommand,
  ListTagsForResourceCommand,
  type ScheduleState,
  type Target,
  UpdateScheduleCommand,
  type UpdateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { parseScheduleArn } from '../shared/arn';
import { isErrorNamed } from '../shared/aws-errors';
import { AGENT_TAG } from '../shared/naming';
import {
  agentTargetArns,
  change,
  containEach,
  declared,
  mapLimit,
  mismatch,
  paginate,
  planEach,
  ReadCache,
  type ReadError,
  restoreEach,
  snapshotEach,
  toJson,
  unique,
  unreadNotRestorable,
  unreadState,
  verifyEach,
} from './common';
import type { Surface, SurfaceContext } from './types';

/**
 * EventBridge Scheduler schedules (full_stop) in every schedule group that target the agent's
 * resources, or that sit in a group tagged for the agent (schedules themselves carry no tags).
 * UpdateSchedule replaces the whole definition and resets every field it is not given, so the
 * snapshot keeps the full GetSchedule output, and every update sends every field back.
 */

/** GetSchedule's output as JSON (dates as ISO strings), field names as AWS spells them. */
export interface ScheduleDefinition {
  readonly Arn?: string;
  readonly Name: string;
  readonly GroupName: string;
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone?: string;
  readonly StartDate?: string;
  readonly EndDate?: string;
  readonly Description?: string;
  readonly State: string;
  readonly KmsKeyArn?: string;
  readonly Target: Target;
  readonly FlexibleTimeWindow: FlexibleTimeWindow;
  readonly ActionAfterCompletion?: string;
  readonly CreationDate?: string;
  readonly LastModificationDate?: string;
}

export interface ScheduleSnapshot {
  readonly arn: string;
  readonly groupName: string;
  readonly name: string;
  /** The full definition before the kill; null only when it could not be read (see readError). */
  readonly definition: ScheduleDefinition | null;
  readonly readError?: ReadError;
}

const CONCURRENCY = 5;
const DEFAULT_GROUP = 'default';

function definitionOf(out: GetScheduleCommandOutput): ScheduleDefinition {
  return toJson(out) as ScheduleDefinition;
}

/** The UpdateSchedule input that sets the schedule to `definition`, in `state`. Read-only fields are left out. */
export function updateInput(definition: ScheduleDefinition, state: string): UpdateScheduleCommandInput {
  const d = definition;
  return {
    Name: d.Name,
    GroupName: d.GroupName,
    ScheduleExpression: d.ScheduleExpression,
    ...(d.ScheduleExpressionTimezone !== undefined
      ? { ScheduleExpressionTimezone: d.ScheduleExpressionTimezone }
      : {}),
    ...(d.StartDate !== undefined ? { StartDate: new Date(d.StartDate) } : {}),
    ...(d.EndDate !== undefined ? { EndDate: new Date(d.EndDate) } : {}),
    ...(d.Description !== undefined ? { Description: d.Description } : {}),
    State: state as ScheduleState,
    ...(d.KmsKeyArn !== undefined ? { KmsKeyArn: d.KmsKeyArn } : {}),
    Target: d.Target,
    FlexibleTimeWindow: d.FlexibleTimeWindow,
    ...(d.ActionAfterCompletion !== undefined
      ? {
          ActionAfterCompletion:
            d.ActionAfterCompletion as UpdateScheduleCommandInput['ActionAfterCompletion'],
        }
      : {}),
  };
}

/** JSON with sorted keys, to compare two definitions whatever their key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

function sameDefinition(a: ScheduleDefinition, b: ScheduleDefinition): boolean {
  return stableJson(updateInput(a, a.State)) === stableJson(updateInput(b, b.State));
}

/**
 * Sends UpdateSchedule. Scheduler may refuse a start date in the past; a start date that has
 * already passed changes nothing about when a schedule may run, so on that refusal the update is
 * sent once more without it. Returns the input that was accepted.
 */
async function sendUpdate(
  ctx: SurfaceContext,
  input: UpdateScheduleCommandInput,
): Promise<UpdateScheduleCommandInput> {
  try {
    await ctx.clients.scheduler.send(new UpdateScheduleCommand(input));
    return input;
  } catch (e) {
    if (
      !isErrorNamed(e, 'Validation') ||
      !input.StartDate ||
      input.StartDate.getTime() > ctx.clock().getTime()
    )
      throw e;
    const { StartDate: _past, ...rest } = input;
    await ctx.clients.scheduler.send(new UpdateScheduleCommand(rest));
    return rest;
  }
}

/** The schedules of one group that drive the agent: all of a group tagged for it, else by target. */
async function schedulesOf(
  ctx: SurfaceContext,
  group: { Name?: string; Arn?: string },
  targets: Promise<ReadonlySet<string>>,
): Promise<string[]> {
  // The default group cannot carry tags; every other group may be tagged for the agent as a whole.
  const tagged = (async () => {
    if (group.Name === DEFAULT_GROUP || !group.Arn) return false;
    const out = await ctx.clients.scheduler.send(new ListTagsForResourceCommand({ ResourceArn: group.Arn }));
    return (out.Tags ?? []).some((t) => t.Key === AGENT_TAG && t.Value === ctx.agent.agentId);
  })();
  const [isTagged, schedules, wanted] = await Promise.all([
    tagged,
    paginate(async (token) => {
      const out = await ctx.clients.scheduler.send(
        new ListSchedulesCommand({ GroupName: group.Name, NextToken: token }),
      );
      return { items: out.Schedules, next: out.NextToken };
    }),
    targets,
  ]);
  return schedules
    .filter((s) => s.Arn && (isTagged || (s.Target?.Arn !== undefined && wanted.has(s.Target.Arn))))
    .map((s) => s.Arn ?? '');
}

/**
 * Every schedule group is listed, and the default group's schedules at once beside it (it always
 * exists), while the agent's targets are looked up.
 */
async function discover(ctx: SurfaceContext): Promise<string[]> {
  const targets = agentTargetArns(ctx).then(
    (arns) => new Set([...ctx.agent.resourceArns, ...arns]) as ReadonlySet<string>,
  );
  const [inDefault, others] = await Promise.all([
    schedulesOf(ctx, { Name: DEFAULT_GROUP }, targets),
    paginate(async (token) => {
      const out = await ctx.clients.scheduler.send(new ListScheduleGroupsCommand({ NextToken: token }));
      return { items: out.ScheduleGroups, next: out.NextToken };
    }).then((groups) =>
      mapLimit(
        groups.filter((g) => g.Name && g.Name !== DEFAULT_GROUP && g.State !== 'DELETING'),
        CONCURRENCY,
        (group) => schedulesOf(ctx, group, targets),
      ),
    ),
  ]);
  return unique([...declared(ctx, 'schedule'), ...inDefault, ...others.flat()]);
}

async function getSchedule(
  ctx: SurfaceContext,
  s: { groupName: string; name: string },
): Promise<ScheduleDefinition> {
  return definitionOf(
    await ctx.clients.scheduler.send(new GetScheduleCommand({ Name: s.name, GroupName: s.groupName })),
  );
}

/** Each schedule's definition as this invocation last read it (snapshot, or a read-back). */
const lastRead = new ReadCache<ScheduleDefinition>();

const snapshot: Surface<ScheduleSnapshot>['snapshot'] = async (ctx, ids) => {
  const named = (arn: string) => ({ arn, ...parseScheduleArn(arn) });
  return snapshotEach(ids, CONCURRENCY, {
    read: async (arn): Promise<ScheduleSnapshot> => {
      const schedule = named(arn);
      const definition = await getSchedule(ctx, schedule);
      lastRead.set(ctx, arn, definition);
      return { ...schedule, definition };
    },
    unread: (arn, err) => ({ ...named(arn), definition: null, readError: err }),
    gone: (arn) => ctx.log.warn('schedule does not exist: nothing to cut', { scheduleArn: arn }),
  });
};

const arnOf = (s: ScheduleSnapshot) => s.arn;

const contain: Surface<ScheduleSnapshot>['contain'] = async (ctx, _mode, snap) => {
  const names = { resource: arnOf, action: 'UpdateSchedule' };
  return containEach(snap, CONCURRENCY, names, async (s, out) => {
    // The definition sent back is the one just read (by the snapshot, or the read-back that found
    // it drifted), so disabling changes the state and nothing else. On a re-cut it keeps whatever
    // changed since the snapshot, for the record.
    const current = lastRead.take(ctx, s.arn) ?? (await getSchedule(ctx, s));
    if (current.State === 'DISABLED') return;
    const sent = await sendUpdate(ctx, updateInput(current, 'DISABLED'));
    out.changes.push(change(s.arn, 'UpdateSchedule', current, toJson(sent)));
  });
};

const readErrorUnknown: ReadError = { error: 'Unknown', message: 'the definition was not read' };

const plan: Surface<ScheduleSnapshot>['plan'] = (_ctx, _mode, snap) =>
  planEach(snap, (s, { act, skip }) => {
    const d = s.definition;
    const current = d ? `${d.State}, ${d.ScheduleExpression}` : unreadState(s.readError ?? readErrorUnknown);
    if (d?.State === 'DISABLED') {
      skip({ resource: s.arn, current, reason: 'already DISABLED' });
      return;
    }
    act({
      resource: s.arn,
      action: 'UpdateSchedule State=DISABLED',
      current,
      after: 'DISABLED (the full definition is kept)',
    });
  });

const verify: Surface<ScheduleSnapshot>['verify'] = async (ctx, _mode, snap) => {
  const names = { resource: arnOf, action: 'GetSchedule' };
  return verifyEach(snap, CONCURRENCY, names, async (s, out) => {
    const current = await getSchedule(ctx, s);
    lastRead.set(ctx, s.arn, current);
    if (current.State === 'DISABLED') return;
    out.drifted.push(mismatch(s.arn, { State: 'DISABLED' }, { State: current.State }));
  });
};

const restore: Surface<ScheduleSnapshot>['restore'] = async (ctx, _toMode, snap) => {
  const names = {
    resource: arnOf,
    action: 'UpdateSchedule',
    gone: 'the schedule no longer exists (a one-time schedule may have deleted itself): recreate it from the snapshot',
  };
  return restoreEach(snap, CONCURRENCY, names, async (s, out) => {
    if (!s.definition) {
      out.notRestorable.push(
        unreadNotRestorable(s.arn, 'definition', s.readError, 'enable it by hand if it should run'),
      );
      return;
    }
    const current = await getSchedule(ctx, s);
    if (sameDefinition(current, s.definition)) return;
    const sent = await sendUpdate(ctx, updateInput(s.definition, s.definition.State));
    out.changes.push(change(s.arn, 'UpdateSchedule', current, toJson(sent)));
  });
};

export const schedules: Surface<ScheduleSnapshot> = {
  name: 'schedules',
  appliesTo: (mode) => mode === 'full_stop',
  discover,
  snapshot,
  contain,
  plan,
  verify,
  restore,
};
