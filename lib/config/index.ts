export { cdkContext } from './cdk-context';
export * from './defaults';
export { agentsIn, regionsOf, toDirectory, workloadTargets } from './directory';
export { ConfigError, type ConfigIssue, ConfigLimitError } from './errors';
export { loadConfig, parseConfig } from './load';
export type {
  AgentConfig,
  AlarmConfig,
  BackstopConfig,
  BackstopConfigInput,
  KillPathConfig,
  WorkloadAccountConfig,
  WorkloadRegionConfig,
} from './schema';
