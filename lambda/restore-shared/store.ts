/**
 * The restore path's items in the control plane's state table (lambda/shared/state-store.ts holds
 * the flag, the kill locks, the snapshots and the approvals; this file adds what only restores use):
 *
 * | item | pk | sk |
 * |---|---|---|
 * | the agent's restore lock (one restore at a time; expires through `ttl`) | `AGENT#<agentId>` | `RESTORE` |
 * | one restore (its request, status, decision, task token, outcome) | `RESTORE#<restoreId>` | `RESTORE` |
 * | how many restores are pending (the `RestoresPending` gauge) | `RESTORES` | `PENDING` |
 *
 * Every decision two callers could race on (the lock, each status change, lowering the flag) is
 * one conditional write. The task token stays in the table: nothing here returns it to a caller
 * outside the control plane (see {@link publicView}).
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { assertAuditId } from '../shared/audit';
import { STATE_TABLE_SCHEMA } from '../shared/state-store';
import type { RestoreRecord, RestoreStatus } from './types';

export interface AgentRestoreLock {
  readonly agentId: string;
  readonly restoreId: string;
  readonly incidentId: string;
  /** ISO 8601. */
  readonly acquiredAt: string;
  /** ISO 8601: the lock counts as free after this (a restore that died never blocks the next one). */
  readonly expiresAt: string;
}

/** A restore's record as a caller outside the control plane may see it: never the task token. */
export function publicView(record: RestoreRecord): Omit<RestoreRecord, 'taskToken'> {
  const { taskToken: _token, ...rest } = record;
  return rest;
}

type Item = Record<string, unknown>;

const RESTORE_SK = 'RESTORE';
export const restoreKey = (restoreId: string) => ({ pk: `RESTORE#${restoreId}`, sk: RESTORE_SK });
const lockKey = (agentId: string) => ({ pk: `AGENT#${agentId}`, sk: RESTORE_SK });
const PENDING_KEY = { pk: 'RESTORES', sk: 'PENDING' };
const TTL = STATE_TABLE_SCHEMA.ttlAttribute;

function isConditionFailure(err: unknown): boolean {
  return (err as Error)?.name === 'ConditionalCheckFailedException';
}

function toLock(item: Item): AgentRestoreLock {
  return {
    agentId: String(item.agentId),
    restoreId: String(item.restoreId),
    incidentId: String(item.incidentId),
    acquiredAt: String(item.acquiredAt),
    expiresAt: String(item.expiresAt),
  };
}

function toRecord(item: Item): RestoreRecord {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as unknown as RestoreRecord;
}

export class RestoreStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  // ---- The agent's restore lock -----------------------------------------------------------------

  /**
   * Takes the agent's restore lock with one conditional write: free, expired, this restore's own
   * (a retry), or the restore named by `takeOverFrom` (the caller saw that its execution ended).
   */
  async claimAgent(
    agentId: string,
    lock: { restoreId: string; incidentId: string; ttlSeconds: number; takeOverFrom?: string },
    attempt = 0,
  ): Promise<{ claimed: true } | { claimed: false; holder: AgentRestoreLock }> {
    assertAuditId('Restore id', lock.restoreId);
    const now = this.clock();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const expires = nowSeconds + lock.ttlSeconds;
    const item = {
      ...lockKey(agentId),
      agentId,
      restoreId: lock.restoreId,
      incidentId: lock.incidentId,
      acquiredAt: now.toISOString(),
      expiresAt: new Date(expires * 1000).toISOString(),
      [TTL]: expires,
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          ConditionExpression: `attribute_not_exists(#pk) OR #ttl <= :now OR #restoreId = :restoreId${
            lock.takeOverFrom ? ' OR #restoreId = :takeOver' : ''
          }`,
          ExpressionAttributeNames: { '#pk': 'pk', '#ttl': TTL, '#restoreId': 'restoreId' },
          ExpressionAttributeValues: {
            ':now': nowSeconds,
            ':restoreId': lock.restoreId,
            ...(lock.takeOverFrom ? { ':takeOver': lock.takeOverFrom } : {}),
          },
        }),
      );
      return { claimed: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const holder = await this.getAgentLock(agentId);
      // The holder expired or was released in between: write again (a few times at most).
      if (!holder && attempt < 3) return this.claimAgent(agentId, lock, attempt + 1);
      if (!holder) throw new Error(`the restore lock of ${agentId} kept changing; gave up`);
      return { claimed: false, holder };
    }
  }

  /** The agent's live restore lock, if any (an expired one is not returned). */
  async getAgentLock(agentId: string): Promise<AgentRestoreLock | undefined> {
    const item = await this.read(lockKey(agentId));
    if (!item || Number(item[TTL]) <= Math.floor(this.clock().getTime() / 1000)) return undefined;
    return toLock(item);
  }

  /** Releases the lock if this restore still holds it. */
  async releaseAgent(agentId: string, restoreId: string): Promise<boolean> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.table,
          Key: lockKey(agentId),
          ConditionExpression: '#restoreId = :restoreId',
          ExpressionAttributeNames: { '#restoreId': 'restoreId' },
          ExpressionAttributeValues: { ':restoreId': restoreId },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * The incident holding the agent's kill lock (kill prepare takes it, kill finalize releases it),
   * when the lock is live: a kill of the agent is running.
   */
  async runningKill(agentId: string): Promise<string | undefined> {
    const item = await this.read({ pk: `AGENT#${agentId}`, sk: 'LOCK' });
    if (!item || Number(item[TTL]) <= Math.floor(this.clock().getTime() / 1000)) return undefined;
    return String(item.incidentId);
  }

  // ---- Restores ---------------------------------------------------------------------------------

  /** Records a new restore; a second record under the same id is refused (returns false). */
  async create(record: RestoreRecord): Promise<boolean> {
    assertAuditId('Restore id', record.restoreId);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...restoreKey(record.restoreId), ...record },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': 'pk' },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async get(restoreId: string): Promise<RestoreRecord | undefined> {
    assertAuditId('Restore id', restoreId);
    const item = await this.read(restoreKey(restoreId));
    return item && toRecord(item);
  }

  /**
   * Moves a restore from one of `from` to `to`, setting `fields` (and removing `remove`) in the
   * same conditional write. Answers the record after the write, or, when the restore was not in
   * one of `from`, the record as it stands (undefined if there is none).
   */
  async transition(
    restoreId: string,
    from: readonly RestoreStatus[],
    to: RestoreStatus,
    fields: Partial<Omit<RestoreRecord, 'status' | 'restoreId'>> = {},
    remove: readonly (keyof RestoreRecord)[] = [],
  ): Promise<{ ok: true; record: RestoreRecord } | { ok: false; record: RestoreRecord | undefined }> {
    assertAuditId('Restore id', restoreId);
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':to': to };
    const sets = ['#status = :to'];
    Object.entries(fields).forEach(([key, value], i) => {
      if (value === undefined) return;
      names[`#f${i}`] = key;
      values[`:f${i}`] = value;
      sets.push(`#f${i} = :f${i}`);
    });
    const removes = remove.map((key, i) => {
      names[`#r${i}`] = key;
      return `#r${i}`;
    });
    const condition = from.map((status, i) => {
      values[`:from${i}`] = status;
      return `#status = :from${i}`;
    });
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: restoreKey(restoreId),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: `attribute_exists(#pk) AND (${condition.join(' OR ')})`,
          ExpressionAttributeNames: { ...names, '#pk': 'pk' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { ok: true, record: toRecord(out.Attributes ?? {}) };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return { ok: false, record: await this.get(restoreId) };
    }
  }

  // ---- The RestoresPending gauge ------------------------------------------------------------------

  /** Adds `delta` to the number of pending restores and answers the new number (never below 0). */
  async adjustPending(delta: number): Promise<number> {
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: PENDING_KEY,
        UpdateExpression: 'ADD #pending :delta',
        ExpressionAttributeNames: { '#pending': 'pending' },
        ExpressionAttributeValues: { ':delta': delta },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Math.max(0, Number(out.Attributes?.pending ?? 0));
  }

  private async read(key: { pk: string; sk: string }): Promise<Item | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }),
    );
    return out.Item;
  }
}
