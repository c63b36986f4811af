import {
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  ListEventBusesCommand,
  ListRuleNamesByTargetCommand,
  ListRulesCommand,
  PutRuleCommand,
  type Rule,
} from '@aws-sdk/client-eventbridge';
import { eventRuleArn, parseEventRuleArn, resourceKind } from '../shared/arn';
import { isErrorNamed } from '../shared/aws-errors';
import {
  agentTargetArns,
  change,
  containEach,
  declared,
  declaredTargetArns,
  mapLimit,
  mismatch,
  paginate,
  planEach,
  ReadCache,
  type ReadError,
  readError,
  restoreEach,
  taggedArns,
  unique,
  unreadNotRestorable,
  unreadState,
  verifyEach,
} from './common';
import type { ResourceSnapshot, Surface, SurfaceContext } from './types';

/**
 * EventBridge rules (full_stop) on every event bus of the account and region: the rules tagged
 * for the agent and the rules that target its functions, queues or state machines. Rules are
 * disabled, never deleted. Rules managed by another AWS service cannot be disabled by the
 * customer: they are reported as skipped with the managing service, never passed over silently.
 */

export interface EventRuleSnapshot {
  readonly arn: string;
  readonly name: string;
  readonly eventBusName: string;
  /** ENABLED, DISABLED or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS before the kill. */
  readonly state: string;
  /** The AWS service that manages the rule, when one does. */
  readonly managedBy?: string;
  /** The rule's definition, kept so that restore can put back a state EnableRule cannot set. */
  readonly eventPattern?: string;
  readonly scheduleExpression?: string;
  readonly description?: string;
  readonly roleArn?: string;
  readonly readError?: ReadError;
}

/** EventBridge's control plane allows around 50 requests/s per account. */
const CONCURRENCY = 8;
const ENABLED_STATES = new Set(['ENABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS']);

async function eventBusNames(ctx: SurfaceContext): Promise<string[]> {
  const buses = await paginate(async (token) => {
    const out = await ctx.clients.events.send(new ListEventBusesCommand({ NextToken: token }));
    return { items: out.EventBuses, next: out.NextToken };
  });
  return unique(buses.map((b) => b.Name ?? '').filter((n) => n !== ''));
}

/** Each rule's state and manager as this invocation last read them (snapshot, or a read-back). */
const lastRead = new ReadCache<Pick<Rule, 'State' | 'ManagedBy'>>();

/** Every account and region has it: its rules are looked up before the buses are listed. */
const DEFAULT_BUS = 'default';

async function discover(ctx: SurfaceContext): Promise<string[]> {
  const { partition, region, accountId } = ctx.agent;
  const rulesTargeting = (pairs: readonly { bus: string; target: string }[]) =>
    mapLimit(pairs, CONCURRENCY, async ({ bus, target }) => {
      const names = await paginate(async (token) => {
        const out = await ctx.clients.events.send(
          new ListRuleNamesByTargetCommand({ TargetArn: target, EventBusName: bus, NextToken: token }),
        );
        return { items: out.RuleNames, next: out.NextToken };
      });
      return names.map((name) => eventRuleArn(partition, region, accountId, bus, name));
    });
  // The declared targets on the default bus need no read first: they go beside the listings, the
  // other buses and the tagged targets after them.
  const pairKey = (p: { bus: string; target: string }) => `${p.bus} ${p.target}`;
  const early = declaredTargetArns(ctx).map((target) => ({ bus: DEFAULT_BUS, target }));
  const [onDefault, buses, targets, tagged] = await Promise.all([
    rulesTargeting(early),
    eventBusNames(ctx),
    agentTargetArns(ctx),
    taggedArns(ctx, ['events:rule']),
  ]);
  const asked = new Set(early.map(pairKey));
  const rest = buses
    .flatMap((bus) => targets.map((target) => ({ bus, target })))
    .filter((p) => !asked.has(pairKey(p)));
  const onTheRest = await rulesTargeting(rest);
  return unique([
    ...declared(ctx, 'event-rule'),
    ...tagged.filter((a) => resourceKind(a) === 'event-rule'),
    ...onDefault.flat(),
    ...onTheRest.flat(),
  ]);
}

function fromRule(
  arn: string,
  rule: Rule,
  fallback: { name: string; eventBusName: string },
): EventRuleSnapshot {
  return {
    arn,
    name: rule.Name ?? fallback.name,
    eventBusName: rule.EventBusName ?? fallback.eventBusName,
    state: rule.State ?? 'UNKNOWN',
    ...(rule.ManagedBy ? { managedBy: rule.ManagedBy } : {}),
    ...(rule.EventPattern ? { eventPattern: rule.EventPattern } : {}),
    ...(rule.ScheduleExpression ? { scheduleExpression: rule.ScheduleExpression } : {}),
    ...(rule.Description ? { description: rule.Description } : {}),
    ...(rule.RoleArn ? { roleArn: rule.RoleArn } : {}),
  };
}

/** Reads the rules bus by bus with ListRules (one paginated call per bus, not one per rule). */
const snapshot: Surface<EventRuleSnapshot>['snapshot'] = async (ctx, ids) => {
  const wanted = ids.map((arn) => ({ arn, ...parseEventRuleArn(arn) }));
  const buses = unique(wanted.map((w) => w.eventBusName));
  const perBus = await mapLimit(buses, CONCURRENCY, async (bus) => {
    try {
      const rules = await paginate(async (token) => {
        const out = await ctx.clients.events.send(
          new ListRulesCommand({ EventBusName: bus, NextToken: token }),
        );
        return { items: out.Rules, next: out.NextToken };
      });
      return { bus, rules: new Map(rules.map((r) => [r.Name ?? '', r])) };
    } catch (e) {
      return { bus, error: e };
    }
  });
  const byBus = new Map(perBus.map((b) => [b.bus, b]));
  const snaps: ResourceSnapshot<EventRuleSnapshot>[] = [];
  for (const w of wanted) {
    const bus = byBus.get(w.eventBusName);
    if (bus?.rules) {
      const rule = bus.rules.get(w.name);
      if (rule) {
        lastRead.set(ctx, w.arn, rule);
        snaps.push({ id: w.arn, state: fromRule(w.arn, rule, w) });
      } else {
        ctx.log.warn('rule does not exist: nothing to cut', { ruleArn: w.arn });
      }
    } else if (bus && 'error' in bus) {
      const state = {
        arn: w.arn,
        name: w.name,
        eventBusName: w.eventBusName,
        state: 'UNKNOWN',
        readError: readError(bus.error),
      };
      snaps.push({ id: w.arn, state });
    }
  }
  return snaps;
};

function managedReason(managedBy: string): string {
  return `managed by ${managedBy}: EventBridge does not let the customer disable a managed rule; cut it through ${managedBy}`;
}

async function currentState(ctx: SurfaceContext, s: EventRuleSnapshot) {
  return ctx.clients.events.send(new DescribeRuleCommand({ Name: s.name, EventBusName: s.eventBusName }));
}

const arnOf = (s: EventRuleSnapshot) => s.arn;

const contain: Surface<EventRuleSnapshot>['contain'] = async (ctx, _mode, snap) => {
  const names = { resource: arnOf, action: 'DisableRule' };
  return containEach(snap, CONCURRENCY, names, async (s, out) => {
    if (s.managedBy) {
      out.skipped.push({ resource: s.arn, reason: managedReason(s.managedBy) });
      return;
    }
    // Disabling loses nothing (the definition stays): a rule whose snapshot failed is cut as well.
    // Its state as this invocation last read it (the snapshot, or the read-back), else now.
    try {
      const current = lastRead.take(ctx, s.arn) ?? (await currentState(ctx, s));
      if (current.ManagedBy) {
        out.skipped.push({ resource: s.arn, reason: managedReason(current.ManagedBy) });
        return;
      }
      if (!ENABLED_STATES.has(current.State ?? '')) return;
      await ctx.clients.events.send(new DisableRuleCommand({ Name: s.name, EventBusName: s.eventBusName }));
      out.changes.push(change(s.arn, 'DisableRule', { state: current.State }, { state: 'DISABLED' }));
    } catch (e) {
      if (!isErrorNamed(e, 'ManagedRule')) throw e;
      out.skipped.push({ resource: s.arn, reason: managedReason('another AWS service') });
    }
  });
};

const plan: Surface<EventRuleSnapshot>['plan'] = (_ctx, _mode, snap) =>
  planEach(snap, (s, { act, skip }) => {
    const trigger = s.scheduleExpression ?? (s.eventPattern ? 'event pattern' : undefined);
    const current = s.readError ? unreadState(s.readError) : `${s.state}${trigger ? `, ${trigger}` : ''}`;
    if (s.managedBy) {
      skip({ resource: s.arn, current, reason: managedReason(s.managedBy) });
      return;
    }
    if (!s.readError && !ENABLED_STATES.has(s.state)) {
      skip({ resource: s.arn, current, reason: `already ${s.state}` });
      return;
    }
    act({
      resource: s.arn,
      action: 'DisableRule',
      current,
      after: 'DISABLED (the definition and targets stay)',
    });
  });

const verify: Surface<EventRuleSnapshot>['verify'] = async (ctx, _mode, snap) => {
  const names = { resource: arnOf, action: 'DescribeRule' };
  return verifyEach(snap, CONCURRENCY, names, async (s, out) => {
    if (s.managedBy) return; // reported as skipped by contain: not expected to be disabled
    const current = await currentState(ctx, s);
    lastRead.set(ctx, s.arn, current);
    if (current.ManagedBy || current.State === 'DISABLED') return;
    out.drifted.push(mismatch(s.arn, { state: 'DISABLED' }, { state: current.State }));
  });
};

/** The call that puts a rule back in its state before the kill. */
function restoreAction(s: EventRuleSnapshot): string {
  return s.state === 'ENABLED' ? 'EnableRule' : 'PutRule';
}

const restore: Surface<EventRuleSnapshot>['restore'] = async (ctx, _toMode, snap) => {
  const names = { resource: arnOf, action: restoreAction, gone: 'the rule no longer exists' };
  return restoreEach(snap, CONCURRENCY, names, async (s, out) => {
    if (s.managedBy) return;
    if (s.readError) {
      out.notRestorable.push(
        unreadNotRestorable(s.arn, 'state', s.readError, 'enable it by hand if it should run'),
      );
      return;
    }
    if (!ENABLED_STATES.has(s.state)) return;
    const current = await currentState(ctx, s);
    if (current.State === s.state) return;
    if (s.state === 'ENABLED') {
      await ctx.clients.events.send(new EnableRuleCommand({ Name: s.name, EventBusName: s.eventBusName }));
    } else {
      // EnableRule sets ENABLED only; this state needs the whole definition put back with PutRule.
      await ctx.clients.events.send(
        new PutRuleCommand({
          Name: s.name,
          EventBusName: s.eventBusName,
          State: s.state as Rule['State'],
          EventPattern: s.eventPattern,
          ScheduleExpression: s.scheduleExpression,
          Description: s.description,
          RoleArn: s.roleArn,
        }),
      );
    }
    out.changes.push(change(s.arn, restoreAction(s), { state: current.State }, { state: s.state }));
  });
};

export const eventBridgeRules: Surface<EventRuleSnapshot> = {
  name: 'eventbridge-rules',
  appliesTo: (mode) => mode === 'full_stop',
  discover,
  snapshot,
  contain,
  plan,
  verify,
  restore,
};
