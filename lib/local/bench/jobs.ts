import { criticalPathCalls, type FleetKillMeasurement, type FleetKillOptions, runFleetKill } from './measure';
import type { CriticalPath } from './report';

/**
 * One unit of benchmark work, small enough to run in a process of its own, so that each fleet
 * size's peak memory is its own and a size that runs out of memory does not take the others down.
 */
export type BenchJob =
  | { readonly kind: 'critical-path'; readonly latencyMs: number }
  | { readonly kind: 'fleet'; readonly options: FleetKillOptions };

export type BenchJobResult =
  | { readonly kind: 'critical-path'; readonly criticalPath: CriticalPath; readonly peakRssMb: number }
  | { readonly kind: 'fleet'; readonly measurement: FleetKillMeasurement; readonly peakRssMb: number };

/** Peak resident memory of this process so far, in MB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Runs a job; `progress` gets a line at every tenth of the fleet cut and verified. */
export async function runBenchJob(
  job: BenchJob,
  progress: (line: string) => void = () => {},
): Promise<BenchJobResult> {
  if (job.kind === 'critical-path') {
    const criticalPath = await criticalPathCalls({ latencyMs: job.latencyMs });
    return { kind: 'critical-path', criticalPath, peakRssMb: peakRssMb() };
  }
  const step = Math.max(1, Math.ceil(job.options.agents / 10));
  const measurement = await runFleetKill({
    ...job.options,
    onAgentDone: (done, total, elapsedMs) => {
      if (done % step === 0 || done === total) {
        progress(`  ${done}/${total} agents cut and verified at ${(elapsedMs / 1000).toFixed(1)} s`);
      }
    },
  });
  return { kind: 'fleet', measurement, peakRssMb: peakRssMb() };
}
