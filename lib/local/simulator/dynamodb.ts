/**
 * DynamoDB, per account and region: tables with a hash (and optional range) key and secondary
 * indexes, and the item operations the state table needs, with expressions evaluated by
 * dynamodb-expressions.ts. The document client (lib-dynamodb) works unchanged: it marshals its
 * input to these low-level commands (PutCommand arrives as PutItem, TransactWriteCommand as
 * TransactWriteItems) and unmarshals the output.
 */
import type {
  AttributeValue,
  CreateTableCommandInput,
  CreateTableCommandOutput,
  DeleteItemCommandInput,
  DeleteItemCommandOutput,
  DescribeTableCommandInput,
  DescribeTableCommandOutput,
  GetItemCommandInput,
  GetItemCommandOutput,
  KeySchemaElement,
  PutItemCommandInput,
  PutItemCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
  ScanCommandInput,
  ScanCommandOutput,
  TableDescription,
  TransactWriteItemsCommandInput,
  TransactWriteItemsCommandOutput,
  UpdateItemCommandInput,
  UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import type { Out, SimCore } from './core';
import {
  applyUpdate,
  type Condition,
  checkUpdatePaths,
  compareScalars,
  Evaluator,
  type Item,
  invalid,
  type Operand,
  Placeholders,
  parseCondition,
  parseProjection,
  parseUpdate,
  project,
  typeOf,
  type Value,
} from './dynamodb-expressions';
import { SimError } from './errors';
import { type CallContext, compact, Scoped, type TaggedResource } from './world';

interface KeyDef {
  readonly hash: string;
  readonly range?: string;
}

interface IndexRecord {
  readonly name: string;
  readonly keys: KeyDef;
  readonly global: boolean;
}

interface TableRecord {
  readonly name: string;
  readonly arn: string;
  readonly id: string;
  readonly created: Date;
  readonly keys: KeyDef;
  readonly types: Readonly<Record<string, 'S' | 'N' | 'B'>>;
  readonly indexes: readonly IndexRecord[];
  readonly input: CreateTableCommandInput;
  readonly items: Map<string, Item>;
  readonly tags: Map<string, string>;
}

interface Region {
  readonly tables: Map<string, TableRecord>;
}

type Av = Record<string, AttributeValue>;
const toItem = (av: Av | undefined): Item => (av ?? {}) as unknown as Item;
const toAv = (item: Item): Av => structuredClone(item) as unknown as Av;

const MAX_ITEM_BYTES = 400 * 1024;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function notFound(table: string): SimError {
  return new SimError(
    'ResourceNotFoundException',
    `Requested resource not found: Table: ${table} not found`,
    400,
  );
}

function conditionFailed(old: Item | undefined, returnOld: boolean): SimError {
  return new SimError(
    'ConditionalCheckFailedException',
    'The conditional request failed',
    400,
    returnOld && old ? { Item: toAv(old) } : {},
  );
}

function keyDef(schema: readonly KeySchemaElement[] | undefined): KeyDef {
  const hash = schema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
  const range = schema?.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  if (!hash || (schema?.length ?? 0) > 2)
    throw invalid(
      '1 validation error detected: KeySchema must have exactly one HASH key and at most one RANGE key',
    );
  return { hash, range };
}

function checkValue(v: Value, where: string): void {
  const members = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  if (members.length !== 1) {
    throw invalid(
      `Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes (${where})`,
    );
  }
  if (v.N !== undefined && !NUMBER.test(v.N))
    throw invalid(`The parameter cannot be converted to a numeric value: ${v.N}`);
  for (const set of ['SS', 'NS', 'BS'] as const) {
    const values = v[set];
    if (values === undefined) continue;
    if (values.length === 0)
      throw invalid(
        `One or more parameter values were invalid: An ${set === 'SS' ? 'string' : set === 'NS' ? 'number' : 'binary'} set  may not be empty`,
      );
    const seen = new Set(values.map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('base64'))));
    if (seen.size !== values.length) throw invalid('Input collection contains duplicates.');
  }
  if (v.M) for (const [k, x] of Object.entries(v.M)) checkValue(x, `${where}.${k}`);
  if (v.L) for (const [i, x] of v.L.entries()) checkValue(x, `${where}[${i}]`);
}

/** The placeholders a request declares (ExpressionAttributeNames and ExpressionAttributeValues). */
function placeholdersOf(input: {
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Av;
}): Placeholders {
  return new Placeholders(
    input.ExpressionAttributeNames,
    input.ExpressionAttributeValues as Record<string, Value> | undefined,
  );
}

/**
 * Throws ConditionalCheckFailedException unless the write's condition (if any) holds for the item
 * it would replace, carrying that item when the request asked for `ALL_OLD` on failure.
 */
function requireCondition(
  condition: Condition | undefined,
  evaluator: Evaluator,
  old: Item | undefined,
  onFailure: string | undefined,
): void {
  if (condition && !evaluator.condition(condition, old)) throw conditionFailed(old, onFailure === 'ALL_OLD');
}

/** The members of a single-item write that its condition check reads. */
interface ConditionalWriteInput {
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Av;
  readonly ReturnValuesOnConditionCheckFailure?: string;
}

type Projection = ReturnType<typeof parseProjection>;

/** A read's FilterExpression and ProjectionExpression (Query, Scan), each parsed when present. */
function readExpressions(
  input: { FilterExpression?: string; ProjectionExpression?: string },
  placeholders: Placeholders,
): { filter?: Condition; projection?: Projection } {
  return {
    filter: input.FilterExpression
      ? parseCondition(input.FilterExpression, 'FilterExpression', placeholders)
      : undefined,
    projection: input.ProjectionExpression
      ? parseProjection(input.ProjectionExpression, placeholders)
      : undefined,
  };
}

export class DynamoDbService {
  private readonly regions = new Scoped<Region>(() => ({ tables: new Map() }));

  constructor(private readonly core: SimCore) {}

  private table(ctx: CallContext, name: string | undefined): TableRecord {
    if (!name)
      throw invalid(
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
      );
    const tableName = name.startsWith('arn:') ? name.split('/').pop()! : name;
    const table = this.regions.get(ctx.accountId, ctx.region).tables.get(tableName);
    if (!table) throw notFound(tableName);
    return table;
  }

  private keyString(table: TableRecord, item: Item): string {
    const part = (name: string | undefined) => {
      if (!name) return '';
      const v = item[name];
      return `${typeOf(v)}:${v.S ?? v.N ?? Buffer.from(v.B ?? []).toString('base64')}`;
    };
    return JSON.stringify([part(table.keys.hash), part(table.keys.range)]);
  }

  /** Checks a Key argument: exactly the key attributes, with their declared types. */
  private checkKey(table: TableRecord, key: Item | undefined): Item {
    if (!key)
      throw invalid(
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null",
      );
    const names = [table.keys.hash, table.keys.range].filter((n): n is string => n !== undefined);
    const given = Object.keys(key);
    if (given.length !== names.length || !names.every((n) => key[n] !== undefined)) {
      throw invalid('The provided key element does not match the schema');
    }
    for (const n of names) {
      if (typeOf(key[n]) !== table.types[n])
        throw invalid('The provided key element does not match the schema');
    }
    return key;
  }

  private checkItem(table: TableRecord, item: Item): void {
    for (const [name, v] of Object.entries(item)) checkValue(v, name);
    for (const name of [table.keys.hash, table.keys.range]) {
      if (!name) continue;
      const v = item[name];
      if (!v) throw invalid(`One or more parameter values were invalid: Missing the key ${name} in the item`);
      const actual = typeOf(v);
      if (actual !== table.types[name]) {
        throw invalid(
          `One or more parameter values were invalid: Type mismatch for key ${name} expected: ${table.types[name]} actual: ${actual}`,
        );
      }
      if (v.S === '' || (v.B && v.B.length === 0)) {
        throw invalid(
          `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${name}`,
        );
      }
    }
    for (const index of table.indexes) {
      for (const name of [index.keys.hash, index.keys.range]) {
        const v = name ? item[name] : undefined;
        if (name && v && typeOf(v) !== table.types[name]) {
          throw invalid(
            `One or more parameter values were invalid: Type mismatch for Index Key ${name} Expected: ${table.types[name]} Actual: ${typeOf(v)} IndexName: ${index.name}`,
          );
        }
      }
    }
    if (JSON.stringify(item).length > MAX_ITEM_BYTES)
      throw invalid('Item size has exceeded the maximum allowed size');
  }

  private keyOf(table: TableRecord, item: Item): Item {
    const key: Item = { [table.keys.hash]: item[table.keys.hash] };
    if (table.keys.range) key[table.keys.range] = item[table.keys.range];
    return key;
  }

  private returnValues(mode: string | undefined, allowed: readonly string[]): string {
    const value = mode ?? 'NONE';
    if (!allowed.includes(value)) throw invalid(`Return values set to invalid value: ${value}`);
    return value;
  }

  private describe(t: TableRecord): TableDescription {
    return compact({
      AttributeDefinitions: structuredClone(t.input.AttributeDefinitions),
      TableName: t.name,
      KeySchema: structuredClone(t.input.KeySchema),
      TableStatus: 'ACTIVE' as const,
      CreationDateTime: new Date(t.created),
      ProvisionedThroughput: {
        NumberOfDecreasesToday: 0,
        ReadCapacityUnits: t.input.ProvisionedThroughput?.ReadCapacityUnits ?? 0,
        WriteCapacityUnits: t.input.ProvisionedThroughput?.WriteCapacityUnits ?? 0,
      },
      TableSizeBytes: [...t.items.values()].reduce((n, i) => n + JSON.stringify(i).length, 0),
      ItemCount: t.items.size,
      TableArn: t.arn,
      TableId: t.id,
      BillingModeSummary: t.input.BillingMode ? { BillingMode: t.input.BillingMode } : undefined,
      GlobalSecondaryIndexes: t.input.GlobalSecondaryIndexes?.map((g) => ({
        IndexName: g.IndexName,
        KeySchema: structuredClone(g.KeySchema),
        Projection: structuredClone(g.Projection),
        IndexStatus: 'ACTIVE' as const,
        IndexArn: `${t.arn}/index/${g.IndexName}`,
        ItemCount: 0,
        IndexSizeBytes: 0,
      })),
      LocalSecondaryIndexes: t.input.LocalSecondaryIndexes?.map((l) => ({
        IndexName: l.IndexName,
        KeySchema: structuredClone(l.KeySchema),
        Projection: structuredClone(l.Projection),
        IndexArn: `${t.arn}/index/${l.IndexName}`,
      })),
      DeletionProtectionEnabled: t.input.DeletionProtectionEnabled ?? false,
    });
  }

  private condition(expression: string | undefined, placeholders: Placeholders): Condition | undefined {
    return expression === undefined
      ? undefined
      : parseCondition(expression, 'ConditionExpression', placeholders);
  }

  /**
   * What PutItem and DeleteItem check before they write the item under `key`: every placeholder is
   * used, and the ConditionExpression holds for the item stored there. Answers that item and its
   * key string.
   */
  private conditionalWrite(
    table: TableRecord,
    key: Item,
    input: ConditionalWriteInput,
  ): { keyStr: string; old: Item | undefined } {
    const placeholders = placeholdersOf(input);
    const condition = this.condition(input.ConditionExpression, placeholders);
    placeholders.checkAllUsed();
    const keyStr = this.keyString(table, key);
    const old = table.items.get(keyStr);
    requireCondition(condition, new Evaluator(placeholders), old, input.ReturnValuesOnConditionCheckFailure);
    return { keyStr, old };
  }

  // ---- AWS actions ----

  CreateTable(input: CreateTableCommandInput, ctx: CallContext): Out<CreateTableCommandOutput> {
    const name = input.TableName;
    if (!name || !/^[a-zA-Z0-9_.-]{3,255}$/.test(name))
      throw invalid(`TableName must be 3-255 characters of [a-zA-Z0-9_.-]: ${name ?? '(none)'}`);
    const region = this.regions.get(ctx.accountId, ctx.region);
    if (region.tables.has(name))
      throw new SimError('ResourceInUseException', `Table already exists: ${name}`, 400);
    const keys = keyDef(input.KeySchema);
    const types: Record<string, 'S' | 'N' | 'B'> = {};
    for (const d of input.AttributeDefinitions ?? []) {
      if (
        d.AttributeName &&
        (d.AttributeType === 'S' || d.AttributeType === 'N' || d.AttributeType === 'B')
      ) {
        types[d.AttributeName] = d.AttributeType;
      }
    }
    const indexes: IndexRecord[] = [
      ...(input.GlobalSecondaryIndexes ?? []).map((g) => ({
        name: g.IndexName!,
        keys: keyDef(g.KeySchema),
        global: true,
      })),
      ...(input.LocalSecondaryIndexes ?? []).map((l) => ({
        name: l.IndexName!,
        keys: keyDef(l.KeySchema),
        global: false,
      })),
    ];
    const keyNames = new Set(
      [keys.hash, keys.range, ...indexes.flatMap((i) => [i.keys.hash, i.keys.range])].filter(Boolean),
    );
    if (keyNames.size !== Object.keys(types).length || ![...keyNames].every((n) => types[n!])) {
      throw invalid(
        'One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions',
      );
    }
    const table: TableRecord = {
      name,
      arn: `arn:${ctx.partition}:dynamodb:${ctx.region}:${ctx.accountId}:table/${name}`,
      id: this.core.ids.uuid(),
      created: ctx.now,
      keys,
      types,
      indexes,
      input: structuredClone(input),
      items: new Map(),
      tags: new Map((input.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
    };
    region.tables.set(name, table);
    return { TableDescription: this.describe(table) };
  }

  DescribeTable(input: DescribeTableCommandInput, ctx: CallContext): Out<DescribeTableCommandOutput> {
    return { Table: this.describe(this.table(ctx, input.TableName)) };
  }

  GetItem(input: GetItemCommandInput, ctx: CallContext): Out<GetItemCommandOutput> {
    const table = this.table(ctx, input.TableName);
    const key = this.checkKey(table, toItem(input.Key));
    const placeholders = new Placeholders(input.ExpressionAttributeNames, undefined);
    const projection = input.ProjectionExpression
      ? parseProjection(input.ProjectionExpression, placeholders)
      : undefined;
    placeholders.checkAllUsed();
    const item = table.items.get(this.keyString(table, key));
    if (!item) return {};
    return { Item: toAv(projection ? project(item, projection) : item) };
  }

  PutItem(input: PutItemCommandInput, ctx: CallContext): Out<PutItemCommandOutput> {
    const table = this.table(ctx, input.TableName);
    const item = structuredClone(toItem(input.Item));
    if (!input.Item)
      throw invalid(
        "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null",
      );
    this.checkItem(table, item);
    const returnValues = this.returnValues(input.ReturnValues, ['NONE', 'ALL_OLD']);
    const { keyStr, old } = this.conditionalWrite(table, item, input);
    table.items.set(keyStr, item);
    return returnValues === 'ALL_OLD' && old ? { Attributes: toAv(old) } : {};
  }

  UpdateItem(input: UpdateItemCommandInput, ctx: CallContext): Out<UpdateItemCommandOutput> {
    const table = this.table(ctx, input.TableName);
    const key = this.checkKey(table, toItem(input.Key));
    if (input.AttributeUpdates)
      throw invalid('AttributeUpdates (legacy) is not modelled by the simulator; use UpdateExpression');
    const returnValues = this.returnValues(input.ReturnValues, [
      'NONE',
      'ALL_OLD',
      'UPDATED_OLD',
      'ALL_NEW',
      'UPDATED_NEW',
    ]);
    const placeholders = placeholdersOf(input);
    const actions = input.UpdateExpression ? parseUpdate(input.UpdateExpression, placeholders) : undefined;
    const condition = this.condition(input.ConditionExpression, placeholders);
    placeholders.checkAllUsed();
    if (actions)
      checkUpdatePaths(
        actions,
        [table.keys.hash, table.keys.range].filter((n): n is string => n !== undefined),
      );
    const keyStr = this.keyString(table, key);
    const old = table.items.get(keyStr);
    const evaluator = new Evaluator(placeholders);
    requireCondition(condition, evaluator, old, input.ReturnValuesOnConditionCheckFailure);
    const base = old ?? structuredClone(key);
    const { item, touched } = actions
      ? applyUpdate(actions, base, evaluator)
      : { item: structuredClone(base), touched: new Set<string>() };
    this.checkItem(table, item);
    table.items.set(keyStr, item);
    const pick = (source: Item | undefined) => {
      const out: Item = {};
      for (const name of touched) if (source?.[name]) out[name] = source[name];
      return out;
    };
    switch (returnValues) {
      case 'ALL_OLD':
        return old ? { Attributes: toAv(old) } : {};
      case 'ALL_NEW':
        return { Attributes: toAv(item) };
      case 'UPDATED_OLD':
        return old ? { Attributes: toAv(pick(old)) } : {};
      case 'UPDATED_NEW':
        return { Attributes: toAv(pick(item)) };
      default:
        return {};
    }
  }

  DeleteItem(input: DeleteItemCommandInput, ctx: CallContext): Out<DeleteItemCommandOutput> {
    const table = this.table(ctx, input.TableName);
    const key = this.checkKey(table, toItem(input.Key));
    const returnValues = this.returnValues(input.ReturnValues, ['NONE', 'ALL_OLD']);
    const { keyStr, old } = this.conditionalWrite(table, key, input);
    table.items.delete(keyStr);
    return returnValues === 'ALL_OLD' && old ? { Attributes: toAv(old) } : {};
  }

  /** Checks the shape of a key condition: `hash = :v`, optionally AND one condition on the range key. */
  private keyCondition(condition: Condition, keys: KeyDef): void {
    const parts: Condition[] = [];
    const flatten = (c: Condition) => {
      if (c.type === 'and') {
        flatten(c.a);
        flatten(c.b);
      } else parts.push(c);
    };
    flatten(condition);
    const attribute = (o: Operand) =>
      o.type === 'path' && o.path.length === 1 && 'key' in o.path[0] ? o.path[0].key : undefined;
    const isValue = (o: Operand) => o.type === 'value';
    let hashSeen = false;
    let rangeSeen = false;
    for (const c of parts) {
      if (c.type === 'compare' && attribute(c.a) === keys.hash && c.op === '=' && isValue(c.b)) {
        if (hashSeen) throw invalid('KeyConditionExpressions must only contain one condition per key');
        hashSeen = true;
        continue;
      }
      const onRange =
        (c.type === 'compare' &&
          ['=', '<', '<=', '>', '>='].includes(c.op) &&
          isValue(c.b) &&
          attribute(c.a)) ||
        (c.type === 'between' && isValue(c.low) && isValue(c.high) && attribute(c.a)) ||
        (c.type === 'fn' && c.name === 'begins_with' && isValue(c.args[1]) && attribute(c.args[0]));
      if (onRange && onRange === keys.range && !rangeSeen) {
        rangeSeen = true;
        continue;
      }
      if (onRange && onRange !== keys.range && onRange !== keys.hash) {
        throw invalid(`Query condition missed key schema element: ${keys.range ?? keys.hash}`);
      }
      throw invalid(
        'Invalid operator used in KeyConditionExpression: query key conditions support =, <, <=, >, >=, BETWEEN and begins_with on the key attributes, joined by AND',
      );
    }
    if (!hashSeen) throw invalid(`Query condition missed key schema element: ${keys.hash}`);
  }

  Query(input: QueryCommandInput, ctx: CallContext): Out<QueryCommandOutput> {
    const table = this.table(ctx, input.TableName);
    let keys = table.keys;
    if (input.IndexName !== undefined) {
      const index = table.indexes.find((i) => i.name === input.IndexName);
      if (!index) {
        throw invalid(`The table does not have the specified index: ${input.IndexName}`);
      }
      keys = index.keys;
    }
    if (!input.KeyConditionExpression) {
      throw invalid(
        'Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.',
      );
    }
    const placeholders = placeholdersOf(input);
    const keyCondition = parseCondition(input.KeyConditionExpression, 'KeyConditionExpression', placeholders);
    this.keyCondition(keyCondition, keys);
    const { filter, projection } = readExpressions(input, placeholders);
    placeholders.checkAllUsed();
    const evaluator = new Evaluator(placeholders);
    const matching = [...table.items.values()].filter((item) => evaluator.condition(keyCondition, item));
    const range = keys.range;
    matching.sort((a, b) => {
      const byRange = range && a[range] && b[range] ? (compareScalars(a[range], b[range]) ?? 0) : 0;
      if (byRange !== 0) return byRange;
      const ka = this.keyString(table, a);
      const kb = this.keyString(table, b);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    if (input.ScanIndexForward === false) matching.reverse();
    return this.pageOf(table, keys, matching, input, filter, projection, evaluator);
  }

  Scan(input: ScanCommandInput, ctx: CallContext): Out<ScanCommandOutput> {
    const table = this.table(ctx, input.TableName);
    const placeholders = placeholdersOf(input);
    const { filter, projection } = readExpressions(input, placeholders);
    placeholders.checkAllUsed();
    const items = [...table.items.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, item]) => item);
    return this.pageOf(table, table.keys, items, input, filter, projection, new Evaluator(placeholders));
  }

  private pageOf(
    table: TableRecord,
    keys: KeyDef,
    ordered: Item[],
    input: { Limit?: number; ExclusiveStartKey?: Av; Select?: string },
    filter: Condition | undefined,
    projection: Projection | undefined,
    evaluator: Evaluator,
  ) {
    if (input.Limit !== undefined && (!Number.isInteger(input.Limit) || input.Limit < 1)) {
      throw invalid(
        `1 validation error detected: Value '${input.Limit}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1`,
      );
    }
    let start = 0;
    if (input.ExclusiveStartKey) {
      const esk = toItem(input.ExclusiveStartKey);
      const at = ordered.findIndex((item) => this.keyString(table, item) === this.keyString(table, esk));
      if (at < 0)
        throw invalid(
          'The provided starting key is invalid: The provided key element does not match the schema',
        );
      start = at + 1;
    }
    const pageSize = this.core.settings.pageSize;
    const wanted = input.Limit ?? Number.POSITIVE_INFINITY;
    const size = pageSize === 'aws' ? wanted : Math.min(wanted, pageSize);
    const evaluated = ordered.slice(start, start + size);
    const more = start + size < ordered.length;
    const kept = filter ? evaluated.filter((item) => evaluator.condition(filter, item)) : evaluated;
    const last = evaluated[evaluated.length - 1];
    let lastKey: Item | undefined;
    if (more && last) {
      lastKey = this.keyOf(table, last);
      for (const name of [keys.hash, keys.range]) if (name && last[name]) lastKey[name] = last[name];
    }
    const countOnly = input.Select === 'COUNT';
    return compact({
      Items: countOnly ? undefined : kept.map((item) => toAv(projection ? project(item, projection) : item)),
      Count: kept.length,
      ScannedCount: evaluated.length,
      LastEvaluatedKey: lastKey ? toAv(lastKey) : undefined,
    });
  }

  TransactWriteItems(
    input: TransactWriteItemsCommandInput,
    ctx: CallContext,
  ): Out<TransactWriteItemsCommandOutput> {
    const entries = input.TransactItems ?? [];
    if (entries.length === 0 || entries.length > 100) {
      throw invalid('1 validation error detected: TransactItems must have between 1 and 100 items');
    }
    interface Planned {
      table: TableRecord;
      keyStr: string;
      old: Item | undefined;
      next: Item | undefined | 'unchanged';
      failed: boolean;
      returnOld: boolean;
    }
    const plans: Planned[] = [];
    const seen = new Set<string>();
    for (const entry of entries) {
      const ops = [entry.ConditionCheck, entry.Put, entry.Update, entry.Delete].filter(
        (x) => x !== undefined,
      );
      if (ops.length !== 1)
        throw invalid('TransactItems can only contain one of Check, Put, Update or Delete');
      const op = ops[0]!;
      const table = this.table(ctx, op.TableName);
      const placeholders = placeholdersOf(op);
      let key: Item;
      let next: Planned['next'] = 'unchanged';
      let actions: ReturnType<typeof parseUpdate> | undefined;
      if (entry.Put) {
        const item = structuredClone(toItem(entry.Put.Item));
        this.checkItem(table, item);
        key = this.keyOf(table, item);
        next = item;
      } else {
        key = this.checkKey(table, toItem((op as { Key?: Av }).Key));
        if (entry.Delete) next = undefined;
        if (entry.Update) {
          if (!entry.Update.UpdateExpression)
            throw invalid('UpdateExpression is required in a transactional Update');
          actions = parseUpdate(entry.Update.UpdateExpression, placeholders);
          checkUpdatePaths(
            actions,
            [table.keys.hash, table.keys.range].filter((n): n is string => n !== undefined),
          );
        }
      }
      const conditionText = (op as { ConditionExpression?: string }).ConditionExpression;
      if (entry.ConditionCheck && !conditionText)
        throw invalid('ConditionExpression is required in a ConditionCheck');
      const condition = conditionText
        ? parseCondition(conditionText, 'ConditionExpression', placeholders)
        : undefined;
      placeholders.checkAllUsed();
      const keyStr = this.keyString(table, key);
      const target = `${table.name}|${keyStr}`;
      if (seen.has(target))
        throw invalid('Transaction request cannot include multiple operations on one item');
      seen.add(target);
      const old = table.items.get(keyStr);
      const evaluator = new Evaluator(placeholders);
      const failed = condition !== undefined && !evaluator.condition(condition, old);
      if (!failed && actions) {
        next = applyUpdate(actions, old ?? structuredClone(key), evaluator).item;
        this.checkItem(table, next);
      }
      const returnOld =
        (op as { ReturnValuesOnConditionCheckFailure?: string }).ReturnValuesOnConditionCheckFailure ===
        'ALL_OLD';
      plans.push({ table, keyStr, old, next, failed, returnOld });
    }
    if (plans.some((p) => p.failed)) {
      const reasons = plans.map((p) =>
        p.failed
          ? compact({
              Code: 'ConditionalCheckFailed',
              Message: 'The conditional request failed',
              Item: p.returnOld && p.old ? toAv(p.old) : undefined,
            })
          : { Code: 'None' },
      );
      throw new SimError(
        'TransactionCanceledException',
        `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        400,
        { CancellationReasons: reasons },
      );
    }
    for (const p of plans) {
      if (p.next === 'unchanged') continue;
      if (p.next === undefined) p.table.items.delete(p.keyStr);
      else p.table.items.set(p.keyStr, p.next);
    }
    return {};
  }

  // ---- inspection ----

  /** Every item of a table, unmarshalled by the caller as needed. */
  items(accountId: string, region: string, tableName: string): Record<string, AttributeValue>[] {
    const table = this.regions.get(accountId, region).tables.get(tableName);
    if (!table) throw new Error(`no table ${tableName} in ${accountId}/${region}`);
    return [...table.items.values()].map(toAv);
  }

  /** Taggable resources (tables), for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, state] of this.regions.entries()) {
      for (const t of state.tables.values()) yield { accountId, region, arn: t.arn, tags: t.tags };
    }
  }
}
