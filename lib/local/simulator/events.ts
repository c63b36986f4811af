/**
 * EventBridge, per account and region: event buses (the `default` bus always exists), rules with
 * their targets and tags, and managed rules (created by an AWS service, `ManagedBy` set) that
 * refuse changes with `ManagedRuleException` as AWS does.
 */
import type {
  CreateEventBusCommandInput,
  CreateEventBusCommandOutput,
  DescribeRuleCommandInput,
  DescribeRuleCommandOutput,
  DisableRuleCommandInput,
  DisableRuleCommandOutput,
  EnableRuleCommandInput,
  EnableRuleCommandOutput,
  ListEventBusesCommandInput,
  ListEventBusesCommandOutput,
  ListRuleNamesByTargetCommandInput,
  ListRuleNamesByTargetCommandOutput,
  ListRulesCommandInput,
  ListRulesCommandOutput,
  ListTagsForResourceCommandInput,
  ListTagsForResourceCommandOutput,
  ListTargetsByRuleCommandInput,
  ListTargetsByRuleCommandOutput,
  PutRuleCommandInput,
  PutRuleCommandOutput,
  PutTargetsCommandInput,
  PutTargetsCommandOutput,
  Rule,
  RuleState,
  TagResourceCommandInput,
  TagResourceCommandOutput,
  Target,
  UntagResourceCommandInput,
  UntagResourceCommandOutput,
} from '@aws-sdk/client-eventbridge';
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

interface BusRecord {
  readonly Name: string;
  readonly Arn: string;
  readonly Description?: string;
  readonly created?: Date;
  readonly tags: Map<string, string>;
}

interface RuleRecord {
  readonly Name: string;
  readonly Arn: string;
  readonly EventBusName: string;
  EventPattern?: string;
  ScheduleExpression?: string;
  State: RuleState;
  Description?: string;
  RoleArn?: string;
  readonly ManagedBy?: string;
  readonly CreatedBy: string;
  readonly targets: Map<string, Target>;
  readonly tags: Map<string, string>;
}

interface Region {
  readonly buses: Map<string, BusRecord>;
  readonly rules: Map<string, RuleRecord>; // by `${bus}|${name}`
}

const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
const BUS_NAME = /^[.\-_A-Za-z0-9]{1,256}$/;
const MAX_TARGETS = 5;

function validation(message: string): SimError {
  return new SimError('ValidationException', message, 400);
}

function notFound(message: string): SimError {
  return new SimError('ResourceNotFoundException', message, 400);
}

/** A rule created by an AWS service on the account's behalf (seeding only: PutRule cannot create one). */
export interface SeedManagedRule {
  readonly name: string;
  /** The service principal that manages it, e.g. `scheduler.amazonaws.com`. */
  readonly managedBy: string;
  /** @default 'default' */
  readonly eventBusName?: string;
  readonly eventPattern?: string;
  readonly scheduleExpression?: string;
  /** @default 'ENABLED' */
  readonly state?: RuleState;
  readonly targets?: readonly Target[];
}

export class EventsService {
  private readonly regions: Scoped<Region>;

  constructor(private readonly core: SimCore) {
    this.regions = new Scoped<Region>((accountId, region) => {
      const partition = partitionOf(region);
      const buses = new Map<string, BusRecord>();
      buses.set('default', {
        Name: 'default',
        Arn: `arn:${partition}:events:${region}:${accountId}:event-bus/default`,
        tags: new Map(),
      });
      return { buses, rules: new Map() };
    });
  }

  private state(ctx: { accountId: string; region: string }): Region {
    return this.regions.get(ctx.accountId, ctx.region);
  }

  /** Resolves a bus from a name or an ARN (default bus when omitted). */
  private bus(ctx: CallContext, nameOrArn: string | undefined): BusRecord {
    let name = nameOrArn ?? 'default';
    const arn = parseArn(name);
    if (arn) {
      if (arn.service !== 'events' || !arn.resource.startsWith('event-bus/'))
        throw validation(`${name} is not an event bus ARN`);
      if (arn.account !== ctx.accountId || arn.region !== ctx.region)
        throw notFound(`Event bus ${name} does not exist.`);
      name = arn.resource.slice('event-bus/'.length);
    }
    const bus = this.state(ctx).buses.get(name);
    if (!bus) throw notFound(`Event bus ${name} does not exist.`);
    return bus;
  }

  private rule(ctx: CallContext, name: string | undefined, busName: string | undefined): RuleRecord {
    if (!name)
      throw validation(
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
      );
    const bus = this.bus(ctx, busName);
    const rule = this.state(ctx).rules.get(`${bus.Name}|${name}`);
    if (!rule) throw notFound(`Rule ${name} does not exist on EventBus ${bus.Name}.`);
    return rule;
  }

  private ruleArn(
    ctx: { partition: string; region: string; accountId: string },
    bus: string,
    name: string,
  ): string {
    const path = bus === 'default' ? name : `${bus}/${name}`;
    return `arn:${ctx.partition}:events:${ctx.region}:${ctx.accountId}:rule/${path}`;
  }

  private refuseManaged(rule: RuleRecord, action: string): void {
    if (rule.ManagedBy) {
      throw new SimError(
        'ManagedRuleException',
        `Rule ${rule.Name} is managed by ${rule.ManagedBy} and cannot be changed with ${action}. Use the service that manages it.`,
        400,
      );
    }
  }

  /** A page of a List* call: NextToken and Limit, at most 100 items. */
  private page<T>(
    items: readonly T[],
    input: { NextToken?: string; Limit?: number },
    keyOf: (item: T) => string,
  ): Page<T> {
    return paginate(items, this.core.settings.pageSize, {
      token: input.NextToken,
      requested: input.Limit,
      awsDefault: 100,
      max: 100,
      keyOf,
      errorCode: 'ValidationException',
      sizeName: 'Limit',
    });
  }

  private ruleSummary(r: RuleRecord): Rule {
    return compact({
      Name: r.Name,
      Arn: r.Arn,
      EventPattern: r.EventPattern,
      State: r.State,
      Description: r.Description,
      ScheduleExpression: r.ScheduleExpression,
      RoleArn: r.RoleArn,
      ManagedBy: r.ManagedBy,
      EventBusName: r.EventBusName,
    });
  }

  private checkPattern(pattern: string | undefined): void {
    if (pattern === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(pattern);
    } catch (e) {
      throw new SimError(
        'InvalidEventPatternException',
        `Event pattern is not valid. Reason: ${(e as Error).message}`,
        400,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SimError(
        'InvalidEventPatternException',
        'Event pattern is not valid. Reason: Filter is not an object',
        400,
      );
    }
  }

  // ---- AWS actions ----

  CreateEventBus(input: CreateEventBusCommandInput, ctx: CallContext): Out<CreateEventBusCommandOutput> {
    const name = input.Name;
    if (!name || !BUS_NAME.test(name)) throw validation(`Event bus name ${name ?? '(none)'} is not valid.`);
    const state = this.state(ctx);
    if (name === 'default' || state.buses.has(name)) {
      throw new SimError('ResourceAlreadyExistsException', `Event bus ${name} already exists.`, 400);
    }
    const tags = tagsFromList(input.Tags);
    validateTags(tags, 'ValidationException');
    const bus: BusRecord = {
      Name: name,
      Arn: `arn:${ctx.partition}:events:${ctx.region}:${ctx.accountId}:event-bus/${name}`,
      Description: input.Description,
      created: ctx.now,
      tags,
    };
    state.buses.set(name, bus);
    return compact({ EventBusArn: bus.Arn, Description: bus.Description });
  }

  ListEventBuses(input: ListEventBusesCommandInput, ctx: CallContext): Out<ListEventBusesCommandOutput> {
    const buses = sortedBy(
      [...this.state(ctx).buses.values()].filter(
        (b) => !input.NamePrefix || b.Name.startsWith(input.NamePrefix),
      ),
      (b) => b.Name,
    );
    const page = this.page(buses, input, (b) => b.Name);
    return compact({
      EventBuses: page.items.map((b) =>
        compact({
          Name: b.Name,
          Arn: b.Arn,
          Description: b.Description,
          CreationTime: b.created ? new Date(b.created) : undefined,
          LastModifiedTime: b.created ? new Date(b.created) : undefined,
        }),
      ),
      NextToken: page.next,
    });
  }

  PutRule(input: PutRuleCommandInput, ctx: CallContext): Out<PutRuleCommandOutput> {
    const name = input.Name;
    if (!name || !RULE_NAME.test(name)) throw validation(`Rule name ${name ?? '(none)'} is not valid.`);
    const bus = this.bus(ctx, input.EventBusName);
    if (input.EventPattern === undefined && input.ScheduleExpression === undefined) {
      throw validation('Parameter(s) EventPattern or ScheduleExpression must be specified.');
    }
    if (input.ScheduleExpression !== undefined && bus.Name !== 'default') {
      throw validation('ScheduleExpression is supported only on the default event bus.');
    }
    this.checkPattern(input.EventPattern);
    const state = this.state(ctx);
    const key = `${bus.Name}|${name}`;
    const existing = state.rules.get(key);
    if (existing) {
      this.refuseManaged(existing, 'PutRule');
      existing.EventPattern = input.EventPattern;
      existing.ScheduleExpression = input.ScheduleExpression;
      existing.State = input.State ?? existing.State;
      existing.Description = input.Description;
      existing.RoleArn = input.RoleArn;
      return { RuleArn: existing.Arn };
    }
    const tags = tagsFromList(input.Tags);
    validateTags(tags, 'ValidationException');
    const rule: RuleRecord = {
      Name: name,
      Arn: this.ruleArn(ctx, bus.Name, name),
      EventBusName: bus.Name,
      EventPattern: input.EventPattern,
      ScheduleExpression: input.ScheduleExpression,
      State: input.State ?? 'ENABLED',
      Description: input.Description,
      RoleArn: input.RoleArn,
      CreatedBy: ctx.accountId,
      targets: new Map(),
      tags,
    };
    state.rules.set(key, rule);
    return { RuleArn: rule.Arn };
  }

  ListRules(input: ListRulesCommandInput, ctx: CallContext): Out<ListRulesCommandOutput> {
    const bus = this.bus(ctx, input.EventBusName);
    const rules = sortedBy(
      [...this.state(ctx).rules.values()].filter(
        (r) => r.EventBusName === bus.Name && (!input.NamePrefix || r.Name.startsWith(input.NamePrefix)),
      ),
      (r) => r.Name,
    );
    const page = this.page(rules, input, (r) => r.Name);
    return compact({ Rules: page.items.map((r) => this.ruleSummary(r)), NextToken: page.next });
  }

  ListRuleNamesByTarget(
    input: ListRuleNamesByTargetCommandInput,
    ctx: CallContext,
  ): Out<ListRuleNamesByTargetCommandOutput> {
    const target = input.TargetArn;
    if (!target)
      throw validation(
        "1 validation error detected: Value null at 'targetArn' failed to satisfy constraint: Member must not be null",
      );
    const bus = this.bus(ctx, input.EventBusName);
    const names = sortedBy(
      [...this.state(ctx).rules.values()]
        .filter((r) => r.EventBusName === bus.Name && [...r.targets.values()].some((t) => t.Arn === target))
        .map((r) => r.Name),
      (n) => n,
    );
    const page = this.page(names, input, (n) => n);
    return compact({ RuleNames: page.items, NextToken: page.next });
  }

  DescribeRule(input: DescribeRuleCommandInput, ctx: CallContext): Out<DescribeRuleCommandOutput> {
    const r = this.rule(ctx, input.Name, input.EventBusName);
    return compact({ ...this.ruleSummary(r), CreatedBy: r.CreatedBy });
  }

  DisableRule(input: DisableRuleCommandInput, ctx: CallContext): Out<DisableRuleCommandOutput> {
    const r = this.rule(ctx, input.Name, input.EventBusName);
    this.refuseManaged(r, 'DisableRule');
    r.State = 'DISABLED';
    return {};
  }

  EnableRule(input: EnableRuleCommandInput, ctx: CallContext): Out<EnableRuleCommandOutput> {
    const r = this.rule(ctx, input.Name, input.EventBusName);
    this.refuseManaged(r, 'EnableRule');
    r.State = 'ENABLED';
    return {};
  }

  PutTargets(input: PutTargetsCommandInput, ctx: CallContext): Out<PutTargetsCommandOutput> {
    const r = this.rule(ctx, input.Rule, input.EventBusName);
    this.refuseManaged(r, 'PutTargets');
    const targets = input.Targets ?? [];
    if (targets.length === 0) throw validation('Targets must contain at least one target.');
    for (const t of targets) {
      if (!t.Id || !/^[.\-_A-Za-z0-9]{1,64}$/.test(t.Id))
        throw validation(`Target id ${t.Id ?? '(none)'} is not valid.`);
      if (!t.Arn) throw validation(`Target ${t.Id} has no Arn.`);
    }
    const ids = new Set([...r.targets.keys(), ...targets.map((t) => t.Id!)]);
    if (ids.size > MAX_TARGETS) {
      throw new SimError(
        'LimitExceededException',
        'The requested resource exceeds the maximum number allowed.',
        400,
      );
    }
    for (const t of targets) r.targets.set(t.Id!, copy(t));
    return { FailedEntryCount: 0, FailedEntries: [] };
  }

  ListTargetsByRule(
    input: ListTargetsByRuleCommandInput,
    ctx: CallContext,
  ): Out<ListTargetsByRuleCommandOutput> {
    const r = this.rule(ctx, input.Rule, input.EventBusName);
    const targets = sortedBy(r.targets.values(), (t) => t.Id!);
    const page = this.page(targets, input, (t) => t.Id!);
    return compact({ Targets: page.items.map((t) => copy(t)), NextToken: page.next });
  }

  private resource(
    ctx: CallContext,
    arn: string | undefined,
  ): { tags: Map<string, string>; rule?: RuleRecord } {
    if (!arn)
      throw validation(
        "1 validation error detected: Value null at 'resourceARN' failed to satisfy constraint: Member must not be null",
      );
    const parsed = parseArn(arn);
    if (parsed?.service !== 'events') throw validation(`${arn} is not an EventBridge ARN`);
    if (parsed.account !== ctx.accountId || parsed.region !== ctx.region)
      throw notFound(`Resource ${arn} does not exist.`);
    if (parsed.resource.startsWith('event-bus/')) return { tags: this.bus(ctx, arn).tags };
    if (parsed.resource.startsWith('rule/')) {
      const path = parsed.resource.slice('rule/'.length).split('/');
      const [busName, name] = path.length === 1 ? ['default', path[0]] : [path[0], path[1]];
      const rule = this.rule(ctx, name, busName);
      return { tags: rule.tags, rule };
    }
    throw notFound(`Resource ${arn} does not exist.`);
  }

  ListTagsForResource(
    input: ListTagsForResourceCommandInput,
    ctx: CallContext,
  ): Out<ListTagsForResourceCommandOutput> {
    return { Tags: tagsToList(this.resource(ctx, input.ResourceARN).tags) };
  }

  TagResource(input: TagResourceCommandInput, ctx: CallContext): Out<TagResourceCommandOutput> {
    const { tags, rule } = this.resource(ctx, input.ResourceARN);
    if (rule) this.refuseManaged(rule, 'TagResource');
    mergeTags(tags, tagsFromList(input.Tags), 'ValidationException');
    return {};
  }

  UntagResource(input: UntagResourceCommandInput, ctx: CallContext): Out<UntagResourceCommandOutput> {
    const { tags, rule } = this.resource(ctx, input.ResourceARN);
    if (rule) this.refuseManaged(rule, 'UntagResource');
    for (const key of input.TagKeys ?? []) tags.delete(key);
    return {};
  }

  // ---- seeding and inspection ----

  /** Creates a managed rule, as an AWS service would on the account's behalf. */
  seedManagedRule(accountId: string, region: string, spec: SeedManagedRule): string {
    const state = this.state({ accountId, region });
    const busName = spec.eventBusName ?? 'default';
    if (!state.buses.has(busName))
      throw new Error(`event bus ${busName} does not exist in ${accountId}/${region}`);
    const partition = partitionOf(region);
    const rule: RuleRecord = {
      Name: spec.name,
      Arn: this.ruleArn({ partition, region, accountId }, busName, spec.name),
      EventBusName: busName,
      EventPattern: spec.eventPattern,
      ScheduleExpression: spec.scheduleExpression,
      State: spec.state ?? 'ENABLED',
      ManagedBy: spec.managedBy,
      CreatedBy: accountId,
      targets: new Map((spec.targets ?? []).map((t) => [t.Id!, copy(t)])),
      tags: new Map(),
    };
    state.rules.set(`${busName}|${spec.name}`, rule);
    return rule.Arn;
  }

  /** State of a rule, for inspection. */
  ruleState(
    accountId: string,
    region: string,
    name: string,
    eventBusName = 'default',
  ): RuleState | undefined {
    return this.state({ accountId, region }).rules.get(`${eventBusName}|${name}`)?.State;
  }

  /** Taggable resources, for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, state] of this.regions.entries()) {
      for (const b of state.buses.values())
        if (b.Name !== 'default') yield { accountId, region, arn: b.Arn, tags: b.tags };
      for (const r of state.rules.values()) yield { accountId, region, arn: r.Arn, tags: r.tags };
    }
  }
}
