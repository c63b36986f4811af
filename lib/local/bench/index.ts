/**
 * The kill benchmark (docs/design.md section 11): fleets of agents seeded on the embedded simulator
 * with the design quotas and a per-call latency, killed through the local engine and the real
 * handlers, measured against the lower bound the same model gives. `npm run bench` runs it.
 */
export {
  DEFAULT_AGENTS_PER_ACCOUNT,
  FLEET_CONTROL_PLANE,
  FLEET_REGION,
  type FleetAccount,
  type FleetAgent,
  type FleetAgentInventory,
  type FleetLayout,
  type FleetLayoutOptions,
  fleetAccountId,
  fleetAgentId,
  fleetConfig,
  fleetLayout,
  MAX_FLEET_AGENTS,
  seedFleetAccount,
} from './fleet';
export { type BenchJob, type BenchJobResult, peakRssMb, runBenchJob } from './jobs';
export {
  criticalPathCalls,
  type FleetKillMeasurement,
  type FleetKillOptions,
  type FleetOrder,
  requestOrder,
  runFleetKill,
  type ServiceCalls,
} from './measure';
export {
  type BucketLoad,
  bucketLoads,
  type ContainBound,
  containBound,
  isThrottled,
  longestDisjointChain,
} from './model';
export {
  type BenchReport,
  type BenchRow,
  type BenchSettings,
  benchRow,
  type CriticalPath,
  formatBenchReport,
} from './report';
export {
  createFleetWorld,
  type FleetWorld,
  type FleetWorldOptions,
  perInvocationClientFactory,
  type RetryQuotaScope,
} from './world';
