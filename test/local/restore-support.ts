/**
 * Shared by the restore path scenarios: a drill world with the sample agent killed (and the kill
 * attributed to the on-call engineer as CloudTrail would), a restore runner in it, the people of
 * the scenario, and the agent's whole state read back the way a kill snapshots it.
 */
import { createClientFactory } from '../../lambda/shared/clients';
import { REVOKE_SESSIONS_POLICY } from '../../lambda/shared/naming';
import { StateStore } from '../../lambda/shared/state-store';
import type { RoleSnapshot } from '../../lambda/surfaces/iam-roles';
import { SURFACE_NAMES, type KillMode, type SurfaceName } from '../../lambda/shared/types';
import { getSurface } from '../../lambda/surfaces';
import type { ResourceSnapshot, SurfaceContext } from '../../lambda/surfaces/types';
import { openRestoreStore } from '../../lambda/restore-shared/io';
import type { CallerIdentity, RestoreStatus } from '../../lambda/restore-shared/types';
import type { LocalKillOutcome } from '../../lib/local/kill-runner';
import type { LocalRestoreRunner } from '../../lib/local/restore-runner';
import {
  attributeKill,
  clientsAs,
  drillRestoreRunner,
  DRILL_PEOPLE,
  stsCaller,
} from '../../lib/local/drill/restore';
import {
  createDrillWorld,
  type DrillWorld,
  type DrillWorldOptions,
  readAndVerifyIncident,
} from '../../lib/local/drill/run';
import { DRILL_AGENT, DRILL_CONTROL_PLANE, DRILL_WORKLOAD } from '../../lib/local/drill/scenario';

export const CP = DRILL_CONTROL_PLANE.accountId;
export const { accountId: W, region: R } = DRILL_WORKLOAD;
export const AGENT = DRILL_AGENT;
export const ALICE = DRILL_PEOPLE.oncall;
export const [BOB, CAROL] = DRILL_PEOPLE.approvers as unknown as [string, string];
export const MALLORY = `arn:aws:iam::${CP}:user/mallory`;

let counter = 0;

export interface KilledWorld {
  readonly world: DrillWorld;
  readonly kill: LocalKillOutcome;
  readonly incidentId: string;
  readonly runner: LocalRestoreRunner;
  /** The agent's whole state before the kill. */
  readonly before: AgentState;
}

/** A drill world with the sample agent killed, the kill attributed to `killer` (unless null). */
export async function killedWorld(
  options: {
    mode?: KillMode;
    killer?: string | null;
    world?: DrillWorldOptions;
    runner?: Parameters<typeof drillRestoreRunner>[1];
    /** @default createDrillWorld */
    createWorld?: (options?: DrillWorldOptions) => Promise<DrillWorld>;
  } = {},
): Promise<KilledWorld> {
  const world = await (options.createWorld ?? createDrillWorld)(options.world);
  const before = await agentState(world);
  const name = `restore-test-${++counter}`;
  const kill = await world.runner.kill(
    { agentId: AGENT, mode: options.mode ?? 'full_stop', reason: 'test: contain before the restore' },
    { executionName: name, waitScale: 0 },
  );
  if (kill.result?.status !== 'CONTAINED') throw new Error(`the kill was ${kill.result?.status}`);
  if (options.killer !== null) await attributeKill(world, kill, options.killer ?? ALICE);
  const runner = drillRestoreRunner(world, { pollMs: 5, ...options.runner });
  return { world, kill, incidentId: kill.result.incidentId, runner, before };
}

/** A person, as STS reports their credentials. */
export function as(world: DrillWorld, principalArn: string): Promise<CallerIdentity> {
  return stsCaller(clientsAs(world, principalArn));
}

export function stateStore(world: DrillWorld): StateStore {
  return new StateStore({
    doc: world.clients.controlPlane().dynamo,
    tableName: world.controlPlane.tableName,
  });
}

/** Waits until the restore is in `status` (it gets there on its own: the engine runs meanwhile). */
export async function waitFor(
  runner: LocalRestoreRunner,
  restoreId: string,
  status: RestoreStatus,
): Promise<void> {
  const restores = openRestoreStore(runner.deps());
  for (let i = 0; i < 2000; i++) {
    if ((await restores.get(restoreId))?.status === status) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`restore ${restoreId} never got to ${status}`);
}

export type AgentState = Record<SurfaceName, ResourceSnapshot[]>;

/** The state with the session deny a restore leaves taken out of every role (checked on its own). */
export function withoutSessionDeny(state: AgentState): AgentState {
  return {
    ...state,
    iam: state.iam.map((r) => {
      const role = r.state as RoleSnapshot;
      return {
        id: r.id,
        state: {
          ...role,
          inlinePolicies: role.inlinePolicies.filter((p) => p.policyName !== REVOKE_SESSIONS_POLICY),
        },
      };
    }),
  };
}

/**
 * The agent's whole state: every surface discovered and snapshotted, exactly as a kill does, but
 * as the workload account's root (a reader the kill and restore never are). Volatile fields
 * (a schedule's last modification date) are left out.
 */
export async function agentState(world: DrillWorld): Promise<AgentState> {
  const clients = createClientFactory({
    region: R,
    plugins: [world.simulator.plugin()],
    credentials: world.simulator.credentialsFor(`arn:aws:iam::${W}:root`),
  });
  const root = clients.workload(R, world.simulator.credentialsFor(`arn:aws:iam::${W}:root`));
  const agent = world.config.agents.find((a) => a.id === AGENT);
  if (!agent) throw new Error('no drill agent');
  const ctx: SurfaceContext = {
    agent: {
      agentId: agent.id,
      accountId: agent.accountId,
      region: agent.region,
      partition: 'aws',
      roleArns: agent.roleArns,
      resourceArns: agent.resourceArns,
      highRiskActions: agent.highRiskActions,
      draftResources: agent.draftResources,
    },
    incidentId: 'state-read',
    killStartedAt: new Date(),
    clients: root,
    clock: () => new Date(),
    sleep: async () => {},
    log: { info: () => {}, warn: () => {}, error: () => {} },
  };
  const state = {} as AgentState;
  for (const name of SURFACE_NAMES) {
    const surface = getSurface(name);
    const ids = (await surface.discover(ctx)).sort();
    const snaps = await surface.snapshot(ctx, ids);
    state[name] = JSON.parse(
      JSON.stringify(snaps, (key, v) => (key === 'LastModificationDate' ? undefined : v)),
    ) as ResourceSnapshot[];
  }
  return state;
}

/** Reads the incident's audit trail back and verifies it as a reviewer would. */
export async function auditOf(world: DrillWorld, incidentId: string) {
  const audit = await readAndVerifyIncident(world, incidentId);
  const ofType = (type: string) => audit.records.filter((r) => r.record.type === type).map((r) => r.record);
  return { ...audit, ofType };
}
