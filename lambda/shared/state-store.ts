/**
 * The control plane's state table: agent modes (the control flag the agent runtime reads),
 * per-agent kill locks, pre-kill snapshots, incidents, audit records waiting for delivery, the
 * manifest chain pointer and restore approvals.
 *
 * One table, string keys `pk` and `sk`:
 *
 * | item | pk | sk |
 * |---|---|---|
 * | control flag | `AGENT#<agentId>` | `MODE` |
 * | kill lock (expires through `ttl`) | `AGENT#<agentId>` | `LOCK` |
 * | snapshot of one resource | `SNAPSHOT#<agentId>` | `<surface>#<resourceId>` |
 * | snapshot cleared by a restore (kept) | `SNAPSHOT_HISTORY#<agentId>` | `<surface>#<resourceId>#<clearedAt>` |
 * | incident | `INCIDENT#<incidentId>` | `INCIDENT` |
 * | undelivered audit record | `INCIDENT#<incidentId>` | `PENDING#<object key>` |
 * | the incident's manifest pointer | `INCIDENT#<incidentId>` | `MANIFEST` |
 * | restore approval | `INCIDENT#<incidentId>` | `APPROVAL#<restoreId>#<approverArn>` |
 * | latest manifest (chain head) | `MANIFEST` | `LATEST` |
 *
 * Every decision that two executions could race on (lock, mode, first snapshot, approval,
 * manifest head) is a single conditional write; where the caller needs to know what won, the
 * failed condition returns the item (`ReturnValuesOnConditionCheckFailure: ALL_OLD`). The
 * expressions stay within the subset the embedded simulator implements: `attribute_exists`,
 * `attribute_not_exists`, `begins_with`, comparisons, AND/OR/NOT, `SET`, `ADD`, `REMOVE`,
 * Query on `pk = :pk AND begins_with(sk, :p)`, and TransactWriteItems.
 *
 * Large payloads: a snapshot state or pending audit body over 350,000 bytes is stored gzipped
 * and base64-encoded (`stateGz`/`bodyGz`); if it is still over 350,000 bytes the write is refused
 * with {@link StateItemTooLargeError} (a DynamoDB item holds at most 400 KB).
 */

import { gunzipSync, gzipSync } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  type AuditActor,
  assertAuditId,
  type ErrorSummary,
  isAuditRecordType,
  type PendingAuditRecord,
  type PendingAuditSink,
} from './audit';
import { mapLimit } from './concurrency';
import { canonicalJson, sha256Hex, snapshotSha256 } from './hash';
import {
  isKillMode,
  type KillMode,
  type KillStatus,
  MODES,
  type Mode,
  modeRank,
  SURFACE_NAMES,
  type SurfaceName,
} from './types';

/** Key and TTL attribute names of the state table, for the stack that creates it. */
export const STATE_TABLE_SCHEMA = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl' } as const;

/** Largest payload stored as plain text in one item, in bytes; above it, gzip. */
export const MAX_INLINE_PAYLOAD_BYTES = 350_000;

/** The control flag of one agent. */
export interface ModeState {
  readonly agentId: string;
  readonly mode: Mode;
  /** False in every kill mode; true only in `normal`. */
  readonly highRiskToolsEnabled: boolean;
  /** The incident that last set the flag. */
  readonly incidentId: string;
  readonly reason: string;
  /** ISO 8601. */
  readonly updatedAt: string;
  /** Increments on every change. */
  readonly version: number;
}

export interface ModeChange {
  readonly mode: Mode;
  readonly incidentId: string;
  readonly reason: string;
  readonly at: Date | string;
}

export interface ModeChangeResult {
  /** The flag before the call; undefined when the agent had none (`normal`). */
  readonly previous: ModeState | undefined;
  readonly current: ModeState;
  /** False when the agent was already at the requested mode: nothing was written. */
  readonly changed: boolean;
}

export interface LockRequest {
  readonly incidentId: string;
  readonly mode: KillMode;
  readonly at: Date | string;
  /** After this many seconds the lock counts as free (a crashed execution never blocks a later kill). */
  readonly ttlSeconds: number;
  /** The execution that holds the lock, so a later kill can tell whether it is still running. */
  readonly executionId?: string;
  /**
   * Take the lock from this incident even though it is live and at the same or a higher mode:
   * the caller has seen that its execution is no longer running. @default - never
   */
  readonly takeOverFrom?: string;
}

export interface LockHolder {
  readonly agentId: string;
  readonly incidentId: string;
  readonly mode: KillMode;
  /** ISO 8601. */
  readonly acquiredAt: string;
  /** ISO 8601. */
  readonly expiresAt: string;
  readonly executionId?: string;
}

/** A lock as stored: its holder and when it stops counting (epoch seconds, the table's TTL). */
export interface StoredLock extends LockHolder {
  readonly ttl: number;
}

/**
 * - `ACQUIRED`: there was no live lock; the caller holds it now.
 * - `REENTERED`: the caller's own incident held it (a Lambda or state retry); it holds it still.
 * - `RAISED`: another incident (`holder`) held it at a lower mode; the caller took it over.
 * - `JOINED`: another incident (`holder`) holds it at the same or a higher mode; the caller must
 *   not cut again.
 * - `TAKEN_OVER`: the caller took the lock from `takeOverFrom`, whose execution had stopped.
 *
 * `holder` is always the other incident's lock; `lock` is the caller's.
 */
export type LockOutcome =
  | { readonly outcome: 'ACQUIRED'; readonly lock: LockHolder }
  | { readonly outcome: 'REENTERED'; readonly lock: LockHolder }
  | { readonly outcome: 'RAISED'; readonly lock: LockHolder; readonly holder: LockHolder }
  | { readonly outcome: 'JOINED'; readonly holder: LockHolder }
  | { readonly outcome: 'TAKEN_OVER'; readonly lock: LockHolder; readonly holder: LockHolder };

/** A resource snapshot as stored: the pre-kill state, which incident took it, and its hash. */
export interface StoredSnapshot<S = unknown> {
  readonly id: string;
  readonly state: S;
  readonly incidentId: string;
  /** ISO 8601. */
  readonly takenAt: string;
  /** {@link snapshotSha256} of `{ id, state }`. */
  readonly sha256: string;
}

export interface PutSnapshotResult<S = unknown> {
  /** The effective snapshot, in input order: earlier entries where they existed, new ones otherwise. */
  readonly stored: StoredSnapshot<S>[];
  /** Ids whose earlier snapshot was kept (an unrestored earlier kill, or this incident's earlier attempt). */
  readonly preserved: string[];
  /** Ids stored now. */
  readonly added: string[];
}

export type IncidentStatus = 'RUNNING' | KillStatus;

export interface IncidentInput {
  readonly incidentId: string;
  /** The Step Functions execution name (the idempotency key). */
  readonly executionName: string;
  readonly status: IncidentStatus;
  readonly mode: KillMode;
  readonly agentIds: readonly string[];
  readonly requestedAt: Date | string;
  readonly reason: string;
  readonly actor: AuditActor;
}

export interface Incident extends Omit<IncidentInput, 'requestedAt' | 'agentIds'> {
  readonly agentIds: string[];
  /** ISO 8601. */
  readonly requestedAt: string;
  /** ISO 8601. */
  readonly updatedAt: string;
  readonly summary?: Record<string, unknown>;
}

/** Identifies one manifest: its incident and the SHA-256 hex of its canonical bytes. */
export interface ManifestRef {
  readonly incidentId: string;
  readonly sha256: string;
}

/** A manifest as the chain knows it: what it follows and when it was built (enough to rebuild it). */
export interface ManifestPointer extends ManifestRef {
  readonly previous: ManifestRef | null;
  /** ISO 8601: the manifest's `createdAt`. */
  readonly createdAt: string;
}

export interface Approval {
  readonly incidentId: string;
  readonly restoreId: string;
  readonly approverArn: string;
  /** ISO 8601. */
  readonly approvedAt: string;
}

/** A kill asked for a mode below the agent's current one; only a restore lowers the mode. */
export class ModeWouldLoosenError extends Error {
  override readonly name = 'ModeWouldLoosenError';
  constructor(
    readonly agentId: string,
    readonly current: ModeState,
    readonly requested: Mode,
  ) {
    super(
      `Agent ${agentId} is in ${current.mode} (incident ${current.incidentId}); a kill to ${requested} would loosen it and was refused. Only a restore lowers the mode.`,
    );
  }
}

/** The flag is not what a restore expected (another incident set it, or it is already lower). */
export class ModeChangedError extends Error {
  override readonly name = 'ModeChangedError';
  constructor(
    message: string,
    readonly current: ModeState | undefined,
  ) {
    super(message);
  }
}

/** A payload too large for one state table item even gzipped. */
export class StateItemTooLargeError extends Error {
  override readonly name = 'StateItemTooLargeError';
}

/** A stored snapshot whose state no longer matches its hash: never restore from it. */
export class SnapshotIntegrityError extends Error {
  override readonly name = 'SnapshotIntegrityError';
}

export class IncidentNotFoundError extends Error {
  override readonly name = 'IncidentNotFoundError';
}

/** The manifest chain head moved (another incident's manifest), or this incident already has a pointer. */
export class ManifestConflictError extends Error {
  override readonly name = 'ManifestConflictError';
  constructor(
    readonly latest: ManifestPointer | undefined,
    readonly existing: ManifestPointer | undefined,
  ) {
    super(
      existing
        ? `Incident ${existing.incidentId} already has a manifest pointer (sha256 ${existing.sha256})`
        : `The latest manifest is now ${latest ? `${latest.incidentId} (sha256 ${latest.sha256})` : 'none'}`,
    );
  }
}

export interface StateStoreOptions {
  /** The document client from lambda/shared/clients.ts (`removeUndefinedValues` on). */
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default - the system clock */
  readonly clock?: () => Date;
}

type Item = Record<string, unknown>;
type Key = { pk: string; sk: string };

const MODE_SK = 'MODE';
const LOCK_SK = 'LOCK';
const INCIDENT_SK = 'INCIDENT';
const CLAIM_SK = 'CLAIM';
const MANIFEST_SK = 'MANIFEST';
const LATEST_MANIFEST_KEY: Key = { pk: 'MANIFEST', sk: 'LATEST' };
const PENDING_PREFIX = 'PENDING#';
const APPROVAL_PREFIX = 'APPROVAL#';
/** Bounded retries when a conditional write fails but the returned item says it should not have (a race that moved on). */
const MAX_CONDITION_RETRIES = 5;
const MAX_SORT_KEY_BYTES = 1024;

const agentPk = (agentId: string) => `AGENT#${agentId}`;
const snapshotPk = (agentId: string) => `SNAPSHOT#${agentId}`;
const snapshotHistoryPk = (agentId: string) => `SNAPSHOT_HISTORY#${agentId}`;
const incidentPk = (incidentId: string) => `INCIDENT#${incidentId}`;

/** The state table's data access. Every method validates its input and changes nothing on bad input. */
export class StateStore implements PendingAuditSink {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly clock: () => Date;

  constructor(options: StateStoreOptions) {
    if (!options.tableName) throw new Error('StateStore needs the state table name');
    this.doc = options.doc;
    this.table = options.tableName;
    this.clock = options.clock ?? (() => new Date());
  }

  // ---- Control flag --------------------------------------------------------------------------

  /** The agent's control flag (strongly consistent); undefined means the agent is in `normal`. */
  async getMode(agentId: string): Promise<ModeState | undefined> {
    assertKeyPart('Agent id', agentId);
    const item = await this.get({ pk: agentPk(agentId), sk: MODE_SK });
    return item && toModeState(item);
  }

  /**
   * Sets the control flag to a kill mode if it ranks above the current one. Same mode: nothing is
   * written (`changed: false`, the flag keeps the incident that set it). Lower mode: throws
   * {@link ModeWouldLoosenError} and writes nothing. `highRiskToolsEnabled` becomes false.
   */
  async raiseMode(agentId: string, change: ModeChange): Promise<ModeChangeResult> {
    const { key, flag, rank } = raisedFlag(agentId, change);
    for (let attempt = 0; attempt < MAX_CONDITION_RETRIES; attempt++) {
      try {
        const { previous, current } = await this.writeMode(key, flag, {
          ...RAISE_WRITE,
          condition: 'attribute_not_exists(#pk) OR #modeRank < :rank',
          values: { ':agentId': agentId },
        });
        return { previous, current, changed: true };
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const item = await this.failedItem(err, key);
        if (!item) continue;
        const existing = toModeState(item);
        const existingRank = modeRank(existing.mode);
        if (existingRank === rank) return { previous: existing, current: existing, changed: false };
        if (existingRank > rank) throw new ModeWouldLoosenError(agentId, existing, change.mode);
      }
    }
    throw new Error(
      `raiseMode: the control flag of ${agentId} kept changing; gave up after ${MAX_CONDITION_RETRIES} attempts`,
    );
  }

  /**
   * Lowers the control flag (restore). Only the incident that set the flag may lower it, and
   * never above the current mode; otherwise throws {@link ModeChangedError} and writes nothing.
   * `highRiskToolsEnabled` becomes true only in `normal`. The item is kept (mode `normal`), not deleted.
   */
  async lowerMode(agentId: string, change: ModeChange): Promise<ModeChangeResult> {
    const { key, flag } = loweredFlag(agentId, change);
    const { incidentId } = change;
    try {
      const { previous, current } = await this.writeMode(key, flag, LOWER_WRITE);
      return { previous, current, changed: previous?.mode !== change.mode };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const item = await this.failedItem(err, key);
      const current = item && toModeState(item);
      if (!current) throw new ModeChangedError(`Agent ${agentId} has no control flag to lower`, undefined);
      if (current.incidentId !== incidentId) {
        throw new ModeChangedError(
          `The control flag of ${agentId} was set by incident ${current.incidentId}, not ${incidentId}; it was left at ${current.mode}`,
          current,
        );
      }
      throw new ModeChangedError(
        `Agent ${agentId} is in ${current.mode}; lowering to ${change.mode} would raise it (use a kill)`,
        current,
      );
    }
  }

  /**
   * {@link lowerMode}'s write as one item of a caller's transaction (a restore lowers the flag
   * only while it is still applying): the same rule, the same checks of the input.
   */
  lowerModeUpdate(agentId: string, change: ModeChange) {
    const { key, flag } = loweredFlag(agentId, change);
    return this.modeUpdate(key, flag, LOWER_WRITE);
  }

  /**
   * The conditional update raiseMode and lowerMode send: writes `flag` (mode, rank, high-risk
   * switch, incident, reason, time) and adds one to the version, if `write.condition` holds.
   * `write.update` is the SET/ADD expression; `write.names` and `write.values` hold what only the
   * caller's expressions use. Answers the flag before and after the write; a failed condition
   * throws the SDK's error, carrying the item as it stands (ReturnValuesOnConditionCheckFailure).
   */
  private async writeMode(
    key: Key,
    flag: Omit<ModeState, 'version'>,
    write: ModeWrite,
  ): Promise<{ previous: ModeState | undefined; current: ModeState }> {
    const out = await this.doc.send(
      new UpdateCommand({
        ...this.modeUpdate(key, flag, write),
        ReturnValues: 'ALL_OLD',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    const previous = out.Attributes ? toModeState(out.Attributes) : undefined;
    return { previous, current: { ...flag, version: (previous?.version ?? 0) + 1 } };
  }

  /** The update of the control flag item, alone or in a transaction. */
  private modeUpdate(key: Key, flag: Omit<ModeState, 'version'>, write: ModeWrite) {
    return {
      TableName: this.table,
      Key: key,
      UpdateExpression: write.update,
      ConditionExpression: write.condition,
      ExpressionAttributeNames: {
        ...write.names,
        '#mode': 'mode',
        '#modeRank': 'modeRank',
        '#highRisk': 'highRiskToolsEnabled',
        '#incidentId': 'incidentId',
        '#reason': 'reason',
        '#updatedAt': 'updatedAt',
        '#version': 'version',
      },
      ExpressionAttributeValues: {
        ...write.values,
        ':mode': flag.mode,
        ':rank': modeRank(flag.mode),
        ':highRisk': flag.highRiskToolsEnabled,
        ':incidentId': flag.incidentId,
        ':reason': flag.reason,
        ':at': flag.updatedAt,
        ':one': 1,
      },
    };
  }

  // ---- Kill locks ----------------------------------------------------------------------------

  /**
   * Takes the agent's kill lock with one conditional write: free (absent or expired), held by the
   * same incident, or held by another incident at a lower mode. See {@link LockOutcome}.
   */
  async acquireLock(agentId: string, request: LockRequest): Promise<LockOutcome> {
    const { key, lock, item, nowSeconds, rank } = lockItem(agentId, request);
    const takeOver = request.takeOverFrom !== undefined;
    for (let attempt = 0; attempt < MAX_CONDITION_RETRIES; attempt++) {
      try {
        const out = await this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: item,
            ConditionExpression: `attribute_not_exists(#pk) OR #ttl <= :now OR #incidentId = :incidentId OR #modeRank < :rank${
              takeOver ? ' OR #incidentId = :takeOver' : ''
            }`,
            ExpressionAttributeNames: {
              '#pk': 'pk',
              '#ttl': STATE_TABLE_SCHEMA.ttlAttribute,
              '#incidentId': 'incidentId',
              '#modeRank': 'modeRank',
            },
            ExpressionAttributeValues: {
              ':now': nowSeconds,
              ':incidentId': request.incidentId,
              ':rank': rank,
              ...(takeOver ? { ':takeOver': request.takeOverFrom } : {}),
            },
            ReturnValues: 'ALL_OLD',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        const old = out.Attributes;
        if (!old) return { outcome: 'ACQUIRED', lock };
        if (old.incidentId === request.incidentId) return { outcome: 'REENTERED', lock };
        if (Number(old.ttl) <= nowSeconds) return { outcome: 'ACQUIRED', lock };
        if (takeOver && old.incidentId === request.takeOverFrom && modeRank(old.mode as KillMode) >= rank) {
          return { outcome: 'TAKEN_OVER', lock, holder: toLockHolder(old) };
        }
        return { outcome: 'RAISED', lock, holder: toLockHolder(old) };
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const item = await this.failedItem(err, key);
        // A holder that is gone, expired, ours or lower now: the state moved under us; write again.
        if (item && Number(item.ttl) > nowSeconds && item.incidentId !== request.incidentId) {
          const holder = toLockHolder(item);
          if (modeRank(holder.mode) >= rank) return { outcome: 'JOINED', holder };
        }
      }
    }
    throw new Error(
      `acquireLock: the lock of ${agentId} kept changing; gave up after ${MAX_CONDITION_RETRIES} attempts`,
    );
  }

  /** The agent's kill lock as stored (strongly consistent), live or expired; undefined when none. */
  async getLock(agentId: string): Promise<StoredLock | undefined> {
    assertKeyPart('Agent id', agentId);
    const item = await this.get({ pk: agentPk(agentId), sk: LOCK_SK });
    return item && { ...toLockHolder(item), ttl: Number(item[STATE_TABLE_SCHEMA.ttlAttribute]) };
  }

  /**
   * Takes the agent's lock and raises its control flag in one transaction: the usual first kill
   * of an agent (or an escalation) in one round trip instead of two. Only when what the caller
   * read (`seen`, from {@link getLock} and {@link getMode}) lets the kill take the lock (none,
   * expired, or a lower mode's) and raise the flag (none, or a lower mode), and only if neither
   * item changed since. Otherwise, or when the transaction is cancelled, it writes nothing and
   * answers undefined: the caller then goes through {@link acquireLock} and {@link raiseMode},
   * which decide every other case (joining, re-entry, take-over, the same mode).
   */
  async lockAndRaise(
    agentId: string,
    request: LockRequest,
    change: ModeChange,
    seen: { readonly lock: StoredLock | undefined; readonly mode: ModeState | undefined },
  ): Promise<{ readonly lock: LockOutcome; readonly flag: ModeChangeResult } | undefined> {
    if (request.takeOverFrom !== undefined || change.mode !== request.mode) return undefined;
    const locking = lockItem(agentId, request);
    const raising = raisedFlag(agentId, change);
    const held = seen.lock;
    const live = held !== undefined && held.ttl > locking.nowSeconds;
    if (live && (held.incidentId === request.incidentId || modeRank(held.mode) >= locking.rank)) {
      return undefined;
    }
    if (seen.mode && modeRank(seen.mode.mode) >= raising.rank) return undefined;
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: locking.item,
                ...(held
                  ? {
                      ConditionExpression: '#incidentId = :seenIncident AND #acquiredAt = :seenAt',
                      ExpressionAttributeNames: { '#incidentId': 'incidentId', '#acquiredAt': 'acquiredAt' },
                      ExpressionAttributeValues: {
                        ':seenIncident': held.incidentId,
                        ':seenAt': held.acquiredAt,
                      },
                    }
                  : {
                      ConditionExpression: 'attribute_not_exists(#pk)',
                      ExpressionAttributeNames: { '#pk': 'pk' },
                    }),
              },
            },
            {
              Update: this.modeUpdate(raising.key, raising.flag, {
                update: RAISE_WRITE.update,
                condition: seen.mode ? '#version = :seenVersion' : 'attribute_not_exists(#pk)',
                names: seen.mode ? { '#agentId': 'agentId' } : RAISE_WRITE.names,
                values: {
                  ':agentId': agentId,
                  ...(seen.mode ? { ':seenVersion': seen.mode.version } : {}),
                },
              }),
            },
          ],
        }),
      );
    } catch (err) {
      if ((err as Error)?.name === 'TransactionCanceledException') return undefined;
      throw err;
    }
    const lock: LockOutcome =
      live && held
        ? { outcome: 'RAISED', lock: locking.lock, holder: toLockHolder({ ...held }) }
        : { outcome: 'ACQUIRED', lock: locking.lock };
    const flag: ModeChangeResult = {
      previous: seen.mode,
      current: { ...raising.flag, version: (seen.mode?.version ?? 0) + 1 },
      changed: true,
    };
    return { lock, flag };
  }

  /** Releases the lock if `incidentId` still holds it; otherwise leaves it and names the holder. */
  async releaseLock(
    agentId: string,
    incidentId: string,
  ): Promise<{ released: boolean; holder?: LockHolder }> {
    assertKeyPart('Agent id', agentId);
    assertAuditId('Incident id', incidentId);
    const key = { pk: agentPk(agentId), sk: LOCK_SK };
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: key,
          ConditionExpression: '#incidentId = :incidentId',
          ExpressionAttributeNames: { '#incidentId': 'incidentId' },
          ExpressionAttributeValues: { ':incidentId': incidentId },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { released: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const item = await this.failedItem(err, key);
      return item ? { released: false, holder: toLockHolder(item) } : { released: false };
    }
  }

  // ---- Snapshots -----------------------------------------------------------------------------

  /**
   * Stores the pre-kill state of each resource unless a snapshot of it is already stored: an
   * earlier kill that was not restored holds the real pre-kill state, and the killed state must
   * never overwrite it. One conditional put per resource.
   */
  async putSnapshot<S>(
    agentId: string,
    surface: SurfaceName,
    incidentId: string,
    resources: readonly { readonly id: string; readonly state: S }[],
  ): Promise<PutSnapshotResult<S>> {
    assertKeyPart('Agent id', agentId);
    assertSurface(surface);
    assertAuditId('Incident id', incidentId);
    const seen = new Set<string>();
    const prepared = resources.map((resource) => {
      if (typeof resource?.id !== 'string' || resource.id === '') {
        throw new Error(`putSnapshot: every resource needs a non-empty string id (${surface})`);
      }
      if (seen.has(resource.id))
        throw new Error(`putSnapshot: resource ${resource.id} appears twice (${surface})`);
      seen.add(resource.id);
      const sk = `${surface}#${resource.id}`;
      if (Buffer.byteLength(sk) > MAX_SORT_KEY_BYTES) {
        throw new Error(`putSnapshot: resource id ${resource.id.slice(0, 80)}... is too long for a sort key`);
      }
      const stateJson = canonicalJson(resource.state);
      return {
        resource,
        key: { pk: snapshotPk(agentId), sk },
        sha256: snapshotSha256(resource),
        payload: encodePayload('state', stateJson, `snapshot of ${resource.id}`),
      };
    });
    const takenAt = this.clock().toISOString();
    const outcomes = await mapLimit(prepared, 10, async (p) => {
      for (let attempt = 0; attempt < MAX_CONDITION_RETRIES; attempt++) {
        try {
          await this.doc.send(
            new PutCommand({
              TableName: this.table,
              Item: {
                ...p.key,
                agentId,
                surface,
                resourceId: p.resource.id,
                incidentId,
                takenAt,
                sha256: p.sha256,
                ...p.payload,
              },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            }),
          );
          const stored: StoredSnapshot<S> = {
            id: p.resource.id,
            state: p.resource.state,
            incidentId,
            takenAt,
            sha256: p.sha256,
          };
          return { stored, added: true };
        } catch (err) {
          if (!isConditionFailure(err)) throw err;
          const item = await this.failedItem(err, p.key);
          if (item) return { stored: decodeSnapshot<S>(item), added: false };
        }
      }
      throw new Error(`putSnapshot: the snapshot of ${p.resource.id} kept changing; gave up`);
    });
    return {
      stored: outcomes.map((o) => o.stored),
      preserved: outcomes.filter((o) => !o.added).map((o) => o.stored.id),
      added: outcomes.filter((o) => o.added).map((o) => o.stored.id),
    };
  }

  /**
   * The stored snapshot of one surface of an agent, each entry with its hash and incident.
   * Throws {@link SnapshotIntegrityError} if a stored state no longer matches its hash.
   */
  async getSnapshot<S = unknown>(agentId: string, surface: SurfaceName): Promise<StoredSnapshot<S>[]> {
    assertKeyPart('Agent id', agentId);
    assertSurface(surface);
    const items = await this.query(snapshotPk(agentId), `${surface}#`);
    return items.map((item) => decodeSnapshot<S>(item));
  }

  /**
   * The stored snapshots of several surfaces of an agent: one query of its snapshot partition
   * instead of one per surface (the read-back asks for every surface at once).
   */
  async getSnapshots<S = unknown>(
    agentId: string,
    surfaces: readonly SurfaceName[],
  ): Promise<Map<SurfaceName, StoredSnapshot<S>[]>> {
    assertKeyPart('Agent id', agentId);
    for (const surface of surfaces) assertSurface(surface);
    const out = new Map<SurfaceName, StoredSnapshot<S>[]>(surfaces.map((s) => [s, []]));
    if (surfaces.length === 0) return out;
    const only = surfaces.length === 1 ? `${surfaces[0]}#` : undefined;
    for (const item of await this.query(snapshotPk(agentId), only)) {
      const surface = String(item.sk).split('#', 1)[0] as SurfaceName;
      out.get(surface)?.push(decodeSnapshot<S>(item));
    }
    return out;
  }

  /**
   * After a restore put resources back: moves their snapshots to the agent's snapshot history
   * (never a plain delete) so the next kill takes a fresh one. Ids without a snapshot are
   * reported in `missing`.
   */
  async clearSnapshot(
    agentId: string,
    surface: SurfaceName,
    ids: readonly string[],
  ): Promise<{ cleared: string[]; missing: string[] }> {
    assertKeyPart('Agent id', agentId);
    assertSurface(surface);
    const clearedAt = this.clock().toISOString();
    const cleared: string[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const key = { pk: snapshotPk(agentId), sk: `${surface}#${id}` };
      const item = await this.get(key);
      if (!item) {
        missing.push(id);
        continue;
      }
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...item, pk: snapshotHistoryPk(agentId), sk: `${key.sk}#${clearedAt}`, clearedAt },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': 'pk' },
              },
            },
            {
              Delete: {
                TableName: this.table,
                Key: key,
                ConditionExpression: '#sha256 = :sha256 AND #incidentId = :incidentId',
                ExpressionAttributeNames: { '#sha256': 'sha256', '#incidentId': 'incidentId' },
                ExpressionAttributeValues: { ':sha256': item.sha256, ':incidentId': item.incidentId },
              },
            },
          ],
        }),
      );
      cleared.push(id);
    }
    return { cleared, missing };
  }

  // ---- Incidents -----------------------------------------------------------------------------

  /**
   * Makes `incidentId` this execution's, once and for good: a conditional write that only the first
   * execution to ask wins. A retry of that same execution is told it holds the claim; any other is
   * told who does, and must not write a single record into that incident.
   */
  async claimIncident(
    incidentId: string,
    executionId: string,
  ): Promise<{ readonly claimed: boolean; readonly holder: string }> {
    assertAuditId('Incident id', incidentId);
    if (!executionId) throw new Error('claimIncident: executionId is required');
    const key = { pk: incidentPk(incidentId), sk: CLAIM_SK };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key, executionId, claimedAt: this.clock().toISOString() },
          ConditionExpression: 'attribute_not_exists(#pk) OR #executionId = :executionId',
          ExpressionAttributeNames: { '#pk': 'pk', '#executionId': 'executionId' },
          ExpressionAttributeValues: { ':executionId': executionId },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { claimed: true, holder: executionId };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const item = await this.failedItem(err, key);
      return { claimed: false, holder: typeof item?.executionId === 'string' ? item.executionId : 'unknown' };
    }
  }

  /** Creates the incident once; a retry with the same id returns the stored one (`created: false`). */
  async putIncident(input: IncidentInput): Promise<{ created: boolean; incident: Incident }> {
    assertAuditId('Incident id', input.incidentId);
    assertIncidentStatus(input.status);
    if (!isKillMode(input.mode))
      throw new Error(`putIncident: ${JSON.stringify(input.mode)} is not a kill mode`);
    if (!input.executionName) throw new Error('putIncident: executionName is required');
    if (!Array.isArray(input.agentIds) || input.agentIds.length === 0) {
      throw new Error('putIncident: agentIds must name at least one agent');
    }
    for (const agentId of input.agentIds) assertKeyPart('Agent id', agentId);
    assertReason(input.reason);
    const requestedAt = toIso(input.requestedAt, 'requestedAt');
    const incident: Incident = {
      incidentId: input.incidentId,
      executionName: input.executionName,
      status: input.status,
      mode: input.mode,
      agentIds: [...input.agentIds],
      requestedAt,
      reason: input.reason,
      actor: input.actor,
      updatedAt: requestedAt,
    };
    const key = { pk: incidentPk(input.incidentId), sk: INCIDENT_SK };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key, ...incident },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true, incident };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const item = await this.failedItem(err, key);
      if (!item) throw new Error(`putIncident: ${input.incidentId} exists but could not be read back`);
      return { created: false, incident: toIncident(item) };
    }
  }

  /** Sets the incident's status and summary; throws {@link IncidentNotFoundError} if it does not exist. */
  async updateIncidentStatus(
    incidentId: string,
    status: IncidentStatus,
    summary: Record<string, unknown> = {},
  ): Promise<Incident> {
    assertAuditId('Incident id', incidentId);
    assertIncidentStatus(status);
    const summaryBytes = Buffer.byteLength(canonicalJson(summary));
    if (summaryBytes > MAX_INLINE_PAYLOAD_BYTES) {
      throw new StateItemTooLargeError(
        `Incident summary of ${incidentId} is ${summaryBytes} bytes; keep it under ${MAX_INLINE_PAYLOAD_BYTES} (details belong in the audit log)`,
      );
    }
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: incidentPk(incidentId), sk: INCIDENT_SK },
          UpdateExpression: 'SET #status = :status, #summary = :summary, #updatedAt = :at',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: {
            '#pk': 'pk',
            '#status': 'status',
            '#summary': 'summary',
            '#updatedAt': 'updatedAt',
          },
          ExpressionAttributeValues: {
            ':status': status,
            ':summary': summary,
            ':at': this.clock().toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toIncident(out.Attributes ?? {});
    } catch (err) {
      if (isConditionFailure(err)) throw new IncidentNotFoundError(`Incident ${incidentId} does not exist`);
      throw err;
    }
  }

  async getIncident(incidentId: string): Promise<Incident | undefined> {
    assertAuditId('Incident id', incidentId);
    const item = await this.get({ pk: incidentPk(incidentId), sk: INCIDENT_SK });
    return item && toIncident(item);
  }

  // ---- Undelivered audit records -------------------------------------------------------------

  /**
   * Stores audit records that could not be written to the bucket, with their exact bytes. Adding
   * the same record again (same key and hash) refreshes its error and attempt count.
   */
  async addPendingAudit(incidentId: string, records: readonly PendingAuditRecord[]): Promise<void> {
    assertAuditId('Incident id', incidentId);
    for (const r of records) {
      if (r.incidentId !== incidentId) {
        throw new Error(
          `addPendingAudit: record ${r.key} belongs to incident ${r.incidentId}, not ${incidentId}`,
        );
      }
      if (!r.key.startsWith(`incidents/${incidentId}/`)) {
        throw new Error(`addPendingAudit: ${r.key} is not under incidents/${incidentId}/`);
      }
      if (sha256Hex(r.body) !== r.sha256)
        throw new Error(`addPendingAudit: the body of ${r.key} does not match its sha256`);
    }
    const queuedAt = this.clock().toISOString();
    await mapLimit(records, 10, async (r) => {
      const key = `${PENDING_PREFIX}${r.key}`;
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: incidentPk(incidentId),
            sk: key,
            key: r.key,
            incidentId,
            chainId: r.chainId,
            seq: r.seq,
            type: r.type,
            sha256: r.sha256,
            error: r.error,
            attempts: r.attempts,
            queuedAt,
            ...encodePayload('body', r.body, `audit record ${r.key}`),
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #sha256 = :sha256',
          ExpressionAttributeNames: { '#pk': 'pk', '#sha256': 'sha256' },
          ExpressionAttributeValues: { ':sha256': r.sha256 },
        }),
      );
    });
  }

  /** The incident's undelivered audit records, by key. */
  async listPendingAudit(incidentId: string): Promise<PendingAuditRecord[]> {
    assertAuditId('Incident id', incidentId);
    const items = await this.query(incidentPk(incidentId), PENDING_PREFIX);
    return items.map(toPendingAudit);
  }

  /** Forgets pending records that have since been delivered to the bucket. */
  async removePendingAudit(incidentId: string, keys: readonly string[]): Promise<void> {
    assertAuditId('Incident id', incidentId);
    await mapLimit(keys, 10, async (key) => {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: incidentPk(incidentId), sk: `${PENDING_PREFIX}${key}` },
        }),
      );
    });
  }

  // ---- Manifest chain ------------------------------------------------------------------------

  /** The head of the manifest chain; undefined before the first manifest. */
  async getLatestManifest(): Promise<ManifestPointer | undefined> {
    const item = await this.get(LATEST_MANIFEST_KEY);
    return item && toManifestPointer(item);
  }

  /** The incident's manifest pointer, once {@link setLatestManifest} recorded it. */
  async getManifestPointer(incidentId: string): Promise<ManifestPointer | undefined> {
    assertAuditId('Incident id', incidentId);
    const item = await this.get({ pk: incidentPk(incidentId), sk: MANIFEST_SK });
    return item && toManifestPointer(item);
  }

  /**
   * Compare-and-swap of the chain head from `prev` (null: no manifest yet) to `next`, and in
   * the same transaction the incident's own pointer (once per incident). Throws
   * {@link ManifestConflictError} with the current head and pointer when either condition fails.
   */
  async setLatestManifest(prev: ManifestRef | null, next: ManifestPointer): Promise<void> {
    assertAuditId('Incident id', next.incidentId);
    if (!/^[0-9a-f]{64}$/.test(next.sha256))
      throw new Error('setLatestManifest: sha256 must be 64 hex digits');
    if ((prev === null) !== (next.previous === null) || (prev && !sameRef(prev, next.previous))) {
      throw new Error('setLatestManifest: next.previous must be the manifest it replaces');
    }
    toIso(next.createdAt, 'createdAt');
    const fields = {
      incidentId: next.incidentId,
      sha256: next.sha256,
      createdAt: next.createdAt,
      ...(next.previous && {
        previousIncidentId: next.previous.incidentId,
        previousSha256: next.previous.sha256,
      }),
    };
    const headCondition: {
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues?: Record<string, string>;
    } = prev
      ? {
          ConditionExpression: '#incidentId = :prevIncidentId AND #sha256 = :prevSha256',
          ExpressionAttributeNames: { '#incidentId': 'incidentId', '#sha256': 'sha256' },
          ExpressionAttributeValues: { ':prevIncidentId': prev.incidentId, ':prevSha256': prev.sha256 },
        }
      : { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.table, Item: { ...LATEST_MANIFEST_KEY, ...fields }, ...headCondition } },
            {
              Put: {
                TableName: this.table,
                Item: { pk: incidentPk(next.incidentId), sk: MANIFEST_SK, ...fields },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': 'pk' },
              },
            },
          ],
        }),
      );
    } catch (err) {
      if ((err as Error)?.name !== 'TransactionCanceledException') throw err;
      const [latest, existing] = await Promise.all([
        this.getLatestManifest(),
        this.getManifestPointer(next.incidentId),
      ]);
      throw new ManifestConflictError(latest, existing);
    }
  }

  // ---- Restore approvals ---------------------------------------------------------------------

  /** Records one approver's approval of a restore; a second approval by the same ARN is not counted. */
  async recordApproval(
    incidentId: string,
    restoreId: string,
    approverArn: string,
    at: Date | string,
  ): Promise<{ recorded: boolean }> {
    assertAuditId('Incident id', incidentId);
    assertAuditId('Restore id', restoreId);
    if (typeof approverArn !== 'string' || !/^arn:[^:]+:(iam|sts)::\d{12}:\S+$/.test(approverArn)) {
      throw new Error(`recordApproval: ${JSON.stringify(approverArn)} is not an IAM or STS principal ARN`);
    }
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: incidentPk(incidentId),
            sk: `${APPROVAL_PREFIX}${restoreId}#${approverArn}`,
            incidentId,
            restoreId,
            approverArn,
            approvedAt: toIso(at, 'at'),
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'pk' },
        }),
      );
      return { recorded: true };
    } catch (err) {
      if (isConditionFailure(err)) return { recorded: false };
      throw err;
    }
  }

  /** The distinct approvals of one restore, oldest first. */
  async listApprovals(incidentId: string, restoreId: string): Promise<Approval[]> {
    assertAuditId('Incident id', incidentId);
    assertAuditId('Restore id', restoreId);
    const items = await this.query(incidentPk(incidentId), `${APPROVAL_PREFIX}${restoreId}#`);
    return items
      .map((i) => ({
        incidentId: String(i.incidentId),
        restoreId: String(i.restoreId),
        approverArn: String(i.approverArn),
        approvedAt: String(i.approvedAt),
      }))
      .sort((a, b) => a.approvedAt.localeCompare(b.approvedAt));
  }

  /** How many distinct principals approved the restore. */
  async countApprovals(incidentId: string, restoreId: string): Promise<number> {
    return (await this.listApprovals(incidentId, restoreId)).length;
  }

  // ---- Plumbing ------------------------------------------------------------------------------

  private async get(key: Key): Promise<Item | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    return out.Item;
  }

  /** Every item of a partition, or those whose sort key starts with `skPrefix`. */
  private async query(pk: string, skPrefix?: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: QueryCommandInput['ExclusiveStartKey'];
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          ...(skPrefix === undefined
            ? {
                KeyConditionExpression: '#pk = :pk',
                ExpressionAttributeNames: { '#pk': 'pk' },
                ExpressionAttributeValues: { ':pk': pk },
              }
            : {
                KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
                ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
                ExpressionAttributeValues: { ':pk': pk, ':prefix': skPrefix },
              }),
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /**
   * The item that made a conditional write fail: from the error (`ALL_OLD`, marshalled as AWS
   * sends it) or, if the error does not carry it, a consistent read.
   */
  private async failedItem(err: unknown, key: Key): Promise<Item | undefined> {
    const raw = (err as { Item?: unknown }).Item;
    if (raw && typeof raw === 'object') {
      try {
        return unmarshall(raw as Record<string, AttributeValue>);
      } catch {
        // Not in the wire format: fall through to a read.
      }
    }
    return this.get(key);
  }
}

function isConditionFailure(err: unknown): boolean {
  return (err as Error)?.name === 'ConditionalCheckFailedException';
}

function sameRef(a: ManifestRef, b: ManifestRef | null): boolean {
  return b !== null && a.incidentId === b.incidentId && a.sha256 === b.sha256;
}

function assertKeyPart(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.length > 256 || /[#\s]/.test(value)) {
    throw new Error(`${what} ${JSON.stringify(value)} is not valid: 1-256 characters, no '#' or whitespace`);
  }
}

function assertSurface(surface: unknown): asserts surface is SurfaceName {
  if (!(SURFACE_NAMES as readonly unknown[]).includes(surface)) {
    throw new Error(`${JSON.stringify(surface)} is not a surface (one of ${SURFACE_NAMES.join(', ')})`);
  }
}

function assertReason(reason: unknown): asserts reason is string {
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 1024) {
    throw new Error('A reason is required (1-1024 characters)');
  }
}

const INCIDENT_STATUSES: readonly IncidentStatus[] = [
  'RUNNING',
  'CONTAINED',
  'PARTIAL',
  'FAILED',
  'REJECTED',
  'JOINED',
  'PLANNED',
];

function assertIncidentStatus(status: unknown): asserts status is IncidentStatus {
  if (!(INCIDENT_STATUSES as readonly unknown[]).includes(status)) {
    throw new Error(
      `${JSON.stringify(status)} is not an incident status (one of ${INCIDENT_STATUSES.join(', ')})`,
    );
  }
}

function toIso(value: Date | string, what: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`${what} ${JSON.stringify(value)} is not a valid time`);
  return date.toISOString();
}

/** `{ <name>: text }` when small enough, else `{ <name>Gz: base64(gzip(text)) }`; throws if still too large. */
function encodePayload(name: 'state' | 'body', text: string, what: string): Record<string, string> {
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_INLINE_PAYLOAD_BYTES) return { [name]: text };
  const gz = gzipSync(text).toString('base64');
  if (gz.length > MAX_INLINE_PAYLOAD_BYTES) {
    throw new StateItemTooLargeError(
      `The ${what} is ${bytes} bytes (${gz.length} gzipped and base64-encoded), over the ${MAX_INLINE_PAYLOAD_BYTES}-byte limit of one state table item`,
    );
  }
  return { [`${name}Gz`]: gz };
}

function decodePayload(item: Item, name: 'state' | 'body'): string {
  if (typeof item[name] === 'string') return item[name] as string;
  const gz = item[`${name}Gz`];
  if (typeof gz === 'string') return gunzipSync(Buffer.from(gz, 'base64')).toString('utf8');
  throw new Error(`State table item ${String(item.pk)} / ${String(item.sk)} has no ${name}`);
}

function decodeSnapshot<S>(item: Item): StoredSnapshot<S> {
  const id = String(item.resourceId);
  const state = JSON.parse(decodePayload(item, 'state')) as S;
  const sha256 = String(item.sha256);
  if (snapshotSha256({ id, state }) !== sha256) {
    throw new SnapshotIntegrityError(
      `The stored snapshot of ${id} (${String(item.pk)}) does not match its sha256 ${sha256}; do not restore from it`,
    );
  }
  return { id, state, incidentId: String(item.incidentId), takenAt: String(item.takenAt), sha256 };
}

interface ModeWrite {
  readonly update: string;
  readonly condition: string;
  readonly names?: Record<string, string>;
  readonly values?: Record<string, unknown>;
}

/** How a kill raises the control flag (raiseMode and lockAndRaise); the condition is the caller's. */
const RAISE_WRITE = {
  update:
    'SET #agentId = :agentId, #mode = :mode, #modeRank = :rank, #highRisk = :highRisk, #incidentId = :incidentId, #reason = :reason, #updatedAt = :at ADD #version :one',
  names: { '#pk': 'pk', '#agentId': 'agentId' },
} as const;

/** How a restore lowers the control flag: only the incident that set it, never upwards. */
const LOWER_WRITE = {
  update:
    'SET #mode = :mode, #modeRank = :rank, #highRisk = :highRisk, #reason = :reason, #updatedAt = :at ADD #version :one',
  condition: '#incidentId = :incidentId AND #modeRank >= :rank',
} as const;

/** The control flag a restore lowers to, checked. */
function loweredFlag(agentId: string, change: ModeChange) {
  if (!(MODES as readonly string[]).includes(change.mode)) {
    throw new Error(`lowerMode: ${JSON.stringify(change.mode)} is not a mode`);
  }
  return flagItem(agentId, change, change.mode === 'normal');
}

/** The control flag a kill raises, checked. */
function raisedFlag(agentId: string, change: ModeChange) {
  if (!isKillMode(change.mode))
    throw new Error(`raiseMode: ${JSON.stringify(change.mode)} is not a kill mode`);
  return { ...flagItem(agentId, change, false), rank: modeRank(change.mode) };
}

/** The flag item `change` writes (the mode is the caller's to check), and its key. */
function flagItem(agentId: string, change: ModeChange, highRiskToolsEnabled: boolean) {
  assertKeyPart('Agent id', agentId);
  const { incidentId, reason } = change;
  assertAuditId('Incident id', incidentId);
  assertReason(reason);
  const flag = {
    agentId,
    mode: change.mode,
    highRiskToolsEnabled,
    incidentId,
    reason,
    updatedAt: toIso(change.at, 'at'),
  };
  return { key: { pk: agentPk(agentId), sk: MODE_SK }, flag };
}

/** The lock item a kill writes, checked. */
function lockItem(agentId: string, request: LockRequest) {
  assertKeyPart('Agent id', agentId);
  assertAuditId('Incident id', request.incidentId);
  if (!isKillMode(request.mode))
    throw new Error(`acquireLock: ${JSON.stringify(request.mode)} is not a kill mode`);
  if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds <= 0) {
    throw new Error(`acquireLock: ttlSeconds must be a positive integer, got ${request.ttlSeconds}`);
  }
  const at = new Date(toIso(request.at, 'at'));
  const nowSeconds = Math.floor(at.getTime() / 1000);
  const ttl = nowSeconds + request.ttlSeconds;
  const lock: LockHolder = {
    agentId,
    incidentId: request.incidentId,
    mode: request.mode,
    acquiredAt: at.toISOString(),
    expiresAt: new Date(ttl * 1000).toISOString(),
    ...(request.executionId ? { executionId: request.executionId } : {}),
  };
  const rank = modeRank(request.mode);
  const key = { pk: agentPk(agentId), sk: LOCK_SK };
  return { key, lock, rank, nowSeconds, item: { ...key, ...lock, modeRank: rank, ttl } };
}

function toModeState(item: Item): ModeState {
  return {
    agentId: String(item.agentId),
    mode: item.mode as Mode,
    highRiskToolsEnabled: item.highRiskToolsEnabled === true,
    incidentId: String(item.incidentId),
    reason: String(item.reason),
    updatedAt: String(item.updatedAt),
    version: Number(item.version ?? 0),
  };
}

function toLockHolder(item: Item): LockHolder {
  return {
    agentId: String(item.agentId),
    incidentId: String(item.incidentId),
    mode: item.mode as KillMode,
    acquiredAt: String(item.acquiredAt),
    expiresAt: String(item.expiresAt),
    ...(typeof item.executionId === 'string' ? { executionId: item.executionId } : {}),
  };
}

function toIncident(item: Item): Incident {
  return {
    incidentId: String(item.incidentId),
    executionName: String(item.executionName),
    status: item.status as IncidentStatus,
    mode: item.mode as KillMode,
    agentIds: (item.agentIds as string[]) ?? [],
    requestedAt: String(item.requestedAt),
    reason: String(item.reason),
    actor: item.actor as AuditActor,
    updatedAt: String(item.updatedAt),
    ...(item.summary !== undefined && { summary: item.summary as Record<string, unknown> }),
  };
}

function toPendingAudit(item: Item): PendingAuditRecord {
  const body = decodePayload(item, 'body');
  const key = String(item.key);
  if (sha256Hex(body) !== item.sha256)
    throw new Error(`Pending audit record ${key} does not match its sha256`);
  if (!isAuditRecordType(item.type)) throw new Error(`Pending audit record ${key} has an unknown type`);
  return {
    key,
    incidentId: String(item.incidentId),
    chainId: String(item.chainId),
    seq: Number(item.seq),
    type: item.type,
    body,
    sha256: String(item.sha256),
    error: item.error as ErrorSummary,
    attempts: Number(item.attempts),
  };
}

function toManifestPointer(item: Item): ManifestPointer {
  return {
    incidentId: String(item.incidentId),
    sha256: String(item.sha256),
    createdAt: String(item.createdAt),
    previous:
      typeof item.previousIncidentId === 'string'
        ? { incidentId: item.previousIncidentId, sha256: String(item.previousSha256) }
        : null,
  };
}
