import { createHash } from 'node:crypto';
import { findAgent, hasWorkload } from './env';
import { type AgentTarget, type Directory, isKillMode, KILL_MODES, type KillMode } from './types';

export const MAX_REASON_LENGTH = 1024;
export const MAX_AGENTS_PER_KILL = 1000;
const INCIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$/;
const ALLOWED_FIELDS = new Set(['agentId', 'agentIds', 'mode', 'reason', 'incidentId', 'dryRun']);

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
  if (req.agentId !== undefined && req.agentIds !== undefined) {
    problems.push('agentId and agentIds: give one or the other, not both');
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
      problems.push(`agentIds: at most ${MAX_AGENTS_PER_KILL} agents per kill`);
    } else agentIds = [...new Set(req.agentIds as string[])];
  } else {
    problems.push('agentId: missing (name the agent to kill, or give agentIds)');
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
      `unknown agent(s) ${unknownAgents.join(', ')}: not in backstop.config.json (known: ${directory.agents
        .map((a) => a.agentId)
        .slice(0, 20)
        .join(', ')})`,
    ]);
  }
  const roleless = agents.filter((a) => !hasWorkload(directory, a.accountId, a.region));
  if (roleless.length > 0) {
    return reject(
      'NO_KILL_ROLE',
      roleless.map(
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
