import { run as apply } from '../restore-apply/apply';
import { run as awaitApprovals } from '../restore-await/await';
import { run as finalize } from '../restore-finalize/finalize';
import { run as prepare } from '../restore-prepare/prepare';
import type { HandlerDeps } from '../shared/deps';
import type { RestoreSettings } from './settings';

/** A restore handler's logic: the event, the common dependencies and the restore settings. */
export type RestoreHandlerLogic = (
  event: never,
  deps: HandlerDeps,
  settings: RestoreSettings,
) => Promise<unknown>;

/**
 * Every restore path handler by the name its function carries in BACKSTOP_HANDLER. The restore
 * path construct bundles `lambda/<name>/index.ts`; the local restore runner calls the same logic
 * through this table.
 */
export const RESTORE_HANDLERS = {
  'restore-prepare': prepare,
  'restore-await': awaitApprovals,
  'restore-apply': apply,
  'restore-finalize': finalize,
} as const satisfies Record<string, RestoreHandlerLogic>;

export type RestoreHandlerName = keyof typeof RESTORE_HANDLERS;
