/**
 * The restore path, run locally: the synthesized `backstop-restore` state machine executed by the
 * local engine with the real handlers, as lib/local/kill-runner.ts runs the kill path.
 *
 * The engine runs the `.waitForTaskToken` task's handler (which stores the token in the state
 * table) and then waits; in AWS the restore endpoint completes the task at quorum. Here the runner
 * plays that part: it polls the state table and, when the restore is APPROVED, REJECTED or
 * CANCELLED, completes the waiting task with the token the table holds (the approvals themselves
 * may come from this process or another one: `backstop approve --local`). It also ends the wait
 * with `States.Timeout` once the approval deadline has passed on its clock, which the engine does
 * not do on its own for a task that waits for hours.
 */
import type { ClientFactory } from '../../lambda/shared/clients';
import { type HandlerDeps, randomHex, realSleep } from '../../lambda/shared/deps';
import { ENV, readHandlerEnv } from '../../lambda/shared/env';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { sealIncident } from '../../lambda/shared/seal';
import type { Log } from '../../lambda/surfaces/types';
import { type Decided, decide, validateDecision } from '../../lambda/approval-endpoint/decide';
import { taskOutcome } from '../../lambda/restore-shared/deliver';
import { openRestoreStore } from '../../lambda/restore-shared/io';
import { RESTORE_HANDLERS, type RestoreHandlerName } from '../../lambda/restore-shared/registry';
import { type RequestedRestore, requestRestore } from '../../lambda/restore-shared/request';
import { type RestoreSettings, readRestoreSettings } from '../../lambda/restore-shared/settings';
import { type CallerIdentity, RESTORE_ERRORS, type RestoreResult } from '../../lambda/restore-shared/types';
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

/** Whose credentials a piece of the restore path runs with in AWS. */
export type RestoreIdentity = 'worker' | 'sealer';

export interface LocalRestoreRunnerOptions {
  readonly config: BackstopConfig;
  /**
   * SDK clients: one factory for everything, or one per identity (the restore worker for the
   * endpoint and every handler but Finalize, the audit sealer for Finalize and for sealing).
   */
  readonly clients: ClientFactory | ((identity: RestoreIdentity) => ClientFactory);
  /** The control plane stack's outputs (see LocalKillRunnerOptions.stackOutputs). */
  readonly stackOutputs?: Readonly<Record<string, string>>;
  /** @default true when stackOutputs is given */
  readonly strictNames?: boolean;
  /** Runs before each handler invocation (a test makes a kill land here). @default - none */
  readonly beforeHandler?: (handler: RestoreHandlerName, event: unknown) => Promise<void>;
  /** @default - the system clock */
  readonly clock?: () => Date;
  /** The handlers' sleep. @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** How often the state table is read while the restore waits. @default 250 */
  readonly pollMs?: number;
  /** @default - silent */
  readonly log?: Log;
}

export interface LocalRestoreOptions {
  /** Multiplies every Wait and retry interval: 0 skips them. @default 1 */
  readonly waitScale?: number;
  readonly onEvent?: (event: EngineEvent) => void;
  /** Called once the request is recorded, with its id, before the restore path runs. */
  readonly onRequested?: (requested: RequestedRestore) => void;
  /** @default - a new id */
  readonly restoreId?: string;
}

export interface LocalRestoreOutcome {
  readonly restoreId: string;
  readonly execution: ExecutionResult;
  /** What Finalize returned; absent only when the execution died before it. */
  readonly result?: RestoreResult;
}

const silent: Log = { info: () => {}, warn: () => {}, error: () => {} };

export class LocalRestoreRunner {
  readonly engine: LocalEngine;
  readonly settings: RestoreSettings;
  /** The restore handlers' resolved environment. */
  readonly handlerEnv: Readonly<Record<string, string>>;
  private readonly directoryJson: string;

  constructor(private readonly options: LocalRestoreRunnerOptions) {
    const synth = synthControlPlane(options.config);
    this.directoryJson = JSON.stringify(toDirectory(options.config));
    const handlers: EngineHandlers = Object.fromEntries(
      (Object.keys(RESTORE_HANDLERS) as RestoreHandlerName[]).map((name) => [
        name,
        async (event: unknown, ctx: { env: Readonly<Record<string, string>> }) => {
          await options.beforeHandler?.(name, event);
          const logic = RESTORE_HANDLERS[name] as (
            e: unknown,
            d: HandlerDeps,
            s: RestoreSettings,
          ) => Promise<unknown>;
          return logic(
            event,
            this.deps(ctx.env, name === 'restore-finalize' ? 'sealer' : 'worker'),
            readRestoreSettings(ctx.env),
          );
        },
      ]),
    );
    this.engine = createLocalEngine(synth.template, {
      region: synth.region,
      accountId: synth.accountId,
      stackName: synth.stackName,
      stateMachineName: CONTROL_PLANE.restoreStateMachineName,
      handlers,
      ...(options.stackOutputs
        ? {
            physicalNames: {
              ...functionNames(options.config, synth.template),
              ...physicalNamesFromOutputs(synth.template, options.stackOutputs),
            },
            unnamedResources: options.strictNames === false ? ('logical-id' as const) : ('error' as const),
          }
        : {}),
    });
    const first = Object.values(this.engine.machine.tasks)[0];
    if (!first) throw new Error('the restore path state machine has no Task states');
    this.handlerEnv = first.env;
    this.settings = readRestoreSettings(first.env);
  }

  private clientsFor(identity: RestoreIdentity): ClientFactory {
    const c = this.options.clients;
    return typeof c === 'function' ? c(identity) : c;
  }

  /** Dependencies of a handler running as `identity`. */
  deps(
    env: Readonly<Record<string, string>> = this.handlerEnv,
    identity: RestoreIdentity = 'worker',
  ): HandlerDeps {
    return {
      env: readHandlerEnv({ ...env, [ENV.directory]: this.directoryJson }),
      clients: this.clientsFor(identity),
      clock: this.options.clock ?? (() => new Date()),
      sleep: this.options.sleep ?? realSleep,
      randomId: randomHex,
      log: this.options.log ?? silent,
    };
  }

  /** Seals an incident's new records as the audit sealer (what the endpoint asks the sealer function for). */
  private readonly seal = async (incidentId: string): Promise<void> => {
    await sealIncident(this.deps(this.handlerEnv, 'sealer'), { incidentId, kind: 'restore' });
  };

  /** What the endpoint does for `request`: checks and records it (throws RestoreRefusedError). */
  request(caller: CallerIdentity, input: unknown, restoreId?: string): Promise<RequestedRestore> {
    return requestRestore(this.deps(), input, {
      settings: this.settings,
      caller,
      requestSeal: this.seal,
      ...(restoreId && { restoreId }),
    });
  }

  /** What the endpoint does for `approve` and `reject` (the decision reaches the task through the poller). */
  decide(caller: CallerIdentity, request: unknown): Promise<Decided> {
    return decide(this.deps(), this.settings, caller, validateDecision(request), this.seal);
  }

  /**
   * Requests a restore as `caller`, runs the restore path and waits for it, approvals included
   * (they come through {@link decide}, here or in another process sharing the state table).
   */
  async restore(
    caller: CallerIdentity,
    input: unknown,
    options: LocalRestoreOptions = {},
  ): Promise<LocalRestoreOutcome> {
    const requested = await this.request(caller, input, options.restoreId);
    options.onRequested?.(requested);
    const { restoreId } = requested.record;
    let over = false;
    const running = this.engine
      .run(requested.input, {
        executionName: restoreId,
        waitScale: options.waitScale ?? 1,
        onEvent: options.onEvent,
      })
      .finally(() => {
        over = true;
      });
    const polling = this.poll(restoreId, () => over);
    const execution = await running;
    await polling;
    const finalized = [...execution.events]
      .reverse()
      .find((e) => e.type === 'TaskSucceeded' && e.stateName === 'Finalize the restore');
    return { restoreId, execution, result: finalized?.output as RestoreResult | undefined };
  }

  /** Completes the waiting approval task once the state table says how the wait ended. */
  private async poll(restoreId: string, over: () => boolean): Promise<void> {
    const restores = openRestoreStore(this.deps());
    const clock = this.options.clock ?? (() => new Date());
    const pollMs = this.options.pollMs ?? 250;
    while (!over()) {
      const record = await restores.get(restoreId).catch(() => undefined);
      const pending = this.engine.pendingTaskTokens(restoreId);
      const token = record?.taskToken;
      if (record && token && pending.some((p) => p.token === token)) {
        const outcome = taskOutcome(record);
        try {
          if (outcome?.kind === 'success') {
            this.engine.sendTaskSuccess(token, JSON.stringify(outcome.output));
          } else if (outcome?.kind === 'failure') {
            this.engine.sendTaskFailure(token, outcome.error, outcome.cause);
          } else if (
            record.status === 'AWAITING_APPROVAL' &&
            clock().getTime() >= Date.parse(record.approvalDeadline)
          ) {
            this.engine.sendTaskFailure(
              token,
              RESTORE_ERRORS.timeout,
              `no quorum of approvals before ${record.approvalDeadline}`,
            );
          }
        } catch (e) {
          // The task ended meanwhile (its execution is over): nothing left to complete.
          (this.options.log ?? silent).warn('approval task not completed', {
            restoreId,
            error: (e as Error).name,
          });
        }
      }
      if (over()) break;
      await realSleep(pollMs);
    }
  }
}

/** Lambda functions are invoked in-process: their ARNs only need to be stable and unique. */
function functionNames(
  config: BackstopConfig,
  template: CfnTemplate,
): Record<string, Record<string, string>> {
  const { accountId, region } = config.controlPlane;
  const partition = config.partition ?? 'aws';
  return Object.fromEntries(
    Object.entries(template.Resources ?? {})
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id]) => [id, { Ref: id, Arn: `arn:${partition}:lambda:${region}:${accountId}:function:${id}` }]),
  );
}
