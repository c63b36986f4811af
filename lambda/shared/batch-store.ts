import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mapLimit } from './concurrency';
import { incidentPk, queryIncidentItems } from './incident-items';
import type { KillTarget, PrepareOutput } from './kill-types';

/**
 * The agents of a fleet kill, in the state table: Prepare writes them in batches (one item per
 * batch, each well under DynamoDB's 400 KB), so that neither its output nor any state's payload
 * carries the whole fleet past Step Functions' 256 KB. Each child execution loads its own batch;
 * Finalize loads them all back. The agents a kill could not cut at all (joined to another kill, or
 * whose kill role was refused) are kept the same way when they are too many to list in the output.
 */
export class BatchStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Writes every batch. */
  async putBatches(incidentId: string, batches: readonly (readonly KillTarget[])[]): Promise<void> {
    const items = batches.map((targets, batch) => ({
      pk: pk(incidentId),
      sk: batchSk(batch),
      batch,
      targets,
    }));
    await this.writeAll(items);
  }

  async getBatch(incidentId: string, batch: number): Promise<KillTarget[]> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: pk(incidentId), sk: batchSk(batch) },
        ConsistentRead: true,
      }),
    );
    if (!out.Item) throw new Error(`batch ${batch} of incident ${incidentId} is not in the state table`);
    return out.Item.targets as KillTarget[];
  }

  /** Every target of every batch of the incident, in batch order. */
  async allTargets(incidentId: string): Promise<KillTarget[]> {
    const items = await this.query(incidentId, BATCH_PREFIX);
    return items
      .sort((a, b) => Number(a.batch) - Number(b.batch))
      .flatMap((item) => item.targets as KillTarget[]);
  }

  /** Keeps a list too long for the state machine's payload (joined, unreachable agents). */
  async putList(incidentId: string, name: ListName, entries: readonly unknown[]): Promise<void> {
    const chunks: unknown[][] = [];
    for (let i = 0; i < entries.length; i += LIST_CHUNK) chunks.push(entries.slice(i, i + LIST_CHUNK));
    await this.writeAll(
      chunks.map((chunk, i) => ({
        pk: pk(incidentId),
        sk: `${LIST_PREFIX}${name}#${pad(i)}`,
        entries: chunk,
      })),
    );
  }

  async getList<T>(incidentId: string, name: ListName): Promise<T[]> {
    const items = await this.query(incidentId, `${LIST_PREFIX}${name}#`);
    return items.sort((a, b) => String(a.sk).localeCompare(String(b.sk))).flatMap((i) => i.entries as T[]);
  }

  /** One PutItem per item, 25 at a time (the worker role holds the item calls of the table, not its batch calls). */
  private async writeAll(items: readonly Record<string, unknown>[]): Promise<void> {
    await mapLimit(items, 25, (Item) => this.doc.send(new PutCommand({ TableName: this.tableName, Item })));
  }

  private query(incidentId: string, prefix: string): Promise<Record<string, unknown>[]> {
    return queryIncidentItems(this.doc, this.tableName, incidentId, prefix);
  }
}

export type ListName = 'joined' | 'unreachable';

/** Entries of a kept list per item (an entry is a few hundred bytes at most). */
const LIST_CHUNK = 500;
const BATCH_PREFIX = 'BATCH#';
const LIST_PREFIX = 'LIST#';
const pad = (n: number) => String(n).padStart(5, '0');
const pk = incidentPk;
const batchSk = (batch: number) => `${BATCH_PREFIX}${pad(batch)}`;

/** Agents listed by name in Prepare's output (joined, unreachable); past it, the state table has them. */
export const MAX_LISTED_IN_OUTPUT = 100;

/** The joined and unreachable agents of a kill, whole, whether Prepare's output lists them or the table keeps them. */
export async function fullLists(
  store: BatchStore,
  prepare: PrepareOutput,
): Promise<{ joined: PrepareOutput['joined']; unreachable: NonNullable<PrepareOutput['unreachable']> }> {
  const [joined, unreachable] = await Promise.all([
    (prepare.joinedCount ?? 0) > prepare.joined.length
      ? store.getList<PrepareOutput['joined'][number]>(prepare.incidentId, 'joined')
      : prepare.joined,
    (prepare.unreachableCount ?? 0) > (prepare.unreachable?.length ?? 0)
      ? store.getList<NonNullable<PrepareOutput['unreachable']>[number]>(prepare.incidentId, 'unreachable')
      : (prepare.unreachable ?? []),
  ]);
  return { joined, unreachable };
}
