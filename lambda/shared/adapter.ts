import { createClientFactory } from './clients';
import { type HandlerDeps, jsonLog, randomHex, realSleep } from './deps';
import { bundledDirectory, EnvironmentError, readHandlerEnv } from './env';

export type HandlerLogic<I, O> = (input: I, deps: HandlerDeps) => Promise<O>;

/**
 * The thin Lambda adapter every handler's index.ts uses: reads the environment and builds the
 * clients on the first invocation (never at import time), then hands each event to the logic.
 */
export function lambdaHandler<I, O>(name: string, logic: HandlerLogic<I, O>): (event: I) => Promise<O> {
  let deps: HandlerDeps | undefined;
  return (event: I) => {
    if (!deps) {
      const region = process.env.AWS_REGION;
      if (!region) throw new EnvironmentError('environment variable AWS_REGION is not set');
      deps = {
        // The fleet directory is a file of the bundle (lib/constructs/kill-path.ts), read here, on
        // the first invocation: never in the environment (4 KB) nor at import time.
        env: readHandlerEnv(process.env, bundledDirectory(__dirname, process.env)),
        clients: createClientFactory({ region }),
        clock: () => new Date(),
        sleep: realSleep,
        randomId: randomHex,
        log: jsonLog(name),
      };
    }
    return logic(event, deps);
  };
}
