/**
 * Lambda, per account and region: functions (configuration, VpcConfig with its requester-managed
 * interfaces in EC2, reserved concurrency, tags) and event source mappings.
 *
 * Event source mappings change state asynchronously, as in AWS: UpdateEventSourceMapping answers
 * 202 with `Disabling`/`Enabling` (`Creating` on create, `Updating` for other changes), and the
 * mapping shows that transitional state on its next `esmSettleReads` reads (Get or List), or
 * until `esmSettleMs` has passed on the simulator clock, then the settled state. An update while
 * a mapping is in a transitional state answers `ResourceInUseException`. `stickMapping(uuid)`
 * keeps a mapping in its transitional state until `unstickMapping(uuid)`.
 *
 * UpdateFunctionConfiguration answers `LastUpdateStatus: 'InProgress'` for
 * `functionUpdateSettleReads` reads of the function (0 by default: settled at once); a further
 * update meanwhile answers `ResourceConflictException`, as AWS does.
 */
import { createHash } from 'node:crypto';
import type {
  CreateEventSourceMappingCommandInput,
  CreateEventSourceMappingCommandOutput,
  CreateFunctionCommandInput,
  CreateFunctionCommandOutput,
  DeleteFunctionConcurrencyCommandInput,
  DeleteFunctionConcurrencyCommandOutput,
  EventSourceMappingConfiguration,
  FunctionConfiguration,
  GetEventSourceMappingCommandInput,
  GetEventSourceMappingCommandOutput,
  GetFunctionCommandInput,
  GetFunctionCommandOutput,
  GetFunctionConcurrencyCommandInput,
  GetFunctionConcurrencyCommandOutput,
  GetFunctionConfigurationCommandInput,
  GetFunctionConfigurationCommandOutput,
  ListEventSourceMappingsCommandInput,
  ListEventSourceMappingsCommandOutput,
  ListFunctionsCommandInput,
  ListFunctionsCommandOutput,
  ListTagsCommandInput,
  ListTagsCommandOutput,
  PutFunctionConcurrencyCommandInput,
  PutFunctionConcurrencyCommandOutput,
  TagResourceCommandInput,
  TagResourceCommandOutput,
  UntagResourceCommandInput,
  UntagResourceCommandOutput,
  UpdateEventSourceMappingCommandInput,
  UpdateEventSourceMappingCommandOutput,
  UpdateFunctionConfigurationCommandInput,
  UpdateFunctionConfigurationCommandOutput,
} from '@aws-sdk/client-lambda';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { type Page, paginate, sortedBy } from './pagination';
import {
  type CallContext,
  compact,
  copy,
  mergeTags,
  parseArn,
  Scoped,
  type TaggedResource,
  validateTags,
} from './world';

/** A change that takes effect after some reads or some time. */
interface Pending {
  /** What reads show until it settles (`Disabling`, `InProgress`...). */
  readonly shown: string;
  /** What it settles to. */
  readonly target: string;
  readsLeft: number;
  readonly settleAt?: number;
}

interface FunctionRecord {
  readonly FunctionName: string;
  readonly FunctionArn: string;
  Runtime?: string;
  Role: string;
  Handler?: string;
  readonly CodeSize: number;
  readonly CodeSha256: string;
  Description: string;
  Timeout: number;
  MemorySize: number;
  LastModified: string;
  RevisionId: string;
  readonly PackageType: 'Zip' | 'Image';
  readonly Architectures: ('x86_64' | 'arm64')[];
  environment?: Record<string, string>;
  vpc?: { SubnetIds: string[]; SecurityGroupIds: string[]; VpcId: string };
  reserved?: number;
  readonly tags: Map<string, string>;
  update?: Pending;
}

interface MappingRecord {
  readonly UUID: string;
  readonly seq: number;
  FunctionArn: string;
  readonly EventSourceArn: string;
  BatchSize: number;
  MaximumBatchingWindowInSeconds: number;
  FilterCriteria?: { Filters?: { Pattern?: string }[] };
  /** Key that encrypts the filter criteria. */
  KMSKeyArn?: string;
  readonly StartingPosition?: string;
  readonly kind: 'queue' | 'stream' | 'kafka';
  /** The settled state: Enabled or Disabled. */
  state: 'Enabled' | 'Disabled';
  pending?: Pending;
  LastModified: Date;
  readonly tags: Map<string, string>;
}

interface Region {
  readonly functions: Map<string, FunctionRecord>; // by name
  readonly mappings: Map<string, MappingRecord>; // by UUID
}

const ACCOUNT_CONCURRENCY = 1000;
const MIN_UNRESERVED = 100;

function invalid(message: string): SimError {
  return new SimError('InvalidParameterValueException', message, 400);
}

function lastModified(d: Date): string {
  return d.toISOString().replace('Z', '+0000');
}

function sourceKind(arn: string): MappingRecord['kind'] {
  const service = parseArn(arn)?.service;
  if (service === 'sqs' || service === 'mq') return 'queue';
  if (service === 'kinesis' || service === 'dynamodb') return 'stream';
  if (service === 'kafka') return 'kafka';
  throw invalid(`Unsupported event source type: ${arn}`);
}

export class LambdaService {
  private readonly regions = new Scoped<Region>(() => ({ functions: new Map(), mappings: new Map() }));
  private mappingSeq = 0;
  /** UUIDs of mappings whose transitions never settle. */
  private readonly stuck = new Set<string>();

  constructor(private readonly core: SimCore) {}

  private state(ctx: { accountId: string; region: string }): Region {
    return this.regions.get(ctx.accountId, ctx.region);
  }

  /** Resolves a function by name, ARN or partial ARN (`123456789012:function:name`). */
  private fn(ctx: CallContext, nameOrArn: string | undefined): FunctionRecord {
    if (!nameOrArn) throw invalid('FunctionName is required');
    let name = nameOrArn;
    let qualifier: string | undefined;
    const arn = parseArn(nameOrArn);
    if (arn) {
      const [type, fname, q] = arn.resource.split(':');
      if (arn.service !== 'lambda' || type !== 'function' || !fname)
        throw invalid(`${nameOrArn} is not a function ARN`);
      if (arn.account !== ctx.accountId || arn.region !== ctx.region) {
        throw new SimError('ResourceNotFoundException', `Function not found: ${nameOrArn}`, 404);
      }
      name = fname;
      qualifier = q;
    } else if (/^\d{12}:function:/.test(nameOrArn)) {
      const parts = nameOrArn.split(':');
      name = parts[2];
      qualifier = parts[3];
    } else if (nameOrArn.includes(':')) {
      [name, qualifier] = nameOrArn.split(':');
    }
    const record = this.state(ctx).functions.get(name);
    if (!record || (qualifier !== undefined && qualifier !== '$LATEST')) {
      const shown = `arn:${ctx.partition}:lambda:${ctx.region}:${ctx.accountId}:function:${name}${qualifier ? `:${qualifier}` : ''}`;
      throw new SimError('ResourceNotFoundException', `Function not found: ${shown}`, 404);
    }
    return record;
  }

  private settle(p: Pending | undefined, pinned: boolean): { pending?: Pending; settled: boolean } {
    if (!p) return { settled: true };
    if (pinned) return { pending: p, settled: false };
    const done = p.settleAt !== undefined ? this.core.clock.now() >= p.settleAt : p.readsLeft <= 0;
    if (done) return { settled: true };
    return { pending: p, settled: false };
  }

  /** Applies a read to a mapping: the transitional state counts down, then settles. */
  private readMapping(m: MappingRecord): string {
    const { settled } = this.settle(m.pending, this.stuck.has(m.UUID));
    if (settled) {
      if (m.pending) {
        m.state = m.pending.target as MappingRecord['state'];
        m.pending = undefined;
      }
      return m.state;
    }
    m.pending!.readsLeft -= 1;
    return m.pending!.shown;
  }

  private readFunction(f: FunctionRecord): string {
    const { settled } = this.settle(f.update, false);
    if (settled) {
      f.update = undefined;
      return 'Successful';
    }
    f.update!.readsLeft -= 1;
    return f.update!.shown;
  }

  /** A mapping transition (settles after `esmSettleReads` reads or `esmSettleMs`). */
  private pending(shown: string, target: string, ctx: CallContext): Pending | undefined {
    if (ctx.seeding) return undefined;
    const ms = this.core.settings.esmSettleMs;
    return {
      shown,
      target,
      readsLeft: this.core.settings.esmSettleReads,
      settleAt: ms === undefined ? undefined : ctx.now.getTime() + ms,
    };
  }

  private configuration(f: FunctionRecord, updateStatus: string): FunctionConfiguration {
    return compact({
      FunctionName: f.FunctionName,
      FunctionArn: f.FunctionArn,
      Runtime: f.Runtime as FunctionConfiguration['Runtime'],
      Role: f.Role,
      Handler: f.Handler,
      CodeSize: f.CodeSize,
      Description: f.Description,
      Timeout: f.Timeout,
      MemorySize: f.MemorySize,
      LastModified: f.LastModified,
      CodeSha256: f.CodeSha256,
      Version: '$LATEST',
      VpcConfig: f.vpc
        ? {
            SubnetIds: [...f.vpc.SubnetIds],
            SecurityGroupIds: [...f.vpc.SecurityGroupIds],
            VpcId: f.vpc.VpcId,
            Ipv6AllowedForDualStack: false,
          }
        : { SubnetIds: [], SecurityGroupIds: [], VpcId: '' },
      Environment: f.environment ? { Variables: { ...f.environment } } : undefined,
      TracingConfig: { Mode: 'PassThrough' as const },
      RevisionId: f.RevisionId,
      State: 'Active' as const,
      LastUpdateStatus: updateStatus as FunctionConfiguration['LastUpdateStatus'],
      LastUpdateStatusReason: updateStatus === 'InProgress' ? 'The function is being updated.' : undefined,
      PackageType: f.PackageType,
      Architectures: [...f.Architectures],
      EphemeralStorage: { Size: 512 },
      SnapStart: { ApplyOn: 'None' as const, OptimizationStatus: 'Off' as const },
      LoggingConfig: { LogFormat: 'Text' as const, LogGroup: `/aws/lambda/${f.FunctionName}` },
    });
  }

  private mappingOutput(
    m: MappingRecord,
    state: string,
    ctx: { partition: string; region: string; accountId: string },
  ): EventSourceMappingConfiguration {
    const stream = m.kind === 'stream';
    return compact({
      UUID: m.UUID,
      StartingPosition: m.StartingPosition as EventSourceMappingConfiguration['StartingPosition'],
      BatchSize: m.BatchSize,
      MaximumBatchingWindowInSeconds: m.MaximumBatchingWindowInSeconds,
      ParallelizationFactor: stream ? 1 : undefined,
      EventSourceArn: m.EventSourceArn,
      FilterCriteria: m.FilterCriteria ? copy(m.FilterCriteria) : undefined,
      FunctionArn: m.FunctionArn,
      LastModified: new Date(m.LastModified),
      LastProcessingResult: stream ? 'No records processed' : undefined,
      State: state,
      StateTransitionReason: 'USER_INITIATED',
      MaximumRecordAgeInSeconds: stream ? -1 : undefined,
      BisectBatchOnFunctionError: stream ? false : undefined,
      MaximumRetryAttempts: stream ? -1 : undefined,
      TumblingWindowInSeconds: stream ? 0 : undefined,
      FunctionResponseTypes: [],
      KMSKeyArn: m.KMSKeyArn,
      EventSourceMappingArn: `arn:${ctx.partition}:lambda:${ctx.region}:${ctx.accountId}:event-source-mapping:${m.UUID}`,
    });
  }

  /** A page of a List* call: Marker and MaxItems, `awsDefault` items unless asked, at most 10,000. */
  private page<T>(
    items: readonly T[],
    input: { Marker?: string; MaxItems?: number },
    keyOf: (item: T) => string,
    awsDefault: number,
  ): Page<T> {
    return paginate(items, this.core.settings.pageSize, {
      token: input.Marker,
      requested: input.MaxItems,
      awsDefault,
      max: 10_000,
      keyOf,
      errorCode: 'InvalidParameterValueException',
      sizeName: 'MaxItems',
    });
  }

  private kmsKey(ctx: CallContext, arn: string | undefined): string | undefined {
    if (arn === undefined || arn === '') return undefined;
    const resolved = this.core.services.kms.resolveKeyArn(ctx, arn);
    if (!resolved) throw new SimError('KMSNotFoundException', `KMS key ${arn} was not found.`, 502);
    return resolved;
  }

  private mapping(ctx: CallContext, uuid: string | undefined): MappingRecord {
    if (!uuid) throw invalid('UUID is required');
    const m = this.state(ctx).mappings.get(uuid);
    if (!m)
      throw new SimError('ResourceNotFoundException', 'The resource you requested does not exist.', 404);
    return m;
  }

  // ---- AWS actions: functions ----

  CreateFunction(input: CreateFunctionCommandInput, ctx: CallContext): Out<CreateFunctionCommandOutput> {
    const name = input.FunctionName;
    if (!name || !/^[a-zA-Z0-9-_]{1,64}$/.test(name))
      throw invalid(`Invalid function name: ${name ?? '(none)'}`);
    const state = this.state(ctx);
    if (state.functions.has(name)) {
      throw new SimError('ResourceConflictException', `Function already exist: ${name}`, 409);
    }
    if (!input.Role) throw invalid('Role is required');
    if (!this.core.services.iam.roleByArn(input.Role)) {
      throw invalid('The role defined for the function cannot be assumed by Lambda.');
    }
    const packageType = input.PackageType ?? 'Zip';
    if (packageType === 'Zip' && (!input.Runtime || !input.Handler)) {
      throw invalid(
        'Runtime and Handler are mandatory parameters for functions created with deployment packages.',
      );
    }
    const code = input.Code;
    if (!code || (!code.ZipFile && !code.S3Key && !code.ImageUri)) {
      throw invalid(
        'Please provide a source for function code (Code.ZipFile, Code.S3Bucket/S3Key or Code.ImageUri).',
      );
    }
    const bytes = code.ZipFile ?? Buffer.from(`${code.S3Bucket}/${code.S3Key}${code.ImageUri ?? ''}`);
    const arn = `arn:${ctx.partition}:lambda:${ctx.region}:${ctx.accountId}:function:${name}`;
    const tags = new Map(Object.entries(input.Tags ?? {}));
    validateTags(tags, 'InvalidParameterValueException');
    const record: FunctionRecord = {
      FunctionName: name,
      FunctionArn: arn,
      Runtime: input.Runtime,
      Role: input.Role,
      Handler: input.Handler,
      CodeSize: bytes.length,
      CodeSha256: createHash('sha256').update(bytes).digest('base64'),
      Description: input.Description ?? '',
      Timeout: input.Timeout ?? 3,
      MemorySize: input.MemorySize ?? 128,
      LastModified: lastModified(ctx.now),
      RevisionId: this.core.ids.uuid(),
      PackageType: packageType,
      Architectures: (input.Architectures ?? ['x86_64']) as FunctionRecord['Architectures'],
      environment: input.Environment?.Variables ? { ...input.Environment.Variables } : undefined,
      tags,
    };
    this.applyVpc(ctx, record, input.VpcConfig?.SubnetIds ?? [], input.VpcConfig?.SecurityGroupIds ?? []);
    state.functions.set(name, record);
    return this.configuration(record, 'Successful');
  }

  private applyVpc(ctx: CallContext, f: FunctionRecord, subnetIds: string[], groupIds: string[]): void {
    if (subnetIds.length === 0 && groupIds.length === 0) {
      f.vpc = undefined;
    } else {
      if (subnetIds.length === 0) throw invalid('SubnetIds are required when SecurityGroupIds are given.');
      if (groupIds.length === 0) throw invalid('SecurityGroupIds are required when SubnetIds are given.');
      if (subnetIds.length > 16) throw invalid('At most 16 subnets can be specified.');
      if (groupIds.length > 5) throw invalid('At most 5 security groups can be specified.');
      const vpcId = this.core.services.ec2.resolveVpcConfig(ctx, subnetIds, groupIds);
      f.vpc = { SubnetIds: [...subnetIds], SecurityGroupIds: [...groupIds], VpcId: vpcId };
    }
    this.core.services.ec2.syncLambdaInterfaces(
      ctx,
      f.FunctionArn,
      f.FunctionName,
      f.vpc ? { subnetIds: f.vpc.SubnetIds, groupIds: f.vpc.SecurityGroupIds } : undefined,
    );
  }

  GetFunction(input: GetFunctionCommandInput, ctx: CallContext): Out<GetFunctionCommandOutput> {
    const f = this.fn(ctx, input.FunctionName);
    return compact({
      Configuration: this.configuration(f, this.readFunction(f)),
      Code: {
        RepositoryType: 'S3',
        Location: `https://awslambda-${ctx.region}-tasks.s3.${ctx.region}.amazonaws.com/snapshots/${ctx.accountId}/${f.FunctionName}-${f.RevisionId}`,
      },
      Tags: f.tags.size > 0 ? Object.fromEntries(f.tags) : undefined,
      Concurrency: f.reserved !== undefined ? { ReservedConcurrentExecutions: f.reserved } : undefined,
    });
  }

  GetFunctionConfiguration(
    input: GetFunctionConfigurationCommandInput,
    ctx: CallContext,
  ): Out<GetFunctionConfigurationCommandOutput> {
    const f = this.fn(ctx, input.FunctionName);
    return this.configuration(f, this.readFunction(f));
  }

  GetFunctionConcurrency(
    input: GetFunctionConcurrencyCommandInput,
    ctx: CallContext,
  ): Out<GetFunctionConcurrencyCommandOutput> {
    const f = this.fn(ctx, input.FunctionName);
    return compact({ ReservedConcurrentExecutions: f.reserved });
  }

  PutFunctionConcurrency(
    input: PutFunctionConcurrencyCommandInput,
    ctx: CallContext,
  ): Out<PutFunctionConcurrencyCommandOutput> {
    const f = this.fn(ctx, input.FunctionName);
    const value = input.ReservedConcurrentExecutions;
    if (value === undefined || !Number.isInteger(value) || value < 0) {
      throw invalid('ReservedConcurrentExecutions must be an integer of at least 0.');
    }
    let others = 0;
    for (const g of this.state(ctx).functions.values()) if (g !== f) others += g.reserved ?? 0;
    if (others + value > ACCOUNT_CONCURRENCY - MIN_UNRESERVED) {
      throw invalid(
        `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${MIN_UNRESERVED}].`,
      );
    }
    f.reserved = value;
    return { ReservedConcurrentExecutions: value };
  }

  DeleteFunctionConcurrency(
    input: DeleteFunctionConcurrencyCommandInput,
    ctx: CallContext,
  ): Out<DeleteFunctionConcurrencyCommandOutput> {
    const f = this.fn(ctx, input.FunctionName);
    f.reserved = undefined;
    return {};
  }

  UpdateFunctionConfiguration(
    input: UpdateFunctionConfigurationCommandInput,
    ctx: CallContext,
  ): Out<UpdateFunctionConfigurationCommandOutput> {
    const f = this.fn(ctx, input.FunctionName);
    if (this.readFunction(f) === 'InProgress') {
      // readFunction counted a read; an update attempt is not a read, so give it back.
      f.update!.readsLeft += 1;
      throw new SimError(
        'ResourceConflictException',
        `The operation cannot be performed at this time. An update is in progress for resource: ${f.FunctionArn}`,
        409,
      );
    }
    if (input.RevisionId !== undefined && input.RevisionId !== f.RevisionId) {
      throw new SimError(
        'PreconditionFailedException',
        'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
        412,
      );
    }
    if (input.Role !== undefined) {
      if (!this.core.services.iam.roleByArn(input.Role)) {
        throw invalid('The role defined for the function cannot be assumed by Lambda.');
      }
      f.Role = input.Role;
    }
    if (input.Timeout !== undefined) {
      if (input.Timeout < 1 || input.Timeout > 900)
        throw invalid('Timeout must be between 1 and 900 seconds.');
      f.Timeout = input.Timeout;
    }
    if (input.MemorySize !== undefined) {
      if (input.MemorySize < 128 || input.MemorySize > 10240)
        throw invalid('MemorySize must be between 128 and 10240 MB.');
      f.MemorySize = input.MemorySize;
    }
    if (input.Description !== undefined) f.Description = input.Description;
    if (input.Handler !== undefined) f.Handler = input.Handler;
    if (input.Runtime !== undefined) f.Runtime = input.Runtime;
    if (input.Environment !== undefined) f.environment = { ...(input.Environment.Variables ?? {}) };
    if (input.VpcConfig !== undefined) {
      this.applyVpc(
        ctx,
        f,
        input.VpcConfig.SubnetIds ?? f.vpc?.SubnetIds ?? [],
        input.VpcConfig.SecurityGroupIds ?? f.vpc?.SecurityGroupIds ?? [],
      );
    }
    f.LastModified = lastModified(ctx.now);
    f.RevisionId = this.core.ids.uuid();
    const reads = this.core.settings.functionUpdateSettleReads;
    f.update =
      reads > 0 && !ctx.seeding ? { shown: 'InProgress', target: 'Successful', readsLeft: reads } : undefined;
    return this.configuration(f, f.update ? 'InProgress' : 'Successful');
  }

  ListFunctions(input: ListFunctionsCommandInput, ctx: CallContext): Out<ListFunctionsCommandOutput> {
    const functions = sortedBy(this.state(ctx).functions.values(), (f) => f.FunctionName);
    const page = this.page(functions, input, (f) => f.FunctionName, 50);
    return compact({
      Functions: page.items.map((f) => this.configuration(f, f.update ? f.update.shown : 'Successful')),
      NextMarker: page.next,
    });
  }

  private taggableTags(ctx: CallContext, resource: string | undefined): Map<string, string> {
    if (!resource) throw invalid('Resource is required');
    const arn = parseArn(resource);
    if (arn?.resource.startsWith('event-source-mapping:')) {
      return this.mapping(ctx, arn.resource.split(':')[1]).tags;
    }
    if (!arn) throw invalid(`${resource} is not a valid ARN`);
    return this.fn(ctx, resource).tags;
  }

  ListTags(input: ListTagsCommandInput, ctx: CallContext): Out<ListTagsCommandOutput> {
    return { Tags: Object.fromEntries(this.taggableTags(ctx, input.Resource)) };
  }

  TagResource(input: TagResourceCommandInput, ctx: CallContext): Out<TagResourceCommandOutput> {
    const tags = this.taggableTags(ctx, input.Resource);
    mergeTags(tags, new Map(Object.entries(input.Tags ?? {})), 'InvalidParameterValueException');
    return {};
  }

  UntagResource(input: UntagResourceCommandInput, ctx: CallContext): Out<UntagResourceCommandOutput> {
    const tags = this.taggableTags(ctx, input.Resource);
    for (const key of input.TagKeys ?? []) tags.delete(key);
    return {};
  }

  // ---- AWS actions: event source mappings ----

  CreateEventSourceMapping(
    input: CreateEventSourceMappingCommandInput,
    ctx: CallContext,
  ): Out<CreateEventSourceMappingCommandOutput> {
    const f = this.fn(ctx, input.FunctionName);
    const source = input.EventSourceArn;
    if (!source) throw invalid('EventSourceArn is required');
    const kind = sourceKind(source);
    if (kind === 'stream' && !input.StartingPosition) {
      throw invalid('StartingPosition is required for Kinesis and DynamoDB stream event sources.');
    }
    if (kind === 'queue' && input.StartingPosition) {
      throw invalid('StartingPosition is not valid for SQS event sources.');
    }
    const state = this.state(ctx);
    const existing = [...state.mappings.values()].find(
      (m) => m.EventSourceArn === source && m.FunctionArn === f.FunctionArn,
    );
    if (existing) {
      throw new SimError(
        'ResourceConflictException',
        `An event source mapping with event source ("${source}") and function ("${f.FunctionName}") already exists. Please update or delete the existing mapping with UUID ${existing.UUID}`,
        409,
      );
    }
    const batchSize = input.BatchSize ?? (kind === 'queue' ? 10 : 100);
    if (batchSize < 1 || batchSize > 10_000) throw invalid('BatchSize must be between 1 and 10000.');
    const tags = new Map(Object.entries(input.Tags ?? {}));
    validateTags(tags, 'InvalidParameterValueException');
    this.mappingSeq += 1;
    const enabled = input.Enabled ?? true;
    const m: MappingRecord = {
      UUID: this.core.ids.uuid(),
      seq: this.mappingSeq,
      FunctionArn: f.FunctionArn,
      EventSourceArn: source,
      BatchSize: batchSize,
      MaximumBatchingWindowInSeconds: input.MaximumBatchingWindowInSeconds ?? 0,
      FilterCriteria: input.FilterCriteria ? copy(input.FilterCriteria) : undefined,
      KMSKeyArn: this.kmsKey(ctx, input.KMSKeyArn),
      StartingPosition: input.StartingPosition,
      kind,
      state: enabled ? 'Enabled' : 'Disabled',
      LastModified: ctx.now,
      tags,
    };
    m.pending = this.pending('Creating', m.state, ctx);
    state.mappings.set(m.UUID, m);
    return this.mappingOutput(m, m.pending ? 'Creating' : m.state, ctx);
  }

  ListEventSourceMappings(
    input: ListEventSourceMappingsCommandInput,
    ctx: CallContext,
  ): Out<ListEventSourceMappingsCommandOutput> {
    let mappings = [...this.state(ctx).mappings.values()];
    if (input.FunctionName) {
      const f = this.fn(ctx, input.FunctionName);
      mappings = mappings.filter((m) => m.FunctionArn === f.FunctionArn);
    }
    if (input.EventSourceArn) mappings = mappings.filter((m) => m.EventSourceArn === input.EventSourceArn);
    const key = (m: MappingRecord) => String(m.seq).padStart(12, '0');
    const page = this.page(sortedBy(mappings, key), input, key, 100);
    return compact({
      EventSourceMappings: page.items.map((m) => this.mappingOutput(m, this.readMapping(m), ctx)),
      NextMarker: page.next,
    });
  }

  GetEventSourceMapping(
    input: GetEventSourceMappingCommandInput,
    ctx: CallContext,
  ): Out<GetEventSourceMappingCommandOutput> {
    const m = this.mapping(ctx, input.UUID);
    return this.mappingOutput(m, this.readMapping(m), ctx);
  }

  UpdateEventSourceMapping(
    input: UpdateEventSourceMappingCommandInput,
    ctx: CallContext,
  ): Out<UpdateEventSourceMappingCommandOutput> {
    const m = this.mapping(ctx, input.UUID);
    const { settled } = this.settle(m.pending, this.stuck.has(m.UUID));
    if (!settled) {
      throw new SimError(
        'ResourceInUseException',
        `The resource you requested is currently in use: event source mapping ${m.UUID} is ${m.pending!.shown}. Retry once it has settled.`,
        400,
      );
    }
    if (m.pending) {
      m.state = m.pending.target as MappingRecord['state'];
      m.pending = undefined;
    }
    let changed = false;
    if (input.FunctionName !== undefined) {
      const f = this.fn(ctx, input.FunctionName);
      changed ||= f.FunctionArn !== m.FunctionArn;
      m.FunctionArn = f.FunctionArn;
    }
    if (input.BatchSize !== undefined) {
      if (input.BatchSize < 1 || input.BatchSize > 10_000)
        throw invalid('BatchSize must be between 1 and 10000.');
      changed ||= input.BatchSize !== m.BatchSize;
      m.BatchSize = input.BatchSize;
    }
    if (input.MaximumBatchingWindowInSeconds !== undefined) {
      changed ||= input.MaximumBatchingWindowInSeconds !== m.MaximumBatchingWindowInSeconds;
      m.MaximumBatchingWindowInSeconds = input.MaximumBatchingWindowInSeconds;
    }
    if (input.FilterCriteria !== undefined) {
      m.FilterCriteria = copy(input.FilterCriteria);
      changed = true;
    }
    if (input.KMSKeyArn !== undefined) {
      m.KMSKeyArn = this.kmsKey(ctx, input.KMSKeyArn);
      changed = true;
    }
    if (input.Enabled !== undefined && (input.Enabled ? 'Enabled' : 'Disabled') !== m.state) {
      const target = input.Enabled ? 'Enabled' : 'Disabled';
      m.pending = this.pending(input.Enabled ? 'Enabling' : 'Disabling', target, ctx);
      if (!m.pending) m.state = target;
      m.LastModified = ctx.now;
    } else if (changed) {
      m.pending = this.pending('Updating', m.state, ctx);
      m.LastModified = ctx.now;
    }
    return this.mappingOutput(m, m.pending ? m.pending.shown : m.state, ctx);
  }

  // ---- test hooks and inspection ----

  /** Keeps the mapping in its transitional state (the one it is in, or the next one) until unstuck. */
  stickMapping(uuid: string): void {
    this.stuck.add(uuid);
  }

  unstickMapping(uuid: string): void {
    this.stuck.delete(uuid);
  }

  /** The state a read would show now, without counting as a read. */
  mappingState(uuid: string): string | undefined {
    for (const [, , region] of this.regions.entries()) {
      const m = region.mappings.get(uuid);
      if (m) return m.pending ? m.pending.shown : m.state;
    }
    return undefined;
  }

  /** UUIDs of the mappings of a function. */
  mappingsOf(accountId: string, region: string, functionName: string): string[] {
    const arnSuffix = `:function:${functionName}`;
    return [...this.state({ accountId, region }).mappings.values()]
      .filter((m) => m.FunctionArn.endsWith(arnSuffix))
      .map((m) => m.UUID);
  }

  /** Reserved concurrency of a function (undefined when none is set). */
  reservedConcurrency(accountId: string, region: string, functionName: string): number | undefined {
    const f = this.state({ accountId, region }).functions.get(functionName);
    if (!f) throw new Error(`no function ${functionName} in ${accountId}/${region}`);
    return f.reserved;
  }

  /** Security groups of a function's VpcConfig (undefined when not in a VPC). */
  functionSecurityGroups(accountId: string, region: string, functionName: string): string[] | undefined {
    const f = this.state({ accountId, region }).functions.get(functionName);
    if (!f) throw new Error(`no function ${functionName} in ${accountId}/${region}`);
    return f.vpc ? [...f.vpc.SecurityGroupIds] : undefined;
  }

  /** Taggable resources, for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, state] of this.regions.entries()) {
      for (const f of state.functions.values()) yield { accountId, region, arn: f.FunctionArn, tags: f.tags };
      for (const m of state.mappings.values()) {
        const partition = parseArn(m.FunctionArn)!.partition;
        const arn = `arn:${partition}:lambda:${region}:${accountId}:event-source-mapping:${m.UUID}`;
        yield { accountId, region, arn, tags: m.tags };
      }
    }
  }
}
