import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { AuditRecord } from '../../../lambda/shared/audit';
import { type AuditReport, verifyAudit } from '../../../lambda/shared/audit-verify';
import { type ClientFactory, createClientFactory } from '../../../lambda/shared/clients';
import { PlanStore, type StoredSurfacePlan } from '../../../lambda/shared/plan-store';
import type { KillMode } from '../../../lambda/shared/types';
import { type BackstopConfig, parseConfig } from '../../config';
import type { EngineEvent } from '../engine';
import { type LocalKillOutcome, LocalKillRunner, type LocalKillRunnerOptions } from '../kill-runner';
import {
  type SeededControlPlane,
  type SeededWorkload,
  Simulator,
  type SimulatorOptions,
  seedBackstopControlPlane,
  seedBackstopWorkload,
  stackOutputsOf,
} from '../simulator';
import {
  DRILL_AGENT,
  DRILL_CONFIG,
  DRILL_CONTROL_PLANE,
  DRILL_WORKLOAD,
  type DrillInventory,
  seedDrillAgent,
} from './scenario';

export interface DrillOptions extends DrillWorldOptions {
  /** @default 'full_stop' */
  readonly mode?: KillMode;
  /** A dry run (`backstop plan` on the simulator): nothing is cut. @default false */
  readonly dryRun?: boolean;
  /** Multiplies the kill path's waits and retry intervals. @default 0.1 */
  readonly waitScale?: number;
  readonly onEvent?: (event: EngineEvent) => void;
}

export interface DrillReport {
  readonly agentId: string;
  readonly mode: KillMode;
  readonly incidentId: string;
  /** The audit bucket of the simulated control plane. */
  readonly bucket: string;
  readonly inventory: DrillInventory;
  readonly outcome: LocalKillOutcome;
  /** Every audit record of the incident, in key order. */
  readonly records: { key: string; record: AuditRecord }[];
  readonly audit: AuditReport;
  /** A dry run's plan, per surface, as the state table holds it. */
  readonly plans?: StoredSurfacePlan[];
  readonly simulator: Simulator;
}

/** A simulated Backstop deployment with the sample agent seeded, and a kill runner wired to it. */
export interface DrillWorld {
  readonly config: BackstopConfig;
  readonly simulator: Simulator;
  readonly controlPlane: SeededControlPlane;
  readonly workload: SeededWorkload;
  readonly inventory: DrillInventory;
  readonly clients: ClientFactory;
  readonly runner: LocalKillRunner;
}

export interface DrillWorldOptions {
  readonly throttling?: SimulatorOptions['throttling'];
  readonly latencyMs?: SimulatorOptions['latencyMs'];
  /** The handlers' sleep (audit retry pauses). @default - setTimeout */
  readonly sleep?: LocalKillRunnerOptions['sleep'];
  /** Runs before each handler invocation (see LocalKillRunnerOptions.beforeHandler). */
  readonly beforeHandler?: LocalKillRunnerOptions['beforeHandler'];
}

/**
 * Builds what a deployment would hold: the control plane and the workload account seeded as the
 * stacks create them, the sample agent, and the kill path runner with the kill worker's identity.
 */
export async function createDrillWorld(options: DrillWorldOptions = {}): Promise<DrillWorld> {
  const config = parseConfig(DRILL_CONFIG, 'drill');
  const sim = new Simulator({ throttling: options.throttling, latencyMs: options.latencyMs });
  const cp = await seedBackstopControlPlane(sim, {
    accountId: DRILL_CONTROL_PLANE.accountId,
    region: DRILL_CONTROL_PLANE.region,
    retentionDays: config.audit.retentionDays,
    retentionMode: config.audit.mode,
  });
  const agent = config.agents.find((a) => a.id === DRILL_AGENT);
  const workload = await seedBackstopWorkload(sim, {
    accountId: DRILL_WORKLOAD.accountId,
    region: DRILL_WORKLOAD.region,
    controlPlaneAccountId: DRILL_CONTROL_PLANE.accountId,
    vpcIds: [DRILL_WORKLOAD.vpcId],
    agents: [
      {
        agentId: DRILL_AGENT,
        highRiskActions: agent?.highRiskActions,
        draftResources: agent?.draftResources,
      },
    ],
  });
  const inventory = await seedDrillAgent(sim, workload.boundaryArn);
  const clients = createClientFactory({
    region: DRILL_CONTROL_PLANE.region,
    plugins: [sim.plugin()],
    credentials: sim.credentialsFor(cp.killWorkerRoleArn),
  });
  const runner = new LocalKillRunner({
    config,
    clients,
    // The simulator plays the deployed stack: its names reach the engine as stack outputs would.
    stackOutputs: stackOutputsOf(cp),
    strictNames: false,
    sleep: options.sleep,
    beforeHandler: options.beforeHandler,
  });
  return { config, simulator: sim, controlPlane: cp, workload, inventory, clients, runner };
}

/**
 * The drill: a simulated control plane and workload account, the sample agent seeded into it, a
 * kill through the local engine on the synthesized state machine with the real handlers, then
 * `audit verify` over what the kill wrote.
 */
export async function runDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const world = await createDrillWorld(options);
  const mode = options.mode ?? 'full_stop';
  const outcome = await world.runner.kill(
    {
      agentId: DRILL_AGENT,
      mode,
      reason: options.dryRun
        ? 'drill: what would a kill cut? (dry run on the embedded simulator)'
        : 'drill: rehearse the kill path on the embedded simulator',
      ...(options.dryRun ? { dryRun: true } : {}),
    },
    {
      executionName: `${options.dryRun ? 'drill-plan' : 'drill'}-${Date.now()}`,
      waitScale: options.waitScale ?? 0.1,
      onEvent: options.onEvent,
    },
  );
  const incidentId = outcome.result?.incidentId ?? outcome.execution.executionName;
  const { records, audit } = await readAndVerifyIncident(world, incidentId);
  const plans = options.dryRun
    ? await new PlanStore(world.clients.controlPlane().dynamo, world.controlPlane.tableName).list(incidentId)
    : undefined;
  return {
    agentId: DRILL_AGENT,
    mode,
    incidentId,
    bucket: world.controlPlane.auditBucketName,
    inventory: world.inventory,
    outcome,
    records,
    audit,
    ...(plans ? { plans } : {}),
    simulator: world.simulator,
  };
}

/** The incident's audit records, and `audit verify` over them, as a compliance reviewer would run it. */
export async function readAndVerifyIncident(
  world: DrillWorld,
  incidentId: string,
): Promise<{ records: { key: string; record: AuditRecord }[]; audit: AuditReport }> {
  const { s3, kms } = world.clients.controlPlane();
  const records = await readIncidentRecords(s3, world.controlPlane.auditBucketName, incidentId);
  const audit = await verifyAudit({
    s3,
    kms,
    bucket: world.controlPlane.auditBucketName,
    clock: () => new Date(),
    incidentId,
    expectedMode: world.config.audit.mode,
    retentionDays: world.config.audit.retentionDays,
    trustedSigningKeyArns: [world.controlPlane.manifestSigningKeyArn],
  });
  return { records, audit };
}

/** Reads every audit record of an incident back from the bucket. */
export async function readIncidentRecords(
  s3: S3Client,
  bucket: string,
  incidentId: string,
): Promise<{ key: string; record: AuditRecord }[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: `incidents/${incidentId}/`,
        ContinuationToken: token,
      }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.NextContinuationToken;
  } while (token);
  const out: { key: string; record: AuditRecord }[] = [];
  for (const key of keys.sort()) {
    const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    out.push({ key, record: JSON.parse((await obj.Body?.transformToString()) ?? '{}') as AuditRecord });
  }
  return out;
}
