/**
 * Hashing and canonical JSON for the audit log, the manifest and the snapshots. Canonical means
 * one byte sequence per value, whoever serializes it: object keys sorted (by UTF-16 code unit,
 * as RFC 8785 does), no whitespace, and JSON.stringify's own rules for everything else
 * (`toJSON` is honoured, so a Date becomes its ISO string; `undefined` object members are
 * dropped; `undefined` array items, NaN and Infinity become `null`).
 */
import { createHash } from 'node:crypto';

/**
 * Serializes a JSON-compatible value with sorted keys and no whitespace. Throws a TypeError for
 * what JSON cannot hold at all (a top-level `undefined`, a function, a BigInt, a cycle).
 */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) {
    throw new TypeError(`canonicalJson: a ${typeof value} has no JSON representation`);
  }
  // Round-trip first so that toJSON, undefined and non-finite numbers follow JSON.stringify exactly.
  return serialize(JSON.parse(text));
}

function serialize(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(serialize).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const members = Object.keys(obj)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${serialize(obj[key])}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** SHA-256 of a string (as UTF-8) or bytes, as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a string (as UTF-8) or bytes, as base64 (the form S3's `ChecksumSHA256` takes). */
export function sha256Base64(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64');
}

/** SHA-256 of a string (as UTF-8) or bytes, as raw bytes (what KMS signs with `MessageType: 'DIGEST'`). */
export function sha256Bytes(data: string | Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** SHA-256 hex of a value's canonical JSON. */
export function canonicalSha256Hex(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * The hash that identifies one resource snapshot: SHA-256 hex of the canonical JSON of
 * `{ id, state }`. The state table stores it beside each snapshot, the `SnapshotTaken` audit
 * record carries it, and restore compares the two before putting anything back.
 */
export function snapshotSha256(snapshot: { readonly id: string; readonly state: unknown }): string {
  return canonicalSha256Hex({ id: snapshot.id, state: snapshot.state });
}
