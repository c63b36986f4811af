import { randomBytes } from 'node:crypto';
import { PutMetricDataCommand, type StandardUnit } from '@aws-sdk/client-cloudwatch';
import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { Log } from '../surfaces/types';
import type { ClientFactory, WorkloadClients } from './clients';
import { killExecutionRoleArn, killSessionName } from './naming';
import type { AgentTarget, HandlerEnv } from './types';

/** Everything a handler's logic needs, injected: production builds it once per container. */
export interface HandlerDeps {
  readonly env: HandlerEnv;
  readonly clients: ClientFactory;
  readonly clock: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly randomId: () => string;
  readonly log: Log;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
export const randomHex = (): string => randomBytes(4).toString('hex');

/** JSON-lines logger on stdout/stderr, the shape CloudWatch Logs Insights reads. */
export function jsonLog(
  service: string,
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Log {
  const emit = (level: string, message: string, extra?: Record<string, unknown>) =>
    write(JSON.stringify({ level, service, message, time: new Date().toISOString(), ...extra }));
  return {
    info: (m, e) => emit('INFO', m, e),
    warn: (m, e) => emit('WARN', m, e),
    error: (m, e) => emit('ERROR', m, e),
  };
}

/** The SourceIdentity stamped on every kill session: it follows the session through CloudTrail. */
export function killSourceIdentity(incidentId: string): string {
  return `backstop-${incidentId}`.slice(0, 64);
}

/**
 * Assumes `roleArn` in the agent's account and region with the given session name and source
 * identity (both follow the session through CloudTrail), and returns clients under it.
 */
export async function assumeWorkloadRole(
  deps: Pick<HandlerDeps, 'clients'>,
  agent: AgentTarget,
  roleArn: string,
  sessionName: string,
  sourceIdentity: string,
): Promise<WorkloadClients> {
  const { sts } = deps.clients.controlPlane();
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: sessionName,
      SourceIdentity: sourceIdentity,
      DurationSeconds: 3600,
    }),
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey) {
    throw new Error(`AssumeRole into ${agent.accountId}/${agent.region} returned no credentials`);
  }
  return deps.clients.workload(agent.region, {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
    expiration: c.Expiration,
  });
}

/**
 * Assumes the kill execution role of the agent's account and region, with a per-incident session
 * name and source identity, and returns clients under it.
 */
export function assumeKillRole(
  deps: Pick<HandlerDeps, 'clients'>,
  agent: AgentTarget,
  incidentId: string,
): Promise<WorkloadClients> {
  return assumeWorkloadRole(
    deps,
    agent,
    killExecutionRoleArn(agent.partition, agent.accountId, agent.region),
    killSessionName(incidentId),
    killSourceIdentity(incidentId),
  );
}

/** One datum of {@link putMetrics}. */
export interface MetricDatum {
  readonly name: string;
  readonly value: number;
  readonly unit: StandardUnit;
  readonly dimensions?: Record<string, string>;
}

/** Puts one metric in the Backstop namespace. A failed metric never fails a kill: it is logged. */
export function putMetric(
  deps: Pick<HandlerDeps, 'clients' | 'env' | 'clock' | 'log'>,
  name: string,
  value: number,
  unit: StandardUnit,
  dimensions: Record<string, string> = {},
): Promise<void> {
  return putMetrics(deps, [{ name, value, unit, dimensions }]);
}

/** Puts several metrics in the Backstop namespace in one call; a failure is logged, never thrown. */
export async function putMetrics(
  deps: Pick<HandlerDeps, 'clients' | 'env' | 'clock' | 'log'>,
  metrics: readonly MetricDatum[],
): Promise<void> {
  if (metrics.length === 0) return;
  const at = deps.clock();
  try {
    await deps.clients.controlPlane().cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: deps.env.metricsNamespace,
        MetricData: metrics.map((m) => ({
          MetricName: m.name,
          Value: m.value,
          Unit: m.unit,
          Timestamp: at,
          Dimensions: Object.entries(m.dimensions ?? {}).map(([Name, Value]) => ({ Name, Value })),
        })),
      }),
    );
  } catch (e) {
    deps.log.error('metric not written', {
      metrics: metrics.map((m) => m.name),
      error: (e as Error).name,
      message: (e as Error).message,
    });
  }
}
