import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  /**
   * The fleet directory as JSON, for a handler run outside its bundle. Deployed functions read
   * {@link DIRECTORY_FILE} from their bundle instead (no 4 KB environment limit, no command line).
   */
  directory: 'BACKSTOP_DIRECTORY',
} as const;

/** The fleet directory's file name in every kill path bundle, next to the handler's index.js. */
export const DIRECTORY_FILE = 'backstop-directory.json';

/** Parses and checks a directory; `source` names where it came from in the error. */
export function parseDirectory(text: string, source: string): Directory {
  let directory: Directory;
  try {
    directory = JSON.parse(text) as Directory;
  } catch (e) {
    throw new EnvironmentError(`${source} is not valid JSON: ${(e as Error).message}`);
  }
  if (!directory || !Array.isArray(directory.agents) || !Array.isArray(directory.workloads)) {
    throw new EnvironmentError(`${source} must hold { agents: [], workloads: [] }`);
  }
  return directory;
}

/**
 * The directory a deployed handler carries: the file bundled next to it, read when the handler
 * first runs (never at import). Outside a bundle, the BACKSTOP_DIRECTORY variable stands in.
 */
export function bundledDirectory(
  bundleDir: string,
  env: Readonly<Record<string, string | undefined>>,
): Directory {
  const file = join(bundleDir, DIRECTORY_FILE);
  if (existsSync(file)) return parseDirectory(readFileSync(file, 'utf8'), file);
  const inline = env[ENV.directory];
  if (inline !== undefined && inline.trim() !== '') return parseDirectory(inline, ENV.directory);
  throw new EnvironmentError(
    `the fleet directory is missing: no ${file} in the bundle and ${ENV.directory} is not set (redeploy the kill path)`,
  );
}

function required(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new EnvironmentError(`environment variable ${name} is not set`);
  }
  return value;
}

/**
 * Reads and checks the handler environment once per container. The directory is the one given
 * (already parsed: the local runner parses it once for every invocation), or else the
 * BACKSTOP_DIRECTORY variable's JSON.
 */
export function readHandlerEnv(
  env: Readonly<Record<string, string | undefined>>,
  given?: Directory,
): HandlerEnv {
  const directory = given ?? parseDirectory(required(env, ENV.directory), ENV.directory);
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

const agentIndex = new WeakMap<Directory, ReadonlyMap<string, AgentTarget>>();

/** The agent of the directory with this id (indexed once per directory: fleets hold thousands). */
export function findAgent(directory: Directory, agentId: string): AgentTarget | undefined {
  let index = agentIndex.get(directory);
  if (!index) {
    index = new Map(directory.agents.map((a) => [a.agentId, a]));
    agentIndex.set(directory, index);
  }
  return index.get(agentId);
}

export function hasWorkload(directory: Directory, accountId: string, region: string): boolean {
  return directory.workloads.some((w) => w.accountId === accountId && w.region === region);
}
