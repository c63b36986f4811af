import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { rejection, type World, world } from './helpers';

/** The state table through the document client, as handlers use it. */
async function table(options = {}): Promise<
  World & {
    db: World['factory'] extends { controlPlane(): infer C }
      ? C extends { dynamo: infer D }
        ? D
        : never
      : never;
    name: string;
  }
> {
  const w = await world(options);
  return { ...w, db: w.factory.controlPlane().dynamo, name: w.cp.tableName };
}

describe('conditional writes through the document client', () => {
  test('a lock taken with attribute_not_exists cannot be taken twice; the failure carries the holder', async () => {
    const t = await table();
    const lock = (incident: string) =>
      new PutCommand({
        TableName: t.name,
        Item: { pk: 'agent#bot', sk: 'lock', incident, mode: 'full_stop' },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    await t.db.send(lock('i-1'));
    const error = await rejection(t.db.send(lock('i-2')));
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    expect(error.message).toBe('The conditional request failed');
    expect((error as unknown as ConditionalCheckFailedException).Item?.incident).toEqual({ S: 'i-1' });
    const held = await t.db.send(new GetCommand({ TableName: t.name, Key: { pk: 'agent#bot', sk: 'lock' } }));
    expect(held.Item).toEqual({ pk: 'agent#bot', sk: 'lock', incident: 'i-1', mode: 'full_stop' });
  });

  test('a mode is raised only when the new rank is higher (comparison on a stored number)', async () => {
    const t = await table();
    const raise = (rank: number) =>
      new UpdateCommand({
        TableName: t.name,
        Key: { pk: 'agent#bot', sk: 'mode' },
        UpdateExpression: 'SET #rank = :rank, #mode = :mode',
        ConditionExpression: 'attribute_not_exists(#rank) OR #rank < :rank',
        ExpressionAttributeNames: { '#rank': 'rank', '#mode': 'mode' },
        ExpressionAttributeValues: { ':rank': rank, ':mode': `m${rank}` },
        ReturnValues: 'ALL_NEW',
      });
    expect((await t.db.send(raise(2))).Attributes).toEqual({
      pk: 'agent#bot',
      sk: 'mode',
      rank: 2,
      mode: 'm2',
    });
    await t.db.send(raise(4));
    expect(await rejection(t.db.send(raise(3)))).toBeInstanceOf(ConditionalCheckFailedException);
    const item = await t.db.send(new GetCommand({ TableName: t.name, Key: { pk: 'agent#bot', sk: 'mode' } }));
    expect(item.Item).toMatchObject({ rank: 4, mode: 'm4' });
  });

  test('update expressions: if_not_exists, arithmetic, list_append, ADD to numbers and sets, REMOVE, DELETE, nested paths', async () => {
    const t = await table();
    const Key = { pk: 'incident#1', sk: 'approvals' };
    await t.db.send(
      new PutCommand({
        TableName: t.name,
        Item: {
          ...Key,
          count: 1,
          log: ['a'],
          meta: { state: 'open', n: 1 },
          temp: 'x',
          tags: new Set(['x', 'y']),
        },
      }),
    );
    const out = await t.db.send(
      new UpdateCommand({
        TableName: t.name,
        Key,
        UpdateExpression:
          'SET created = if_not_exists(created, :now), #c = #c + :one, log = list_append(log, :more), meta.#s = :closed REMOVE temp ADD approvers :alice, total :two DELETE tags :x',
        ExpressionAttributeNames: { '#c': 'count', '#s': 'state' },
        ExpressionAttributeValues: {
          ':now': '2026-01-01T00:00:00Z',
          ':one': 1,
          ':more': ['b', 'c'],
          ':closed': 'closed',
          ':alice': new Set(['alice']),
          ':two': 2,
          ':x': new Set(['x']),
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    expect(out.Attributes).toEqual({
      ...Key,
      created: '2026-01-01T00:00:00Z',
      count: 2,
      log: ['a', 'b', 'c'],
      meta: { state: 'closed', n: 1 },
      approvers: new Set(['alice']),
      total: 2,
      tags: new Set(['y']),
    });
    const again = await t.db.send(
      new UpdateCommand({
        TableName: t.name,
        Key,
        UpdateExpression: 'SET created = if_not_exists(created, :later) ADD approvers :bob',
        ExpressionAttributeValues: { ':later': 'later', ':bob': new Set(['bob']) },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    expect(again.Attributes).toEqual({ created: '2026-01-01T00:00:00Z', approvers: new Set(['alice']) });
  });

  test('conditions: BETWEEN, IN, begins_with, size, NOT, parentheses and attribute_exists on nested paths', async () => {
    const t = await table();
    const Key = { pk: 'c', sk: '1' };
    await t.db.send(
      new PutCommand({
        TableName: t.name,
        Item: { ...Key, n: 5, s: 'backstop-x', list: [1, 2, 3], m: { deep: true } },
      }),
    );
    const check = (ConditionExpression: string, ExpressionAttributeValues?: Record<string, unknown>) =>
      t.db
        .send(
          new UpdateCommand({
            TableName: t.name,
            Key,
            UpdateExpression: 'SET touched = :t',
            ConditionExpression,
            ExpressionAttributeValues: { ':t': true, ...ExpressionAttributeValues },
          }),
        )
        .then(() => true)
        .catch((e: Error) => {
          if (e instanceof ConditionalCheckFailedException) return false;
          throw e;
        });
    expect(await check('n BETWEEN :a AND :b', { ':a': 1, ':b': 5 })).toBe(true);
    expect(await check('n BETWEEN :a AND :b', { ':a': 6, ':b': 9 })).toBe(false);
    expect(await check('n IN (:a, :b)', { ':a': 4, ':b': 5 })).toBe(true);
    expect(
      await check('begins_with(s, :p) AND size(list) = :three', { ':p': 'backstop-', ':three': 3 }),
    ).toBe(true);
    expect(await check('NOT (n > :a OR attribute_exists(m.deep))', { ':a': 1 })).toBe(false);
    expect(
      await check('attribute_exists(m.deep) AND attribute_not_exists(m.shallow) AND list[1] = :two', {
        ':two': 2,
      }),
    ).toBe(true);
    expect(await check('n <> :n', { ':n': 5 })).toBe(false);
  });

  test('bad expressions are refused with the messages DynamoDB gives, and nothing changes', async () => {
    const t = await table();
    const Key = { pk: 'v', sk: '1' };
    await t.db.send(new PutCommand({ TableName: t.name, Item: { ...Key, a: 1 } }));
    const update = (UpdateExpression: string, ExpressionAttributeValues?: Record<string, unknown>) =>
      rejection(
        t.db.send(new UpdateCommand({ TableName: t.name, Key, UpdateExpression, ExpressionAttributeValues })),
      );
    expect((await update('SET a = :v', { ':v': 2, ':unused': 3 })).message).toBe(
      'Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}',
    );
    expect((await update('SET a = :missing', { ':v': 1 })).message).toMatch(/attribute value: :missing/);
    expect((await update('SET pk = :v', { ':v': 'x' })).message).toMatch(
      /Cannot update attribute pk. This attribute is part of the key/,
    );
    expect((await update('SET a = :v, a = :w', { ':v': 1, ':w': 2 })).message).toMatch(
      /Two document paths overlap/,
    );
    expect((await update('SET a = = :v', { ':v': 1 })).message).toMatch(
      /Invalid UpdateExpression: Syntax error/,
    );
    expect((await update('SET a = :v SET b = :v', { ':v': 1 })).message).toMatch(
      /The "SET" section can only be used once/,
    );
    const item = await t.db.send(new GetCommand({ TableName: t.name, Key }));
    expect(item.Item).toEqual({ ...Key, a: 1 });
  });

  test('DeleteCommand honours its condition', async () => {
    const t = await table();
    const Key = { pk: 'd', sk: '1' };
    await t.db.send(new PutCommand({ TableName: t.name, Item: { ...Key, status: 'open' } }));
    const denied = await rejection(
      t.db.send(
        new DeleteCommand({
          TableName: t.name,
          Key,
          ConditionExpression: '#s = :closed',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':closed': 'closed' },
        }),
      ),
    );
    expect(denied).toBeInstanceOf(ConditionalCheckFailedException);
    const old = await t.db.send(new DeleteCommand({ TableName: t.name, Key, ReturnValues: 'ALL_OLD' }));
    expect(old.Attributes).toEqual({ ...Key, status: 'open' });
    expect((await t.db.send(new GetCommand({ TableName: t.name, Key }))).Item).toBeUndefined();
  });
});

describe('queries and transactions', () => {
  test('Query with begins_with pages by Limit and LastEvaluatedKey, in sort order and reversed', async () => {
    const t = await table({ pageSize: 'aws' });
    for (const sk of ['snap#003', 'snap#001', 'snap#002', 'lock', 'snap#004']) {
      await t.db.send(new PutCommand({ TableName: t.name, Item: { pk: 'incident#7', sk, v: sk } }));
    }
    const query = (ExclusiveStartKey?: Record<string, unknown>, ScanIndexForward = true) =>
      t.db.send(
        new QueryCommand({
          TableName: t.name,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': 'incident#7', ':p': 'snap#' },
          Limit: 3,
          ExclusiveStartKey,
          ScanIndexForward,
        }),
      );
    const first = await query();
    expect(first.Items?.map((i) => i.sk)).toEqual(['snap#001', 'snap#002', 'snap#003']);
    expect(first.LastEvaluatedKey).toEqual({ pk: 'incident#7', sk: 'snap#003' });
    const second = await query(first.LastEvaluatedKey);
    expect(second.Items?.map((i) => i.sk)).toEqual(['snap#004']);
    expect(second.LastEvaluatedKey).toBeUndefined();
    expect((await query(undefined, false)).Items?.map((i) => i.sk)).toEqual([
      'snap#004',
      'snap#003',
      'snap#002',
    ]);
    const between = await t.db.send(
      new QueryCommand({
        TableName: t.name,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :a AND :b',
        ExpressionAttributeValues: { ':pk': 'incident#7', ':a': 'snap#002', ':b': 'snap#003' },
      }),
    );
    expect(between).toMatchObject({ Count: 2, ScannedCount: 2 });
  });

  test('a query without the partition key is refused', async () => {
    const t = await table();
    const error = await rejection(
      t.db.send(
        new QueryCommand({
          TableName: t.name,
          KeyConditionExpression: 'sk = :s',
          ExpressionAttributeValues: { ':s': 'x' },
        }),
      ),
    );
    expect(error.message).toBe('Query condition missed key schema element: pk');
  });

  test('a transaction with one failed condition is cancelled as a whole, with a reason per item', async () => {
    const t = await table();
    await t.db.send(
      new PutCommand({ TableName: t.name, Item: { pk: 'agent#a', sk: 'lock', incident: 'old' } }),
    );
    const error = await rejection(
      t.db.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: t.name, Item: { pk: 'incident#9', sk: 'request', by: 'alarm' } } },
            {
              Put: {
                TableName: t.name,
                Item: { pk: 'agent#a', sk: 'lock', incident: 'new' },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      ),
    );
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect(
      (error as unknown as TransactionCanceledException).CancellationReasons?.map((r) => r.Code),
    ).toEqual(['None', 'ConditionalCheckFailed']);
    expect(
      (await t.db.send(new GetCommand({ TableName: t.name, Key: { pk: 'incident#9', sk: 'request' } }))).Item,
    ).toBeUndefined();

    await t.db.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: t.name, Item: { pk: 'incident#9', sk: 'request', by: 'alarm' } } },
          {
            Update: {
              TableName: t.name,
              Key: { pk: 'agent#a', sk: 'lock' },
              UpdateExpression: 'SET incident = :new',
              ConditionExpression: 'incident = :old',
              ExpressionAttributeValues: { ':new': 'new', ':old': 'old' },
            },
          },
        ],
      }),
    );
    expect(
      (await t.db.send(new GetCommand({ TableName: t.name, Key: { pk: 'agent#a', sk: 'lock' } }))).Item
        ?.incident,
    ).toBe('new');
  });
});
