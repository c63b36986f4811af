/**
 * Step Functions, per account and region: state machines and their executions. The simulator
 * does not run definitions (the local engine does that for Backstop's own state machines):
 * StartExecution creates an execution that stays RUNNING until StopExecution (or a test calls
 * `finishExecution`).
 */
import type {
  CreateStateMachineCommandInput,
  CreateStateMachineCommandOutput,
  DescribeExecutionCommandInput,
  DescribeExecutionCommandOutput,
  DescribeStateMachineCommandInput,
  DescribeStateMachineCommandOutput,
  ExecutionListItem,
  ExecutionStatus,
  ListExecutionsCommandInput,
  ListExecutionsCommandOutput,
  ListStateMachinesCommandInput,
  ListStateMachinesCommandOutput,
  ListTagsForResourceCommandInput,
  ListTagsForResourceCommandOutput,
  StartExecutionCommandInput,
  StartExecutionCommandOutput,
  StateMachineType,
  StopExecutionCommandInput,
  StopExecutionCommandOutput,
  TagResourceCommandInput,
  TagResourceCommandOutput,
} from '@aws-sdk/client-sfn';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { type Page, paginate, sortedBy } from './pagination';
import { type CallContext, compact, parseArn, Scoped, type TaggedResource } from './world';

interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  readonly seq: number;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
}

interface MachineRecord {
  readonly name: string;
  readonly arn: string;
  readonly definition: string;
  readonly roleArn: string;
  readonly type: StateMachineType;
  readonly creationDate: Date;
  readonly tags: Map<string, string>;
  readonly executions: Map<string, ExecutionRecord>;
}

interface Region {
  readonly machines: Map<string, MachineRecord>; // by ARN
}

/** Names: 1-80 characters, no whitespace, brackets, wildcards or punctuation Step Functions reserves. */
const NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/]{1,80}$/;

function validation(message: string): SimError {
  return new SimError('ValidationException', message, 400);
}

export class SfnService {
  private readonly regions = new Scoped<Region>(() => ({ machines: new Map() }));
  private executionSeq = 0;

  constructor(private readonly core: SimCore) {}

  private state(ctx: { accountId: string; region: string }): Region {
    return this.regions.get(ctx.accountId, ctx.region);
  }

  private checkArn(arn: string | undefined, kind: string): string {
    if (!arn)
      throw validation(
        `1 validation error detected: Value null at '${kind}' failed to satisfy constraint: Member must not be null`,
      );
    const parsed = parseArn(arn);
    if (parsed?.service !== 'states') throw new SimError('InvalidArn', `Invalid Arn: '${arn}'`, 400);
    return arn;
  }

  private machine(ctx: CallContext, arn: string | undefined): MachineRecord {
    const checked = this.checkArn(arn, 'stateMachineArn');
    const machine = this.state(ctx).machines.get(checked);
    if (!machine)
      throw new SimError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${checked}'`, 400);
    return machine;
  }

  private execution(ctx: CallContext, arn: string | undefined): ExecutionRecord {
    const checked = this.checkArn(arn, 'executionArn');
    const parsed = parseArn(checked)!;
    const [, machineName] = parsed.resource.split(':');
    const machineArn = `arn:${parsed.partition}:states:${parsed.region}:${parsed.account}:stateMachine:${machineName}`;
    const execution = this.state(ctx).machines.get(machineArn)?.executions.get(checked);
    if (!execution)
      throw new SimError('ExecutionDoesNotExist', `Execution Does Not Exist: '${checked}'`, 400);
    return execution;
  }

  /** A page of a List* call: nextToken and maxResults (0 means the default), at most 1000 items. */
  private page<T>(
    items: readonly T[],
    input: { nextToken?: string; maxResults?: number },
    keyOf: (item: T) => string,
  ): Page<T> {
    return paginate(items, this.core.settings.pageSize, {
      token: input.nextToken,
      requested: input.maxResults || undefined,
      awsDefault: 100,
      max: 1000,
      keyOf,
      errorCode: 'InvalidToken',
      sizeName: 'maxResults',
    });
  }

  /** The members an execution shows in ListExecutions, which DescribeExecution shows too. */
  private executionSummary(e: ExecutionRecord): ExecutionListItem {
    return compact({
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: new Date(e.startDate),
      stopDate: e.stopDate ? new Date(e.stopDate) : undefined,
    });
  }

  // ---- AWS actions ----

  CreateStateMachine(
    input: CreateStateMachineCommandInput,
    ctx: CallContext,
  ): Out<CreateStateMachineCommandOutput> {
    const name = input.name;
    if (!name || !NAME.test(name)) throw new SimError('InvalidName', `Invalid Name: '${name ?? ''}'`, 400);
    if (!input.definition)
      throw validation(
        "1 validation error detected: Value null at 'definition' failed to satisfy constraint: Member must not be null",
      );
    try {
      const parsed = JSON.parse(input.definition) as { StartAt?: unknown; States?: unknown };
      if (typeof parsed.StartAt !== 'string' || typeof parsed.States !== 'object')
        throw new Error('StartAt and States are required');
    } catch (e) {
      throw new SimError(
        'InvalidDefinition',
        `Invalid State Machine Definition: '${(e as Error).message}'`,
        400,
      );
    }
    const roleArn = input.roleArn;
    if (!roleArn || parseArn(roleArn)?.service !== 'iam')
      throw new SimError('InvalidArn', `Invalid Arn: '${roleArn ?? ''}'`, 400);
    const arn = `arn:${ctx.partition}:states:${ctx.region}:${ctx.accountId}:stateMachine:${name}`;
    const state = this.state(ctx);
    const existing = state.machines.get(arn);
    if (existing) {
      if (existing.definition === input.definition && existing.roleArn === roleArn) {
        return { stateMachineArn: arn, creationDate: new Date(existing.creationDate) };
      }
      throw new SimError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`, 400);
    }
    const tags = new Map<string, string>();
    for (const t of input.tags ?? []) if (t.key) tags.set(t.key, t.value ?? '');
    if (tags.size > 50) throw new SimError('TooManyTags', 'Too many tags', 400);
    state.machines.set(arn, {
      name,
      arn,
      definition: input.definition,
      roleArn,
      type: input.type ?? 'STANDARD',
      creationDate: ctx.now,
      tags,
      executions: new Map(),
    });
    return { stateMachineArn: arn, creationDate: new Date(ctx.now) };
  }

  DescribeStateMachine(
    input: DescribeStateMachineCommandInput,
    ctx: CallContext,
  ): Out<DescribeStateMachineCommandOutput> {
    const m = this.machine(ctx, input.stateMachineArn);
    return {
      stateMachineArn: m.arn,
      name: m.name,
      status: 'ACTIVE',
      definition: m.definition,
      roleArn: m.roleArn,
      type: m.type,
      creationDate: new Date(m.creationDate),
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }

  ListStateMachines(
    input: ListStateMachinesCommandInput,
    ctx: CallContext,
  ): Out<ListStateMachinesCommandOutput> {
    const machines = sortedBy(this.state(ctx).machines.values(), (m) => m.name);
    const page = this.page(machines, input, (m) => m.name);
    return compact({
      stateMachines: page.items.map((m) => ({
        stateMachineArn: m.arn,
        name: m.name,
        type: m.type,
        creationDate: new Date(m.creationDate),
      })),
      nextToken: page.next,
    });
  }

  StartExecution(input: StartExecutionCommandInput, ctx: CallContext): Out<StartExecutionCommandOutput> {
    const machine = this.machine(ctx, input.stateMachineArn);
    const name = input.name ?? this.core.ids.uuid();
    if (!NAME.test(name)) throw new SimError('InvalidName', `Invalid Name: '${name}'`, 400);
    const text = input.input ?? '{}';
    try {
      JSON.parse(text);
    } catch (e) {
      throw new SimError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: '${(e as Error).message}'`,
        400,
      );
    }
    const arn = `${machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = machine.executions.get(arn);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === text) {
        return { executionArn: arn, startDate: new Date(existing.startDate) };
      }
      throw new SimError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`, 400);
    }
    this.executionSeq += 1;
    machine.executions.set(arn, {
      executionArn: arn,
      stateMachineArn: machine.arn,
      name,
      input: text,
      startDate: ctx.now,
      seq: this.executionSeq,
      status: 'RUNNING',
    });
    return { executionArn: arn, startDate: new Date(ctx.now) };
  }

  ListExecutions(input: ListExecutionsCommandInput, ctx: CallContext): Out<ListExecutionsCommandOutput> {
    const machine = this.machine(ctx, input.stateMachineArn);
    // Newest first, as Step Functions lists them.
    const key = (e: ExecutionRecord) => String(Number.MAX_SAFE_INTEGER - e.seq).padStart(16, '0');
    const executions = sortedBy(
      [...machine.executions.values()].filter((e) => !input.statusFilter || e.status === input.statusFilter),
      key,
    );
    const page = this.page(executions, input, key);
    return compact({
      executions: page.items.map((e) => this.executionSummary(e)),
      nextToken: page.next,
    });
  }

  DescribeExecution(
    input: DescribeExecutionCommandInput,
    ctx: CallContext,
  ): Out<DescribeExecutionCommandOutput> {
    const e = this.execution(ctx, input.executionArn);
    return compact({
      ...this.executionSummary(e),
      input: e.input,
      inputDetails: { included: true },
      output: e.output,
      outputDetails: e.output !== undefined ? { included: true } : undefined,
      error: e.error,
      cause: e.cause,
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE' as const,
    });
  }

  StopExecution(input: StopExecutionCommandInput, ctx: CallContext): Out<StopExecutionCommandOutput> {
    const e = this.execution(ctx, input.executionArn);
    if (e.status === 'RUNNING') {
      e.status = 'ABORTED';
      e.stopDate = ctx.now;
      e.error = input.error;
      e.cause = input.cause;
    }
    return { stopDate: new Date(e.stopDate ?? ctx.now) };
  }

  private tagged(ctx: CallContext, arn: string | undefined): Map<string, string> {
    const checked = this.checkArn(arn, 'resourceArn');
    const machine = this.state(ctx).machines.get(checked);
    if (!machine) throw new SimError('ResourceNotFound', `Resource not found: '${checked}'`, 400);
    return machine.tags;
  }

  ListTagsForResource(
    input: ListTagsForResourceCommandInput,
    ctx: CallContext,
  ): Out<ListTagsForResourceCommandOutput> {
    return { tags: [...this.tagged(ctx, input.resourceArn)].map(([key, value]) => ({ key, value })) };
  }

  TagResource(input: TagResourceCommandInput, ctx: CallContext): Out<TagResourceCommandOutput> {
    const tags = this.tagged(ctx, input.resourceArn);
    for (const t of input.tags ?? []) if (t.key) tags.set(t.key, t.value ?? '');
    if (tags.size > 50) throw new SimError('TooManyTags', 'Too many tags', 400);
    return {};
  }

  // ---- test hooks and inspection ----

  /** Ends a running execution as if its definition had finished. */
  finishExecution(executionArn: string, status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT', output?: string): void {
    const e = this.find(executionArn);
    if (e.status !== 'RUNNING') throw new Error(`execution ${executionArn} is ${e.status}, not RUNNING`);
    e.status = status;
    e.stopDate = new Date(this.core.clock.now());
    e.output = output;
  }

  executionStatus(executionArn: string): ExecutionStatus {
    return this.find(executionArn).status;
  }

  private find(executionArn: string): ExecutionRecord {
    for (const [, , region] of this.regions.entries()) {
      for (const m of region.machines.values()) {
        const e = m.executions.get(executionArn);
        if (e) return e;
      }
    }
    throw new Error(`no execution ${executionArn}`);
  }

  /** Taggable resources, for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, state] of this.regions.entries()) {
      for (const m of state.machines.values()) yield { accountId, region, arn: m.arn, tags: m.tags };
    }
  }
}
