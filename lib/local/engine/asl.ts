/**
 * Amazon States Language shapes and walkers: every state at every nesting level, and every
 * JSONPath expression a state evaluates (paths, payload templates, Choice rules).
 */

export type AslState = Readonly<Record<string, unknown>> & { readonly Type: string };

export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Readonly<Record<string, AslState>>;
  readonly QueryLanguage?: string;
  readonly TimeoutSeconds?: number;
  readonly Comment?: string;
  readonly Version?: string;
}

/** One enclosing Map or Parallel state, outermost first. */
export interface ScopeStep {
  readonly state: string;
  readonly type: 'Map' | 'Parallel';
  /** Parallel: index of the branch in `Branches`. */
  readonly branch?: number;
  /** Map: whether the item processor runs in DISTRIBUTED mode. */
  readonly distributed?: boolean;
}

export interface StatePlace {
  readonly name: string;
  readonly state: AslState;
  readonly scope: readonly ScopeStep[];
  /** Where the state sits, e.g. `Per agent/ItemProcessor/Surfaces/Branches[1]/Cut IAM authority`. */
  readonly path: string;
  /** The state's effective query language (its own, or inherited from the state machine). */
  readonly queryLanguage: string;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The nested state machines of a Map or Parallel state, with the scope step each one adds. */
export function childMachines(
  name: string,
  state: AslState,
): { machine: unknown; step: ScopeStep; path: string }[] {
  if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
    return state.Branches.map((machine, branch) => ({
      machine,
      step: { state: name, type: 'Parallel' as const, branch },
      path: `Branches[${branch}]`,
    }));
  }
  if (state.Type === 'Map') {
    const field = state.ItemProcessor !== undefined ? 'ItemProcessor' : 'Iterator';
    const machine = state[field];
    if (machine === undefined) return [];
    const config = isRecord(machine) && isRecord(machine.ProcessorConfig) ? machine.ProcessorConfig : {};
    return [
      {
        machine,
        step: { state: name, type: 'Map', distributed: config.Mode === 'DISTRIBUTED' },
        path: field,
      },
    ];
  }
  return [];
}

/** Every state of the definition, depth first, Parallel branches and Map processors included. */
export function statesOf(definition: AslDefinition): StatePlace[] {
  const out: StatePlace[] = [];
  const visit = (machine: unknown, scope: ScopeStep[], prefix: string, inherited: string) => {
    if (!isRecord(machine) || !isRecord(machine.States)) return;
    const language = typeof machine.QueryLanguage === 'string' ? machine.QueryLanguage : inherited;
    for (const [name, raw] of Object.entries(machine.States)) {
      if (!isRecord(raw)) continue;
      const state = raw as AslState;
      const path = `${prefix}${name}`;
      const queryLanguage = typeof state.QueryLanguage === 'string' ? state.QueryLanguage : language;
      out.push({ name, state, scope, path, queryLanguage });
      for (const child of childMachines(name, state)) {
        visit(child.machine, [...scope, child.step], `${path}/${child.path}/`, queryLanguage);
      }
    }
  };
  visit(definition, [], '', definition.QueryLanguage ?? 'JSONPath');
  return out;
}

/** Fields whose value is a single JSONPath expression. */
const PATH_FIELDS = [
  'InputPath',
  'OutputPath',
  'ItemsPath',
  'SecondsPath',
  'TimestampPath',
  'TimeoutSecondsPath',
  'HeartbeatSecondsPath',
  'MaxConcurrencyPath',
  'ErrorPath',
  'CausePath',
  'ToleratedFailureCountPath',
  'ToleratedFailurePercentagePath',
] as const;

/** Fields whose value is a payload template (`"key.$": "<path or intrinsic function>"`). */
const TEMPLATE_FIELDS = ['Parameters', 'ResultSelector', 'ItemSelector'] as const;

export type ExpressionMapper = (expression: string, field: string) => string;

function mapTemplate(template: unknown, field: string, fn: ExpressionMapper): unknown {
  if (Array.isArray(template)) return template.map((v, i) => mapTemplate(v, `${field}[${i}]`, fn));
  if (!isRecord(template)) return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    out[key] =
      key.endsWith('.$') && typeof value === 'string'
        ? fn(value, `${field}.${key}`)
        : mapTemplate(value, `${field}.${key}`, fn);
  }
  return out;
}

function mapChoiceRule(rule: unknown, field: string, fn: ExpressionMapper): unknown {
  if (!isRecord(rule)) return rule;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rule)) {
    if ((key === 'And' || key === 'Or') && Array.isArray(value)) {
      out[key] = value.map((r, i) => mapChoiceRule(r, `${field}.${key}[${i}]`, fn));
    } else if (key === 'Not') {
      out[key] = mapChoiceRule(value, `${field}.Not`, fn);
    } else if ((key === 'Variable' || key.endsWith('Path')) && typeof value === 'string') {
      out[key] = fn(value, `${field}.${key}`);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * A copy of the state (its own fields only, not nested state machines) with every JSONPath
 * expression passed through `fn`. `field` names where the expression sits, e.g.
 * `Parameters.Payload.agent.$` or `Choices[0].Variable`.
 */
export function mapExpressions(state: AslState, fn: ExpressionMapper): AslState {
  const out: Record<string, unknown> = { ...state };
  for (const field of PATH_FIELDS) {
    const value = state[field];
    if (typeof value === 'string') out[field] = fn(value, field);
  }
  for (const field of TEMPLATE_FIELDS) {
    if (state[field] !== undefined) out[field] = mapTemplate(state[field], field, fn);
  }
  if (state.Type === 'Choice' && Array.isArray(state.Choices)) {
    out.Choices = state.Choices.map((rule, i) => mapChoiceRule(rule, `Choices[${i}]`, fn));
  }
  return out as AslState;
}

/** A reference to the context object (`$$...`) inside an expression. */
export interface ContextReference {
  readonly start: number;
  readonly end: number;
  /** Dot-notation names after `$$`, e.g. `['Execution', 'Input', 'agentId']`. */
  readonly segments: readonly string[];
  /** The reference continues with bracket notation right after its segments. */
  readonly bracket: boolean;
}

/**
 * Finds every `$$` reference in a JSONPath expression or intrinsic function call, ignoring
 * single-quoted string literals of intrinsic functions.
 */
export function contextReferences(expression: string): ContextReference[] {
  const refs: ContextReference[] = [];
  let quoted = false;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (ch === '\\' && quoted) {
      i++;
      continue;
    }
    if (ch === "'") {
      quoted = !quoted;
      continue;
    }
    if (quoted || !expression.startsWith('$$', i)) continue;
    let j = i + 2;
    const segments: string[] = [];
    for (;;) {
      const match = /^\.([A-Za-z0-9_]+)/.exec(expression.slice(j));
      if (!match) break;
      segments.push(match[1]);
      j += match[0].length;
    }
    refs.push({ start: i, end: j, segments, bracket: expression[j] === '[' });
    i = j - 1;
  }
  return refs;
}
