import type { AgentTarget, Directory, HandlerEnv } from './types';

/** A handler's environment is missing or malformed: the deployment is broken, say exactly how. */
export class EnvironmentError extends Error {
  override readonly name = 'Backstop.EnvironmentError';
}

/** Environment variable names shared by the kill path construct, the handlers and the local engine. */
export const ENV = {
  handler: 'BACKSTOP_HANDLER',
  tableName: 'BACKSTOP_TABLE_NAME',
  auditBucketName: 'BACKSTOP_AUDIT_BUCKET',
  auditKmsKeyArn: 'BACKSTOP_AUDIT_KEY_ARN',
  manifestSigningKeyArn: 'BACKSTOP_SIGNING_KEY_ARN',
  topicArn: 'BACKSTOP_TOPIC_ARN',
  metricsNamespace: 'BACKSTOP_METRICS_NAMESPACE',
  /** The fleet directory as JSON. Deployed functions get it compiled into the bundle (no 4 KB env limit). */
  directory: 'BACKSTOP_DIRECTORY',
} as const;

function required(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new EnvironmentError(`environment variable ${name} is not set`);
  }
  return value;
}

/** Reads and checks the handler environment once per container. */
export function readHandlerEnv(env: Readonly<Record<string, string | undefined>>): HandlerEnv {
  const rawDirectory = required(env, ENV.directory);
  let directory: Directory;
  try {
    directory = JSON.parse(rawDirectory) as Directory;
  } catch (e) {
    throw new EnvironmentError(`${ENV.directory} is not valid JSON: ${(e as Error).message}`);
  }
  if (!directory || !Array.isArray(directory.agents) || !Array.isArray(directory.workloads)) {
    throw new EnvironmentError(`${ENV.directory} must hold { agents: [], workloads: [] }`);
  }
  return {
    tableName: required(env, ENV.tableName),
    auditBucketName: required(env, ENV.auditBucketName),
    auditKmsKeyArn: required(env, ENV.auditKmsKeyArn),
    manifestSigningKeyArn: required(env, ENV.manifestSigningKeyArn),
    topicArn: required(env, ENV.topicArn),
    metricsNamespace: required(env, ENV.metricsNamespace),
    directory,
  };
}

export function findAgent(directory: Directory, agentId: string): AgentTarget | undefined {
  return directory.agents.find((a) => a.agentId === agentId);
}

export function hasWorkload(directory: Directory, accountId: string, region: string): boolean {
  return directory.workloads.some((w) => w.accountId === accountId && w.region === region);
}
