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
 */
import { HttpResponse } from '@smithy/core/protocols';
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
  };
}

async function resolve<T>(provider: Provider<T>): Promise<T> {
  return typeof provider === 'function' ? await (provider as () => T | Promise<T>)() : provider;
}

/** The name the SDK's deserializer has in every client's middleware stack. */
const DESERIALIZER = 'deserializerMiddleware';
export const SIMULATOR_MIDDLEWARE_NAME = 'backstopSimulatorMiddleware';

export function simulatorPlugin(handle: RequestHandler): ClientPlugin {
  return (client) => {
    const c = client as unknown as SdkClient;
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
