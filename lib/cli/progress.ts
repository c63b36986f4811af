import type { EngineEvent } from '../local/engine';
import { printable } from './text';
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
    surfaces?: { surface: string; status: string; message?: string }[];
  };
  if (Array.isArray(v.surfaces)) {
    if (v.surfaces.length > 0 && v.surfaces.every((s) => s.message?.startsWith('dry run')))
      return 'dry run: nothing was cut, nothing to read back';
    const open = v.surfaces.filter((s) => s.status !== 'VERIFIED' && s.status !== 'NOT_APPLICABLE');
    return open.length === 0 ? 'all verified' : open.map((s) => `${s.surface} ${s.status}`).join(', ');
  }
  return typeof v.status === 'string' ? v.status : undefined;
}

/**
 * An error's cause in one short line. A Lambda error's cause is the runtime's JSON (error type,
 * message and a stack trace): only the message is kept; a stack trace never reaches the terminal.
 */
export function oneLineCause(cause: string | undefined, max = 160): string | undefined {
  if (!cause) return undefined;
  let text = cause;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown; message?: unknown };
    if (typeof parsed?.errorMessage === 'string') text = parsed.errorMessage;
    else if (typeof parsed?.message === 'string') text = parsed.message;
  } catch {
    // not JSON: the text itself
  }
  const first = text.split('\n').find((l) => l.trim() !== '' && !/^\s*at /.test(l)) ?? text;
  const flat = printable(first.replace(/\s+/g, ' ').trim());
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** `Error: cause`, each part made safe for one terminal line. */
export function errorDetail(error: string | undefined, cause: string | undefined): string | undefined {
  const why = oneLineCause(cause);
  if (!error && !why) return undefined;
  return [error && printable(error), why].filter(Boolean).join(': ');
}

/** The state every agent of a kill passes last, with its status (suffixed in a batch's Map). */
const AGENT_DONE = 'Agent done';

/** An agent's final status when a state named `state` with `output` is its last one. */
export function agentDone(
  state: string | undefined,
  output: unknown,
): { agentId: string; status: string } | undefined {
  if (!state?.startsWith(AGENT_DONE) || typeof output !== 'object' || output === null) return undefined;
  const o = output as { agentId?: unknown; status?: unknown };
  return typeof o.agentId === 'string' && typeof o.status === 'string'
    ? { agentId: o.agentId, status: o.status }
    : undefined;
}

/** The engine events a person wants to see while a kill runs, as progress lines. */
export function progressFromEngine(e: EngineEvent): ProgressEvent | undefined {
  const base = { elapsedMs: e.elapsedMs, state: e.stateName ?? '' };
  switch (e.type) {
    case 'ExecutionStarted':
      return { ...base, state: 'Kill started', kind: 'started' };
    case 'TaskSucceeded':
      return { ...base, kind: 'succeeded', agentId: agentOf(e.output), detail: statusOf(e.output) };
    case 'StateExited': {
      const done = agentDone(e.stateName, e.output);
      return (
        done && {
          ...base,
          kind: 'succeeded',
          agentId: done.agentId,
          detail: done.status,
          agentStatus: done.status,
        }
      );
    }
    case 'TaskFailed':
      return { ...base, kind: 'failed', detail: errorDetail(e.error, e.cause) };
    case 'StateRetried':
      return { ...base, kind: 'retried', detail: `attempt ${e.attempt ?? '?'}: ${e.error ?? ''}` };
    case 'StateCaught':
      return { ...base, kind: 'caught', detail: errorDetail(e.error, e.cause) };
    case 'WaitStarted':
      return { ...base, kind: 'waiting', agentId: agentOf(e.input) };
    case 'ExecutionSucceeded':
      return { ...base, state: 'Kill finished', kind: 'succeeded', detail: statusOf(e.output) };
    case 'ExecutionFailed':
      return { ...base, state: 'Kill ended', kind: 'failed', detail: errorDetail(e.error, e.cause) };
    default:
      return undefined;
  }
}
