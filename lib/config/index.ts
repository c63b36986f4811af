export { cdkContext } from './cdk-context';
export * from './defaults';
export { agentsIn, regionsOf, toDirectory, workloadTargets } from './directory';
export { ConfigError, type ConfigIssue } from './errors';
export { loadConfig, parseConfig } from './load';
export type {
  AgentConfig,
  AlarmConfig,
  BackstopConfig,
  BackstopConfigInput,
  WorkloadAccountConfig,
  WorkloadRegionConfig,
} from './schema';
