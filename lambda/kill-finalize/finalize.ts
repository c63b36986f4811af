import { PublishCommand } from '@aws-sdk/client-sns';
import { errorMessage, errorName } from '../shared/aws-errors';
import { BatchStore, fullLists } from '../shared/batch-store';
import { mapLimit } from '../shared/concurrency';
import { type HandlerDeps, type MetricDatum, putMetric, putMetrics } from '../shared/deps';
import { openChain, openStore } from '../shared/kill-io';
import { summarizeAgent } from '../shared/outcome';
import { OutcomeStore } from '../shared/outcome-store';
import { sealIncident } from '../shared/seal';
import type { AgentKillResult, FinalizeInput, KillResult } from '../shared/kill-types';
import type { KillStatus } from '../shared/types';

/**
 * Phase 4: decide CONTAINED / PARTIAL / FAILED from the read-backs (never from the cuts alone),
 * write the outcome and the signed manifest, release the locks, notify, and publish the
 * time-to-contain metric. The agents' modes stay where the kill put them.
 */
export async function run(input: FinalizeInput, deps: HandlerDeps): Promise<KillResult> {
  // A fleet kill's agents (and long lists of joined or unreachable ones) are in the state table.
  const lists = new BatchStore(deps.clients.controlPlane().dynamo, deps.env.tableName);
  const [targets, whole] = await Promise.all([
    input.prepare.batches?.length ? lists.allTargets(input.prepare.incidentId) : input.prepare.targets,
    fullLists(lists, input.prepare),
  ]);
  const prepare = { ...input.prepare, targets, joined: whole.joined, unreachable: whole.unreachable };
  const actor = { type: 'execution' as const, arn: prepare.executionId };
  const chain = openChain(deps, prepare.incidentId, 'finalize', actor);
  const store = openStore(deps);
  const unreachable = prepare.unreachable;
  const outcomes =
    prepare.targets.length > 0
      ? await new OutcomeStore(deps.clients.controlPlane().dynamo, deps.env.tableName).list(
          prepare.incidentId,
        )
      : new Map<string, AgentKillResult>();
  const agents = [
    ...prepare.targets.map((t) => {
      const outcome = outcomes.get(t.agentId);
      return outcome
        ? summarizeAgent(outcome, prepare.dryRun)
        : {
            agentId: t.agentId,
            status: 'FAILED' as const,
            surfaces: [],
            detail: 'no read-back was recorded: the verification step failed (see the execution history)',
          };
    }),
    ...unreachable.map((u) => ({
      agentId: u.agentId,
      status: 'FAILED' as const,
      surfaces: [],
      detail: u.message,
    })),
  ];
  const status = overallStatus(prepare, agents);
  const counts: KillResult['counts'] = {};
  for (const a of agents) counts[a.status] = (counts[a.status] ?? 0) + 1;
  // The execution output and the state table item stay small for a fleet: every agent when they
  // are few, otherwise the ones that need a person. KillCompleted in the audit log has them all.
  const listed =
    agents.length <= MAX_LISTED_AGENTS
      ? agents
      : agents.filter((a) => a.status !== 'CONTAINED').slice(0, MAX_LISTED_AGENTS);
  const finishedAt = deps.clock();
  const timeToContainMs =
    status === 'CONTAINED'
      ? Math.max(0, finishedAt.getTime() - new Date(prepare.requestedAt).getTime())
      : null;
  const timeToAuthorityCutMs = authorityCutMs(prepare, outcomes);

  // Branches the state machine had to catch (a Lambda that crashed or timed out) were not able to
  // write their own failure record: write it here.
  for (const a of outcomes.values()) {
    for (const c of a.contain) {
      if (c.error) {
        void chain.write('SurfaceFailed', {
          agentId: a.agentId,
          surface: c.surface,
          mode: prepare.mode ?? undefined,
          detail: { action: 'branch', error: c.error, message: c.cause ?? '' },
        });
      }
    }
  }
  if (prepare.status !== 'REJECTED') {
    void chain.write('KillCompleted', {
      mode: prepare.mode ?? undefined,
      reason: prepare.reason ?? undefined,
      detail: { status, timeToContainMs, agents, joined: prepare.joined, unreachable },
    });
  }

  // The locks go and the incident's status is stored side by side: neither waits on the other.
  await Promise.all([
    mapLimit(prepare.dryRun ? [] : prepare.targets, 50, async (t) => {
      try {
        await store.releaseLock(t.agentId, prepare.incidentId);
      } catch (e) {
        deps.log.warn('lock not released (it expires on its own)', {
          agentId: t.agentId,
          error: errorName(e),
        });
      }
    }),
    prepare.status === 'REJECTED'
      ? undefined
      : store.updateIncidentStatus(prepare.incidentId, status, {
          counts,
          notContained: agents
            .filter((a) => a.status !== 'CONTAINED')
            .map((a) => a.agentId)
            .slice(0, MAX_LISTED_AGENTS),
          timeToContainMs,
          finishedAt: finishedAt.toISOString(),
        }),
  ]);
  let manifestKey: string | null = null;
  try {
    manifestKey = (await sealIncident(deps, { incidentId: prepare.incidentId, kind: 'kill', chain })).key;
  } catch (e) {
    deps.log.error('manifest not written', {
      incidentId: prepare.incidentId,
      error: errorName(e),
      message: errorMessage(e),
    });
    await putMetric(deps, 'AuditWriteFailures', 1, 'Count');
  }

  const result: KillResult = {
    incidentId: prepare.incidentId,
    status,
    mode: prepare.mode,
    dryRun: prepare.dryRun,
    timeToContainMs,
    timeToAuthorityCutMs,
    counts,
    agents: listed,
    joined: prepare.joined.slice(0, MAX_LISTED_AGENTS),
    unreachable: unreachable.slice(0, MAX_LISTED_AGENTS),
    rejection: prepare.rejection,
    manifestKey,
  };
  const metrics: MetricDatum[] = [
    ...(timeToContainMs !== null
      ? [{ name: 'TimeToContain', value: timeToContainMs, unit: 'Milliseconds' as const }]
      : []),
    ...(timeToAuthorityCutMs !== null
      ? [{ name: 'TimeToAuthorityCut', value: timeToAuthorityCutMs, unit: 'Milliseconds' as const }]
      : []),
    ...(prepare.dryRun
      ? []
      : [
          {
            name: 'KillsNotContained',
            value: status === 'PARTIAL' || status === 'FAILED' ? 1 : 0,
            unit: 'Count' as const,
          },
        ]),
    { name: 'Kills', value: 1, unit: 'Count', dimensions: { Status: status } },
  ];
  await Promise.all([notify(deps, result), putMetrics(deps, metrics)]);
  return result;
}

/**
 * From the request to the moment the authority cut (the deny on every role, before any snapshot)
 * was in force for every agent of the kill; null when some agent's cut is not on record.
 */
export function authorityCutMs(
  prepare: FinalizeInput['prepare'],
  outcomes: ReadonlyMap<string, AgentKillResult>,
): number | null {
  if (prepare.dryRun || prepare.targets.length === 0) return null;
  let latest = 0;
  for (const t of prepare.targets) {
    const at = outcomes.get(t.agentId)?.contain.find((c) => c.authorityCutAt)?.authorityCutAt;
    if (!at) return null;
    latest = Math.max(latest, new Date(at).getTime());
  }
  return Math.max(0, latest - new Date(prepare.requestedAt).getTime());
}

/** Agents listed by name in a kill's result and notification; beyond it, the counts tell. */
export const MAX_LISTED_AGENTS = 100;

export function overallStatus(prepare: FinalizeInput['prepare'], agents: KillResult['agents']): KillStatus {
  if (prepare.status === 'REJECTED') return 'REJECTED';
  if (prepare.dryRun) return 'PLANNED';
  if (agents.length === 0) return 'JOINED';
  if (agents.every((a) => a.status === 'CONTAINED')) return 'CONTAINED';
  if (agents.every((a) => a.status === 'FAILED')) return 'FAILED';
  return 'PARTIAL';
}

async function notify(deps: HandlerDeps, r: KillResult): Promise<void> {
  const lines = [
    `Backstop kill ${r.incidentId}: ${r.status}${r.mode ? ` (${r.mode})` : ''}`,
    `Agents: ${Object.entries(r.counts)
      .map(([status, n]) => `${n} ${status}`)
      .join(', ')}`,
    ...r.agents.map(
      (a) =>
        `- ${a.agentId}: ${a.status}${
          a.status === 'CONTAINED'
            ? ''
            : a.surfaces.length === 0
              ? ` — ${a.detail ?? 'not cut'}`
              : ` — not proven: ${a.surfaces
                  .filter((s) => s.contain !== 'NOT_APPLICABLE' && s.verify !== 'VERIFIED')
                  .map((s) => `${s.surface} (${s.detail ?? s.verify})`)
                  .join(', ')}`
        }`,
    ),
    ...r.joined
      .slice(0, MAX_LISTED_AGENTS)
      .map((j) => `- ${j.agentId}: joined incident ${j.incidentId} (${j.mode})`),
    ...(r.rejection ? [`Rejected (${r.rejection.code}): ${r.rejection.message}`] : []),
    r.timeToContainMs !== null ? `Time to contain: ${(r.timeToContainMs / 1000).toFixed(1)} s` : '',
  ].filter(Boolean);
  try {
    await deps.clients.controlPlane().sns.send(
      new PublishCommand({
        TopicArn: deps.env.topicArn,
        Subject: `Backstop kill ${r.status}: ${r.incidentId}`.slice(0, 100),
        Message: lines.join('\n'),
        MessageAttributes: { status: { DataType: 'String', StringValue: r.status } },
      }),
    );
  } catch (e) {
    deps.log.error('notification not sent', {
      incidentId: r.incidentId,
      error: errorName(e),
      message: errorMessage(e),
    });
  }
}
