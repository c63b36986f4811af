import { createHash, createPublicKey, verify } from 'node:crypto';
import {
  GetPublicKeyCommand,
  KMSInvalidSignatureException,
  SignCommand,
  VerifyCommand,
} from '@aws-sdk/client-kms';
import { CP, REGION, rejection, world } from './helpers';

const manifest = Buffer.from(JSON.stringify({ incident: 'i-1', records: ['a', 'b'], previous: null }));

describe('KMS asymmetric signing (the manifest signature)', () => {
  test('a DIGEST signature verifies with node:crypto against GetPublicKey, and with KMS Verify', async () => {
    const w = await world();
    const kms = w.factory.controlPlane().kms;
    const digest = createHash('sha256').update(manifest).digest();
    const signed = await kms.send(
      new SignCommand({
        KeyId: w.cp.manifestSigningKeyArn,
        Message: digest,
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    expect(signed.KeyId).toBe(w.cp.manifestSigningKeyArn);
    expect(signed.Signature?.[0]).toBe(0x30); // DER SEQUENCE

    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: w.cp.manifestSigningKeyArn }));
    expect(pub).toMatchObject({
      KeySpec: 'ECC_NIST_P256',
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['ECDSA_SHA_256'],
    });
    const key = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(verify('sha256', manifest, key, Buffer.from(signed.Signature!))).toBe(true);
    expect(verify('sha256', Buffer.from('tampered'), key, Buffer.from(signed.Signature!))).toBe(false);

    const checked = await kms.send(
      new VerifyCommand({
        KeyId: w.cp.manifestSigningKeyArn,
        Message: digest,
        MessageType: 'DIGEST',
        Signature: signed.Signature,
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    expect(checked.SignatureValid).toBe(true);
  });

  test('a RAW message is hashed with SHA-256 before signing, as KMS does', async () => {
    const w = await world();
    const kms = w.factory.controlPlane().kms;
    const signed = await kms.send(
      new SignCommand({
        KeyId: w.cp.manifestSigningKeyArn,
        Message: manifest,
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    const pub = await kms.send(new GetPublicKeyCommand({ KeyId: w.cp.manifestSigningKeyArn }));
    const key = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    expect(verify('sha256', manifest, key, Buffer.from(signed.Signature!))).toBe(true);
  });

  test('a forged signature fails Verify with KMSInvalidSignatureException', async () => {
    const w = await world();
    const kms = w.factory.controlPlane().kms;
    const signed = await kms.send(
      new SignCommand({
        KeyId: w.cp.manifestSigningKeyArn,
        Message: manifest,
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    const forged = Buffer.from(signed.Signature!);
    forged[forged.length - 1] ^= 0x01;
    const error = await rejection(
      kms.send(
        new VerifyCommand({
          KeyId: w.cp.manifestSigningKeyArn,
          Message: manifest,
          Signature: forged,
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ),
    );
    expect(error).toBeInstanceOf(KMSInvalidSignatureException);
  });

  test('bad requests are refused: a digest of the wrong length, a symmetric key, an unknown key', async () => {
    const w = await world();
    const kms = w.factory.controlPlane().kms;
    const shortDigest = await rejection(
      kms.send(
        new SignCommand({
          KeyId: w.cp.manifestSigningKeyArn,
          Message: Buffer.alloc(20),
          MessageType: 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ),
    );
    expect(shortDigest.message).toBe('Digest is invalid length for algorithm ECDSA_SHA_256.');
    const symmetric = await rejection(
      kms.send(
        new SignCommand({ KeyId: w.cp.auditKeyArn, Message: manifest, SigningAlgorithm: 'ECDSA_SHA_256' }),
      ),
    );
    expect(symmetric.name).toBe('InvalidKeyUsageException');
    const unknown = await rejection(
      kms.send(
        new SignCommand({
          KeyId: `arn:aws:kms:${REGION}:${CP}:key/00000000-0000-4000-8000-000000000000`,
          Message: manifest,
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ),
    );
    expect(unknown.name).toBe('NotFoundException');
  });
});
