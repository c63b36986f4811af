import { createHash } from 'node:crypto';
import { findAgent, hasWorkload } from './env';
import { type AgentTarget, type Directory, isKillMode, KILL_MODES, type KillMode } from './types';

export const MAX_REASON_LENGTH = 1024;
/**
 * Agents one request may name. Past a batch (killPath.agentsPerBatch) they are cut by child
 * executions; 10,000 short ids keep the execution input far under Step Functions' 256 KB.
 */
export const MAX_AGENTS_PER_KILL = 10_000;
const ACCOUNT_ID = /^\d{12}$/;
const INCIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$/;
const ALLOWED_FIELDS = new Set([
  'agentId',
  'agentIds',
  'accountId',
  'mode',
  'reason',
  'incidentId',
  'dryRun',
]);

export type RejectionCode =
  'INVALID_REQUEST' | 'UNKNOWN_AGENT' | 'NO_KILL_ROLE' | 'WOULD_LOOSEN' | 'INCIDENT_EXISTS';

export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
}

export interface ValidKill {
  readonly agents: AgentTarget[];
  readonly mode: KillMode;
  readonly reason: string;
  readonly incidentId: string;
  readonly dryRun: boolean;
}

/**
 * The incident id used when the request names none: the execution name when it fits a role
 * session name, otherwise a stable digest of it (so retries of one execution agree).
 */
export function incidentIdFor(executionName: string): string {
  if (INCIDENT_ID.test(executionName)) return executionName;
  return `kill-${createHash('sha256').update(executionName).digest('hex').slice(0, 16)}`;
}

/**
 * The incident a refused execution writes its refusal into when the id it asked for belongs to
 * another execution: derived from the execution itself, so retries agree and no two collide.
 */
export function refusalIncidentId(executionId: string): string {
  return `refused-${createHash('sha256').update(executionId).digest('hex').slice(0, 16)}`;
}

/**
 * Validates a kill request against the directory. Returns every problem in one message, naming
 * the field, so that the person at the console fixes it in one go.
 */
export function validateKillRequest(
  raw: unknown,
  directory: Directory,
  executionName: string,
): { ok: true; kill: ValidKill } | { ok: false; rejection: Rejection; incidentId: string } {
  const fallbackId = incidentIdFor(executionName);
  const reject = (code: RejectionCode, problems: string[]) => ({
    ok: false as const,
    rejection: { code, message: problems.join('; ') },
    incidentId: fallbackId,
  });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return reject('INVALID_REQUEST', ['the kill request must be a JSON object']);
  }
  const req = raw as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(req).filter((k) => !ALLOWED_FIELDS.has(k));
  if (unknown.length > 0) {
    problems.push(`unknown field(s) ${unknown.join(', ')}: a kill takes ${[...ALLOWED_FIELDS].join(', ')}`);
  }

  let agentIds: string[] = [];
  const named = ['agentId', 'agentIds', 'accountId'].filter((k) => req[k] !== undefined);
  if (named.length > 1) {
    problems.push(`${named.join(' and ')}: give one of agentId, agentIds or accountId, not several`);
  } else if (req.accountId !== undefined) {
    // Every agent of one account, in every region the directory has it.
    if (typeof req.accountId !== 'string' || !ACCOUNT_ID.test(req.accountId)) {
      problems.push('accountId: must be a 12-digit AWS account id (every agent of that account is killed)');
    } else {
      agentIds = directory.agents.filter((a) => a.accountId === req.accountId).map((a) => a.agentId);
      if (agentIds.length === 0) {
        problems.push(`accountId: no agent of account ${req.accountId as string} is in backstop.config.json`);
      } else if (agentIds.length > MAX_AGENTS_PER_KILL) {
        problems.push(
          `accountId: account ${req.accountId as string} has ${agentIds.length} agents, at most ${MAX_AGENTS_PER_KILL} per kill (kill them with agentIds, in parts)`,
        );
      }
    }
  } else if (req.agentId !== undefined) {
    if (typeof req.agentId !== 'string' || req.agentId.trim() === '') {
      problems.push('agentId: must be a non-empty string');
    } else agentIds = [req.agentId];
  } else if (req.agentIds !== undefined) {
    if (!Array.isArray(req.agentIds) || req.agentIds.length === 0) {
      problems.push('agentIds: must be a non-empty array of agent ids');
    } else if (req.agentIds.some((a) => typeof a !== 'string' || a.trim() === '')) {
      problems.push('agentIds: every entry must be a non-empty string');
    } else if (req.agentIds.length > MAX_AGENTS_PER_KILL) {
      problems.push(
        `agentIds: ${req.agentIds.length} agents, at most ${MAX_AGENTS_PER_KILL} per kill (or give accountId for every agent of an account)`,
      );
    } else agentIds = [...new Set(req.agentIds as string[])];
  } else {
    problems.push('agentId: missing (name the agent to kill, or give agentIds, or accountId)');
  }

  if (req.mode === undefined) problems.push(`mode: missing (one of ${KILL_MODES.join(', ')})`);
  else if (!isKillMode(req.mode)) {
    problems.push(`mode: unknown mode ${JSON.stringify(req.mode)} (one of ${KILL_MODES.join(', ')})`);
  }

  if (typeof req.reason !== 'string' || req.reason.trim() === '') {
    problems.push('reason: missing or empty (say why, it goes in the audit log)');
  } else if (req.reason.length > MAX_REASON_LENGTH) {
    problems.push(`reason: ${req.reason.length} characters, at most ${MAX_REASON_LENGTH}`);
  }

  if (
    req.incidentId !== undefined &&
    (typeof req.incidentId !== 'string' || !INCIDENT_ID.test(req.incidentId))
  ) {
    problems.push(
      'incidentId: 1-55 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  if (req.dryRun !== undefined && typeof req.dryRun !== 'boolean')
    problems.push('dryRun: must be true or false');
  if (problems.length > 0) return reject('INVALID_REQUEST', problems);

  const agents: AgentTarget[] = [];
  const unknownAgents: string[] = [];
  for (const id of agentIds) {
    const agent = findAgent(directory, id);
    if (agent) agents.push(agent);
    else unknownAgents.push(id);
  }
  if (unknownAgents.length > 0) {
    return reject('UNKNOWN_AGENT', [
      `unknown agent(s) ${listSome(unknownAgents)}: not in backstop.config.json (known: ${directory.agents
        .map((a) => a.agentId)
        .slice(0, 20)
        .join(', ')})`,
    ]);
  }
  const roleless = agents.filter((a) => !hasWorkload(directory, a.accountId, a.region));
  if (roleless.length > 0) {
    return reject(
      'NO_KILL_ROLE',
      roleless
        .slice(0, 20)
        .map(
          (a) =>
            `agent ${a.agentId}: account ${a.accountId} region ${a.region} has no Backstop kill role (deploy its WorkloadAccountStack)`,
        ),
    );
  }
  return {
    ok: true,
    kill: {
      agents,
      mode: req.mode as KillMode,
      reason: (req.reason as string).trim(),
      incidentId: (req.incidentId as string | undefined) ?? fallbackId,
      dryRun: req.dryRun === true,
    },
  };
}

/** The first 20 entries, and how many more: a 10,000-agent request must not make a 10,000-id message. */
function listSome(ids: readonly string[]): string {
  return ids.length > 20 ? `${ids.slice(0, 20).join(', ')} and ${ids.length - 20} more` : ids.join(', ');
}
