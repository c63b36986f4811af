/**
 * CloudWatch metrics: PutMetricData, validated as CloudWatch does and kept for inspection
 * (`metrics`). The CloudWatch client of this SDK version speaks a JSON protocol on the wire; at
 * the deserialize step the simulator sees `PutMetricDataCommand` and its input as usual.
 */
import type { PutMetricDataCommandInput, PutMetricDataCommandOutput } from '@aws-sdk/client-cloudwatch';
import type { Out, SimCore } from './core';
import { SimError } from './errors';
import type { CallContext } from './world';

/** One datum as a test or the drill reads it back. */
export interface MetricDatum {
  readonly accountId: string;
  readonly region: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly value?: number;
  readonly values?: readonly number[];
  readonly unit?: string;
  readonly timestamp: Date;
}

function invalid(message: string): SimError {
  return new SimError('InvalidParameterValueException', message, 400);
}

export class CloudWatchService {
  private readonly data: MetricDatum[] = [];

  constructor(private readonly core: SimCore) {}

  PutMetricData(input: PutMetricDataCommandInput, ctx: CallContext): Out<PutMetricDataCommandOutput> {
    const namespace = input.Namespace;
    if (!namespace) throw new SimError('MissingParameter', 'The parameter Namespace is required.', 400);
    if (namespace.startsWith('AWS/'))
      throw invalid(`The value ${namespace} for parameter Namespace is invalid.`);
    const metrics = input.MetricData ?? [];
    if (metrics.length === 0)
      throw new SimError('MissingParameter', 'The parameter MetricData is required.', 400);
    if (metrics.length > 1000)
      throw invalid('The collection MetricData must not have a size greater than 1000.');
    const accepted: MetricDatum[] = [];
    metrics.forEach((m, i) => {
      const where = `MetricData.member.${i + 1}`;
      if (!m.MetricName)
        throw new SimError('MissingParameter', `The parameter ${where}.MetricName is required.`, 400);
      if (m.Value !== undefined && m.Values !== undefined) {
        throw new SimError(
          'InvalidParameterCombination',
          `The parameters ${where}.Value and ${where}.Values are mutually exclusive.`,
          400,
        );
      }
      if (m.Value !== undefined && !Number.isFinite(m.Value))
        throw invalid(`The value for parameter ${where}.Value is invalid.`);
      if ((m.Dimensions?.length ?? 0) > 30)
        throw invalid(`The collection ${where}.Dimensions must not have a size greater than 30.`);
      const dimensions: Record<string, string> = {};
      for (const d of m.Dimensions ?? []) {
        if (!d.Name || d.Value === undefined)
          throw new SimError('MissingParameter', `Dimensions of ${where} need a Name and a Value.`, 400);
        dimensions[d.Name] = d.Value;
      }
      accepted.push({
        accountId: ctx.accountId,
        region: ctx.region,
        namespace,
        metricName: m.MetricName,
        dimensions,
        value: m.Value,
        values: m.Values ? [...m.Values] : undefined,
        unit: m.Unit,
        timestamp: m.Timestamp ? new Date(m.Timestamp) : new Date(this.core.clock.now()),
      });
    });
    this.data.push(...accepted);
    return {};
  }

  /** Data points received, optionally only of one namespace and metric. */
  metrics(filter: { namespace?: string; metricName?: string } = {}): MetricDatum[] {
    return this.data.filter(
      (d) =>
        (filter.namespace === undefined || d.namespace === filter.namespace) &&
        (filter.metricName === undefined || d.metricName === filter.metricName),
    );
  }
}
