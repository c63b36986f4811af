/**
 * DynamoDB expressions: a tokenizer and recursive-descent parser for condition, filter, key
 * condition, update and projection expressions, and their evaluation over low-level
 * AttributeValues.
 *
 * Conditions: `= <> < <= > >=`, `BETWEEN`, `IN`, `AND`, `OR`, `NOT`, parentheses,
 * `attribute_exists`, `attribute_not_exists`, `attribute_type`, `begins_with`, `contains`,
 * `size`. Updates: `SET p = v`, `v + v`, `v - v`, `if_not_exists(p, v)`, `list_append(a, b)`,
 * `REMOVE p`, `ADD p v` (numbers and sets), `DELETE p v` (sets). Paths: names, `#name`
 * placeholders, nested `a.b` and list elements `a[0]`. Errors carry DynamoDB's messages.
 */
import { SimError } from './errors';

/** A low-level AttributeValue (exactly one member set). */
export interface Value {
  S?: string;
  N?: string;
  B?: Uint8Array;
  SS?: string[];
  NS?: string[];
  BS?: Uint8Array[];
  M?: Record<string, Value>;
  L?: Value[];
  NULL?: boolean;
  BOOL?: boolean;
}
export type Item = Record<string, Value>;

export function invalid(message: string): SimError {
  return new SimError('ValidationException', message, 400);
}

// ---- tokens ----

type TokenKind = 'name' | 'attr-name' | 'attr-value' | 'number' | 'punct' | 'end';
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

const PUNCT = ['<>', '<=', '>=', '=', '<', '>', '(', ')', '[', ']', ',', '.', '+', '-'];

function tokenize(source: string, what: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = source.slice(i);
    const word = /^[#:]?[A-Za-z0-9_]+/.exec(rest);
    if (word) {
      const text = word[0];
      const kind: TokenKind =
        text[0] === '#'
          ? 'attr-name'
          : text[0] === ':'
            ? 'attr-value'
            : /^\d+$/.test(text)
              ? 'number'
              : 'name';
      if ((kind === 'attr-name' || kind === 'attr-value') && text.length === 1) {
        throw invalid(`Invalid ${what}: Syntax error; token: "${text}", near: "${rest.slice(0, 12)}"`);
      }
      tokens.push({ kind, text });
      i += text.length;
      continue;
    }
    const punct = PUNCT.find((p) => rest.startsWith(p));
    if (!punct) throw invalid(`Invalid ${what}: Syntax error; token: "${c}", near: "${rest.slice(0, 12)}"`);
    tokens.push({ kind: 'punct', text: punct });
    i += punct.length;
  }
  tokens.push({ kind: 'end', text: '<EOF>' });
  return tokens;
}

// ---- AST ----

export type PathElement = { readonly key: string } | { readonly index: number };
export type Path = readonly PathElement[];

export type Operand =
  | { readonly type: 'path'; readonly path: Path }
  | { readonly type: 'value'; readonly name: string }
  | { readonly type: 'size'; readonly path: Path }
  | { readonly type: 'if_not_exists'; readonly path: Path; readonly fallback: Operand }
  | { readonly type: 'list_append'; readonly a: Operand; readonly b: Operand }
  | { readonly type: 'arith'; readonly op: '+' | '-'; readonly a: Operand; readonly b: Operand };

export type Condition =
  | { readonly type: 'and' | 'or'; readonly a: Condition; readonly b: Condition }
  | { readonly type: 'not'; readonly a: Condition }
  | { readonly type: 'compare'; readonly op: string; readonly a: Operand; readonly b: Operand }
  | { readonly type: 'between'; readonly a: Operand; readonly low: Operand; readonly high: Operand }
  | { readonly type: 'in'; readonly a: Operand; readonly list: readonly Operand[] }
  | { readonly type: 'fn'; readonly name: string; readonly args: readonly Operand[] };

export interface UpdateActions {
  readonly set: readonly { path: Path; value: Operand }[];
  readonly remove: readonly Path[];
  readonly add: readonly { path: Path; value: Operand }[];
  readonly delete: readonly { path: Path; value: Operand }[];
}

/** Resolves placeholders and records which ones an expression used. */
export class Placeholders {
  readonly usedNames = new Set<string>();
  readonly usedValues = new Set<string>();

  constructor(
    private readonly names: Readonly<Record<string, string>> | undefined,
    private readonly values: Readonly<Record<string, Value>> | undefined,
  ) {
    if (names && Object.keys(names).length === 0) invalidEmpty('ExpressionAttributeNames');
    if (values && Object.keys(values).length === 0) invalidEmpty('ExpressionAttributeValues');
  }

  name(token: string): string {
    const resolved = this.names?.[token];
    if (resolved === undefined) {
      throw invalid(
        `An expression attribute name used in the document path is not defined; attribute name: ${token}`,
      );
    }
    this.usedNames.add(token);
    return resolved;
  }

  value(token: string): Value {
    const resolved = this.values?.[token];
    if (resolved === undefined) {
      throw invalid(
        `An expression attribute value used in expression is not defined; attribute value: ${token}`,
      );
    }
    this.usedValues.add(token);
    return resolved;
  }

  /** DynamoDB refuses placeholders that no expression of the request used. */
  checkAllUsed(): void {
    const unusedNames = Object.keys(this.names ?? {}).filter((n) => !this.usedNames.has(n));
    if (unusedNames.length > 0) {
      throw invalid(
        `Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`,
      );
    }
    const unusedValues = Object.keys(this.values ?? {}).filter((v) => !this.usedValues.has(v));
    if (unusedValues.length > 0) {
      throw invalid(
        `Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`,
      );
    }
  }
}

function invalidEmpty(member: string): never {
  throw invalid(`${member} must not be empty`);
}

const CONDITION_FUNCTIONS = new Set([
  'attribute_exists',
  'attribute_not_exists',
  'attribute_type',
  'begins_with',
  'contains',
]);

class Parser {
  private pos = 0;
  private readonly tokens: Token[];

  constructor(
    source: string,
    private readonly what: string,
    private readonly placeholders: Placeholders,
  ) {
    if (source.trim() === '') throw invalid(`Invalid ${what}: The expression can not be empty;`);
    this.tokens = tokenize(source, what);
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    this.pos++;
    return t;
  }

  private isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'name' && t.text.toUpperCase() === word;
  }

  private syntax(): SimError {
    const t = this.peek();
    return invalid(
      `Invalid ${this.what}: Syntax error; token: "${t.text}", near: "${this.tokens
        .slice(Math.max(0, this.pos - 1), this.pos + 2)
        .map((x) => x.text)
        .join(' ')}"`,
    );
  }

  private expect(text: string): void {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) {
      this.pos--;
      throw this.syntax();
    }
  }

  end(): void {
    if (this.peek().kind !== 'end') throw this.syntax();
  }

  path(): Path {
    const elements: PathElement[] = [];
    const element = () => {
      const t = this.next();
      if (t.kind === 'attr-name') elements.push({ key: this.placeholders.name(t.text) });
      else if (t.kind === 'name') elements.push({ key: t.text });
      else {
        this.pos--;
        throw this.syntax();
      }
    };
    element();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'punct' && t.text === '.') {
        this.next();
        element();
      } else if (t.kind === 'punct' && t.text === '[') {
        this.next();
        const n = this.next();
        if (n.kind !== 'number') throw this.syntax();
        elements.push({ index: Number(n.text) });
        this.expect(']');
      } else {
        return elements;
      }
    }
  }

  /** An operand of a condition: a path, a value or size(path). */
  operand(): Operand {
    const t = this.peek();
    if (t.kind === 'attr-value') {
      this.next();
      this.placeholders.value(t.text);
      return { type: 'value', name: t.text };
    }
    if (t.kind === 'name' && t.text === 'size' && this.peek(1).text === '(') {
      this.next();
      this.expect('(');
      const path = this.path();
      this.expect(')');
      return { type: 'size', path };
    }
    if (t.kind === 'name' || t.kind === 'attr-name') return { type: 'path', path: this.path() };
    throw this.syntax();
  }

  condition(): Condition {
    let left = this.andCondition();
    while (this.isWord('OR')) {
      this.next();
      left = { type: 'or', a: left, b: this.andCondition() };
    }
    return left;
  }

  private andCondition(): Condition {
    let left = this.notCondition();
    while (this.isWord('AND')) {
      this.next();
      left = { type: 'and', a: left, b: this.notCondition() };
    }
    return left;
  }

  private notCondition(): Condition {
    if (this.isWord('NOT')) {
      this.next();
      return { type: 'not', a: this.notCondition() };
    }
    return this.primary();
  }

  private primary(): Condition {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === '(') {
      this.next();
      const inner = this.condition();
      this.expect(')');
      return inner;
    }
    if (t.kind === 'name' && CONDITION_FUNCTIONS.has(t.text) && this.peek(1).text === '(') {
      this.next();
      this.expect('(');
      const args: Operand[] = [this.operand()];
      while (this.peek().text === ',') {
        this.next();
        args.push(this.operand());
      }
      this.expect(')');
      const arity = t.text === 'attribute_exists' || t.text === 'attribute_not_exists' ? 1 : 2;
      if (args.length !== arity) {
        throw invalid(
          `Invalid ${this.what}: Incorrect number of operands for operator or function; operator or function: ${t.text}, number of operands: ${args.length}`,
        );
      }
      if ((arity === 1 || t.text === 'attribute_type') && args[0].type !== 'path') {
        throw invalid(
          `Invalid ${this.what}: Operator or function requires a document path; operator or function: ${t.text}`,
        );
      }
      return { type: 'fn', name: t.text, args };
    }
    const a = this.operand();
    const op = this.peek();
    if (op.kind === 'punct' && ['=', '<>', '<', '<=', '>', '>='].includes(op.text)) {
      this.next();
      return { type: 'compare', op: op.text, a, b: this.operand() };
    }
    if (this.isWord('BETWEEN')) {
      this.next();
      const low = this.operand();
      if (!this.isWord('AND')) throw this.syntax();
      this.next();
      return { type: 'between', a, low, high: this.operand() };
    }
    if (this.isWord('IN')) {
      this.next();
      this.expect('(');
      const list: Operand[] = [this.operand()];
      while (this.peek().text === ',') {
        this.next();
        list.push(this.operand());
      }
      this.expect(')');
      return { type: 'in', a, list };
    }
    throw this.syntax();
  }

  /** The right-hand side of a SET action. */
  private setOperand(): Operand {
    const t = this.peek();
    if (t.kind === 'name' && this.peek(1).text === '(') {
      if (t.text === 'if_not_exists') {
        this.next();
        this.expect('(');
        const path = this.path();
        this.expect(',');
        const fallback = this.setOperand();
        this.expect(')');
        return { type: 'if_not_exists', path, fallback };
      }
      if (t.text === 'list_append') {
        this.next();
        this.expect('(');
        const a = this.setOperand();
        this.expect(',');
        const b = this.setOperand();
        this.expect(')');
        return { type: 'list_append', a, b };
      }
      throw invalid(`Invalid ${this.what}: Invalid function name; function: ${t.text}`);
    }
    return this.operand();
  }

  private setValue(): Operand {
    const a = this.setOperand();
    const op = this.peek();
    if (op.kind === 'punct' && (op.text === '+' || op.text === '-')) {
      this.next();
      return { type: 'arith', op: op.text, a, b: this.setOperand() };
    }
    return a;
  }

  update(): UpdateActions {
    const set: { path: Path; value: Operand }[] = [];
    const remove: Path[] = [];
    const add: { path: Path; value: Operand }[] = [];
    const del: { path: Path; value: Operand }[] = [];
    const seen = new Set<string>();
    while (this.peek().kind !== 'end') {
      const clause = this.next();
      const word = clause.kind === 'name' ? clause.text.toUpperCase() : '';
      if (!['SET', 'REMOVE', 'ADD', 'DELETE'].includes(word)) {
        this.pos--;
        throw this.syntax();
      }
      if (seen.has(word))
        throw invalid(
          `Invalid ${this.what}: The "${word}" section can only be used once in an update expression;`,
        );
      seen.add(word);
      for (;;) {
        const path = this.path();
        if (word === 'SET') {
          this.expect('=');
          set.push({ path, value: this.setValue() });
        } else if (word === 'REMOVE') {
          remove.push(path);
        } else {
          const value = this.operand();
          if (value.type !== 'value') throw this.syntax();
          (word === 'ADD' ? add : del).push({ path, value });
        }
        if (this.peek().text !== ',') break;
        this.next();
      }
    }
    return { set, remove, add, delete: del };
  }

  projection(): Path[] {
    const paths: Path[] = [this.path()];
    while (this.peek().text === ',') {
      this.next();
      paths.push(this.path());
    }
    return paths;
  }
}

export function parseCondition(source: string, what: string, placeholders: Placeholders): Condition {
  const parser = new Parser(source, what, placeholders);
  const condition = parser.condition();
  parser.end();
  return condition;
}

export function parseUpdate(source: string, placeholders: Placeholders): UpdateActions {
  const parser = new Parser(source, 'UpdateExpression', placeholders);
  const actions = parser.update();
  parser.end();
  return actions;
}

export function parseProjection(source: string, placeholders: Placeholders): Path[] {
  const parser = new Parser(source, 'ProjectionExpression', placeholders);
  const paths = parser.projection();
  parser.end();
  return paths;
}

// ---- values ----

export function typeOf(v: Value): string {
  return Object.keys(v).find((k) => (v as Record<string, unknown>)[k] !== undefined) ?? 'NULL';
}

function compareNumbers(a: string, b: string): number {
  const intA = /^-?\d+$/.test(a);
  const intB = /^-?\d+$/.test(b);
  if (intA && intB) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return Number(a) - Number(b);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Orders two scalars of the same type (N, S or B); undefined when they cannot be ordered. */
export function compareScalars(a: Value, b: Value): number | undefined {
  if (a.N !== undefined && b.N !== undefined) return compareNumbers(a.N, b.N);
  if (a.S !== undefined && b.S !== undefined) return a.S < b.S ? -1 : a.S > b.S ? 1 : 0;
  if (a.B !== undefined && b.B !== undefined) return compareBytes(a.B, b.B);
  return undefined;
}

export function equalValues(a: Value, b: Value): boolean {
  const ta = typeOf(a);
  if (ta !== typeOf(b)) return false;
  switch (ta) {
    case 'N':
      return compareNumbers(a.N!, b.N!) === 0;
    case 'S':
      return a.S === b.S;
    case 'B':
      return compareBytes(a.B!, b.B!) === 0;
    case 'BOOL':
      return a.BOOL === b.BOOL;
    case 'NULL':
      return true;
    case 'SS':
      return sameSet(a.SS!, b.SS!, (x, y) => x === y);
    case 'NS':
      return sameSet(a.NS!, b.NS!, (x, y) => compareNumbers(x, y) === 0);
    case 'BS':
      return sameSet(a.BS!, b.BS!, (x, y) => compareBytes(x, y) === 0);
    case 'L':
      return a.L!.length === b.L!.length && a.L!.every((x, i) => equalValues(x, b.L![i]));
    case 'M': {
      const ka = Object.keys(a.M!);
      return (
        ka.length === Object.keys(b.M!).length &&
        ka.every((k) => b.M![k] !== undefined && equalValues(a.M![k], b.M![k]))
      );
    }
    default:
      return false;
  }
}

function sameSet<T>(a: T[], b: T[], eq: (x: T, y: T) => boolean): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => eq(x, y)));
}

export function getPath(item: Item | undefined, path: Path): Value | undefined {
  let current: Value | undefined = item ? { M: item } : undefined;
  for (const element of path) {
    if (!current) return undefined;
    if ('key' in element) current = current.M?.[element.key];
    else current = current.L?.[element.index];
  }
  return current;
}

export function pathText(path: Path): string {
  return path.map((e) => ('key' in e ? e.key : `[${e.index}]`)).join('.');
}

// ---- evaluation ----

export class Evaluator {
  constructor(private readonly placeholders: Placeholders) {}

  operand(op: Operand, item: Item | undefined): Value | undefined {
    switch (op.type) {
      case 'path':
        return getPath(item, op.path);
      case 'value':
        return this.placeholders.value(op.name);
      case 'size': {
        const v = getPath(item, op.path);
        if (!v) return undefined;
        const t = typeOf(v);
        const size =
          t === 'S'
            ? Buffer.byteLength(v.S!)
            : t === 'B'
              ? v.B!.length
              : t === 'SS'
                ? v.SS!.length
                : t === 'NS'
                  ? v.NS!.length
                  : t === 'BS'
                    ? v.BS!.length
                    : t === 'L'
                      ? v.L!.length
                      : t === 'M'
                        ? Object.keys(v.M!).length
                        : undefined;
        if (size === undefined) {
          throw invalid(
            `Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: ${t}`,
          );
        }
        return { N: String(size) };
      }
      case 'if_not_exists':
        return getPath(item, op.path) ?? this.operand(op.fallback, item);
      case 'list_append': {
        const a = this.operand(op.a, item);
        const b = this.operand(op.b, item);
        if (!a?.L || !b?.L) {
          throw invalid(
            'Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: not a list',
          );
        }
        return { L: [...a.L, ...b.L] };
      }
      case 'arith': {
        const a = this.operand(op.a, item);
        const b = this.operand(op.b, item);
        if (!a || !b)
          throw invalid('The provided expression refers to an attribute that does not exist in the item');
        if (a.N === undefined || b.N === undefined) {
          throw invalid(`An operand in the update expression has an incorrect data type`);
        }
        return { N: arithmetic(a.N, b.N, op.op) };
      }
    }
  }

  condition(c: Condition, item: Item | undefined): boolean {
    switch (c.type) {
      case 'and':
        return this.condition(c.a, item) && this.condition(c.b, item);
      case 'or':
        return this.condition(c.a, item) || this.condition(c.b, item);
      case 'not':
        return !this.condition(c.a, item);
      case 'compare': {
        const a = this.operand(c.a, item);
        const b = this.operand(c.b, item);
        if (c.op === '=') return a !== undefined && b !== undefined && equalValues(a, b);
        if (c.op === '<>') return !(a !== undefined && b !== undefined && equalValues(a, b));
        if (!a || !b) return false;
        const order = compareScalars(a, b);
        if (order === undefined) return false;
        return c.op === '<' ? order < 0 : c.op === '<=' ? order <= 0 : c.op === '>' ? order > 0 : order >= 0;
      }
      case 'between': {
        const a = this.operand(c.a, item);
        const low = this.operand(c.low, item);
        const high = this.operand(c.high, item);
        if (!a || !low || !high) return false;
        const bounds = compareScalars(low, high);
        if (bounds !== undefined && bounds > 0) {
          throw invalid(
            'Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound',
          );
        }
        const lo = compareScalars(a, low);
        const hi = compareScalars(a, high);
        return lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
      }
      case 'in': {
        const a = this.operand(c.a, item);
        return (
          a !== undefined &&
          c.list.some((o) => {
            const v = this.operand(o, item);
            return v !== undefined && equalValues(a, v);
          })
        );
      }
      case 'fn': {
        const [first, second] = c.args;
        switch (c.name) {
          case 'attribute_exists':
            return this.operand(first, item) !== undefined;
          case 'attribute_not_exists':
            return this.operand(first, item) === undefined;
          case 'attribute_type': {
            const v = this.operand(first, item);
            const t = this.operand(second, item);
            return v !== undefined && t?.S !== undefined && typeOf(v) === t.S;
          }
          case 'begins_with': {
            const v = this.operand(first, item);
            const p = this.operand(second, item);
            if (!v || !p) return false;
            if (v.S !== undefined && p.S !== undefined) return v.S.startsWith(p.S);
            if (v.B !== undefined && p.B !== undefined)
              return Buffer.from(v.B).subarray(0, p.B.length).equals(Buffer.from(p.B));
            return false;
          }
          case 'contains': {
            const v = this.operand(first, item);
            const x = this.operand(second, item);
            if (!v || !x) return false;
            if (v.S !== undefined && x.S !== undefined) return v.S.includes(x.S);
            if (v.SS && x.S !== undefined) return v.SS.includes(x.S);
            if (v.NS && x.N !== undefined) return v.NS.some((n) => compareNumbers(n, x.N!) === 0);
            if (v.BS && x.B !== undefined) return v.BS.some((b) => compareBytes(b, x.B!) === 0);
            if (v.L) return v.L.some((e) => equalValues(e, x));
            return false;
          }
          default:
            throw invalid(`Invalid function name; function: ${c.name}`);
        }
      }
    }
  }
}

function arithmetic(a: string, b: string, op: '+' | '-'): string {
  if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b))
    return String(op === '+' ? BigInt(a) + BigInt(b) : BigInt(a) - BigInt(b));
  const r = op === '+' ? Number(a) + Number(b) : Number(a) - Number(b);
  return String(Number(r.toPrecision(15)));
}

// ---- applying updates ----

function overlap(a: Path, b: Path): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if ('key' in x !== 'key' in y) return false;
    if ('key' in x ? x.key !== (y as { key: string }).key : x.index !== (y as { index: number }).index)
      return false;
  }
  return true;
}

/** Checks an update's paths: no two may overlap, and key attributes may not change. */
export function checkUpdatePaths(actions: UpdateActions, keyNames: readonly string[]): void {
  const all = [
    ...actions.set.map((a) => a.path),
    ...actions.remove,
    ...actions.add.map((a) => a.path),
    ...actions.delete.map((a) => a.path),
  ];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      if (overlap(all[i], all[j])) {
        throw invalid(
          `Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [${pathText(all[i])}], path two: [${pathText(all[j])}]`,
        );
      }
    }
    const top = all[i][0];
    if ('key' in top && keyNames.includes(top.key)) {
      throw invalid(
        `One or more parameter values were invalid: Cannot update attribute ${top.key}. This attribute is part of the key`,
      );
    }
  }
  for (const a of actions.add) {
    if (a.path.length !== 1)
      throw invalid('Invalid UpdateExpression: ADD can only be used on top-level attributes');
  }
}

function setPath(item: Item, path: Path, value: Value | undefined): void {
  let container: Value = { M: item };
  for (let i = 0; i < path.length - 1; i++) {
    const element = path[i];
    const next = 'key' in element ? container.M?.[element.key] : container.L?.[element.index];
    if (!next || (!next.M && !next.L))
      throw invalid('The document path provided in the update expression is invalid for update');
    container = next;
  }
  const last = path[path.length - 1];
  if ('key' in last) {
    if (!container.M)
      throw invalid('The document path provided in the update expression is invalid for update');
    if (value === undefined) delete container.M[last.key];
    else container.M[last.key] = value;
    return;
  }
  if (!container.L)
    throw invalid('The document path provided in the update expression is invalid for update');
  if (value === undefined) {
    if (last.index < container.L.length) container.L.splice(last.index, 1);
  } else if (last.index >= container.L.length) {
    container.L.push(value);
  } else {
    container.L[last.index] = value;
  }
}

/**
 * Applies an update to a copy of `item` and returns it with the top-level attributes it touched.
 * Right-hand sides are evaluated against the item as it was before the update, as DynamoDB does.
 */
export function applyUpdate(
  actions: UpdateActions,
  item: Item,
  evaluator: Evaluator,
): { item: Item; touched: Set<string> } {
  const before = structuredClone(item);
  const after = structuredClone(item);
  const touched = new Set<string>();
  const top = (p: Path) => (p[0] as { key: string }).key;
  const sets = actions.set.map((a) => {
    const v = evaluator.operand(a.value, before);
    if (v === undefined) {
      throw invalid('The provided expression refers to an attribute that does not exist in the item');
    }
    return { path: a.path, value: v };
  });
  for (const s of sets) {
    setPath(after, s.path, structuredClone(s.value));
    touched.add(top(s.path));
  }
  // Remove list elements from the highest index down so that earlier removals do not shift later ones.
  const removals = [...actions.remove].sort((a, b) => {
    const ia = a[a.length - 1];
    const ib = b[b.length - 1];
    return 'index' in ia && 'index' in ib ? ib.index - ia.index : 0;
  });
  for (const p of removals) {
    if (getPath(after, p.slice(0, -1)) !== undefined || p.length === 1) setPath(after, p, undefined);
    touched.add(top(p));
  }
  for (const a of actions.add) {
    const value = evaluator.operand(a.value, before)!;
    const current = getPath(after, a.path);
    const name = top(a.path);
    touched.add(name);
    if (value.N !== undefined) {
      if (current && current.N === undefined)
        throw invalid('An operand in the update expression has an incorrect data type');
      after[name] = { N: current ? arithmetic(current.N!, value.N, '+') : value.N };
    } else if (value.SS || value.NS || value.BS) {
      const kind = value.SS ? 'SS' : value.NS ? 'NS' : 'BS';
      if (current && !current[kind])
        throw invalid('An operand in the update expression has an incorrect data type');
      const merged = [...(current?.[kind] ?? [])] as (string | Uint8Array)[];
      for (const x of value[kind] as (string | Uint8Array)[]) {
        if (
          !merged.some((y) =>
            equalValues({ [kind.slice(0, 1)]: y } as Value, { [kind.slice(0, 1)]: x } as Value),
          )
        )
          merged.push(x);
      }
      after[name] = { [kind]: merged } as Value;
    } else {
      throw invalid(
        'Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: must be a number or a set',
      );
    }
  }
  for (const d of actions.delete) {
    const value = evaluator.operand(d.value, before)!;
    const kind = value.SS ? 'SS' : value.NS ? 'NS' : value.BS ? 'BS' : undefined;
    if (!kind) {
      throw invalid(
        'Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: must be a set',
      );
    }
    const name = top(d.path);
    touched.add(name);
    const current = getPath(after, d.path);
    if (!current) continue;
    if (!current[kind]) throw invalid('An operand in the update expression has an incorrect data type');
    const scalar = kind.slice(0, 1);
    const remaining = (current[kind] as (string | Uint8Array)[]).filter(
      (x) =>
        !(value[kind] as (string | Uint8Array)[]).some((y) =>
          equalValues({ [scalar]: x } as Value, { [scalar]: y } as Value),
        ),
    );
    setPath(after, d.path, remaining.length > 0 ? ({ [kind]: remaining } as Value) : undefined);
  }
  return { item: after, touched };
}

/** The attributes of `item` that a projection names (nested paths keep their parents). */
export function project(item: Item, paths: readonly Path[]): Item {
  const out: Item = {};
  for (const path of paths) {
    const value = getPath(item, path);
    if (value === undefined) continue;
    let target: Item = out;
    for (let i = 0; i < path.length; i++) {
      const element = path[i];
      if (!('key' in element)) {
        // A list element: keep the whole list rather than a sparse copy.
        break;
      }
      if (i === path.length - 1 || !('key' in path[i + 1])) {
        target[element.key] = structuredClone(
          i === path.length - 1 ? value : getPath(item, path.slice(0, i + 1))!,
        );
        break;
      }
      const existing = target[element.key];
      if (!existing?.M) target[element.key] = { M: {} };
      target = target[element.key].M!;
    }
  }
  return out;
}
