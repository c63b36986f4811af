/**
 * The CLI's side of the restore endpoint (a Lambda function URL with AWS_IAM auth): every call is
 * a POST signed with SigV4 for service `lambda`, with the caller's credentials from the standard
 * chain. The endpoint takes the caller's identity from the signature (Lambda verifies it), so
 * nothing the CLI puts in the body can change who is asking or approving.
 */
import { readFileSync } from 'node:fs';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ClientFactory } from '../../lambda/shared/clients';
import { OutputsError } from './outputs';

/** The output `cdk deploy --outputs-file` writes for the endpoint's URL. */
export const RESTORE_ENDPOINT_OUTPUT = 'RestoreEndpointUrl';

export type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string },
) => Promise<{ status: number; text(): Promise<string> }>;

export interface EndpointAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** The endpoint's URL from the outputs file. */
export function restoreEndpointUrl(file: string): string {
  let all: Record<string, Record<string, string>>;
  try {
    all = JSON.parse(readFileSync(file, 'utf8')) as typeof all;
  } catch (e) {
    throw new OutputsError(`--outputs ${file}: cannot read it as JSON (${(e as Error).message})`);
  }
  const url = all?.['Backstop-ControlPlane']?.[RESTORE_ENDPOINT_OUTPUT];
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    throw new OutputsError(
      `--outputs ${file}: stack Backstop-ControlPlane lacks output ${RESTORE_ENDPOINT_OUTPUT} (deploy the control plane with the restore path)`,
    );
  }
  return url;
}

/** Signs and sends one call to the endpoint; answers its status and JSON body. */
export async function callEndpoint(
  clients: ClientFactory,
  region: string,
  url: string,
  body: Record<string, unknown>,
  fetchFn: Fetch = fetch as unknown as Fetch,
): Promise<EndpointAnswer> {
  const { sts } = clients.controlPlane();
  const target = new URL(url);
  const payload = JSON.stringify(body);
  const signer = new SignatureV4({
    service: 'lambda',
    region,
    credentials: sts.config.credentials,
    sha256: sts.config.sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port && { port: Number(target.port) }),
    path: target.pathname || '/',
    query: Object.fromEntries(target.searchParams),
    headers: { host: target.host, 'content-type': 'application/json' },
    body: payload,
  });
  const response = await fetchFn(target.toString(), {
    method: 'POST',
    headers: signed.headers as Record<string, string>,
    body: payload,
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { error: `HTTP ${response.status}`, message: text.slice(0, 500) };
  }
  return { status: response.status, body: parsed };
}
