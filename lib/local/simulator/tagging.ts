/**
 * Resource Groups Tagging API: GetResources over every taggable resource the other models hold
 * in the caller's account and region (Lambda functions and event source mappings, state
 * machines, EC2 VPCs/subnets/groups/interfaces, EventBridge buses and rules, Scheduler groups,
 * SNS topics, DynamoDB tables, KMS keys, S3 buckets), plus resources of services the simulator
 * does not model (SQS queues, for instance) seeded with `seedTaggedResource`. Like AWS, only
 * resources that carry at least one tag are returned, and the last page answers an empty
 * PaginationToken.
 */
import type {
  GetResourcesCommandInput,
  GetResourcesCommandOutput,
  ResourceTagMapping,
} from '@aws-sdk/client-resource-groups-tagging-api';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { paginate, sortedBy } from './pagination';
import { type CallContext, parseArn, type TaggedResource, tagsToList } from './world';

/** Resource type of an ARN as ResourceTypeFilters name it (`lambda:function`, `ec2:network-interface`). */
function resourceType(arn: string): { service: string; type?: string } {
  const parsed = parseArn(arn)!;
  const implicit: Record<string, string> = { sqs: 'queue', sns: 'topic', s3: 'bucket' };
  if (implicit[parsed.service] && !/[/:]/.test(parsed.resource))
    return { service: parsed.service, type: implicit[parsed.service] };
  const match = /^([^/:]+)[/:]/.exec(parsed.resource);
  return { service: parsed.service, type: match?.[1] };
}

function invalid(message: string): SimError {
  return new SimError('InvalidParameterException', message, 400);
}

export class TaggingService {
  private readonly extra = new Map<string, TaggedResource>();

  constructor(private readonly core: SimCore) {}

  private *all(): Generator<TaggedResource> {
    const s = this.core.services;
    yield* s.lambda.taggedResources();
    yield* s.states.taggedResources();
    yield* s.ec2.taggedResources();
    yield* s.events.taggedResources();
    yield* s.scheduler.taggedResources();
    yield* s.sns.taggedResources();
    yield* s.dynamodb.taggedResources();
    yield* s.kms.taggedResources();
    yield* s.s3.taggedResources();
    yield* this.extra.values();
  }

  GetResources(input: GetResourcesCommandInput, ctx: CallContext): Out<GetResourcesCommandOutput> {
    const filters = input.TagFilters ?? [];
    if (filters.length > 50) throw invalid('TagFilters can contain at most 50 filters.');
    for (const f of filters) if (!f.Key) throw invalid('Each TagFilter needs a Key.');
    const types = (input.ResourceTypeFilters ?? []).map((t) => {
      const [service, type] = t.split(':');
      if (!service) throw invalid(`Invalid ResourceTypeFilter: ${t}`);
      return { service, type };
    });
    if (input.ResourceARNList && (filters.length > 0 || types.length > 0)) {
      throw invalid('ResourceARNList cannot be combined with TagFilters or ResourceTypeFilters.');
    }
    const arnList = input.ResourceARNList ? new Set(input.ResourceARNList) : undefined;
    const matches = [...this.all()].filter((r) => {
      if (r.accountId !== ctx.accountId || r.region !== ctx.region || r.tags.size === 0) return false;
      if (arnList && !arnList.has(r.arn)) return false;
      if (types.length > 0) {
        const t = resourceType(r.arn);
        if (!types.some((f) => f.service === t.service && (f.type === undefined || f.type === t.type)))
          return false;
      }
      return filters.every((f) => {
        const value = r.tags.get(f.Key!);
        if (value === undefined) return false;
        return !f.Values?.length || f.Values.includes(value);
      });
    });
    const page = paginate(
      sortedBy(matches, (r) => r.arn),
      this.core.settings.pageSize,
      {
        token: input.PaginationToken,
        requested: input.ResourcesPerPage,
        awsDefault: 50,
        max: 100,
        keyOf: (r) => r.arn,
        errorCode: 'PaginationTokenExpiredException',
        sizeName: 'ResourcesPerPage',
      },
    );
    const list: ResourceTagMapping[] = page.items.map((r) => ({
      ResourceARN: r.arn,
      Tags: tagsToList(r.tags),
    }));
    return { PaginationToken: page.next ?? '', ResourceTagMappingList: list };
  }

  /**
   * Tags a resource of a service the simulator does not model (an SQS queue, for instance) so
   * that GetResources finds it. The ARN's account and region scope it.
   */
  seedTaggedResource(arn: string, tags: Readonly<Record<string, string>>): void {
    const parsed = parseArn(arn);
    if (!parsed) throw new Error(`"${arn}" is not an ARN`);
    const existing = this.extra.get(arn);
    const merged = new Map([...(existing?.tags ?? []), ...Object.entries(tags)]);
    this.extra.set(arn, { accountId: parsed.account, region: parsed.region, arn, tags: merged });
  }
}
