import { createClientFactory } from '../shared/clients';
import { jsonLog } from '../shared/deps';
import { EnvironmentError } from '../shared/env';
import { type AlarmTriggerEvent, run, TRIGGER_ENV, type TriggerDeps } from './trigger';

let deps: TriggerDeps | undefined;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new EnvironmentError(`environment variable ${name} is not set`);
  return value;
}

/** Thin Lambda adapter: builds the clients on the first invocation, never at import time. */
export const handler = (event: AlarmTriggerEvent) => {
  if (!deps) {
    const cp = createClientFactory({ region: required('AWS_REGION') }).controlPlane();
    deps = {
      sfn: cp.sfn,
      dynamo: cp.dynamo,
      tableName: required(TRIGGER_ENV.tableName),
      stateMachineArn: required(TRIGGER_ENV.stateMachineArn),
      log: jsonLog('alarm-trigger'),
    };
  }
  return run(event, deps);
};
