/**
 * The local engine: executes a state machine taken from a synthesized CloudFormation template
 * with a local ASL interpreter, its Task states calling local handlers (docs/design.md section 10).
 */
import '../polyfills';

export type { AslDefinition, AslState, ScopeStep, StatePlace } from './asl';
export {
  type LambdaIntegration,
  type LoadedStateMachine,
  type LoadOptions,
  loadStateMachine,
  type RefusalProblem,
  StateMachineNotFoundError,
  StateMachineRefusedError,
  type TaskBinding,
} from './definition';
export {
  type CreateLocalEngineOptions,
  createLocalEngine,
  type EngineEvent,
  type EngineEventType,
  type EngineHandler,
  type EngineHandlers,
  type EngineScope,
  type ExecutionHistory,
  type ExecutionResult,
  type ExecutionStatus,
  type HandlerContext,
  LocalEngine,
  type LocalEngineOptions,
  MAX_PAYLOAD_BYTES,
  type PendingTaskToken,
  type RunOptions,
  StartExecutionError,
  TaskTokenError,
} from './engine';
export {
  type CfnResource,
  type CfnTemplate,
  createIntrinsicContext,
  derivePhysical,
  type IntrinsicContext,
  type PartialPhysicalResolver,
  type PhysicalNames,
  type PhysicalResolver,
  partitionOf,
  physicalNamesFromOutputs,
  type ResolveOptions,
  resolveIntrinsics,
  stableUuid,
  type TemplateEnvironment,
  TemplateResolutionError,
  urlSuffixOf,
} from './template';
