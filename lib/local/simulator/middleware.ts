/**
 * The client plugin: a middleware at the `deserialize` step that answers every command from the
 * simulator instead of sending it (it never calls `next`). It sits below the retry middleware
 * (finalizeRequest), so the SDK's real retry strategy retries simulated throttling and 5xx
 * exactly as it would against AWS, and serialization, endpoint resolution and signing all run as
 * usual before it.
 *
 * It takes the place of the SDK's `deserializerMiddleware` (same name, `override`), because
 * middlewares that post-process a deserialized output attach themselves relative to that name:
 * the DynamoDB document client's `DocumentUnmarshall` sits "before deserializerMiddleware", and a
 * middleware placed ahead of it would return low-level AttributeValues to `GetCommand` callers.
 * What sits "after" the deserializer (response checksum validation, which needs raw HTTP bodies)
 * is skipped, as nothing travels over HTTP.
 *
 * SigV4 signing is skipped too: the simulator knows the caller from the client's access key id and
 * never reads a signature, and signing (a payload hash and an HMAC chain per attempt, the key
 * derived again for every new client) was the largest CPU cost of a simulated call. The signing
 * step keeps its place (right below the retry middleware) and what of it a caller can observe: the
 * error for an auth scheme that was never selected and for credentials that are not valid, both
 * as the SDK words them. The headers the simulator reads (S3's checksums, Content-MD5,
 * conditional and encryption headers) are all built before signing, so they are unchanged.
 */
import { NoOpLogger } from '@smithy/core/client';
import { HttpRequest, HttpResponse } from '@smithy/core/protocols';
import type { ClientPlugin } from '../../../lambda/shared/clients';

/** What the middleware hands to the simulator for one attempt of one command. */
export interface SimulatedRequest {
  readonly clientName: string;
  readonly commandName: string;
  readonly input: unknown;
  readonly accessKeyId: string;
  readonly region: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface SimulatedResponse {
  readonly output: Record<string, unknown>;
  readonly status: number;
  readonly requestId: string;
  readonly extendedRequestId?: string;
}

export type RequestHandler = (request: SimulatedRequest) => Promise<SimulatedResponse>;

type Provider<T> = T | (() => T | Promise<T>);

/** The parts of a resolved SDK client the middleware reads. */
interface SdkClient {
  readonly middlewareStack: {
    addRelativeTo(middleware: unknown, options: Record<string, unknown>): void;
    add(
      middleware: (
        next: unknown,
        context: { clientName?: string; commandName?: string },
      ) => (args: { input: unknown; request?: unknown }) => Promise<{ output: unknown; response: unknown }>,
      options: Record<string, unknown>,
    ): void;
  };
  readonly config: {
    readonly credentials: Provider<{ accessKeyId: string }>;
    readonly region: Provider<string>;
    readonly serviceId?: string;
    logger?: unknown;
    cacheMiddleware?: boolean;
  };
}

async function resolve<T>(provider: Provider<T>): Promise<T> {
  return typeof provider === 'function' ? await (provider as () => T | Promise<T>)() : provider;
}

/** The name the SDK's deserializer has in every client's middleware stack. */
const DESERIALIZER = 'deserializerMiddleware';
export const SIMULATOR_MIDDLEWARE_NAME = 'backstopSimulatorMiddleware';

/** The SDK's signing middleware's place in the stack (`@smithy/core`'s `httpSigningMiddlewareOptions`). */
const SIGNING = {
  step: 'finalizeRequest',
  tags: ['HTTP_SIGNING'],
  name: 'httpSigningMiddleware',
  aliases: ['apiKeyMiddleware', 'tokenMiddleware', 'awsAuthMiddleware'],
  override: true,
  relation: 'after',
  toMiddleware: 'retryMiddleware',
} as const;

/** The auth schemes whose signer resolves and checks the client's credentials (SigV4, SigV4a). */
const SIGV4_SCHEMES = new Set(['aws.auth#sigv4', 'aws.auth#sigv4a']);

interface SigningContext {
  readonly __smithy_context?: {
    readonly selectedHttpAuthScheme?: { readonly httpAuthOption?: { readonly schemeId?: string } };
  };
}

/**
 * Takes the place of the SDK's `httpSigningMiddleware`: the request goes on unsigned, after the
 * checks the signer would have made (the same errors, worded the same).
 */
function unsignedMiddleware(c: SdkClient) {
  return (next: (args: { request?: unknown }) => Promise<unknown>, context: SigningContext) =>
    async (args: { request?: unknown }) => {
      if (!HttpRequest.isInstance(args.request)) return next(args);
      const scheme = context.__smithy_context?.selectedHttpAuthScheme;
      if (!scheme) throw new Error('No HttpAuthScheme was selected: unable to sign request');
      if (SIGV4_SCHEMES.has(scheme.httpAuthOption?.schemeId ?? '')) {
        const credentials: unknown = await resolve(c.config.credentials);
        const { accessKeyId, secretAccessKey } = (credentials ?? {}) as Record<string, unknown>;
        if (
          typeof credentials !== 'object' ||
          typeof accessKeyId !== 'string' ||
          typeof secretAccessKey !== 'string'
        ) {
          throw new Error('Resolved credential object is not valid');
        }
      }
      return next(args);
    };
}

/**
 * The SDK's default logger, minus `info` and `error`. The SDK's logger middleware builds a
 * redacted copy of every input and output for `logger?.info?.(...)` (and of the input for
 * `error`), which its default `NoOpLogger` then drops: without the two methods the copies are
 * never made. It is still a `NoOpLogger` for the SDK's checks (`instanceof`, constructor name), so
 * the warnings the SDK sends to the console for a silent logger still go there.
 */
function quietLogger(): NoOpLogger {
  return Object.assign(new NoOpLogger(), { info: undefined, error: undefined });
}

/**
 * Tunes a client for the simulator without changing what its calls answer: no log copies (a
 * logger the caller passed is kept), and the middleware stack resolved once per command class
 * instead of on every send (the SDK's `cacheMiddleware`). The DynamoDB client keeps resolving per
 * send: the document client shares its config, and a cached document command handler would send
 * the first command's input again.
 */
function tune(c: SdkClient): void {
  if (c.config.logger instanceof NoOpLogger) c.config.logger = quietLogger();
  if (c.config.serviceId !== 'DynamoDB') c.config.cacheMiddleware = true;
}

export function simulatorPlugin(handle: RequestHandler): ClientPlugin {
  return (client) => {
    const c = client as unknown as SdkClient;
    tune(c);
    c.middlewareStack.addRelativeTo(unsignedMiddleware(c), SIGNING);
    c.middlewareStack.add(
      (_next, context) => async (args) => {
        const credentials = await resolve(c.config.credentials);
        const region = await resolve(c.config.region);
        const request = args.request as { headers?: Record<string, string> } | undefined;
        const response = await handle({
          clientName: context.clientName ?? '',
          commandName: context.commandName ?? '',
          input: args.input,
          accessKeyId: credentials.accessKeyId,
          region,
          headers: request?.headers ?? {},
        });
        return {
          output: {
            ...response.output,
            $metadata: {
              httpStatusCode: response.status,
              requestId: response.requestId,
              extendedRequestId: response.extendedRequestId,
              cfId: undefined,
            },
          },
          response: new HttpResponse({
            statusCode: response.status,
            headers: { 'x-amzn-requestid': response.requestId },
          }),
        };
      },
      { step: 'deserialize', name: DESERIALIZER, aliases: [SIMULATOR_MIDDLEWARE_NAME], override: true },
    );
  };
}
