/**
 * SNS, per account and region: topics and the messages published to them, kept for inspection
 * (`published`). Nothing is delivered to subscribers.
 */
import type {
  CreateTopicCommandInput,
  CreateTopicCommandOutput,
  ListTopicsCommandInput,
  ListTopicsCommandOutput,
  PublishCommandInput,
  PublishCommandOutput,
} from '@aws-sdk/client-sns';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import { paginate, sortedBy } from './pagination';
import {
  type CallContext,
  compact,
  parseArn,
  Scoped,
  type TaggedResource,
  tagsFromList,
  validateTags,
} from './world';

/** A message as a test or the drill reads it back. */
export interface PublishedMessage {
  readonly topicArn: string;
  readonly messageId: string;
  readonly subject?: string;
  readonly message: string;
  readonly attributes: Readonly<Record<string, string | undefined>>;
  readonly publishedAt: Date;
  readonly publisherArn: string;
}

interface TopicRecord {
  readonly arn: string;
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly tags: Map<string, string>;
}

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const MAX_MESSAGE_BYTES = 256 * 1024;

function invalid(message: string): SimError {
  return new SimError('InvalidParameterException', message, 400);
}

export class SnsService {
  private readonly regions = new Scoped<Map<string, TopicRecord>>(() => new Map());
  private readonly messages: PublishedMessage[] = [];

  constructor(private readonly core: SimCore) {}

  CreateTopic(input: CreateTopicCommandInput, ctx: CallContext): Out<CreateTopicCommandOutput> {
    const name = input.Name;
    if (!name || !TOPIC_NAME.test(name)) throw invalid('Invalid parameter: Topic Name');
    const topics = this.regions.get(ctx.accountId, ctx.region);
    const arn = `arn:${ctx.partition}:sns:${ctx.region}:${ctx.accountId}:${name}`;
    if (!topics.has(arn)) {
      const tags = tagsFromList(input.Tags);
      validateTags(tags, 'InvalidParameterException');
      topics.set(arn, { arn, name, attributes: { ...(input.Attributes ?? {}) }, tags });
    }
    return { TopicArn: arn };
  }

  ListTopics(input: ListTopicsCommandInput, ctx: CallContext): Out<ListTopicsCommandOutput> {
    const topics = sortedBy(this.regions.get(ctx.accountId, ctx.region).values(), (t) => t.arn);
    const page = paginate(topics, this.core.settings.pageSize, {
      token: input.NextToken,
      awsDefault: 100,
      max: 100,
      keyOf: (t) => t.arn,
      errorCode: 'InvalidParameterException',
      sizeName: 'NextToken',
    });
    return compact({ Topics: page.items.map((t) => ({ TopicArn: t.arn })), NextToken: page.next });
  }

  Publish(input: PublishCommandInput, ctx: CallContext): Out<PublishCommandOutput> {
    const arn = input.TopicArn ?? input.TargetArn;
    if (!arn)
      throw invalid('Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
    if (input.Message === undefined)
      throw invalid('Invalid parameter: Message Reason: no value for required parameter');
    if (Buffer.byteLength(input.Message) > MAX_MESSAGE_BYTES) {
      throw invalid('Invalid parameter: Message too long');
    }
    if (input.Subject !== undefined && (input.Subject.length === 0 || input.Subject.length > 100)) {
      throw invalid('Invalid parameter: Subject');
    }
    const parsed = parseArn(arn);
    const topic =
      parsed && parsed.account === ctx.accountId && parsed.region === ctx.region
        ? this.regions.get(ctx.accountId, ctx.region).get(arn)
        : undefined;
    if (!topic) throw new SimError('NotFoundException', 'Topic does not exist', 404);
    if (topic.name.endsWith('.fifo') && !input.MessageGroupId) {
      throw invalid('Invalid parameter: The MessageGroupId parameter is required for FIFO topics');
    }
    const messageId = this.core.ids.uuid();
    this.messages.push({
      topicArn: arn,
      messageId,
      subject: input.Subject,
      message: input.Message,
      attributes: Object.fromEntries(
        Object.entries(input.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
      ),
      publishedAt: ctx.now,
      publisherArn: ctx.caller.arn,
    });
    return { MessageId: messageId };
  }

  /** Messages published (to one topic, or all), oldest first. */
  published(topicArn?: string): PublishedMessage[] {
    return this.messages.filter((m) => topicArn === undefined || m.topicArn === topicArn);
  }

  /** Taggable resources (topics), for the Resource Groups Tagging API. */
  *taggedResources(): Generator<TaggedResource> {
    for (const [accountId, region, topics] of this.regions.entries()) {
      for (const t of topics.values()) yield { accountId, region, arn: t.arn, tags: t.tags };
    }
  }
}
