/**
 * The public signing key, published in the audit bucket at deploy time (lambda/audit-public-key):
 * by the same code the stack's custom resource runs, on the embedded simulator.
 */
import { createPublicKey } from 'node:crypto';
import { GetPublicKeyCommand } from '@aws-sdk/client-kms';
import {
  type CustomResourceEvent,
  type CustomResourceResponse,
  handleCustomResource,
  publishPublicKey,
} from '../../../lambda/audit-public-key/publish';
import { publicKeyFingerprint } from '../../../lambda/shared/audit-source';
import { publicKeyObjectKey } from '../../../lambda/shared/naming';
import { auditWorld } from '../shared/audit-world';

const event = (RequestType: CustomResourceEvent['RequestType']): CustomResourceEvent => ({
  RequestType,
  ResponseURL: 'https://cloudformation-custom-resource-response.example/presigned',
  StackId: 'arn:aws:cloudformation:us-east-1:111111111111:stack/Backstop-ControlPlane/1',
  RequestId: 'req-1',
  LogicalResourceId: 'PublicSigningKey',
  ...(RequestType !== 'Create' && { PhysicalResourceId: 'public-keys/k.pem' }),
});

describe('publishPublicKey', () => {
  it('publishes the signing key’s public key once, as PEM, retained and under a legal hold', async () => {
    const w = await auditWorld();
    // The seed published it as the deployed stack does.
    expect(w.cp.publicKeyObjectKey).toBe(publicKeyObjectKey(w.cp.manifestSigningKeyArn));
    const [version, ...others] = w.sim.s3.objectVersions(w.cp.auditBucketName, w.cp.publicKeyObjectKey);
    expect(others).toEqual([]);
    expect(version).toMatchObject({ legalHold: 'ON', retention: { mode: 'COMPLIANCE' } });
    const { PublicKey } = await w.sealer.clients
      .controlPlane()
      .kms.send(new GetPublicKeyCommand({ KeyId: w.cp.manifestSigningKeyArn }));
    const fromKms = createPublicKey({
      key: Buffer.from(PublicKey as Uint8Array),
      format: 'der',
      type: 'spki',
    });
    expect(publicKeyFingerprint(createPublicKey(version!.body))).toBe(publicKeyFingerprint(fromKms));

    // A redeploy publishes nothing new.
    const publisher = w.clientsAs(w.cp.publicKeyPublisherRoleArn).controlPlane();
    const again = await publishPublicKey({
      s3: publisher.s3,
      kms: publisher.kms,
      bucket: w.cp.auditBucketName,
      kmsKeyArn: w.cp.auditKeyArn,
      signingKeyArn: w.cp.manifestSigningKeyArn,
    });
    expect(again).toMatchObject({ status: 'already-present', key: w.cp.publicKeyObjectKey });
    expect(w.sim.s3.objectVersions(w.cp.auditBucketName, w.cp.publicKeyObjectKey)).toHaveLength(1);
  });

  it('is refused to any role but the publisher (the bucket policy)', async () => {
    const w = await auditWorld();
    const key = (await w.root.kms.CreateKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
      .KeyMetadata!.Arn!;
    const worker = w.worker.clients.controlPlane();
    await expect(
      publishPublicKey({
        s3: worker.s3,
        kms: worker.kms,
        bucket: w.cp.auditBucketName,
        kmsKeyArn: w.cp.auditKeyArn,
        signingKeyArn: key,
      }),
    ).rejects.toThrow(/Access Denied/);
    expect(w.sim.s3.keys(w.cp.auditBucketName, 'public-keys/')).toEqual([w.cp.publicKeyObjectKey]);
  });
});

describe('the custom resource protocol', () => {
  it('answers Create with the key and its fingerprint, through the response URL', async () => {
    const sent: [string, CustomResourceResponse][] = [];
    const response = await handleCustomResource(
      event('Create'),
      async () => ({ key: 'public-keys/k.pem', fingerprint: 'ab'.repeat(32), status: 'written' }),
      async (url, body) => {
        sent.push([url, body]);
      },
    );
    expect(response).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: 'public-keys/k.pem',
      StackId: event('Create').StackId,
      RequestId: 'req-1',
      LogicalResourceId: 'PublicSigningKey',
      Data: { Key: 'public-keys/k.pem', Fingerprint: 'ab'.repeat(32) },
    });
    expect(sent).toEqual([[event('Create').ResponseURL, response]]);
  });

  it('answers a failure FAILED with the reason, so the deployment stops instead of hanging', async () => {
    const sent: CustomResourceResponse[] = [];
    const response = await handleCustomResource(
      event('Update'),
      async () => {
        throw Object.assign(new Error('key is disabled'), { name: 'DisabledException' });
      },
      async (_url, body) => {
        sent.push(body);
      },
    );
    expect(response).toMatchObject({ Status: 'FAILED', Reason: 'DisabledException: key is disabled' });
    expect(sent).toHaveLength(1);
  });

  it('answers Delete without touching the published key (evidence outlives the stack)', async () => {
    let published = false;
    const response = await handleCustomResource(
      event('Delete'),
      async () => {
        published = true;
        return { key: 'x', fingerprint: 'y', status: 'written' };
      },
      async () => {},
    );
    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'public-keys/k.pem' });
    expect(published).toBe(false);
  });
});
