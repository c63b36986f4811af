import {
  type EventSourceMappingConfiguration,
  GetEventSourceMappingCommand,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { eventSourceMappingUuid, resourceKind, unqualifiedFunctionArn } from '../shared/arn';
import { isNotFound } from '../shared/aws-errors';
import {
  agentFunctionArns,
  change,
  containEach,
  declared,
  mapLimit,
  lastName,
  mismatch,
  paginate,
  planEach,
  ReadCache,
  type ReadError,
  restoreEach,
  snapshotEach,
  taggedArns,
  unique,
  unreadNotRestorable,
  unreadState,
  verifyEach,
} from './common';
import type { Surface, SurfaceContext } from './types';

/**
 * Event source mappings (full_stop) of the agent's functions, any source (SQS, Kinesis, DynamoDB
 * streams, Kafka, MQ, DocumentDB): disabled with `Enabled=false`, never deleted, so messages stay
 * in their queues and stream positions are kept. Lambda answers 202 `Disabling`; the mapping is
 * cut only once it reads `Disabled`, which verify reports as pending until then.
 */

export interface EventSourceMappingSnapshot {
  readonly uuid: string;
  /** State before the kill: Enabled, Enabling, Disabled, Disabling, Creating, Updating or Deleting. */
  readonly state: string;
  readonly eventSourceArn?: string;
  readonly functionArn?: string;
  readonly eventSourceMappingArn?: string;
  readonly readError?: ReadError;
}

/** Shares Lambda's 15 requests/s control plane quota with the concurrency surface. */
const CONCURRENCY = 5;
/** States in which the mapping polls, or is about to: contain disables these. */
const RUNNING = new Set(['Enabled', 'Enabling', 'Creating', 'Updating']);
/** States restore turns back on: those the mapping was in, or heading to, when it was polling. */
const WAS_ENABLED = new Set(['Enabled', 'Enabling']);

async function getMapping(ctx: SurfaceContext, uuid: string) {
  return ctx.clients.lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
}

/**
 * Every mapping this invocation listed or read, as Lambda returned it: discovery lists them with
 * their whole configuration, so the snapshot and contain need not read them one by one again.
 */
const lastRead = new ReadCache<EventSourceMappingConfiguration>();

async function listMappings(ctx: SurfaceContext, functionName: string): Promise<string[]> {
  try {
    const mappings = await paginate(async (token) => {
      const out = await ctx.clients.lambda.send(
        new ListEventSourceMappingsCommand({ FunctionName: functionName, Marker: token }),
      );
      return { items: out.EventSourceMappings, next: out.NextMarker };
    });
    for (const m of mappings) if (m.UUID) lastRead.set(ctx, m.UUID, m);
    return mappings.map((m) => m.UUID ?? '');
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/**
 * Mappings of every function of the agent, plus mappings tagged for it or declared by ARN. The
 * declared functions are listed at once, while the tag lookup runs; functions found only by tag
 * are listed when it answers.
 */
async function discover(ctx: SurfaceContext): Promise<string[]> {
  // A mapping on an alias or version is listed only under that qualified ARN: ask for those as declared too.
  const declaredNames = unique([
    ...declared(ctx, 'lambda-function').map(unqualifiedFunctionArn),
    ...declared(ctx, 'lambda-function'),
  ]);
  const [fromDeclared, tagged] = await Promise.all([
    mapLimit(declaredNames, CONCURRENCY, (name) => listMappings(ctx, name)),
    taggedArns(ctx, ['lambda:function', 'lambda:event-source-mapping']),
  ]);
  const listed = new Set(declaredNames);
  const more = (await agentFunctionArns(ctx)).filter((name) => !listed.has(name));
  const fromTagged = await mapLimit(more, CONCURRENCY, (name) => listMappings(ctx, name));
  const byArn = [
    ...declared(ctx, 'event-source-mapping'),
    ...tagged.filter((a) => resourceKind(a) === 'event-source-mapping'),
  ];
  return unique(
    [...fromDeclared.flat(), ...fromTagged.flat(), ...byArn.map(eventSourceMappingUuid)].filter(
      (u) => u !== '',
    ),
  );
}

function snapshotOf(uuid: string, m: EventSourceMappingConfiguration): EventSourceMappingSnapshot {
  return {
    uuid,
    state: m.State ?? 'Unknown',
    ...(m.EventSourceArn ? { eventSourceArn: m.EventSourceArn } : {}),
    ...(m.FunctionArn ? { functionArn: m.FunctionArn } : {}),
    ...(m.EventSourceMappingArn ? { eventSourceMappingArn: m.EventSourceMappingArn } : {}),
  };
}

const snapshot: Surface<EventSourceMappingSnapshot>['snapshot'] = async (ctx, ids) =>
  snapshotEach(ids, CONCURRENCY, {
    read: async (uuid): Promise<EventSourceMappingSnapshot> => {
      const listed = lastRead.get(ctx, uuid);
      if (listed) return snapshotOf(uuid, listed);
      const m = await getMapping(ctx, uuid);
      lastRead.set(ctx, uuid, m);
      return snapshotOf(uuid, m);
    },
    unread: (uuid, err) => ({ uuid, state: 'Unknown', readError: err }),
    gone: (uuid) => ctx.log.warn('event source mapping does not exist: nothing to cut', { uuid }),
  });

const uuidOf = (s: EventSourceMappingSnapshot) => s.uuid;

const contain: Surface<EventSourceMappingSnapshot>['contain'] = async (ctx, _mode, snap) => {
  // A mapping found deleted is passed over: nothing polls any more. ResourceInUseException (the
  // mapping is mid-transition: Enabling, Updating, Creating) is a failure; verify re-cuts it.
  const names = { resource: uuidOf, action: 'UpdateEventSourceMapping' };
  return containEach(snap, CONCURRENCY, names, async (s, out) => {
    // Disabling a mapping loses nothing, so even one whose snapshot failed is cut. Its state as
    // this invocation last read it (discovery, or the read-back that found it drifted), else now.
    const current = (lastRead.take(ctx, s.uuid) ?? (await getMapping(ctx, s.uuid))).State ?? 'Unknown';
    if (!RUNNING.has(current)) return; // Disabled, Disabling or Deleting: nothing left to cut
    const answer = await ctx.clients.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: s.uuid, Enabled: false }),
    );
    out.changes.push(
      change(s.uuid, 'UpdateEventSourceMapping', { state: current }, { state: answer.State ?? 'Disabling' }),
    );
  });
};

/** `queue support-bot-inbox -> support-bot-inbox-worker`: what feeds what. */
export function mappingLabel(s: Pick<EventSourceMappingSnapshot, 'eventSourceArn' | 'functionArn'>) {
  if (!s.eventSourceArn && !s.functionArn) return undefined;
  const kind = s.eventSourceArn?.split(':')[2];
  const source = kind === 'sqs' ? 'queue' : (kind ?? 'source');
  return `${source} ${lastName(s.eventSourceArn) ?? '?'} -> function ${lastName(s.functionArn) ?? '?'}`;
}

const plan: Surface<EventSourceMappingSnapshot>['plan'] = (_ctx, _mode, snap) =>
  planEach(snap, (s, { act, skip }) => {
    const label = mappingLabel(s);
    const current = s.readError ? unreadState(s.readError) : s.state;
    if (!s.readError && !RUNNING.has(s.state)) {
      skip({ resource: s.uuid, label, current, reason: `already ${s.state}: it does not poll` });
      return;
    }
    act({
      resource: s.uuid,
      label,
      action: 'UpdateEventSourceMapping Enabled=false',
      current,
      after: 'Disabled (never deleted: messages stay in the source)',
    });
  });

const verify: Surface<EventSourceMappingSnapshot>['verify'] = async (ctx, _mode, snap) => {
  const names = { resource: uuidOf, action: 'GetEventSourceMapping' };
  return verifyEach(snap, CONCURRENCY, names, async (s, out) => {
    const read = await getMapping(ctx, s.uuid);
    lastRead.set(ctx, s.uuid, read);
    const current = read.State ?? 'Unknown';
    if (current === 'Disabled' || current === 'Deleting') return;
    const found = mismatch(s.uuid, { state: 'Disabled' }, { state: current });
    if (current === 'Disabling') out.pending.push(found);
    else out.drifted.push(found);
  });
};

const restore: Surface<EventSourceMappingSnapshot>['restore'] = async (ctx, _toMode, snap) => {
  // ResourceInUseException while the mapping is still Disabling is a failure: the restore can be run again.
  const names = {
    resource: uuidOf,
    action: 'UpdateEventSourceMapping',
    gone: 'the mapping no longer exists',
  };
  return restoreEach(snap, CONCURRENCY, names, async (s, out) => {
    if (s.readError) {
      out.notRestorable.push(
        unreadNotRestorable(s.uuid, 'state', s.readError, 'enable it by hand if it should poll'),
      );
      return;
    }
    if (!WAS_ENABLED.has(s.state)) {
      if (RUNNING.has(s.state)) {
        out.notRestorable.push({
          resource: s.uuid,
          reason: `it was ${s.state} when the kill read it, so whether it was enabled is unknown: enable it by hand if it should poll`,
        });
      }
      return;
    }
    const current = (await getMapping(ctx, s.uuid)).State ?? 'Unknown';
    if (WAS_ENABLED.has(current)) return;
    const answer = await ctx.clients.lambda.send(
      new UpdateEventSourceMappingCommand({ UUID: s.uuid, Enabled: true }),
    );
    out.changes.push(
      change(s.uuid, 'UpdateEventSourceMapping', { state: current }, { state: answer.State ?? 'Enabling' }),
    );
  });
};

export const eventSourceMappings: Surface<EventSourceMappingSnapshot> = {
  name: 'event-source-mappings',
  appliesTo: (mode) => mode === 'full_stop',
  discover,
  snapshot,
  contain,
  plan,
  verify,
  restore,
};
