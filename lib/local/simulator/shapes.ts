/**
 * Checks an output the simulator produced against the SDK's own model of that operation's
 * output (the schema each client package ships): every member must be one the model declares,
 * with the JavaScript type the SDK's deserializer would produce (Date for timestamps, Uint8Array
 * for blobs, a stream for streaming blobs, and so on).
 */
import { NormalizedSchema } from '@smithy/core/schema';
import { SERVICES, type ServiceName } from './errors';

type Schema = ReturnType<typeof NormalizedSchema.of>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'Date';
  if (value instanceof Uint8Array) return 'Uint8Array';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
  );
}

/** The check a scalar schema imposes, or undefined for containers. */
function scalarCheck(schema: Schema): [(value: unknown) => boolean, string] | undefined {
  if (schema.isDocumentSchema()) return [() => true, 'a document'];
  if (schema.isStreaming()) {
    return [
      (v) => typeof (v as { transformToString?: unknown })?.transformToString === 'function',
      'an SDK stream',
    ];
  }
  if (schema.isBlobSchema()) return [(v) => v instanceof Uint8Array, 'Uint8Array'];
  if (schema.isTimestampSchema()) return [(v) => v instanceof Date, 'Date'];
  if (schema.isStringSchema()) return [(v) => typeof v === 'string', 'string'];
  if (schema.isBooleanSchema()) return [(v) => typeof v === 'boolean', 'boolean'];
  if (schema.isBigIntegerSchema()) return [(v) => typeof v === 'bigint' || typeof v === 'number', 'bigint'];
  if (schema.isNumericSchema() || schema.isBigDecimalSchema())
    return [(v) => typeof v === 'number', 'number'];
  return undefined;
}

function walk(schema: Schema, value: unknown, path: string, problems: string[]): void {
  if (value === undefined) return;
  const fail = (what: string) => problems.push(`${path}: expected ${what}, got ${describe(value)}`);
  const scalar = scalarCheck(schema);
  if (scalar) {
    if (!scalar[0](value)) fail(scalar[1]);
  } else if (schema.isListSchema()) {
    if (!Array.isArray(value)) fail('array');
    else {
      const member = schema.getValueSchema();
      for (const [i, v] of value.entries()) walk(member, v, `${path}[${i}]`, problems);
    }
  } else if (schema.isMapSchema()) {
    if (!isPlainObject(value)) fail('object (map)');
    else {
      const member = schema.getValueSchema();
      for (const [k, v] of Object.entries(value)) walk(member, v, `${path}.${k}`, problems);
    }
  } else if (schema.isStructSchema() || schema.isUnionSchema()) {
    if (!isPlainObject(value)) {
      fail('object (structure)');
      return;
    }
    const members = new Map<string, Schema>();
    for (const [name, member] of schema.structIterator()) members.set(name, member);
    const present = Object.keys(value).filter((k) => value[k] !== undefined && k !== '$metadata');
    if (schema.isUnionSchema() && present.length !== 1) {
      problems.push(`${path}: a union needs exactly one member, got ${present.join(', ') || 'none'}`);
    }
    for (const key of present) {
      const member = members.get(key);
      if (member) walk(member, value[key], `${path}.${key}`, problems);
      else problems.push(`${path}.${key}: not a member of ${schema.getName() ?? 'the structure'}`);
    }
  }
}

/** The output schema of an operation, from the client package's exported `<Operation>$` schema. */
export function outputSchema(service: ServiceName, action: string): Schema | undefined {
  const op = SERVICES[service].module[`${action}$`];
  if (!Array.isArray(op) || op[0] !== 9) return undefined;
  return NormalizedSchema.of(op[5]);
}

/** Problems with an output, as `Operation.path: expected X, got Y` lines; empty when it conforms. */
export function outputProblems(service: ServiceName, action: string, output: unknown): string[] {
  const schema = outputSchema(service, action);
  if (!schema) return [`${service}:${action}: the client package exports no schema for this operation`];
  const problems: string[] = [];
  walk(schema, output, action, problems);
  return problems;
}
