import { HANDLERS, type HandlerName } from '../../lambda/registry';
import type { ClientFactory } from '../../lambda/shared/clients';
import { type HandlerDeps, randomHex, realSleep } from '../../lambda/shared/deps';
import { readHandlerEnv } from '../../lambda/shared/env';
import type { KillResult } from '../../lambda/shared/kill-types';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import type { Directory, KillRequest } from '../../lambda/shared/types';
import type { Log } from '../../lambda/surfaces/types';
import { type BackstopConfig, toDirectory } from '../config';
import {
  type CfnTemplate,
  createLocalEngine,
  type EngineEvent,
  type EngineHandlers,
  type ExecutionResult,
  type LocalEngine,
  physicalNamesFromOutputs,
} from './engine';
import { synthControlPlane } from './synth';

export interface LocalKillRunnerOptions {
  readonly config: BackstopConfig;
  /** SDK clients the handlers use: plugged into the simulator, or pointed at an endpoint. */
  readonly clients: ClientFactory;
  /**
   * The control plane stack's deployed outputs (`cdk deploy --outputs-file`, this stack's
   * entry). Given: every physical name comes from them, and a name they do not hold is an error.
   * @default - names derived from the template (the embedded simulator seeds exactly those)
   */
  readonly stackOutputs?: Readonly<Record<string, string>>;
  /**
   * Refuse to derive a name that CloudFormation would generate (only the outputs may tell it).
   * Lambda function names never matter locally (the engine calls the handlers directly).
   * @default true when stackOutputs is given
   */
  readonly strictNames?: boolean;
  /**
   * Runs before each handler invocation, with the handler's name and event: a drill uses it to
   * play an agent that fights back between two steps of the kill.
   * @default - none
   */
  readonly beforeHandler?: (handler: HandlerName, event: unknown) => Promise<void>;
  /** @default - the system clock */
  readonly clock?: () => Date;
  /** @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default - silent */
  readonly log?: Log;
}

export interface LocalKillOptions {
  /** The execution name: the idempotency key. @default - derived from the incident id or the time */
  readonly executionName?: string;
  /** Multiplies every Wait and retry interval: 0 skips them. @default 1 */
  readonly waitScale?: number;
  readonly onEvent?: (event: EngineEvent) => void;
}

export interface LocalKillOutcome {
  readonly execution: ExecutionResult;
  /** What Finalize returned; absent only when the execution died before it. */
  readonly result?: KillResult;
}

const silent: Log = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * The kill path, run locally: the synthesized state machine definition executed by the local
 * engine, its Task states calling the real handlers with injected clients (docs/design.md section 10).
 */
export class LocalKillRunner {
  readonly engine: LocalEngine;
  /** The handlers' resolved environment (every kill path function has the same). */
  readonly handlerEnv: Readonly<Record<string, string>>;
  /** The fleet directory, parsed once and injected into every invocation (deployed, it is a file of the bundle). */
  private readonly directory: Directory;
  /** The handlers' environment, read once per distinct environment (every invocation reads the same). */
  private readonly envs = new Map<Readonly<Record<string, string>>, HandlerDeps['env']>();

  constructor(private readonly options: LocalKillRunnerOptions) {
    const synth = synthControlPlane(options.config);
    this.directory = toDirectory(options.config);
    const handlers: EngineHandlers = Object.fromEntries(
      (Object.keys(HANDLERS) as HandlerName[]).map((name) => [
        name,
        async (event: unknown, ctx: { env: Readonly<Record<string, string>>; waitScale?: number }) => {
          await options.beforeHandler?.(name, event);
          return (HANDLERS[name] as (e: unknown, d: HandlerDeps) => Promise<unknown>)(
            event,
            this.deps(ctx.env, ctx.waitScale ?? 1),
          );
        },
      ]),
    );
    this.engine = createLocalEngine(synth.template, {
      region: synth.region,
      accountId: synth.accountId,
      stackName: synth.stackName,
      stateMachineName: CONTROL_PLANE.killStateMachineName,
      handlers,
      ...(options.stackOutputs
        ? {
            physicalNames: {
              ...this.functionNames(synth.template),
              ...physicalNamesFromOutputs(synth.template, options.stackOutputs),
            },
            unnamedResources: options.strictNames === false ? ('logical-id' as const) : ('error' as const),
          }
        : {}),
    });
    const first = Object.values(this.engine.machine.tasks)[0];
    if (!first) throw new Error('the kill path state machine has no Task states');
    this.handlerEnv = first.env;
  }

  /** Lambda functions are invoked in-process: their ARNs only need to be stable and unique. */
  private functionNames(template: CfnTemplate): Record<string, Record<string, string>> {
    const { accountId, region } = this.options.config.controlPlane;
    const partition = this.options.config.partition ?? 'aws';
    return Object.fromEntries(
      Object.entries(template.Resources ?? {})
        .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
        .map(([id]) => [
          id,
          { Ref: id, Arn: `arn:${partition}:lambda:${region}:${accountId}:function:${id}` },
        ]),
    );
  }

  private handlerEnvOf(env: Readonly<Record<string, string>>): HandlerDeps['env'] {
    let read = this.envs.get(env);
    if (!read) {
      read = readHandlerEnv(env, this.directory);
      this.envs.set(env, read);
    }
    return read;
  }

  private deps(env: Readonly<Record<string, string>>, waitScale: number): HandlerDeps {
    const sleep = this.options.sleep ?? realSleep;
    return {
      env: this.handlerEnvOf(env),
      clients: this.options.clients,
      clock: this.options.clock ?? (() => new Date()),
      // The handlers' pauses (a read-back waiting for a mapping to settle) scale with the run's Waits.
      sleep: waitScale === 1 ? sleep : (ms) => sleep(ms * waitScale),
      randomId: randomHex,
      log: this.options.log ?? silent,
    };
  }

  /** Starts a kill and waits for it: the same input StartExecution takes. */
  async kill(request: KillRequest, options: LocalKillOptions = {}): Promise<LocalKillOutcome> {
    const executionName =
      options.executionName ??
      request.incidentId ??
      `local-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const execution = await this.engine.run(request, {
      executionName,
      waitScale: options.waitScale ?? 1,
      onEvent: options.onEvent,
    });
    const finalized = [...execution.events]
      .reverse()
      .find((e) => e.type === 'TaskSucceeded' && e.stateName === 'Finalize the kill');
    return { execution, result: finalized?.output as KillResult | undefined };
  }
}
