import '../polyfills';

/**
 * The ASL interpreter, aws-local-stepfunctions. It ships as an ES module package with a CommonJS
 * build; this project compiles to CommonJS, so it is required (lazily: nothing loads at import
 * time) and typed through a type-only import.
 */
export type Interpreter = typeof import('aws-local-stepfunctions', { with: { 'resolution-mode': 'import' } });

export type InterpreterStateMachine = InstanceType<Interpreter['StateMachine']>;
export type InterpreterRunOptions = NonNullable<Parameters<InterpreterStateMachine['run']>[1]>;
export type InterpreterExecution = ReturnType<InterpreterStateMachine['run']>;
export type InterpreterEvent = InterpreterExecution['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

let interpreter: Interpreter | undefined;

export function loadInterpreter(): Interpreter {
  interpreter ??= require('aws-local-stepfunctions') as Interpreter;
  return interpreter;
}
