import { type ClientFactory, createClientFactory } from '../../lambda/shared/clients';
import { printable } from './text';

/**
 * Where the CLI's AWS calls go and under which identity: the profile (`--profile`, else
 * AWS_PROFILE, else the SDK's default chain), the control plane region, the endpoint. The SDK
 * reads the profile and endpoint from the environment, so the options are set there.
 */
export interface AwsTarget {
  readonly region: string;
  /** The profile asked for, and where it came from. */
  readonly profile?: { readonly name: string; readonly from: '--profile' | 'AWS_PROFILE' };
  readonly endpoint?: string;
}

/** No credentials could be found: says what was tried and how to fix it. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

export function applyTarget(target: AwsTarget): void {
  if (target.profile?.from === '--profile') process.env.AWS_PROFILE = target.profile.name;
  if (target.endpoint) process.env.AWS_ENDPOINT_URL = target.endpoint;
}

export function profileOf(
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): AwsTarget['profile'] {
  if (option !== undefined) return { name: option, from: '--profile' };
  if (env.AWS_PROFILE) return { name: env.AWS_PROFILE, from: 'AWS_PROFILE' };
  return undefined;
}

/** What was tried, and the fix, in words an on-call person can act on. */
export function missingCredentialsMessage(target: AwsTarget, detail: string): string {
  if (target.profile) {
    const { name, from } = target.profile;
    return [
      `No AWS credentials. Tried profile "${name}" (from ${from}) in ~/.aws/config and ~/.aws/credentials: ${detail}`,
      `Fix: aws sso login --profile ${name}, or aws configure --profile ${name}, or pass another --profile.`,
    ].join('\n');
  }
  return [
    "No AWS credentials. Tried the SDK's default chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the",
    '[default] profile of ~/.aws/config and ~/.aws/credentials, SSO, web identity, container and instance',
    `metadata: ${detail}`,
    'Fix: pass --profile <name> (or set AWS_PROFILE), or run aws sso login, or export AWS_ACCESS_KEY_ID',
    'and AWS_SECRET_ACCESS_KEY.',
  ].join('\n');
}

/**
 * Resolves the credentials once, before anything is called, so a person without credentials is
 * told so at once (which profile or chain, and the fix) instead of by the first failing call.
 */
export async function checkCredentials(clients: ClientFactory, target: AwsTarget): Promise<void> {
  const provider = clients.controlPlane().sts.config.credentials as () => Promise<unknown>;
  try {
    await provider();
  } catch (e) {
    const err = e as Error;
    throw new CredentialsError(missingCredentialsMessage(target, err.message.split('\n')[0] ?? err.name));
  }
}

/** The SDK clients of a command: the injected factory (tests, the simulator) or real ones. */
export function clientsFor(target: AwsTarget, inject?: (region: string) => ClientFactory): ClientFactory {
  return inject ? inject(target.region) : createClientFactory({ region: target.region });
}

const ERROR_HINTS: readonly { readonly match: RegExp; readonly hint: (t: AwsTarget) => string }[] = [
  {
    match: /^(ExpiredToken|ExpiredTokenException|TokenRefreshRequired|RequestExpired)$/,
    hint: (t) =>
      `the AWS session has expired: ${t.profile ? `aws sso login --profile ${t.profile.name}` : 'refresh your credentials'} and run the command again`,
  },
  {
    match:
      /^(UnrecognizedClientException|InvalidClientTokenId|InvalidSignatureException|SignatureDoesNotMatch)$/,
    hint: () => 'AWS does not accept these credentials: check the profile or the exported keys',
  },
  {
    match: /^(AccessDenied|AccessDeniedException|UnauthorizedOperation)$/,
    hint: () =>
      'the identity you are using may not do this: use the break-glass role or an operator role (see docs/operations.md)',
  },
  {
    match: /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|TimeoutError|NetworkingError|ECONNRESET)$/,
    hint: (t) =>
      t.endpoint
        ? `nothing answers at ${t.endpoint}: is it running?`
        : 'AWS cannot be reached: check the network',
  },
];

/**
 * An error from an AWS call, as one or two lines for the terminal: its name, its first line of
 * message (at most 300 characters) and, for the errors a person can fix, how.
 */
export function explainAwsError(e: unknown, target: AwsTarget): string {
  const err = (e ?? {}) as { name?: string; code?: string; message?: string };
  const name = err.code && /^E[A-Z]+$/.test(err.code) ? err.code : (err.name ?? 'Error');
  const first = printable((err.message ?? '').split('\n')[0]?.slice(0, 300) ?? '');
  const hint = ERROR_HINTS.find((h) => h.match.test(name))?.hint(target);
  return `${printable(name)}: ${first || 'no message'}${hint ? `\n${hint}` : ''}`;
}
