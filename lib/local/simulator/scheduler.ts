/**
 * EventBridge Scheduler, per account and region: schedule groups (the `default` group always
 * exists, groups carry tags) and schedules. UpdateSchedule replaces the whole schedule and, as
 * in AWS, requires ScheduleExpression, FlexibleTimeWindow and Target every time.
 */
import type {
  CreateScheduleCommandInput,
  CreateScheduleCommandOutput,
  CreateScheduleGroupCommandInput,
  CreateScheduleGroupCommandOutput,
  FlexibleTimeWindow,
  GetScheduleCommandInput,
  GetScheduleCommandOutput,
  ListScheduleGroupsCommandInput,
  ListScheduleGroupsCommandOutput,
  ListSchedulesCommandInput,
  ListSchedulesCommandOutput,
  ListTagsForResourceCommandInput,
  ListTagsForResourceCommandOutput,
  ScheduleState,
  TagResourceCommandInput,
  TagResourceCommandOutput,
  Target,
  UntagResourceCommandInput,
  UntagResourceCommandOutput,
  UpdateScheduleCommandInput,
  UpdateScheduleCommandOutput,
} from '@aws-sdk/client-scheduler';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { type Page, paginate, sortedBy } from './pagination';
import {
  type CallContext,
  compact,
  copy,
  mergeTags,
  parseArn,
  partitionOf,
  Scoped,
  type TaggedResource,
  tagsFromList,
  tagsToList,
  validateTags,
} from './world';

interface GroupRecord {
  readonly Name: string;
  readonly Arn: string;
  readonly CreationDate: Date;
  readonly tags: Map<string, string>;
}

interface ScheduleRecord {
  readonly Name: string;
  readonly GroupName: string;
  readonly Arn: string;
  readonly CreationDate: Date;
  LastModificationDate: Date;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  FlexibleTimeWindow: FlexibleTimeWindow;
  Target: Target;
  State: ScheduleState;
  Description?: string;
  StartDate?: Date;
  EndDate?: Date;
  KmsKeyArn?: string;
  ActionAfterCompletion: 'NONE' | 'DELETE';
}

interface Region {
  readonly groups: Map<string, GroupRecord>;
  readonly schedules: Map<string, ScheduleRecord>; // by `${group}|${name}`
}

const NAME = /^[0-9a-zA-Z-_.]{1,64}$/;
const EXPRESSION =
  /^(at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/;

function validation(message: string): SimError {
  return new SimError('ValidationException', message, 400);
}

function nullMember(member: string): SimError {
  return validation(
    `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
  );
}

type ScheduleFields = Pick<
  CreateScheduleCommandInput,
  | 'ScheduleExpression'
  | 'ScheduleExpressionTimezone'
  | 'FlexibleTimeWindow'
  | 'Target'
  | 'State'
  | 'Description'
  | 'StartDate'
  | 'EndDate'
  | 'KmsKeyArn'
  | 'ActionAfterCompletion'
>;

export class SchedulerService {
  private readonly regions = new Scoped<Region>((accountId, region) => {
    const groups = new Map<string, GroupRecord>();
    groups.set('default', {
      Name: 'default',
      Arn: `arn:${partitionOf(region)}:scheduler:${region}:${accountId}:schedule-group/default`,
      CreationDate: new Date(Date.UTC(2022, 10, 10)),
      tags: new Map(),
    });
    return { groups, schedules: new Map() };
  });

  constructor(private readonly core: SimCore) {}

  private state(ctx: { accountId: string; region: string }): Region {
    return this.regions.get(ctx.accountId, ctx.region);
  }

  private group(ctx: CallContext, name: string | undefined): GroupRecord {
    const group = this.state(ctx).groups.get(name ?? 'default');
    if (!group)
      throw new SimError('ResourceNotFoundException', `Schedule group ${name} does not exist.`, 404);
    return group;
  }

  private schedule(
    ctx: CallContext,
    name: string | undefined,
    groupName: string | undefined,
  ): ScheduleRecord {
    if (!name) throw nullMember('name');
    const group = this.group(ctx, groupName);
    const schedule = this.state(ctx).schedules.get(`${group.Name}|${name}`);
    if (!schedule) throw new SimError('ResourceNotFoundException', `Schedule ${name} does not exist.`, 404);
    return schedule;
  }

  /** A page of a List* call: NextToken and MaxResults, at most 100 items. */
  private page<T>(
    items: readonly T[],
    input: { NextToken?: string; MaxResults?: number },
    keyOf: (item: T) => string,
  ): Page<T> {
    return paginate(items, this.core.settings.pageSize, {
      token: input.NextToken,
      requested: input.MaxResults,
      awsDefault: 100,
      max: 100,
      keyOf,
      errorCode: 'ValidationException',
      sizeName: 'MaxResults',
    });
  }

  /** Checks the members every Create and Update must carry, as AWS does. */
  private fields(
    input: ScheduleFields,
  ): Omit<ScheduleRecord, 'Name' | 'GroupName' | 'Arn' | 'CreationDate' | 'LastModificationDate'> {
    if (!input.ScheduleExpression) throw nullMember('scheduleExpression');
    if (!input.FlexibleTimeWindow) throw nullMember('flexibleTimeWindow');
    if (!input.Target) throw nullMember('target');
    if (!EXPRESSION.test(input.ScheduleExpression))
      throw validation(`Invalid Schedule Expression ${input.ScheduleExpression}.`);
    const window = input.FlexibleTimeWindow;
    if (window.Mode !== 'OFF' && window.Mode !== 'FLEXIBLE') throw nullMember('flexibleTimeWindow.mode');
    if (window.Mode === 'FLEXIBLE') {
      const max = window.MaximumWindowInMinutes;
      if (max === undefined || max < 1 || max > 1440) {
        throw validation('MaximumWindowInMinutes must be between 1 and 1440 when Mode is FLEXIBLE.');
      }
    }
    if (!input.Target.Arn) throw nullMember('target.arn');
    if (!input.Target.RoleArn) throw nullMember('target.roleArn');
    if (input.State !== undefined && input.State !== 'ENABLED' && input.State !== 'DISABLED') {
      throw validation(
        `Value '${input.State}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`,
      );
    }
    return {
      ScheduleExpression: input.ScheduleExpression,
      ScheduleExpressionTimezone: input.ScheduleExpressionTimezone,
      FlexibleTimeWindow: copy(window),
      Target: copy(input.Target),
      State: input.State ?? 'ENABLED',
      Description: input.Description,
      StartDate: input.StartDate ? new Date(input.StartDate) : undefined,
      EndDate: input.EndDate ? new Date(input.EndDate) : undefined,
      KmsKeyArn: input.KmsKeyArn,
      ActionAfterCompletion: input.ActionAfterCompletion ?? 'NONE',
    };
  }

  // ---- AWS actions ----

  CreateScheduleGroup(
    input: CreateScheduleGroupCommandInput,
    ctx: CallContext,
  ): Out<CreateScheduleGroupCommandOutput> {
    const name = input.Name;
    if (!name || !NAME.test(name)) throw validation(`Schedule group name ${name ?? '(none)'} is not valid.`);
    const state = this.state(ctx);
    if (state.groups.has(name))
      throw new SimError('ConflictException', `Schedule group ${name} already exists.`, 409);
    const tags = tagsFromList(input.Tags);
    validateTags(tags, 'ValidationException');
    const group: GroupRecord = {
      Name: name,
      Arn: `arn:${ctx.partition}:scheduler:${ctx.region}:${ctx.accountId}:schedule-group/${name}`,
      CreationDate: ctx.now,
      tags,
    };
    state.groups.set(name, group);
    return { ScheduleGroupArn: group.Arn };
  }

  ListScheduleGroups(
    input: ListScheduleGroupsCommandInput,
    ctx: CallContext,
  ): Out<ListScheduleGroupsCommandOutput> {
    const groups = sortedBy(
      [...this.state(ctx).groups.values()].filter(
        (g) => !input.NamePrefix || g.Name.startsWith(input.NamePrefix),
      ),
      (g) => g.Name,
    );
    const page = this.page(groups, input, (g) => g.Name);
    return compact({
      ScheduleGroups: page.items.map((g) => ({
        Arn: g.Arn,
        CreationDate: new Date(g.CreationDate),
        LastModificationDate: new Date(g.CreationDate),
        Name: g.Name,
        State: 'ACTIVE' as const,
      })),
      NextToken: page.next,
    });
  }

  CreateSchedule(input: CreateScheduleCommandInput, ctx: CallContext): Out<CreateScheduleCommandOutput> {
    const name = input.Name;
    if (!name || !NAME.test(name)) throw validation(`Schedule name ${name ?? '(none)'} is not valid.`);
    const group = this.group(ctx, input.GroupName);
    const fields = this.fields(input);
    const state = this.state(ctx);
    const key = `${group.Name}|${name}`;
    if (state.schedules.has(key))
      throw new SimError('ConflictException', `Schedule ${name} already exists.`, 409);
    const schedule: ScheduleRecord = {
      Name: name,
      GroupName: group.Name,
      Arn: `arn:${ctx.partition}:scheduler:${ctx.region}:${ctx.accountId}:schedule/${group.Name}/${name}`,
      CreationDate: ctx.now,
      LastModificationDate: ctx.now,
      ...fields,
    };
    state.schedules.set(key, schedule);
    return { ScheduleArn: schedule.Arn };
  }

  ListSchedules(input: ListSchedulesCommandInput, ctx: CallContext): Out<ListSchedulesCommandOutput> {
    if (input.GroupName !== undefined) this.group(ctx, input.GroupName);
    const schedules = sortedBy(
      [...this.state(ctx).schedules.values()].filter(
        (s) =>
          (input.GroupName === undefined || s.GroupName === input.GroupName) &&
          (!input.NamePrefix || s.Name.startsWith(input.NamePrefix)) &&
          (!input.State || s.State === input.State),
      ),
      (s) => `${s.GroupName}|${s.Name}`,
    );
    const page = this.page(schedules, input, (s) => `${s.GroupName}|${s.Name}`);
    return compact({
      Schedules: page.items.map((s) => ({
        Arn: s.Arn,
        CreationDate: new Date(s.CreationDate),
        GroupName: s.GroupName,
        LastModificationDate: new Date(s.LastModificationDate),
        Name: s.Name,
        State: s.State,
        Target: { Arn: s.Target.Arn },
      })),
      NextToken: page.next,
    });
  }

  GetSchedule(input: GetScheduleCommandInput, ctx: CallContext): Out<GetScheduleCommandOutput> {
    const s = this.schedule(ctx, input.Name, input.GroupName);
    return compact({
      ActionAfterCompletion: s.ActionAfterCompletion,
      Arn: s.Arn,
      CreationDate: new Date(s.CreationDate),
      Description: s.Description,
      EndDate: s.EndDate ? new Date(s.EndDate) : undefined,
      FlexibleTimeWindow: copy(s.FlexibleTimeWindow),
      GroupName: s.GroupName,
      KmsKeyArn: s.KmsKeyArn,
      LastModificationDate: new Date(s.LastModificationDate),
      Name: s.Name,
      ScheduleExpression: s.ScheduleExpression,
      ScheduleExpressionTimezone: s.ScheduleExpressionTimezone,
      StartDate: s.StartDate ? new Date(s.StartDate) : undefined,
      State: s.State,
      Target: copy(s.Target),
    });
  }

  UpdateSchedule(input: UpdateScheduleCommandInput, ctx: CallContext): Out<UpdateScheduleCommandOutput> {
    const s = this.schedule(ctx, input.Name, input.GroupName);
    Object.assign(s, this.fields(input), { LastModificationDate: ctx.now });
    return { ScheduleArn: s.Arn };
  }

  private taggedGroup(ctx: CallContext, arn: string | undefined): GroupRecord {
    if (!arn) throw nullMember('resourceArn');
    const parsed = parseArn(arn);
    if (parsed?.service !== 'scheduler') throw validation(`${arn} is not a Scheduler ARN`);
    if (!parsed.resource.startsWith('schedule-group/')) {
      throw validation('Tags are supported on schedule groups only.');
    }
    if (parsed.account !== ctx.accountId || parsed.region !== ctx.region) {
      throw new SimError('ResourceNotFoundException', `Schedule group ${arn} does not exist.`, 404);
    }
    return this.group(ctx, parsed.resource.slice('schedule-group/'.length));
  }

  ListTagsForResource(
    input: ListTagsForResourceCommandInput,
    ctx: CallContext,
  ): Out<ListTagsForResourceCommandOutput> {
    return { Tags: tagsToList(this.taggedGroup(ctx, input.ResourceArn).tags) };
  }

  TagResource(input: TagResourceCommandInput, ctx: CallContext): Out<TagResourceCommandOutput> {
    const group = this.taggedGroup(ctx, input.ResourceArn);
    mergeTags(group.tags, tagsFromList(input.Tags), 'ValidationException');
    return {};
  }

  UntagResource(input: UntagResourceCommandInput, ctx: CallContext): Out<UntagResourceCommandOutput> {
    const group = this.taggedGroup(ctx, input.ResourceArn);
    for (const key of input.TagKeys ?? []) group.tags.delete(key);
    return {};
  }

  // ---- inspection ----

  scheduleState(
    accountId: string,
    region: string,
    name: string,
    groupName = 'default',
  ): ScheduleState | undefined {
    return this.state({ accountId, region }).schedules.get(`${groupName}|${name}`)?.State;
  }

  /** Taggable resources (schedule groups), for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, state] of this.regions.entries()) {
      for (const g of state.groups.values())
        if (g.Name !== 'default') yield { accountId, region, arn: g.Arn, tags: g.tags };
    }
  }
}
