import type { EngineEvent } from '../local/engine';
import type { ProgressEvent } from './render';

const agentOf = (value: unknown): string | undefined =>
  typeof value === 'object' && value !== null && typeof (value as { agentId?: unknown }).agentId === 'string'
    ? (value as { agentId: string }).agentId
    : undefined;

function statusOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as {
    status?: unknown;
    pending?: unknown;
    surfaces?: { surface: string; status: string }[];
  };
  if (Array.isArray(v.surfaces)) {
    const open = v.surfaces.filter((s) => s.status !== 'VERIFIED' && s.status !== 'NOT_APPLICABLE');
    return open.length === 0 ? 'all verified' : open.map((s) => `${s.surface} ${s.status}`).join(', ');
  }
  return typeof v.status === 'string' ? v.status : undefined;
}

/** The engine events a person wants to see while a kill runs, as progress lines. */
export function progressFromEngine(e: EngineEvent): ProgressEvent | undefined {
  const base = { elapsedMs: e.elapsedMs, state: e.stateName ?? '' };
  switch (e.type) {
    case 'ExecutionStarted':
      return { ...base, state: 'Kill started', kind: 'started' };
    case 'TaskSucceeded':
      return { ...base, kind: 'succeeded', agentId: agentOf(e.output), detail: statusOf(e.output) };
    case 'TaskFailed':
      return { ...base, kind: 'failed', detail: e.error };
    case 'StateRetried':
      return { ...base, kind: 'retried', detail: `attempt ${e.attempt ?? '?'}: ${e.error ?? ''}` };
    case 'StateCaught':
      return { ...base, kind: 'caught', detail: e.error };
    case 'WaitStarted':
      return { ...base, kind: 'waiting', agentId: agentOf(e.input) };
    case 'ExecutionSucceeded':
      return { ...base, state: 'Kill finished', kind: 'succeeded', detail: statusOf(e.output) };
    case 'ExecutionFailed':
      return { ...base, state: 'Kill ended', kind: 'failed', detail: `${e.error ?? ''}: ${e.cause ?? ''}` };
    default:
      return undefined;
  }
}
