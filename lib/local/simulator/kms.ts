/**
 * KMS, per account and region: symmetric keys (metadata only: S3 records them on objects) and
 * asymmetric ECC_NIST_P256 SIGN_VERIFY keys that really sign (ECDSA_SHA_256, DER signatures)
 * and verify, with GetPublicKey answering the DER SubjectPublicKeyInfo like KMS. Keys resolve by
 * id, ARN, alias name or alias ARN.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type {
  CreateAliasCommandInput,
  CreateAliasCommandOutput,
  CreateKeyCommandInput,
  CreateKeyCommandOutput,
  DescribeKeyCommandInput,
  DescribeKeyCommandOutput,
  GetPublicKeyCommandInput,
  GetPublicKeyCommandOutput,
  KeyMetadata,
  KeyUsageType,
  SignCommandInput,
  SignCommandOutput,
  VerifyCommandInput,
  VerifyCommandOutput,
} from '@aws-sdk/client-kms';
import type { Out, SimCore } from './core';
import { jwkInt, signDigest, verifyDigest } from './ecdsa';
import { SimError } from './errors';
import { type CallContext, compact, parseArn, Scoped, type TaggedResource, tagsFromList } from './world';

interface KeyRecord {
  readonly KeyId: string;
  readonly Arn: string;
  readonly created: Date;
  readonly spec: 'SYMMETRIC_DEFAULT' | 'ECC_NIST_P256';
  readonly usage: KeyUsageType;
  readonly Description: string;
  readonly tags: Map<string, string>;
  readonly signing?: { d: bigint; point: { x: bigint; y: bigint }; spki: Buffer };
}

interface Region {
  readonly keys: Map<string, KeyRecord>; // by KeyId
  readonly aliases: Map<string, string>; // alias name -> KeyId
}

const RAW_LIMIT = 4096;

function validation(message: string): SimError {
  return new SimError('ValidationException', message, 400);
}

export class KmsService {
  private readonly regions = new Scoped<Region>(() => ({ keys: new Map(), aliases: new Map() }));

  constructor(private readonly core: SimCore) {}

  private lookup(ctx: { accountId: string; region: string }, keyId: string): KeyRecord | undefined {
    const state = this.regions.get(ctx.accountId, ctx.region);
    let id = keyId;
    const arn = parseArn(keyId);
    if (arn) {
      if (arn.service !== 'kms' || arn.account !== ctx.accountId || arn.region !== ctx.region)
        return undefined;
      id = arn.resource.startsWith('key/') ? arn.resource.slice(4) : arn.resource;
    }
    if (id.startsWith('alias/')) {
      const target = state.aliases.get(id);
      return target ? state.keys.get(target) : undefined;
    }
    return state.keys.get(id);
  }

  private key(ctx: CallContext, keyId: string | undefined): KeyRecord {
    if (!keyId)
      throw validation(
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
      );
    const key = this.lookup(ctx, keyId);
    if (!key) throw new SimError('NotFoundException', `Key '${keyId}' does not exist`, 400);
    return key;
  }

  private metadata(k: KeyRecord, ctx: CallContext): KeyMetadata {
    const signing = k.usage === 'SIGN_VERIFY';
    return compact({
      AWSAccountId: ctx.accountId,
      KeyId: k.KeyId,
      Arn: k.Arn,
      CreationDate: new Date(k.created),
      Enabled: true,
      Description: k.Description,
      KeyUsage: k.usage,
      KeyState: 'Enabled' as const,
      Origin: 'AWS_KMS' as const,
      KeyManager: 'CUSTOMER' as const,
      CustomerMasterKeySpec: k.spec,
      KeySpec: k.spec,
      EncryptionAlgorithms: signing ? undefined : ['SYMMETRIC_DEFAULT' as const],
      SigningAlgorithms: signing ? ['ECDSA_SHA_256' as const] : undefined,
      MultiRegion: false,
    });
  }

  /** The 32-byte digest a Sign or Verify request is about. */
  private digest(
    message: Uint8Array | undefined,
    messageType: string | undefined,
    algorithm: string | undefined,
  ): Buffer {
    if (!message)
      throw validation(
        "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null",
      );
    if (algorithm !== 'ECDSA_SHA_256') {
      throw validation(
        `SigningAlgorithm ${algorithm ?? '(none)'} is not valid for an ECC_NIST_P256 key; use ECDSA_SHA_256.`,
      );
    }
    const bytes = Buffer.from(message);
    const type = messageType ?? 'RAW';
    if (type === 'RAW') {
      if (bytes.length > RAW_LIMIT)
        throw validation(`Message must be at most ${RAW_LIMIT} bytes; sign a DIGEST instead.`);
      return createHash('sha256').update(bytes).digest();
    }
    if (type === 'DIGEST') {
      if (bytes.length !== 32) throw validation('Digest is invalid length for algorithm ECDSA_SHA_256.');
      return bytes;
    }
    throw validation(`MessageType ${type} is not valid.`);
  }

  private signingKey(
    ctx: CallContext,
    keyId: string | undefined,
  ): KeyRecord & Required<Pick<KeyRecord, 'signing'>> {
    const key = this.key(ctx, keyId);
    if (key.usage !== 'SIGN_VERIFY' || !key.signing) {
      throw new SimError(
        'InvalidKeyUsageException',
        `${key.Arn} key usage is ${key.usage} which is not valid for this operation.`,
        400,
      );
    }
    return key as KeyRecord & Required<Pick<KeyRecord, 'signing'>>;
  }

  // ---- AWS actions ----

  CreateKey(input: CreateKeyCommandInput, ctx: CallContext): Out<CreateKeyCommandOutput> {
    const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    const usage = input.KeyUsage ?? (spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined);
    if (spec === 'SYMMETRIC_DEFAULT' && usage !== 'ENCRYPT_DECRYPT') {
      throw validation(`KeyUsage ${usage} is not compatible with KeySpec SYMMETRIC_DEFAULT.`);
    }
    if (spec === 'ECC_NIST_P256' && usage !== 'SIGN_VERIFY') {
      throw validation(
        'The simulator models ECC_NIST_P256 keys for SIGN_VERIFY only; pass KeyUsage SIGN_VERIFY.',
      );
    }
    if (spec !== 'SYMMETRIC_DEFAULT' && spec !== 'ECC_NIST_P256') {
      throw new SimError(
        'UnsupportedOperationException',
        `KeySpec ${spec} is not modelled by the simulator (SYMMETRIC_DEFAULT and ECC_NIST_P256 are).`,
        400,
      );
    }
    const modelled: KeyRecord['spec'] = spec;
    const keyId = this.core.ids.uuid();
    let signing: KeyRecord['signing'];
    if (spec === 'ECC_NIST_P256') {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      signing = fromKeyObjects(privateKey, publicKey);
    }
    const key: KeyRecord = {
      KeyId: keyId,
      Arn: `arn:${ctx.partition}:kms:${ctx.region}:${ctx.accountId}:key/${keyId}`,
      created: ctx.now,
      spec: modelled,
      usage: usage!,
      Description: input.Description ?? '',
      tags: tagsFromList(input.Tags?.map((t) => ({ Key: t.TagKey, Value: t.TagValue }))),
      signing,
    };
    this.regions.get(ctx.accountId, ctx.region).keys.set(keyId, key);
    return { KeyMetadata: this.metadata(key, ctx) };
  }

  CreateAlias(input: CreateAliasCommandInput, ctx: CallContext): Out<CreateAliasCommandOutput> {
    const name = input.AliasName;
    if (!name || !/^alias\/[a-zA-Z0-9/_-]{1,250}$/.test(name) || name.startsWith('alias/aws/')) {
      throw new SimError('InvalidAliasNameException', `Alias ${name ?? '(none)'} is not valid.`, 400);
    }
    const key = this.key(ctx, input.TargetKeyId);
    const state = this.regions.get(ctx.accountId, ctx.region);
    if (state.aliases.has(name))
      throw new SimError('AlreadyExistsException', `An alias with the name ${name} already exists`, 400);
    state.aliases.set(name, key.KeyId);
    return {};
  }

  DescribeKey(input: DescribeKeyCommandInput, ctx: CallContext): Out<DescribeKeyCommandOutput> {
    return { KeyMetadata: this.metadata(this.key(ctx, input.KeyId), ctx) };
  }

  GetPublicKey(input: GetPublicKeyCommandInput, ctx: CallContext): Out<GetPublicKeyCommandOutput> {
    const key = this.key(ctx, input.KeyId);
    if (!key.signing) {
      throw new SimError(
        'UnsupportedOperationException',
        `${key.Arn} key type is not supported for this operation.`,
        400,
      );
    }
    return {
      KeyId: key.Arn,
      PublicKey: new Uint8Array(key.signing.spki),
      CustomerMasterKeySpec: key.spec,
      KeySpec: key.spec,
      KeyUsage: key.usage,
      SigningAlgorithms: ['ECDSA_SHA_256'],
    };
  }

  Sign(input: SignCommandInput, ctx: CallContext): Out<SignCommandOutput> {
    const key = this.signingKey(ctx, input.KeyId);
    const digest = this.digest(input.Message, input.MessageType, input.SigningAlgorithm);
    return {
      KeyId: key.Arn,
      Signature: new Uint8Array(signDigest(digest, key.signing.d)),
      SigningAlgorithm: 'ECDSA_SHA_256',
    };
  }

  Verify(input: VerifyCommandInput, ctx: CallContext): Out<VerifyCommandOutput> {
    const key = this.signingKey(ctx, input.KeyId);
    const digest = this.digest(input.Message, input.MessageType, input.SigningAlgorithm);
    if (!input.Signature)
      throw validation(
        "1 validation error detected: Value null at 'signature' failed to satisfy constraint: Member must not be null",
      );
    if (!verifyDigest(digest, input.Signature, key.signing.point)) {
      throw new SimError(
        'KMSInvalidSignatureException',
        'The signature is not valid for this message and key.',
        400,
      );
    }
    return { KeyId: key.Arn, SignatureValid: true, SigningAlgorithm: 'ECDSA_SHA_256' };
  }

  // ---- used by S3 and the tagging model ----

  /** The ARN of the key a reference (id, ARN, alias) resolves to in the caller's account and region. */
  resolveKeyArn(ctx: { accountId: string; region: string }, keyId: string): string | undefined {
    return this.lookup(ctx, keyId)?.Arn;
  }

  /** Taggable resources (keys), for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, state] of this.regions.entries()) {
      for (const k of state.keys.values()) yield { accountId, region, arn: k.Arn, tags: k.tags };
    }
  }
}

function fromKeyObjects(privateKey: KeyObject, publicKey: KeyObject): NonNullable<KeyRecord['signing']> {
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    d: jwkInt(jwk.d),
    point: { x: jwkInt(jwk.x), y: jwkInt(jwk.y) },
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}
