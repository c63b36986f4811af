import { createClientFactory } from '../shared/clients';
import { jsonLog, realSleep } from '../shared/deps';
import { bundledDirectory, ENV, EnvironmentError } from '../shared/env';
import { type CanaryEvent, type CanaryHandlerDeps, handle } from './handler';

let deps: CanaryHandlerDeps | undefined;

function required(name: string, value: string | undefined): string {
  if (!value) throw new EnvironmentError(`environment variable ${name} is not set`);
  return value;
}

/** Thin Lambda adapter: reads the environment and builds the clients on the first invocation. */
export const handler = (event: CanaryEvent) => {
  if (!deps) {
    // The fleet directory is a file of the bundle (lib/constructs/directory-bundle.ts), read on the
    // first invocation; outside a bundle, BACKSTOP_DIRECTORY stands in.
    const directory = bundledDirectory(__dirname, process.env);
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
