/**
 * A stand-in for an ECC_NIST_P256 KMS key behind a mocked KMSClient: `Sign` with
 * `MessageType: 'DIGEST'` signs the 32 bytes it is given as they are (raw ECDSA over a
 * precomputed digest, as KMS does) and returns a DER signature; `GetPublicKey` returns the DER
 * SubjectPublicKeyInfo. node:crypto cannot sign a precomputed digest (it always hashes), so the
 * ECDSA step is done here with P-256 arithmetic; verification in the code under test uses
 * node:crypto, so a round trip proves both sides agree on what is signed.
 */
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import {
  GetPublicKeyCommand,
  type KMSClientResolvedConfig,
  type ServiceOutputTypes,
  SignCommand,
} from '@aws-sdk/client-kms';
import type { AwsStub } from 'aws-sdk-client-mock';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const G = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

type Point = { x: bigint; y: bigint } | null;

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

function add(p1: Point, p2: Point): Point {
  if (!p1) return p2;
  if (!p2) return p1;
  if (p1.x === p2.x && mod(p1.y + p2.y, P) === 0n) return null;
  const lambda =
    p1.x === p2.x && p1.y === p2.y
      ? mod((3n * p1.x * p1.x + A) * inverse(2n * p1.y, P), P)
      : mod((p2.y - p1.y) * inverse(p2.x - p1.x, P), P);
  const x = mod(lambda * lambda - p1.x - p2.x, P);
  return { x, y: mod(lambda * (p1.x - x) - p1.y, P) };
}

function multiply(k: bigint, point: Point): Point {
  let result: Point = null;
  let addend = point;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

const toBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);

function derInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

export interface FakeSigningKey {
  readonly arn: string;
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, as KMS GetPublicKey returns it. */
  readonly publicKeyDer: Uint8Array;
  /** Raw ECDSA P-256 over a 32-byte digest; DER-encoded signature. */
  signDigest(digest: Uint8Array): Uint8Array;
}

export function fakeSigningKey(arn: string): FakeSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const d = toBigInt(Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url'));
  return {
    arn,
    publicKey,
    publicKeyDer: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    signDigest(digest) {
      if (digest.length !== 32) throw new Error(`a SHA-256 digest is 32 bytes, got ${digest.length}`);
      const z = toBigInt(digest);
      for (;;) {
        const k = mod(toBigInt(randomBytes(32)), N - 1n) + 1n;
        const point = multiply(k, G);
        if (!point) continue;
        const r = mod(point.x, N);
        const s = mod(inverse(k, N) * (z + r * d), N);
        if (r === 0n || s === 0n) continue;
        const body = Buffer.concat([derInteger(r), derInteger(s)]);
        return new Uint8Array(Buffer.concat([Buffer.from([0x30, body.length]), body]));
      }
    },
  };
}

/** Answers a mocked KMSClient's `Sign` and `GetPublicKey` as the KMS key `key` would. */
export function mockKmsSigning(
  kmsMock: AwsStub<object, ServiceOutputTypes, KMSClientResolvedConfig>,
  key: FakeSigningKey,
): void {
  kmsMock.on(SignCommand).callsFake(async (input: { Message?: Uint8Array }) => ({
    KeyId: key.arn,
    Signature: key.signDigest(input.Message as Uint8Array),
    SigningAlgorithm: 'ECDSA_SHA_256',
  }));
  kmsMock.on(GetPublicKeyCommand).resolves({
    KeyId: key.arn,
    PublicKey: key.publicKeyDer,
    KeyUsage: 'SIGN_VERIFY',
    KeySpec: 'ECC_NIST_P256',
    SigningAlgorithms: ['ECDSA_SHA_256'],
  });
}
