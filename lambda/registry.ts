import { run as finalize } from './kill-finalize/finalize';
import { handle as prepare } from './kill-prepare/prepare';
import { run as surface } from './kill-surface/surface';
import { run as verify } from './kill-verify/verify';
import type { HandlerLogic } from './shared/adapter';

/**
 * Every handler by the name its function carries in BACKSTOP_HANDLER. The kill path construct
 * bundles `lambda/<name>/index.ts`; the local engine calls the same logic through this table.
 */
export const HANDLERS = {
  'kill-prepare': prepare,
  'kill-surface': surface,
  'kill-verify': verify,
  'kill-finalize': finalize,
} as const satisfies Record<string, HandlerLogic<never, unknown>>;

export type HandlerName = keyof typeof HANDLERS;
