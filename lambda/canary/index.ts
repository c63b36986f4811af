import { createClientFactory } from '../shared/clients';
import { jsonLog, realSleep } from '../shared/deps';
import { ENV, EnvironmentError } from '../shared/env';
import type { Directory } from '../shared/types';
import { type CanaryEvent, type CanaryHandlerDeps, handle } from './handler';

let deps: CanaryHandlerDeps | undefined;

function required(name: string, value: string | undefined): string {
  if (!value) throw new EnvironmentError(`environment variable ${name} is not set`);
  return value;
}

/** Thin Lambda adapter: reads the environment and builds the clients on the first invocation. */
export const handler = (event: CanaryEvent) => {
  if (!deps) {
    // Written out in full so that the bundler's `define` replaces it with the compiled directory.
    const raw = required(ENV.directory, process.env.BACKSTOP_DIRECTORY);
    let directory: Directory;
    try {
      directory = JSON.parse(raw) as Directory;
    } catch (e) {
      throw new EnvironmentError(`${ENV.directory} is not valid JSON: ${(e as Error).message}`);
    }
    deps = {
      directory,
      clients: createClientFactory({ region: required('AWS_REGION', process.env.AWS_REGION) }),
      clock: () => new Date(),
      sleep: realSleep,
      log: jsonLog('canary'),
      topicArn: required(ENV.topicArn, process.env[ENV.topicArn]),
      metricsNamespace: required(ENV.metricsNamespace, process.env[ENV.metricsNamespace]),
    };
  }
  return handle(event, deps);
};
