/**
 * Publishes the public half of the manifest signing key in the audit bucket at deploy time (a
 * CloudFormation custom resource), so that a reviewer verifies manifest signatures with nothing
 * but the bucket: `public-keys/<key id>.pem` (PEM, SubjectPublicKeyInfo), written once
 * (`If-None-Match`), under the bucket's Object Lock retention and a legal hold. Deleting the
 * stack resource deletes nothing.
 */
import { createPublicKey } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { GetObjectLegalHoldCommand, PutObjectLegalHoldCommand, type S3Client } from '@aws-sdk/client-s3';
import { putImmutableObject } from '../shared/audit';
import { publicKeyFingerprint } from '../shared/audit-source';
import { MANIFEST_SIGNING_ALGORITHM } from '../shared/manifest';
import { publicKeyObjectKey } from '../shared/naming';

export interface PublishPublicKeyOptions {
  readonly s3: S3Client;
  readonly kms: KMSClient;
  readonly bucket: string;
  /** The audit key (SSE-KMS of the object, as the bucket policy requires). */
  readonly kmsKeyArn: string;
  readonly signingKeyArn: string;
}

export interface PublishedPublicKey {
  readonly key: string;
  readonly versionId?: string;
  /** SHA-256 hex of the DER SubjectPublicKeyInfo. */
  readonly fingerprint: string;
  readonly status: 'written' | 'already-present';
}

export async function publishPublicKey(options: PublishPublicKeyOptions): Promise<PublishedPublicKey> {
  const out = await options.kms.send(new GetPublicKeyCommand({ KeyId: options.signingKeyArn }));
  if (out.KeyUsage !== 'SIGN_VERIFY' || !out.SigningAlgorithms?.includes(MANIFEST_SIGNING_ALGORITHM)) {
    throw new Error(`${options.signingKeyArn} is not a ${MANIFEST_SIGNING_ALGORITHM} signing key`);
  }
  if (!out.PublicKey) throw new Error(`KMS returned no public key for ${options.signingKeyArn}`);
  const publicKey = createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
  const pem = publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const key = publicKeyObjectKey(out.KeyId ?? options.signingKeyArn);
  const put = await putImmutableObject({
    s3: options.s3,
    bucket: options.bucket,
    kmsKeyArn: options.kmsKeyArn,
    key,
    body: pem,
    contentType: 'application/x-pem-file',
  });
  await options.s3.send(
    new PutObjectLegalHoldCommand({
      Bucket: options.bucket,
      Key: key,
      VersionId: put.versionId,
      LegalHold: { Status: 'ON' },
    }),
  );
  const back = await options.s3.send(
    new GetObjectLegalHoldCommand({ Bucket: options.bucket, Key: key, VersionId: put.versionId }),
  );
  if (back.LegalHold?.Status !== 'ON')
    throw new Error(`${key} was written but its legal hold reads ${back.LegalHold?.Status}`);
  return {
    key,
    ...(put.versionId && { versionId: put.versionId }),
    fingerprint: publicKeyFingerprint(publicKey),
    status: put.status,
  };
}

/** A CloudFormation custom resource request, as CloudFormation sends it to a Lambda service token. */
export interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: Record<string, unknown>;
}

export interface CustomResourceResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/**
 * Answers one custom resource request: Create and Update publish, Delete keeps everything. The
 * answer goes to CloudFormation through `respond` (a PUT to the pre-signed ResponseURL), failures
 * included, so that a deployment never hangs.
 */
export async function handleCustomResource(
  event: CustomResourceEvent,
  publish: () => Promise<PublishedPublicKey>,
  respond: (url: string, body: CustomResourceResponse) => Promise<void>,
): Promise<CustomResourceResponse> {
  const base = {
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  let response: CustomResourceResponse;
  if (event.RequestType === 'Delete') {
    response = {
      ...base,
      Status: 'SUCCESS',
      PhysicalResourceId: event.PhysicalResourceId ?? event.LogicalResourceId,
    };
  } else {
    try {
      const published = await publish();
      response = {
        ...base,
        Status: 'SUCCESS',
        PhysicalResourceId: published.key,
        Data: { Key: published.key, Fingerprint: published.fingerprint },
      };
    } catch (err) {
      response = {
        ...base,
        Status: 'FAILED',
        Reason: `${(err as Error).name}: ${(err as Error).message}`.slice(0, 1000),
        PhysicalResourceId: event.PhysicalResourceId ?? event.LogicalResourceId,
      };
    }
  }
  await respond(event.ResponseURL, response);
  return response;
}
