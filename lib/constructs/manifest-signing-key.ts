import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { protectKey } from './audit-key-protection';
import { RETAIN } from './secure-defaults';

export interface ManifestSigningKeyProps {
  /** Description shown in the KMS console. @default 'Backstop: signs incident manifests of the audit log' */
  readonly description?: string;
  /**
   * The only role that may sign (the role of Finalize and the audit sealer), by ARN. Everyone
   * else is denied `kms:Sign` by the key policy, and so is that role for anything but a digest.
   * @default - no signer restriction in the key policy (only the DIGEST rule)
   */
  readonly signerRoleArn?: string;
}

/**
 * The asymmetric key (ECC NIST P-256, sign and verify) that signs each incident manifest, as
 * CloudTrail signs its digest files. The public key lets anyone verify a manifest offline (it is
 * published in the audit bucket at deploy time). Asymmetric keys cannot rotate automatically;
 * the key is retained so old manifests stay verifiable, and nobody may disable it, schedule its
 * deletion or change its policy.
 *
 * A signature proves that the sealer role produced the manifest: the key policy denies `kms:Sign`
 * to every other principal, and to the sealer for anything but a SHA-256 digest
 * (`kms:MessageType` = `DIGEST`), so KMS never signs a message whose bytes the caller chose.
 */
export class ManifestSigningKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: ManifestSigningKeyProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: props.description ?? 'Backstop: signs incident manifests of the audit log',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RETAIN,
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenySigningAnythingButADigest',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Sign'],
        resources: ['*'],
        conditions: { StringNotEquals: { 'kms:MessageType': 'DIGEST' } },
      }),
    );
    if (props.signerRoleArn) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'DenySigningToAnyoneButTheSealer',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['kms:Sign'],
          resources: ['*'],
          conditions: { ArnNotEquals: { 'aws:PrincipalArn': props.signerRoleArn } },
        }),
      );
    }
    protectKey(this.key);
  }
}
