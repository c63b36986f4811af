/**
 * `backstop/runtime`: the agent's in-process brake. It depends on the DynamoDB client only (no
 * CDK, nothing else from this repository), so it can ship inside an agent.
 */
export {
  BackstopGuard,
  type BackstopGuardOptions,
  type FlagReader,
  type FlagState,
  type GuardCheck,
  type GuardWarning,
  isReadAction,
} from './guard';
export {
  BackstopGuardConfigError,
  BackstopRefusedError,
  GUARD_MODES,
  type GuardMode,
  type RefusalDetail,
  type RefusalReason,
} from './errors';
