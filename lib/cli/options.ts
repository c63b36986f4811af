/**
 * The options every command that calls AWS takes, and how they are checked before the first call:
 * the configuration, the agents named, the endpoint, the profile and the control plane's region.
 * Used by every command module (kill, plan, status, audit, canary...).
 */
import { type Command, Option } from 'commander';
import pc from 'picocolors';
import type { ClientFactory } from '../../lambda/shared/clients';
import { type BackstopConfig, DEFAULT_CONFIG_PATH, loadConfig } from '../config';
import { applyTarget, type AwsTarget, checkCredentials, clientsFor, profileOf } from './aws';
import type { Io } from './index';
import { checkAgents, checkEndpoint, checkProfile, chooseRegion } from './inputs';
import { type ControlPlaneOutputs, readControlPlaneOutputs } from './outputs';

export interface CommonOptions {
  config: string;
  outputs?: string;
  endpoint?: string;
  profile?: string;
  region?: string;
  json?: boolean;
}

/** What every AWS command resolves before its first call: all of it checked, none of it called. */
export interface Resolved {
  readonly config: BackstopConfig;
  readonly target: AwsTarget;
  readonly outputs?: ControlPlaneOutputs;
  readonly note?: string;
}

export function configOption(cmd: Command): Command {
  return cmd.option('--config <file>', 'Backstop configuration', DEFAULT_CONFIG_PATH);
}

/** The options of every command that calls AWS. */
export function awsOptions(cmd: Command, outputsHelp: string): Command {
  return configOption(cmd)
    .option('--outputs <file>', outputsHelp)
    .addOption(new Option('--profile <name>', 'AWS profile for the credentials').env('AWS_PROFILE'))
    .addOption(
      new Option('--region <region>', "the control plane's region (default: controlPlane.region)").env(
        'AWS_REGION',
      ),
    )
    .option('--endpoint <url>', 'an AWS-compatible endpoint for every call (sets AWS_ENDPOINT_URL)')
    .option('--json', 'print the result as JSON for scripts');
}

/** Loads the configuration and checks every option against it. Calls nothing. */
export function resolve(cmd: Command, opts: CommonOptions, agents: readonly string[]): Resolved {
  const config = loadConfig(opts.config);
  checkAgents(config, agents, opts.config);
  const endpoint = checkEndpoint(opts.endpoint);
  const profile = checkProfile(opts.profile);
  const region = chooseRegion(config, opts.region, cmd.getOptionValueSource('region'), opts.config);
  const outputs = opts.outputs ? readControlPlaneOutputs(opts.outputs) : undefined;
  const target: AwsTarget = {
    region: region.region,
    profile: profile
      ? { name: profile, from: cmd.getOptionValueSource('profile') === 'env' ? 'AWS_PROFILE' : '--profile' }
      : profileOf(undefined),
    ...(endpoint ? { endpoint } : {}),
  };
  return { config, target, ...(outputs ? { outputs } : {}), ...(region.note ? { note: region.note } : {}) };
}

/** The clients of a resolved command, once its credentials are known to be there. */
export async function connect(io: Io, r: Resolved): Promise<ClientFactory> {
  if (r.note) io.err(pc.yellow(`note: ${r.note}`));
  applyTarget(r.target);
  const clients = clientsFor(r.target, io.clients);
  await checkCredentials(clients, r.target);
  return clients;
}
