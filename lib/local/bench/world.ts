import {
  type ClientFactory,
  type ClientFactoryOptions,
  createClientFactory,
} from '../../../lambda/shared/clients';
import { type BackstopConfig, type BackstopConfigInput, parseConfig } from '../../config';
import { LocalKillRunner } from '../kill-runner';
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
  FLEET_CONTROL_PLANE,
  FLEET_REGION,
  type FleetAgentInventory,
  type FleetLayout,
  type FleetLayoutOptions,
  fleetConfig,
  fleetLayout,
  seedFleetAccount,
  WARM_UP_ACCOUNT_ID,
  warmUpLayout,
} from './fleet';

/**
 * Whose retry quota an SDK call draws on. The SDK's standard retry strategy keeps a quota of 500
 * tokens (a throttling retry costs 5) per strategy, and `createClientFactory` makes one strategy per
 * factory. Deployed, every concurrent handler runs in its own Lambda container with its own
 * factory, so `per-invocation` (a fresh factory for every assumed session, that is every handler
 * invocation) is the production model; `shared` is one factory for the whole process, as the drill
 * wires it, where every branch of every agent drains the same 500 tokens.
 */
export type RetryQuotaScope = 'per-invocation' | 'shared';

export interface FleetWorldOptions extends FleetLayoutOptions {
  readonly throttling?: SimulatorOptions['throttling'];
  readonly latencyMs?: SimulatorOptions['latencyMs'];
  /** @default 'aws' (each API's own page sizes, as a large fleet sees them) */
  readonly pageSize?: SimulatorOptions['pageSize'];
  /** @default 'per-invocation' */
  readonly retryQuota?: RetryQuotaScope;
  /** The config's killPath (agents per batch, concurrency). @default - the config's defaults */
  readonly killPath?: BackstopConfigInput['killPath'];
  /**
   * Adds the warm-up agents (fleet.ts `warmUpLayout`) in an account of their own, in the config
   * and seeded, but not in `layout`. @default false
   */
  readonly warmUp?: boolean;
}

/** A simulated deployment holding a whole fleet, and a kill runner wired to it. */
export interface FleetWorld {
  readonly layout: FleetLayout;
  readonly config: BackstopConfig;
  readonly simulator: Simulator;
  readonly controlPlane: SeededControlPlane;
  /** Per workload account id, what its WorkloadAccountStack holds. */
  readonly workloads: ReadonlyMap<string, SeededWorkload>;
  readonly inventory: readonly FleetAgentInventory[];
  readonly clients: ClientFactory;
  readonly runner: LocalKillRunner;
  /** The warm-up agents' ids (empty without a warm-up). */
  readonly warmUpAgentIds: readonly string[];
}

/**
 * Workload clients from a fresh factory for every assumed session, so that each handler
 * invocation has its own SDK retry quota, as each Lambda container does. Nothing is cached: the
 * clients of an invocation are garbage once it returns. Control plane clients are shared.
 */
export function perInvocationClientFactory(options: ClientFactoryOptions): ClientFactory {
  const shared = createClientFactory(options);
  return {
    controlPlane: () => shared.controlPlane(),
    workload: (region, credentials) => createClientFactory(options).workload(region, credentials),
  };
}

/**
 * Builds what a deployment of the fleet would hold: the control plane and every workload account
 * seeded as the stacks create them, every agent's resources, the configuration parsed as the CLI
 * parses it, and the kill path runner with the kill worker's identity (as `createDrillWorld` does).
 */
export async function createFleetWorld(options: FleetWorldOptions): Promise<FleetWorld> {
  const layout = fleetLayout(options);
  const warm = options.warmUp ? warmUpLayout() : undefined;
  // The seeded and configured fleet: the measured one, and the warm-up agent's account after it.
  const seeded: FleetLayout = warm
    ? { accounts: [...layout.accounts, ...warm.accounts], agents: [...layout.agents, ...warm.agents] }
    : layout;
  const config = parseConfig(
    { ...fleetConfig(seeded), ...(options.killPath ? { killPath: options.killPath } : {}) },
    'benchmark fleet',
  );
  const sim = new Simulator({
    throttling: options.throttling,
    latencyMs: options.latencyMs,
    pageSize: options.pageSize ?? 'aws',
  });
  const cp = await seedBackstopControlPlane(sim, {
    accountId: FLEET_CONTROL_PLANE.accountId,
    region: FLEET_CONTROL_PLANE.region,
    retentionDays: config.audit.retentionDays,
    retentionMode: config.audit.mode,
  });
  const byId = new Map(config.agents.map((a) => [a.id, a]));
  const workloads = new Map<string, SeededWorkload>();
  const inventory: FleetAgentInventory[] = [];
  for (const account of seeded.accounts) {
    const agents = seeded.agents.filter((a) => a.accountId === account.accountId);
    const workload = await seedBackstopWorkload(sim, {
      accountId: account.accountId,
      region: FLEET_REGION,
      controlPlaneAccountId: FLEET_CONTROL_PLANE.accountId,
      vpcIds: [account.vpcId],
      agents: agents.map((a) => ({
        agentId: a.agentId,
        highRiskActions: byId.get(a.agentId)?.highRiskActions,
        draftResources: byId.get(a.agentId)?.draftResources,
      })),
    });
    workloads.set(account.accountId, workload);
    inventory.push(...(await seedFleetAccount(sim, account, agents, workload.boundaryArn)));
  }

  const clientOptions: ClientFactoryOptions = {
    region: FLEET_CONTROL_PLANE.region,
    plugins: [sim.plugin()],
    credentials: sim.credentialsFor(cp.killWorkerRoleArn),
  };
  const clients =
    (options.retryQuota ?? 'per-invocation') === 'per-invocation'
      ? perInvocationClientFactory(clientOptions)
      : createClientFactory(clientOptions);
  const runner = new LocalKillRunner({
    config,
    clients,
    // The simulator plays the deployed stack: its names reach the engine as stack outputs would.
    stackOutputs: stackOutputsOf(cp),
    strictNames: false,
  });
  return {
    layout,
    config,
    simulator: sim,
    controlPlane: cp,
    workloads,
    inventory: inventory.filter((a) => a.accountId !== WARM_UP_ACCOUNT_ID),
    clients,
    runner,
    warmUpAgentIds: warm ? warm.agents.map((a) => a.agentId) : [],
  };
}
