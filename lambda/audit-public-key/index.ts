import { createClientFactory } from '../shared/clients';
import { ENV, EnvironmentError } from '../shared/env';
import { type CustomResourceEvent, handleCustomResource, publishPublicKey } from './publish';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new EnvironmentError(`environment variable ${name} is not set`);
  return value;
}

/** The PUT CloudFormation expects at the pre-signed ResponseURL (empty content type, as S3 signs it). */
async function respond(url: string, body: unknown): Promise<void> {
  const text = JSON.stringify(body);
  const res = await fetch(url, {
    method: 'PUT',
    body: text,
    headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(text)) },
  });
  if (!res.ok) throw new Error(`CloudFormation response was refused: HTTP ${res.status}`);
}

/** The custom resource that publishes the public signing key (see publish.ts). */
export const handler = (event: CustomResourceEvent) =>
  handleCustomResource(
    event,
    // Read inside: a broken environment is answered FAILED, never left for CloudFormation to time out.
    () => {
      const cp = createClientFactory({ region: required('AWS_REGION') }).controlPlane();
      return publishPublicKey({
        s3: cp.s3,
        kms: cp.kms,
        bucket: required(ENV.auditBucketName),
        kmsKeyArn: required(ENV.auditKmsKeyArn),
        signingKeyArn: required(ENV.manifestSigningKeyArn),
      });
    },
    respond,
  );
