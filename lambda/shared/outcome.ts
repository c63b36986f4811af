import type { AgentKillResult, KillResult } from './kill-types';
import type { KillStatus } from './types';

/**
 * An agent's status from its read-backs, never from the cuts alone: CONTAINED when every
 * surface that applies was read back cut, FAILED when none was, PARTIAL in between.
 */
export function summarizeAgent(a: AgentKillResult, dryRun: boolean): KillResult['agents'][number] {
  const surfaces = a.contain.map((c) => {
    const v = a.verify.surfaces.find((s) => s.surface === c.surface);
    const verify = v?.status ?? 'FAILED';
    const detail =
      v?.message ??
      c.cause ??
      (c.failures.length > 0 ? c.failures.map((f) => `${f.resource}: ${f.error}`).join('; ') : undefined);
    return { surface: c.surface, contain: c.status, verify, detail };
  });
  const applicable = surfaces.filter((s) => s.contain !== 'NOT_APPLICABLE');
  const proven = applicable.filter((s) => s.verify === 'VERIFIED');
  let status: KillStatus;
  if (dryRun) status = 'PLANNED';
  else if (proven.length === applicable.length) status = 'CONTAINED';
  else if (proven.length === 0) status = 'FAILED';
  else status = 'PARTIAL';
  return { agentId: a.agentId, status, surfaces };
}
