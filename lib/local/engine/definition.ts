import { ENV } from '../../../lambda/shared/env';
import {
  type AslDefinition,
  type AslState,
  childMachines,
  contextReferences,
  isRecord,
  mapExpressions,
  type StatePlace,
  statesOf,
} from './asl';
import { loadInterpreter } from './interpreter';
import {
  type CfnTemplate,
  createIntrinsicContext,
  type IntrinsicContext,
  type ResolveOptions,
  resolveIntrinsics,
  TemplateResolutionError,
} from './template';

/**
 * Takes a state machine out of a synthesized template as concrete ASL, binds every Task to the
 * handler of the Lambda function it invokes, and refuses, with one error that lists every
 * offending state, anything the local interpreter (aws-local-stepfunctions) would not execute
 * the way Step Functions does.
 */

/** How a Task invokes its Lambda function. */
export type LambdaIntegration =
  /** `Resource` is the function ARN: the handler gets the state input, its result is the task result. */
  | 'function-arn'
  /** `arn:aws:states:::lambda:invoke`: the task result is `{ StatusCode, Payload, ... }`. */
  | 'lambda-invoke'
  /** `arn:aws:states:::lambda:invoke.waitForTaskToken`: the task result is what the token is completed with. */
  | 'lambda-invoke-callback';

export interface TaskBinding {
  readonly stateName: string;
  readonly path: string;
  readonly resource: string;
  readonly integration: LambdaIntegration;
  readonly functionLogicalId: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** The function's `BACKSTOP_HANDLER`: the name of the engine handler that runs it. */
  readonly handler: string;
  /** The function's `Environment.Variables`, resolved. */
  readonly env: Readonly<Record<string, string>>;
}

export interface LoadedStateMachine {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly roleArn?: string;
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  /** The concrete ASL, exactly as it would be deployed. */
  readonly definition: AslDefinition;
  /** Every state at every nesting level. */
  readonly states: readonly StatePlace[];
  /** Task state name to the Lambda function and handler it runs. */
  readonly tasks: Readonly<Record<string, TaskBinding>>;
}

export interface LoadOptions extends ResolveOptions {
  /** @default - the template's only state machine (more than one needs a selector) */
  readonly stateMachineLogicalId?: string;
  /** Selects the state machine by its resolved name. @default - see stateMachineLogicalId */
  readonly stateMachineName?: string;
  /**
   * Names of the handlers the engine will have. When given, a Task whose `BACKSTOP_HANDLER` is
   * not among them is refused here, at load time. @default - not checked
   */
  readonly handlerNames?: Iterable<string>;
}

export interface RefusalProblem {
  /** Where, e.g. `Per agent/ItemProcessor/Notify`, or `(definition)` for the whole machine. */
  readonly path: string;
  readonly state?: string;
  readonly reason: string;
}

/** The definition holds something the local engine cannot execute faithfully. */
export class StateMachineRefusedError extends Error {
  override readonly name = 'Backstop.StateMachineRefused';
  constructor(
    readonly stateMachine: string,
    readonly problems: readonly RefusalProblem[],
  ) {
    super(
      `the local engine refuses state machine ${stateMachine}: it cannot execute ${problems.length === 1 ? 'this' : 'these'} faithfully\n${problems
        .map((p) => `  - ${p.path}: ${p.reason}`)
        .join('\n')}`,
    );
  }
}

/** The template holds no state machine matching the selector (or several, and none was selected). */
export class StateMachineNotFoundError extends Error {
  override readonly name = 'Backstop.StateMachineNotFound';
}

/** Context key under which the engine supplies `$$.Execution` (see executableDefinition). */
export const LOCAL_EXECUTION_KEY = 'BackstopLocalExecution';

/** setTimeout's ceiling: the interpreter's stand-in for "no TimeoutSeconds" (it defaults to 60 s otherwise). */
export const NO_TASK_TIMEOUT_SECONDS = 2_147_483;

const STATE_TYPES = new Set(['Task', 'Parallel', 'Map', 'Pass', 'Wait', 'Choice', 'Succeed', 'Fail']);
const EXECUTION_FIELDS = new Set(['Id', 'Name', 'StartTime', 'Input', 'RoleArn', 'RedriveCount']);
const LAMBDA_INVOKE_PARAMETERS = new Set([
  'FunctionName',
  'Payload',
  'Payload.$',
  'Qualifier',
  'InvocationType',
  'ClientContext',
  'ClientContext.$',
  'LogType',
]);
const FUNCTION_ARN = /^arn:([^:]+):lambda:([^:]+):(\d{12}):function:([^:]+)(?::([^:]+))?$/;
const PARTIAL_FUNCTION_ARN = /^(\d{12}):function:([^:]+)(?::([^:]+))?$/;
const FUNCTION_NAME = /^([A-Za-z0-9_-]+)(?::([A-Za-z0-9_$-]+))?$/;
const SERVICE_INTEGRATION = /^arn:[^:]+:states:::(.+?)(?:\.(sync(?::2)?|waitForTaskToken))?$/;
const ACTIVITY_ARN = /^arn:[^:]+:states:[^:]+:\d{12}:activity:/;

interface TemplateFunction {
  readonly logicalId: string;
  readonly name?: string;
  readonly arn?: string;
  readonly error?: string;
}

function selectStateMachine(template: CfnTemplate, ctx: IntrinsicContext, options: LoadOptions): string {
  const machines = Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([id]) => id);
  const nameOf = (id: string): string | undefined => {
    try {
      return ctx.physical(id, 'Name');
    } catch {
      return undefined;
    }
  };
  const describe = () =>
    machines.length === 0
      ? 'the template has no AWS::StepFunctions::StateMachine'
      : `state machines in the template: ${machines.map((id) => `${id} (${nameOf(id) ?? 'name unknown'})`).join(', ')}`;
  if (options.stateMachineLogicalId !== undefined) {
    if (!machines.includes(options.stateMachineLogicalId)) {
      throw new StateMachineNotFoundError(
        `no state machine with logical id ${options.stateMachineLogicalId}; ${describe()}`,
      );
    }
    return options.stateMachineLogicalId;
  }
  if (options.stateMachineName !== undefined) {
    const found = machines.filter((id) => nameOf(id) === options.stateMachineName);
    if (found.length !== 1) {
      throw new StateMachineNotFoundError(
        `no state machine named ${options.stateMachineName}; ${describe()}`,
      );
    }
    return found[0];
  }
  if (machines.length !== 1) {
    throw new StateMachineNotFoundError(
      `select a state machine by stateMachineLogicalId or stateMachineName; ${describe()}`,
    );
  }
  return machines[0];
}

function substitute(text: string, substitutions: Readonly<Record<string, unknown>>): string {
  return text.replace(/\$\{([^}]+)\}/g, (match, key: string) =>
    Object.hasOwn(substitutions, key) ? String(substitutions[key]) : match,
  );
}

function substituteDeep(value: unknown, substitutions: Readonly<Record<string, unknown>>): unknown {
  if (typeof value === 'string') return substitute(value, substitutions);
  if (Array.isArray(value)) return value.map((v) => substituteDeep(v, substitutions));
  if (isRecord(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, substitutions)]));
  }
  return value;
}

function resolveDefinition(logicalId: string, template: CfnTemplate, ctx: IntrinsicContext): AslDefinition {
  const props = template.Resources?.[logicalId]?.Properties ?? {};
  const where = `Resources.${logicalId}.Properties`;
  const rawSubstitutions = resolveIntrinsics(
    props.DefinitionSubstitutions ?? {},
    ctx,
    `${where}.DefinitionSubstitutions`,
  );
  const substitutions = isRecord(rawSubstitutions) ? rawSubstitutions : {};
  let definition: unknown;
  if (props.DefinitionString !== undefined) {
    const text = resolveIntrinsics(props.DefinitionString, ctx, `${where}.DefinitionString`);
    if (typeof text !== 'string') {
      throw new StateMachineRefusedError(logicalId, [
        { path: '(definition)', reason: 'DefinitionString is not a string' },
      ]);
    }
    try {
      definition = JSON.parse(substitute(text, substitutions));
    } catch (e) {
      throw new StateMachineRefusedError(logicalId, [
        { path: '(definition)', reason: `DefinitionString is not valid JSON: ${(e as Error).message}` },
      ]);
    }
  } else if (props.Definition !== undefined) {
    definition = substituteDeep(
      resolveIntrinsics(props.Definition, ctx, `${where}.Definition`),
      substitutions,
    );
  } else {
    const reason =
      props.DefinitionS3Location !== undefined
        ? 'the definition is in S3 (DefinitionS3Location), which the local engine does not read'
        : 'the state machine has no DefinitionString or Definition';
    throw new StateMachineRefusedError(logicalId, [{ path: '(definition)', reason }]);
  }
  if (!isRecord(definition) || typeof definition.StartAt !== 'string' || !isRecord(definition.States)) {
    throw new StateMachineRefusedError(logicalId, [
      { path: '(definition)', reason: 'the definition is not an object with StartAt and States' },
    ]);
  }
  return definition as unknown as AslDefinition;
}

function templateFunctions(template: CfnTemplate, ctx: IntrinsicContext): TemplateFunction[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([logicalId]) => {
      try {
        return { logicalId, name: ctx.physical(logicalId), arn: ctx.physical(logicalId, 'Arn') };
      } catch (e) {
        return { logicalId, error: (e as Error).message };
      }
    });
}

function findFunction(
  reference: string,
  functions: readonly TemplateFunction[],
  partition: string,
): { fn?: TemplateFunction; reason?: string } {
  const full = FUNCTION_ARN.exec(reference);
  const partial = full ? null : PARTIAL_FUNCTION_ARN.exec(reference);
  const bare = full || partial ? null : FUNCTION_NAME.exec(reference);
  const name = full?.[4] ?? partial?.[2] ?? bare?.[1];
  const arn = full ? `arn:${full[1]}:lambda:${full[2]}:${full[3]}:function:${full[4]}` : undefined;
  if (name === undefined)
    return { reason: `invokes ${reference}, which is not a Lambda function name or ARN` };
  const candidates = functions.filter((f) => f.name === name && (arn === undefined || f.arn === arn));
  if (candidates.length === 1) return { fn: candidates[0] };
  const unresolved = functions.filter((f) => f.error !== undefined);
  const note = unresolved.length
    ? `; functions whose names could not be resolved: ${unresolved.map((f) => `${f.logicalId} (${f.error})`).join('; ')}`
    : '';
  return {
    reason:
      candidates.length > 1
        ? `invokes ${reference}, which matches several functions of the template: ${candidates.map((f) => f.logicalId).join(', ')}`
        : `invokes ${reference}, which is not a Lambda function of this template (partition ${partition})${note}`,
  };
}

function functionEnv(
  template: CfnTemplate,
  logicalId: string,
  ctx: IntrinsicContext,
): Record<string, string> {
  const environment = template.Resources?.[logicalId]?.Properties?.Environment;
  const variables = isRecord(environment) ? environment.Variables : undefined;
  const resolved = resolveIntrinsics(
    variables ?? {},
    ctx,
    `Resources.${logicalId}.Properties.Environment.Variables`,
  );
  if (!isRecord(resolved)) {
    throw new TemplateResolutionError(`${logicalId}'s Environment.Variables is not an object`, logicalId);
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(resolved)) {
    env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return env;
}

interface TaskCheck {
  readonly reasons: string[];
  readonly integration?: LambdaIntegration;
  readonly functionReference?: string;
}

function checkTask(state: AslState): TaskCheck {
  const reasons: string[] = [];
  const resource = state.Resource;
  if (typeof resource !== 'string') return { reasons: ['Resource is not a string'] };
  if (state.HeartbeatSeconds !== undefined || state.HeartbeatSecondsPath !== undefined) {
    reasons.push(
      'HeartbeatSeconds is not modelled by the local interpreter (a task would never time out for a missing heartbeat)',
    );
  }
  if (FUNCTION_ARN.test(resource))
    return { reasons, integration: 'function-arn', functionReference: resource };
  if (ACTIVITY_ARN.test(resource)) {
    return {
      reasons: [...reasons, `runs activity ${resource}: activities are not supported by the local engine`],
    };
  }
  const service = SERVICE_INTEGRATION.exec(resource);
  const onlyLambda = 'only Lambda invocations (arn:aws:states:::lambda:invoke or a function ARN) run locally';
  if (!service)
    return { reasons: [...reasons, `Resource ${resource} is not a Lambda function or service integration`] };
  const [, action, pattern] = service;
  if (action !== 'lambda:invoke')
    return { reasons: [...reasons, `calls ${action}${pattern ? `.${pattern}` : ''}: ${onlyLambda}`] };
  if (pattern !== undefined && pattern !== 'waitForTaskToken') {
    return {
      reasons: [...reasons, `uses the .${pattern} integration pattern, which Lambda does not support`],
    };
  }
  const integration: LambdaIntegration =
    pattern === 'waitForTaskToken' ? 'lambda-invoke-callback' : 'lambda-invoke';
  const parameters = state.Parameters;
  if (!isRecord(parameters)) return { reasons: [...reasons, 'lambda:invoke without Parameters'] };
  const unknown = Object.keys(parameters).filter((k) => !LAMBDA_INVOKE_PARAMETERS.has(k));
  if (unknown.length)
    reasons.push(`lambda:invoke Parameters ${unknown.join(', ')} are not supported locally`);
  if (parameters.InvocationType !== undefined && parameters.InvocationType !== 'RequestResponse') {
    reasons.push(
      `InvocationType ${String(parameters.InvocationType)} is not supported locally (only RequestResponse)`,
    );
  }
  if (typeof parameters.FunctionName !== 'string') {
    return {
      reasons: [
        ...reasons,
        'FunctionName must be a literal function name or ARN (a path cannot be bound at load time)',
      ],
    };
  }
  return { reasons, integration, functionReference: parameters.FunctionName };
}

function checkContextReferences(
  place: StatePlace,
  integration: LambdaIntegration | undefined,
  roleArn?: string,
): string[] {
  const reasons = new Set<string>();
  const distributed = place.scope.some((s) => s.distributed);
  let passesToken = false;
  mapExpressions(place.state, (expression, field) => {
    const inItemSelector = place.state.Type === 'Map' && /^(ItemSelector|Parameters)\b/.test(field);
    for (const ref of contextReferences(expression)) {
      const [head, second, third] = ref.segments;
      const at = `${field} (${expression})`;
      if (head === undefined) {
        reasons.add(`${at}: the whole context object $$ is not supported locally; reference its fields`);
      } else if (ref.bracket && ref.segments.length < 2) {
        reasons.add(`${at}: bracket notation on the context object is not supported locally`);
      } else if (head === 'Execution' || head === 'StateMachine') {
        if (distributed) {
          reasons.add(
            `${at}: inside a distributed Map each item runs as a child execution with its own $$.${head}; ` +
              'pass what the items need through the ItemSelector',
          );
        } else if (head === 'Execution' && second !== undefined && !EXECUTION_FIELDS.has(second)) {
          reasons.add(`${at}: $$.Execution.${second} is not provided by the local engine`);
        } else if (head === 'Execution' && second === 'RoleArn' && roleArn === undefined) {
          reasons.add(`${at}: the state machine's RoleArn could not be resolved from the template`);
        } else if (head === 'StateMachine' && second !== undefined && second !== 'Id' && second !== 'Name') {
          reasons.add(`${at}: $$.StateMachine.${second} is not provided by the local engine`);
        }
      } else if (head === 'Task') {
        if (
          second === 'Token' &&
          integration === 'lambda-invoke-callback' &&
          field.startsWith('Parameters')
        ) {
          passesToken = true;
        } else {
          reasons.add(`${at}: $$.Task.Token exists only in the Parameters of a .waitForTaskToken task`);
        }
      } else if (head === 'Map') {
        if (
          !inItemSelector ||
          second !== 'Item' ||
          (third !== undefined && third !== 'Index' && third !== 'Value')
        ) {
          reasons.add(
            `${at}: $$.Map.Item.Index and $$.Map.Item.Value exist only in a Map state's ItemSelector`,
          );
        }
      } else if (head === 'State') {
        reasons.add(
          `${at}: $$.State (Name, EnteredTime, RetryCount) is not provided by the local interpreter`,
        );
      } else {
        reasons.add(`${at}: $$.${head} is not part of the context object`);
      }
    }
    return expression;
  });
  if (integration === 'lambda-invoke-callback' && !passesToken) {
    reasons.add('a .waitForTaskToken task must pass $$.Task.Token in its Parameters');
  }
  return [...reasons];
}

function checkState(place: StatePlace): string[] {
  const { state } = place;
  const reasons: string[] = [];
  if (!STATE_TYPES.has(state.Type)) return [`unknown state type ${String(state.Type)}`];
  if (place.queryLanguage === 'JSONata') {
    return [
      'uses JSONata (QueryLanguage JSONata): the local interpreter ignores JSONata and would pass the input through ' +
        'unchanged; write the state in JSONPath',
    ];
  }
  for (const field of ['Assign', 'Output', 'Arguments', 'Items']) {
    if (state[field] !== undefined)
      reasons.push(`has ${field}: JSONata fields and variables are not executed locally`);
  }
  const fieldsIn = (list: unknown, label: string, fields: readonly string[]) => {
    if (!Array.isArray(list)) return;
    list.forEach((entry, i) => {
      for (const field of fields) {
        if (isRecord(entry) && entry[field] !== undefined) {
          reasons.push(`${label}[${i}] has ${field}: JSONata fields and variables are not executed locally`);
        }
      }
    });
  };
  fieldsIn(state.Catch, 'Catch', ['Assign', 'Output']);
  fieldsIn(state.Choices, 'Choices', ['Assign', 'Output', 'Condition']);
  if (state.Type === 'Map') {
    for (const field of ['ItemReader', 'ResultWriter', 'ItemBatcher']) {
      if (state[field] !== undefined)
        reasons.push(`has ${field}, which the local interpreter does not support`);
    }
    for (const field of ['ToleratedFailureCount', 'ToleratedFailurePercentage']) {
      if ((state[field] !== undefined && state[field] !== 0) || state[`${field}Path`] !== undefined) {
        reasons.push(`has ${field}: the local interpreter fails the Map on the first failed item`);
      }
    }
  }
  if (state.Type === 'Pass' && 'Result' in state && !state.Result) {
    reasons.push(
      `has Result ${JSON.stringify(state.Result)}: the local interpreter passes its input through instead of a ` +
        'false, 0, empty or null Result; wrap the value in an object',
    );
  }
  return reasons;
}

function validateWithInterpreter(definition: AslDefinition): RefusalProblem[] {
  const { StateMachine } = loadInterpreter();
  try {
    new StateMachine(structuredClone(definition) as never, {
      validationOptions: { checkPaths: true, checkArn: true },
    });
    return [];
  } catch (e) {
    const lines = (e as Error).message.split('\n').slice(1);
    const details = lines.map((l) => l.trim()).filter((l) => l !== '');
    return (details.length ? details : [(e as Error).message]).map((reason) => ({
      path: '(definition)',
      reason: `invalid ASL: ${reason}`,
    }));
  }
}

/**
 * Finds the state machine in the template, resolves its definition to concrete ASL, binds every
 * Task to its Lambda function's handler, and throws `StateMachineRefusedError` listing every state
 * the local engine cannot execute faithfully.
 */
export function loadStateMachine(template: CfnTemplate, options: LoadOptions): LoadedStateMachine {
  const ctx = createIntrinsicContext(template, options);
  const logicalId = selectStateMachine(template, ctx, options);
  const name = ctx.physical(logicalId, 'Name');
  const arn = ctx.physical(logicalId, 'Arn');
  const label = `${name} (${logicalId})`;
  let roleArn: string | undefined;
  try {
    const role = resolveIntrinsics(template.Resources?.[logicalId]?.Properties?.RoleArn, ctx);
    roleArn = typeof role === 'string' ? role : undefined;
  } catch {
    roleArn = undefined;
  }
  let definition: AslDefinition;
  try {
    definition = resolveDefinition(logicalId, template, ctx);
  } catch (e) {
    if (e instanceof StateMachineRefusedError) throw new StateMachineRefusedError(label, e.problems);
    throw e;
  }
  const states = statesOf(definition);
  const problems: RefusalProblem[] = [];
  const refuse = (place: StatePlace, reason: string): void => {
    problems.push({ path: place.path, state: place.name, reason });
  };

  if (definition.QueryLanguage === 'JSONata') {
    problems.push({
      path: '(definition)',
      reason: 'QueryLanguage is JSONata, which the local interpreter does not execute',
    });
  }
  const seen = new Map<string, string>();
  for (const place of states) {
    const first = seen.get(place.name);
    if (first !== undefined)
      refuse(place, `the state name is also used at ${first}; state names must be unique`);
    else seen.set(place.name, place.path);
  }

  const functions = templateFunctions(template, ctx);
  const handlerNames = options.handlerNames ? new Set(options.handlerNames) : undefined;
  const tasks: Record<string, TaskBinding> = {};
  for (const place of states) {
    const stateReasons = checkState(place);
    for (const reason of stateReasons) refuse(place, reason);
    if (stateReasons.length && place.queryLanguage === 'JSONata') continue;
    let integration: LambdaIntegration | undefined;
    if (place.state.Type === 'Task') {
      const task = checkTask(place.state);
      for (const reason of task.reasons) refuse(place, reason);
      integration = task.integration;
      if (task.integration && task.functionReference) {
        const { fn, reason } = findFunction(task.functionReference, functions, ctx.partition);
        if (reason || !fn?.name || !fn.arn) {
          refuse(place, reason ?? `invokes ${task.functionReference}, which could not be resolved`);
        } else {
          let env: Record<string, string> | undefined;
          try {
            env = functionEnv(template, fn.logicalId, ctx);
          } catch (e) {
            refuse(place, `function ${fn.logicalId}: ${(e as Error).message}`);
          }
          const handler = env?.[ENV.handler];
          if (env && !handler) {
            refuse(
              place,
              `function ${fn.logicalId} (${fn.name}) has no ${ENV.handler} environment variable, so no handler can run it`,
            );
          } else if (env && handler && handlerNames && !handlerNames.has(handler)) {
            refuse(
              place,
              `handler '${handler}' (${ENV.handler} of function ${fn.logicalId}) is not registered with the engine`,
            );
          } else if (env && handler) {
            tasks[place.name] = {
              stateName: place.name,
              path: place.path,
              resource: place.state.Resource as string,
              integration: task.integration,
              functionLogicalId: fn.logicalId,
              functionName: fn.name,
              functionArn: fn.arn,
              handler,
              env,
            };
          }
        }
      }
    }
    for (const reason of checkContextReferences(place, integration, roleArn)) refuse(place, reason);
  }
  if (problems.length === 0) problems.push(...validateWithInterpreter(definition));
  if (problems.length) throw new StateMachineRefusedError(label, problems);

  return {
    logicalId,
    name,
    arn,
    roleArn,
    region: ctx.region,
    accountId: ctx.accountId,
    partition: ctx.partition,
    definition,
    states,
    tasks,
  };
}

function rewriteExecutionReferences(expression: string): string {
  const refs = contextReferences(expression).filter((r) => r.segments[0] === 'Execution');
  let out = expression;
  for (const ref of refs.reverse()) {
    const prefixEnd = ref.start + '$$.Execution'.length;
    out = `${out.slice(0, ref.start)}$$.${LOCAL_EXECUTION_KEY}${out.slice(prefixEnd)}`;
  }
  return out;
}

function scaleRetriers(retry: unknown, scale: number): unknown {
  if (!Array.isArray(retry) || scale === 1) return retry;
  return retry.map((retrier) => {
    if (!isRecord(retrier)) return retrier;
    const scaled: Record<string, unknown> = {
      ...retrier,
      IntervalSeconds: (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1) * scale,
    };
    if (typeof retrier.MaxDelaySeconds === 'number') scaled.MaxDelaySeconds = retrier.MaxDelaySeconds * scale;
    return scaled;
  });
}

/** Whether a state is a Map that runs its items as child executions (`ProcessorConfig.Mode` DISTRIBUTED). */
export function isDistributedMap(state: AslState): boolean {
  const processor = state.Type === 'Map' ? state.ItemProcessor : undefined;
  return (
    isRecord(processor) &&
    isRecord(processor.ProcessorConfig) &&
    processor.ProcessorConfig.Mode === 'DISTRIBUTED'
  );
}

/**
 * Name of the Task that stands in for a distributed Map's processor in the interpreter: each item
 * becomes one call of it, which the engine answers by running the processor as a child execution
 * of its own (its own history, its own payload checks), as Step Functions does.
 */
export function childExecutionTaskName(mapName: string): string {
  return `${mapName} [child execution]`;
}

/** Any Lambda-shaped ARN: the interpreter needs one on a Task; the engine answers the Task itself. */
const CHILD_EXECUTION_RESOURCE = 'arn:aws:lambda:us-east-1:000000000000:function:local-child-execution';

/**
 * The processors of every distributed Map, as the engine runs them (child executions), by Map name,
 * each made executable like the rest of the definition.
 */
export function distributedProcessors(
  machine: LoadedStateMachine,
  retryScale = 1,
): ReadonlyMap<string, AslDefinition> {
  const out = new Map<string, AslDefinition>();
  for (const place of machine.states) {
    if (!isDistributedMap(place.state)) continue;
    const { ProcessorConfig: _mode, ...processor } = place.state.ItemProcessor as Record<string, unknown>;
    out.set(place.name, executableMachine(processor, retryScale) as AslDefinition);
  }
  return out;
}

function executableState(name: string, state: AslState, retryScale: number): AslState {
  if (isDistributedMap(state)) {
    // The interpreter iterates the items (ItemsPath, ItemSelector, MaxConcurrency, ResultPath);
    // each item is one child execution, which the engine runs (see distributedProcessors).
    const { ItemProcessor: _processor, ...rest } = mapExpressions(state, rewriteExecutionReferences);
    const task = childExecutionTaskName(name);
    return {
      ...rest,
      ...(rest.Retry !== undefined ? { Retry: scaleRetriers(rest.Retry, retryScale) } : {}),
      ItemProcessor: {
        StartAt: task,
        States: {
          [task]: {
            Type: 'Task',
            Resource: CHILD_EXECUTION_RESOURCE,
            TimeoutSeconds: NO_TASK_TIMEOUT_SECONDS,
            End: true,
          },
        },
      },
    } as AslState;
  }
  const out: Record<string, unknown> = { ...mapExpressions(state, rewriteExecutionReferences) };
  // The interpreter writes ResultPath "$" to a key named "$"; without ResultPath it does what "$" means.
  if (out.ResultPath === '$') delete out.ResultPath;
  if (Array.isArray(out.Catch)) {
    out.Catch = out.Catch.map((c) => {
      if (!isRecord(c) || c.ResultPath !== '$') return c;
      const { ResultPath: _dropped, ...rest } = c;
      return rest;
    });
  }
  if (state.Type === 'Task' && state.TimeoutSeconds === undefined && state.TimeoutSecondsPath === undefined) {
    out.TimeoutSeconds = NO_TASK_TIMEOUT_SECONDS;
  }
  if (out.Retry !== undefined) out.Retry = scaleRetriers(out.Retry, retryScale);
  for (const child of childMachines(name, state)) {
    const machine = executableMachine(child.machine, retryScale);
    if (child.step.type === 'Parallel') {
      const branches = [...(out.Branches as unknown[])];
      branches[child.step.branch ?? 0] = machine;
      out.Branches = branches;
    } else {
      out[child.path] = machine;
    }
  }
  return out as AslState;
}

function executableMachine(machine: unknown, retryScale: number): unknown {
  if (!isRecord(machine) || !isRecord(machine.States)) return machine;
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(machine.States)) {
    states[name] = executableState(name, state as AslState, retryScale);
  }
  return { ...machine, States: states };
}

/**
 * The definition as handed to the interpreter: semantically the deployed one, with the
 * interpreter's deviations worked around. `$$.Execution` is read from a context key the
 * interpreter does not overwrite (it resets `Execution.Input` and `StartTime` in every Map
 * iteration and Parallel branch); `ResultPath: "$"` is dropped (same meaning, which the
 * interpreter gets wrong); a Task without a timeout gets the largest one a timer allows (the
 * interpreter would otherwise stop it after 60 s); retry intervals are multiplied by `retryScale`
 * (backoff rate and jitter keep their effect).
 */
export function executableDefinition(machine: LoadedStateMachine, retryScale = 1): AslDefinition {
  return executableMachine(machine.definition, retryScale) as AslDefinition;
}
