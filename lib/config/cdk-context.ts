import cdkJson from '../../cdk.json';

/**
 * The feature flags and other context `cdk synth` reads from cdk.json. Every App the project
 * builds in-process (the local engine's synthesis, the tests) starts from the same context, so it
 * synthesizes the template `cdk deploy` would deploy, not one built under older defaults.
 */
export function cdkContext(): Record<string, unknown> {
  const { 'cli-telemetry': _cliOnly, ...context } = cdkJson.context as Record<string, unknown>;
  return context;
}
