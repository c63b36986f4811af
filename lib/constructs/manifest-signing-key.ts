import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { RETAIN } from './secure-defaults';

export interface ManifestSigningKeyProps {
  /** Description shown in the KMS console. @default 'Backstop: signs incident manifests of the audit log' */
  readonly description?: string;
}

/**
 * The asymmetric key (ECC NIST P-256, sign and verify) that signs each incident manifest, as
 * CloudTrail signs its digest files. The public key lets anyone verify a manifest offline.
 * Asymmetric keys cannot rotate automatically; the key is retained so old manifests stay verifiable.
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
  }
}
