/**
 * ECDSA over NIST P-256 on a precomputed digest, which node:crypto does not offer (its sign()
 * always hashes the message). KMS signs digests (`MessageType: 'DIGEST'`), so the simulator
 * signs and verifies here; signatures are DER-encoded `SEQUENCE { r INTEGER, s INTEGER }` like
 * KMS's, and node:crypto verifies them against the key's SPKI public key.
 */
import { randomBytes } from 'node:crypto';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const G = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

interface Jacobian {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
}

const INFINITY: Jacobian = { x: 0n, y: 1n, z: 0n };

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r >= 0n ? r : r + m;
};

function inverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return mod(oldS, m);
}

function double(p: Jacobian): Jacobian {
  if (p.z === 0n || p.y === 0n) return INFINITY;
  const delta = mod(p.z * p.z, P);
  const gamma = mod(p.y * p.y, P);
  const beta = mod(p.x * gamma, P);
  const alpha = mod(3n * (p.x - delta) * (p.x + delta), P);
  const x = mod(alpha * alpha - 8n * beta, P);
  const z = mod((p.y + p.z) * (p.y + p.z) - gamma - delta, P);
  const y = mod(alpha * (4n * beta - x) - 8n * gamma * gamma, P);
  return { x, y, z };
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = mod(p.z * p.z, P);
  const z2z2 = mod(q.z * q.z, P);
  const u1 = mod(p.x * z2z2, P);
  const u2 = mod(q.x * z1z1, P);
  const s1 = mod(p.y * q.z * z2z2, P);
  const s2 = mod(q.y * p.z * z1z1, P);
  if (u1 === u2) return s1 === s2 ? double(p) : INFINITY;
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const h2 = mod(h * h, P);
  const h3 = mod(h2 * h, P);
  const x = mod(r * r - h3 - 2n * u1 * h2, P);
  const y = mod(r * (u1 * h2 - x) - s1 * h3, P);
  const z = mod(h * p.z * q.z, P);
  return { x, y, z };
}

function multiply(k: bigint, point: { x: bigint; y: bigint }): Jacobian {
  let result = INFINITY;
  let addend: Jacobian = { x: point.x, y: point.y, z: 1n };
  let n = k;
  while (n > 0n) {
    if (n & 1n) result = add(result, addend);
    addend = double(addend);
    n >>= 1n;
  }
  return result;
}

function affineX(p: Jacobian): bigint {
  const zInv = inverse(p.z, P);
  return mod(p.x * zInv * zInv, P);
}

const toBigInt = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);

function integerDer(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

function encodeSignature(r: bigint, s: bigint): Buffer {
  const body = Buffer.concat([integerDer(r), integerDer(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

function decodeSignature(der: Uint8Array): { r: bigint; s: bigint } | undefined {
  const b = Buffer.from(der);
  if (b.length < 8 || b[0] !== 0x30 || b[1] !== b.length - 2) return undefined;
  const read = (at: number): { value: bigint; next: number } | undefined => {
    if (b[at] !== 0x02) return undefined;
    const len = b[at + 1];
    if (len === 0 || at + 2 + len > b.length) return undefined;
    return { value: toBigInt(b.subarray(at + 2, at + 2 + len)), next: at + 2 + len };
  };
  const r = read(2);
  const s = r && read(r.next);
  if (!r || !s || s.next !== b.length) return undefined;
  return { r: r.value, s: s.value };
}

/** Signs a 32-byte digest with private scalar `d`; returns a DER signature. */
export function signDigest(digest: Uint8Array, d: bigint): Buffer {
  const e = toBigInt(digest);
  for (;;) {
    const k = mod(toBigInt(randomBytes(40)), N - 1n) + 1n;
    const r = mod(affineX(multiply(k, G)), N);
    if (r === 0n) continue;
    const s = mod(inverse(k, N) * (e + r * d), N);
    if (s === 0n) continue;
    return encodeSignature(r, s);
  }
}

/** Verifies a DER signature of a 32-byte digest against public point (x, y). */
export function verifyDigest(
  digest: Uint8Array,
  signature: Uint8Array,
  publicKey: { x: bigint; y: bigint },
): boolean {
  const sig = decodeSignature(signature);
  if (!sig || sig.r <= 0n || sig.r >= N || sig.s <= 0n || sig.s >= N) return false;
  const w = inverse(sig.s, N);
  const u1 = mod(toBigInt(digest) * w, N);
  const u2 = mod(sig.r * w, N);
  const point = add(multiply(u1, G), multiply(u2, publicKey));
  if (point.z === 0n) return false;
  return mod(affineX(point), N) === sig.r;
}

/** Reads a base64url JWK coordinate or scalar. */
export function jwkInt(value: string | undefined): bigint {
  if (!value) throw new Error('JWK member missing');
  return toBigInt(Buffer.from(value, 'base64url'));
}
