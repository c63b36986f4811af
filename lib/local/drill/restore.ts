/**
 * The drill's last step: the governed restore (issue 9). The simulated kill is attributed as AWS
 * would attribute it (CloudTrail's StartExecution event, handed to the audit sealer), the on-call
 * engineer who started the kill asks for the restore, two other approvers approve it (each as the
 * identity STS reports for their credentials), and the restore path runs on the local engine with
 * the real handlers. The drill then reads the agent back and prints the time to restore beside the
 * time to contain.
 */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { attributeExecution, type CloudTrailApiCallEvent } from '../../../lambda/audit-seal/attribution';
import { type ClientFactory, createClientFactory } from '../../../lambda/shared/clients';
import type { HandlerDeps } from '../../../lambda/shared/deps';
import { randomHex } from '../../../lambda/shared/deps';
import { ENV, readHandlerEnv } from '../../../lambda/shared/env';
import type { AuditReport } from '../../../lambda/shared/audit-verify';
import { openRestoreStore } from '../../../lambda/restore-shared/io';
import type { CallerIdentity, RestoreResult } from '../../../lambda/restore-shared/types';
import type { Mode } from '../../../lambda/shared/types';
import { toDirectory } from '../../config';
import { wrap as wrapText } from '../../cli/text';
import type { LocalKillOutcome } from '../kill-runner';
import { type LocalRestoreOutcome, LocalRestoreRunner } from '../restore-runner';
import { stackOutputsOf } from '../simulator';
import { type DrillReport, type DrillWorld, readAndVerifyIncident } from './run';
import { DRILL_AGENT, DRILL_CONTROL_PLANE } from './scenario';

const CP = DRILL_CONTROL_PLANE.accountId;
/** A drill line wrapped at 100 columns, continued four columns in. */
const wrap = (text: string) => wrapText(text, undefined, '    ');
const REGION = DRILL_CONTROL_PLANE.region;

/** Who does what in the drill's restore: the kill's initiator asks, two others approve. */
export const DRILL_PEOPLE = {
  /** Started the kill (a break-glass principal) and asks for the restore: she may approve neither. */
  oncall: `arn:aws:iam::${CP}:user/oncall-alice`,
  approvers: [`arn:aws:iam::${CP}:user/oncall-bob`, `arn:aws:iam::${CP}:user/oncall-carol`],
} as const;

/** SDK clients of the control plane under a person's (simulated) credentials. */
export function clientsAs(world: DrillWorld, principalArn: string): ClientFactory {
  return createClientFactory({
    region: REGION,
    plugins: [world.simulator.plugin()],
    credentials: world.simulator.credentialsFor(principalArn),
  });
}

/** The caller as STS reports it for these clients' credentials (what `--local` records). */
export async function stsCaller(clients: ClientFactory): Promise<CallerIdentity> {
  const out = await clients.controlPlane().sts.send(new GetCallerIdentityCommand({}));
  if (!out.Arn) throw new Error('STS GetCallerIdentity returned no ARN');
  return { arn: out.Arn, source: 'sts' };
}

/** A restore runner in the drill's world: the restore worker's and the sealer's own identities. */
export function drillRestoreRunner(
  world: DrillWorld,
  options: Partial<ConstructorParameters<typeof LocalRestoreRunner>[0]> = {},
): LocalRestoreRunner {
  const cp = world.controlPlane;
  const worker = clientsAs(world, cp.restoreWorkerRoleArn);
  const sealer = clientsAs(world, cp.auditSealerRoleArn);
  return new LocalRestoreRunner({
    config: world.config,
    clients: (identity) => (identity === 'sealer' ? sealer : worker),
    stackOutputs: stackOutputsOf(cp),
    strictNames: false,
    pollMs: 20,
    ...options,
  });
}

/** The sealer's dependencies in the drill's world. */
function sealerDeps(world: DrillWorld): HandlerDeps {
  return {
    env: readHandlerEnv({
      ...world.runner.handlerEnv,
      [ENV.directory]: JSON.stringify(toDirectory(world.config)),
    }),
    clients: clientsAs(world, world.controlPlane.auditSealerRoleArn),
    clock: () => new Date(),
    sleep: async () => {},
    randomId: randomHex,
    log: { info: () => {}, warn: () => {}, error: () => {} },
  };
}

/**
 * What CloudTrail delivers for the kill's StartExecution, and the audit sealer's attribution of
 * it (`ActorAttributed` in the kill's incident, sealed): the record a restore reads to know who
 * started the kill.
 */
export async function attributeKill(
  world: DrillWorld,
  kill: LocalKillOutcome,
  callerArn: string,
): Promise<void> {
  const { executionArn, executionName, startTime } = kill.execution;
  const stateMachineArn = executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, '');
  const user = /:user\//.test(callerArn);
  const event: CloudTrailApiCallEvent = {
    version: '0',
    id: `drill-${executionName}`,
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.states',
    account: CP,
    time: startTime.toISOString(),
    region: REGION,
    detail: {
      eventVersion: '1.09',
      userIdentity: user
        ? { type: 'IAMUser', arn: callerArn, accountId: CP, userName: callerArn.split('/').pop() }
        : { type: 'AssumedRole', arn: callerArn, accountId: CP },
      eventTime: startTime.toISOString(),
      eventSource: 'states.amazonaws.com',
      eventName: 'StartExecution',
      awsRegion: REGION,
      sourceIPAddress: '203.0.113.10',
      userAgent: 'backstop drill',
      requestParameters: { stateMachineArn, name: executionName },
      responseElements: { executionArn },
      requestID: `drill-request-${executionName}`,
      eventID: `drill-event-${executionName}`,
      recipientAccountId: CP,
    },
  };
  const result = await attributeExecution(event, sealerDeps(world), { waitForManifestMs: 0, pollMs: 1 });
  if (result.status !== 'ATTRIBUTED')
    throw new Error(`the drill's kill was not attributed: ${JSON.stringify(result)}`);
}

export interface DrillRestoreReport {
  readonly ok: boolean;
  readonly outcome: LocalRestoreOutcome;
  readonly result?: RestoreResult;
  readonly approvals: readonly { approver: string; accepted: boolean; message: string }[];
  readonly audit: AuditReport;
  readonly timeToContainMs: number | null;
  readonly timeToRestoreMs: number | null;
  /** What the drill prints, each line at most 100 columns. */
  readonly lines: string[];
}

/**
 * Asks for the restore of the drill's agent as the on-call engineer who killed it, approves it as
 * two other approvers once it waits, and runs the restore path to the end.
 */
export async function drillRestore(
  report: DrillReport,
  options: { toMode?: Mode; waitScale?: number } = {},
): Promise<DrillRestoreReport> {
  const { world } = report;
  const kill = report.outcome;
  const incidentId = kill.result?.incidentId ?? kill.execution.executionName;
  await attributeKill(world, kill, DRILL_PEOPLE.oncall);
  const runner = drillRestoreRunner(world);
  const requester = await stsCaller(clientsAs(world, DRILL_PEOPLE.oncall));
  const approvals: { approver: string; accepted: boolean; message: string }[] = [];
  const approve = async (restoreId: string) => {
    const restores = openRestoreStore(runner.deps());
    for (let i = 0; i < 500; i++) {
      const record = await restores.get(restoreId);
      if (record?.status !== 'REQUESTED') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const approver of DRILL_PEOPLE.approvers) {
      const caller = await stsCaller(clientsAs(world, approver));
      const { result } = await runner.decide(caller, {
        action: 'approve',
        restoreId,
        reason: 'drill: reviewed the incident',
      });
      approvals.push({ approver: caller.arn, accepted: result.accepted, message: result.message });
    }
  };
  let approving: Promise<void> | undefined;
  const outcome = await runner.restore(
    requester,
    {
      incidentId,
      agentId: DRILL_AGENT,
      toMode: options.toMode ?? 'normal',
      reason: 'drill: the incident is understood, give the agent its authority back',
    },
    {
      waitScale: options.waitScale ?? 0.1,
      onRequested: (r) => {
        approving = approve(r.record.restoreId);
      },
    },
  );
  await approving;
  const { audit } = await readAndVerifyIncident(world, incidentId);
  const result = outcome.result;
  const timeToRestoreMs = result?.outcome?.timeToRestoreMs ?? null;
  const timeToContainMs = kill.result?.timeToContainMs ?? null;
  const seconds = (ms: number | null) => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
  const lines = [
    ...wrap(`Restore ${outcome.restoreId}: ${result?.status ?? 'no result'} (${result?.message ?? ''})`),
    ...wrap(`Requested by ${requester.arn} (who started the kill: she may not approve)`),
    ...approvals.map((a) => `  ${a.accepted ? 'approved' : 'refused'} by ${a.approver}`),
    ...(result?.outcome?.stoppedExecutions ?? []).flatMap((e) =>
      wrap(`  stopped execution to re-drive by hand (never restarted): ${e.executionArn}`),
    ),
    `Time to contain: ${seconds(timeToContainMs)}    Time to restore: ${seconds(timeToRestoreMs)} (after quorum)`,
    ...wrap(
      `Audit log after the restore: ${audit.ok ? 'verified' : 'NOT verified'} (${audit.objectsChecked} objects, manifests ${audit.incidents.map((i) => i.manifests.length).join(', ')})`,
    ),
  ];
  return {
    ok: result?.status === 'COMPLETED' && audit.ok,
    outcome,
    ...(result && { result }),
    approvals,
    audit,
    timeToContainMs,
    timeToRestoreMs,
    lines,
  };
}
