import {
  GetEventSourceMappingCommand,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from '@aws-sdk/client-lambda';
import { eventSourceMappingUuid, resourceKind } from '../shared/arn';
import { isNotFound, toFailure } from '../shared/aws-errors';
import type { KillMode, Mode } from '../shared/types';
import {
  agentFunctionArns,
  declared,
  emptyContain,
  emptyRestore,
  emptyVerify,
  forEachResource,
  mapLimit,
  paginate,
  type ReadError,
  readError,
  taggedArns,
  unique,
} from './common';
import type {
  ContainResult,
  ResourceSnapshot,
  RestoreResult,
  Surface,
  SurfaceContext,
  VerifyResult,
} from './types';

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

async function snapshot(
  ctx: SurfaceContext,
  ids: readonly string[],
): Promise<ResourceSnapshot<EventSourceMappingSnapshot>[]> {
  const snaps = await mapLimit(ids, CONCURRENCY, async (uuid) => {
    try {
      const m = await getMapping(ctx, uuid);
      const state: EventSourceMappingSnapshot = {
        uuid,
        state: m.State ?? 'Unknown',
        ...(m.EventSourceArn ? { eventSourceArn: m.EventSourceArn } : {}),
        ...(m.FunctionArn ? { functionArn: m.FunctionArn } : {}),
        ...(m.EventSourceMappingArn ? { eventSourceMappingArn: m.EventSourceMappingArn } : {}),
      };
      return { id: uuid, state };
    } catch (e) {
      if (isNotFound(e)) {
        ctx.log.warn('event source mapping does not exist: nothing to cut', { uuid });
        return undefined;
      }
      return { id: uuid, state: { uuid, state: 'Unknown', readError: readError(e) } };
    }
  });
  return snaps.filter((s) => s !== undefined);
}

async function contain(
  ctx: SurfaceContext,
  _mode: KillMode,
  snap: readonly ResourceSnapshot<EventSourceMappingSnapshot>[],
): Promise<ContainResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyContain,
    (s) => s.id,
    async ({ state: s }, out) => {
      // Disabling a mapping loses nothing, so even one whose snapshot failed is cut.
      try {
        const current = (await getMapping(ctx, s.uuid)).State ?? 'Unknown';
        if (!RUNNING.has(current)) return; // Disabled, Disabling or Deleting: nothing left to cut
        const answer = await ctx.clients.lambda.send(
          new UpdateEventSourceMappingCommand({ UUID: s.uuid, Enabled: false }),
        );
        out.changes.push({
          resource: s.uuid,
          action: 'UpdateEventSourceMapping',
          before: { state: current },
          after: { state: answer.State ?? 'Disabling' },
        });
      } catch (e) {
        if (isNotFound(e)) return; // deleted: nothing polls any more
        // ResourceInUseException: the mapping is mid-transition (Enabling, Updating, Creating). Verify re-cuts it.
        out.failures.push(toFailure(s.uuid, 'UpdateEventSourceMapping', e));
      }
    },
  );
}

async function verify(
  ctx: SurfaceContext,
  _mode: KillMode,
  snap: readonly ResourceSnapshot<EventSourceMappingSnapshot>[],
): Promise<VerifyResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyVerify,
    (s) => s.id,
    async ({ state: s }, out) => {
      try {
        const current = (await getMapping(ctx, s.uuid)).State ?? 'Unknown';
        if (current === 'Disabled' || current === 'Deleting') return;
        const mismatch = { resource: s.uuid, expected: { state: 'Disabled' }, actual: { state: current } };
        if (current === 'Disabling') out.pending.push(mismatch);
        else out.drifted.push(mismatch);
      } catch (e) {
        if (!isNotFound(e)) out.failures.push(toFailure(s.uuid, 'GetEventSourceMapping', e));
      }
    },
  );
}

async function restore(
  ctx: SurfaceContext,
  _toMode: Mode,
  snap: readonly ResourceSnapshot<EventSourceMappingSnapshot>[],
): Promise<RestoreResult> {
  return forEachResource(
    snap,
    CONCURRENCY,
    emptyRestore,
    (s) => s.id,
    async ({ state: s }, out) => {
      if (s.readError) {
        out.notRestorable.push({
          resource: s.uuid,
          reason: `its state before the kill could not be read (${s.readError.message}): enable it by hand if it should poll`,
        });
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
      try {
        const current = (await getMapping(ctx, s.uuid)).State ?? 'Unknown';
        if (WAS_ENABLED.has(current)) return;
        const answer = await ctx.clients.lambda.send(
          new UpdateEventSourceMappingCommand({ UUID: s.uuid, Enabled: true }),
        );
        out.changes.push({
          resource: s.uuid,
          action: 'UpdateEventSourceMapping',
          before: { state: current },
          after: { state: answer.State ?? 'Enabling' },
        });
      } catch (e) {
        if (isNotFound(e)) {
          out.notRestorable.push({ resource: s.uuid, reason: 'the mapping no longer exists' });
        } else {
          // ResourceInUseException while it is still Disabling: the restore can be run again.
          out.failures.push(toFailure(s.uuid, 'UpdateEventSourceMapping', e));
        }
      }
    },
  );
}

export const eventSourceMappings: Surface<EventSourceMappingSnapshot> = {
  name: 'event-source-mappings',
  appliesTo: (mode) => mode === 'full_stop',
  discover,
  snapshot,
  contain,
  verify,
  restore,
};
