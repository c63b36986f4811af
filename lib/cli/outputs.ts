import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The stack outputs the handlers and the CLI need, by output key (see ControlPlaneStack). */
export const OUTPUT_KEYS = {
  auditBucketName: 'AuditBucketName',
  stateTableName: 'StateTableName',
  topicArn: 'TopicArn',
  auditKeyArn: 'AuditKeyArn',
  signingKeyArn: 'ManifestSigningKeyArn',
  killWorkerRoleArn: 'KillWorkerRoleArn',
  killStateMachineArn: 'KillStateMachineArn',
} as const;

export type ControlPlaneOutputs = { readonly [K in keyof typeof OUTPUT_KEYS]: string };

export class OutputsError extends Error {
  override readonly name = 'OutputsError';
}

const stackOutputs = z.record(z.string(), z.string());

/** Every output of one stack in an outputs file (the local engine maps them to physical names). */
export function readStackOutputs(file: string, stackName = 'Backstop-ControlPlane'): Record<string, string> {
  readControlPlaneOutputs(file, stackName);
  const all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  return all[stackName] as Record<string, string>;
}

/**
 * Reads the file `cdk deploy --outputs-file` writes ({ "<stack>": { "<key>": "<value>" } }) and
 * picks the control plane stack's outputs. Names the missing keys if the file is incomplete.
 */
export function readControlPlaneOutputs(
  file: string,
  stackName = 'Backstop-ControlPlane',
): ControlPlaneOutputs {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OutputsError(
      code === 'ENOENT'
        ? `--outputs ${file}: file not found (cdk deploy Backstop-ControlPlane --outputs-file ${file} writes it)`
        : `--outputs ${file}: cannot read it as JSON (${(e as Error).message.split('\n')[0]})`,
    );
  }
  const parsed = z.record(z.string(), stackOutputs).safeParse(raw);
  if (!parsed.success) {
    throw new OutputsError(`--outputs ${file}: expected { "<stack name>": { "<output>": "<value>" } }`);
  }
  const stack = parsed.data[stackName];
  if (!stack) {
    throw new OutputsError(
      `--outputs ${file}: no outputs for stack ${stackName} (found: ${Object.keys(parsed.data).join(', ') || 'none'})`,
    );
  }
  const missing = Object.values(OUTPUT_KEYS).filter((k) => !stack[k]);
  if (missing.length > 0) {
    throw new OutputsError(`--outputs ${file}: stack ${stackName} lacks output(s) ${missing.join(', ')}`);
  }
  return Object.fromEntries(
    Object.entries(OUTPUT_KEYS).map(([field, key]) => [field, stack[key] as string]),
  ) as ControlPlaneOutputs;
}
