import type { ProgressEvent } from './render';

/**
 * Progress of a kill of many agents, folded. Each agent's branches print eight lines or more
 * (seven surfaces and the read-back, plus retries under throttling): for a fleet that is
 * thousands of lines, and the one that matters scrolls away. From {@link FLEET_PROGRESS_AGENTS}
 * agents on, the kill's own steps (Prepare, Finalize, the end) still print as they happen, and
 * everything of the agents is counted instead: one line when the count changes, at most every
 * `everyMs`, and the last one before the kill's end.
 */
export const FLEET_PROGRESS_AGENTS = 10;

/** The kill's own steps: printed as they are, fleet or not. Everything else belongs to an agent. */
const KILL_STEPS = new Set([
  'Kill started',
  'Prepare the kill',
  'Finalize the kill',
  'Kill finished',
  'Kill ended',
]);

export interface BatchCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly running: number;
  readonly failed: number;
}

export class FleetProgress {
  private readonly agents = new Map<string, string>();
  private retries = 0;
  private failures = 0;
  private batches: BatchCounts | undefined;
  private printed = '';
  private printedAt = Number.NEGATIVE_INFINITY;
  private latestMs = 0;

  constructor(
    private readonly total: number,
    private readonly print: (event: ProgressEvent) => void,
    private readonly everyMs = 2000,
  ) {}

  /** Whether a kill of `agents` agents gets folded progress. */
  static wanted(agents: number): boolean {
    return agents >= FLEET_PROGRESS_AGENTS;
  }

  /** Takes one progress event: prints the kill's own steps, counts an agent's. */
  take(e: ProgressEvent): void {
    this.latestMs = Math.max(this.latestMs, e.elapsedMs);
    if (KILL_STEPS.has(e.state)) {
      // The count as it stands goes first, so that the kill's end reads after it.
      if (e.state !== 'Kill started' && e.state !== 'Prepare the kill') this.flush(e.elapsedMs, true);
      this.print(e);
      return;
    }
    if (e.kind === 'retried') this.retries += 1;
    if (e.kind === 'failed' || e.kind === 'caught') this.failures += 1;
    if (e.agentId && e.agentStatus) this.agents.set(e.agentId, e.agentStatus);
    this.flush(e.elapsedMs, false);
  }

  /** The child executions of a fleet kill, as Step Functions counts them. */
  takeBatches(counts: BatchCounts, elapsedMs: number): void {
    this.batches = counts;
    this.latestMs = Math.max(this.latestMs, elapsedMs);
    this.flush(elapsedMs, false);
  }

  /** The count, if it changed since it was last printed (and, unless `now`, not too soon). */
  flush(elapsedMs: number = this.latestMs, now = true): void {
    const detail = this.summary();
    if (detail === this.printed) return;
    if (!now && elapsedMs - this.printedAt < this.everyMs) return;
    this.printed = detail;
    this.printedAt = elapsedMs;
    this.print({ elapsedMs, state: 'Agents', kind: 'count', detail });
  }

  private summary(): string {
    const byStatus = new Map<string, number>();
    for (const status of this.agents.values()) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const statuses = [...byStatus]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([status, n]) => `${n} ${status}`);
    const parts = [
      `${this.agents.size}/${this.total} read back${statuses.length > 0 ? ` (${statuses.join(', ')})` : ''}`,
    ];
    if (this.batches) {
      const b = this.batches;
      parts.push(
        `batches ${b.succeeded}/${b.total} done${b.running > 0 ? `, ${b.running} running` : ''}${b.failed > 0 ? `, ${b.failed} failed` : ''}`,
      );
    }
    if (this.retries > 0) parts.push(`${this.retries} ${this.retries === 1 ? 'retry' : 'retries'}`);
    if (this.failures > 0) parts.push(`${this.failures} task ${this.failures === 1 ? 'error' : 'errors'}`);
    return parts.join('; ');
  }
}
