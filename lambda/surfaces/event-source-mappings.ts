import {
  GetEventSourceMappingCommand,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { eventSourceMappingUuid, resourceKind } from '../shared/arn';
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

/** Mappings of every function of the agent, plus mappings tagged for it or declared by ARN. */
async function discover(ctx: SurfaceContext): Promise<string[]> {
  const functions = await agentFunctionArns(ctx);
  // A mapping on an alias or version is listed only under that qualified ARN: ask for those as declared too.
  const names = unique([...functions, ...declared(ctx, 'lambda-function')]);
  const perFunction = await mapLimit(names, CONCURRENCY, async (functionName) => {
    try {
      return await paginate(async (token) => {
        const out = await ctx.clients.lambda.send(
          new ListEventSourceMappingsCommand({ FunctionName: functionName, Marker: token }),
        );
        return { items: (out.EventSourceMappings ?? []).map((m) => m.UUID ?? ''), next: out.NextMarker };
      });
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  });
  const tagged = await taggedArns(ctx, ['lambda:event-source-mapping']);
  const byArn = [
    ...declared(ctx, 'event-source-mapping'),
    ...tagged.filter((a) => resourceKind(a) === 'event-source-mapping'),
  ];
  return unique([...perFunction.flat(), ...byArn.map(eventSourceMappingUuid)].filter((u) => u !== ''));
}

const snapshot: Surface<EventSourceMappingSnapshot>['snapshot'] = async (ctx, ids) =>
  snapshotEach(ids, CONCURRENCY, {
    read: async (uuid): Promise<EventSourceMappingSnapshot> => {
      const m = await getMapping(ctx, uuid);
      return {
        uuid,
        state: m.State ?? 'Unknown',
        ...(m.EventSourceArn ? { eventSourceArn: m.EventSourceArn } : {}),
        ...(m.FunctionArn ? { functionArn: m.FunctionArn } : {}),
        ...(m.EventSourceMappingArn ? { eventSourceMappingArn: m.EventSourceMappingArn } : {}),
      };
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
    // Disabling a mapping loses nothing, so even one whose snapshot failed is cut.
    const current = (await getMapping(ctx, s.uuid)).State ?? 'Unknown';
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
    const current = (await getMapping(ctx, s.uuid)).State ?? 'Unknown';
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
