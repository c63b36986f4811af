import {
  canonicalJson,
  canonicalSha256Hex,
  sha256Base64,
  sha256Bytes,
  sha256Hex,
  snapshotSha256,
} from '../../../lambda/shared/hash';

describe('canonicalJson', () => {
  it('gives the same bytes for the same value whatever the key order, at every depth', () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } };
    const b = { a: { c: 'x', d: [3, { y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it('follows JSON.stringify for dates, undefined and non-finite numbers', () => {
    expect(
      canonicalJson({
        at: new Date('2026-01-02T03:04:05.000Z'),
        gone: undefined,
        n: Number.NaN,
        l: [undefined],
      }),
    ).toBe('{"at":"2026-01-02T03:04:05.000Z","l":[null],"n":null}');
  });

  it('keeps a "__proto__" member as data instead of changing the prototype', () => {
    const value = JSON.parse('{"__proto__":{"polluted":true},"a":1}');
    expect(canonicalJson(value)).toBe('{"__proto__":{"polluted":true},"a":1}');
  });

  it('refuses values JSON cannot hold', () => {
    expect(() => canonicalJson(undefined)).toThrow(/no JSON representation/);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});

describe('sha256', () => {
  it('matches the FIPS 180-2 test vector in hex, base64 and bytes', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Base64('abc')).toBe('ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
    expect(Buffer.from(sha256Bytes('abc')).toString('hex')).toBe(sha256Hex('abc'));
  });

  it('hashes a snapshot by the canonical JSON of its id and state', () => {
    const snap = { id: 'arn:aws:lambda:us-east-1:111111111111:function:f', state: { b: 2, a: 1 } };
    expect(snapshotSha256(snap)).toBe(canonicalSha256Hex({ state: { a: 1, b: 2 }, id: snap.id }));
    expect(snapshotSha256({ ...snap, state: { a: 1, b: 3 } })).not.toBe(snapshotSha256(snap));
  });
});
