/**
 * What the worker-role tests share: the handler modules an entry point loads, the SDK commands
 * those modules send in the control plane, the resource policies of the control plane by the ARN
 * they govern, and the TLS context every SDK request carries. Each role test lists its handlers'
 * commands in a table and checks the table against {@link controlPlaneCommands}: an SDK call moved
 * to another module, or a new one, fails the test until its row says why the role may make it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { PolicyDocument, ResolvedTemplate } from './iam-policies';

export const LAMBDA_DIR = join(__dirname, '..', '..', 'lambda');

/** Every request is made over TLS, as the SDK does. */
export const TLS: Record<string, string> = { 'aws:SecureTransport': 'true', 's3:TlsVersion': '1.3' };

/** Relative-import closure of the handlers' entry points (`lambda/<entry>/index.ts`), as paths under lambda/. */
export function handlerModules(entries: readonly string[]): string[] {
  const seen = new Set<string>();
  const pending = entries.map((e) => join(LAMBDA_DIR, e, 'index.ts'));
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)';/gms)) {
      if (m[1]) continue; // type-only: no code is loaded
      const base = resolve(dirname(file), m[2]);
      const target = [`${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p));
      if (!target) throw new Error(`${relative(LAMBDA_DIR, file)} imports ${m[2]}, which does not exist`);
      pending.push(target);
    }
  }
  return [...seen].map((file) => relative(LAMBDA_DIR, file));
}

/**
 * `<module> <Command>` for every SDK command the handlers' modules construct, except the
 * surfaces' (workload calls, made under an execution role), each once.
 */
export function controlPlaneCommands(entries: readonly string[]): string[] {
  const sent = new Set<string>();
  for (const module of handlerModules(entries)) {
    if (module.startsWith('surfaces/')) continue;
    const source = readFileSync(join(LAMBDA_DIR, module), 'utf8');
    for (const m of source.matchAll(/\bnew\s+([A-Z][A-Za-z0-9]*Command)\s*\(/g))
      sent.add(`${module} ${m[1]}`);
  }
  return [...sent].sort();
}

/**
 * The resource policy governing an ARN in the control plane: key policies, bucket policies (which
 * also govern the bucket's objects) and topic policies. A KMS key obeys an identity policy only
 * when its key policy delegates to the account, so they are evaluated too.
 */
export function resourcePolicies(template: ResolvedTemplate): (arn: string) => PolicyDocument | undefined {
  const policies = new Map<string, PolicyDocument>();
  for (const [id, key] of template.find('AWS::KMS::Key')) {
    policies.set(template.physical(id, 'Arn'), template.resolve(key.Properties?.KeyPolicy));
  }
  for (const [, policy] of template.find('AWS::S3::BucketPolicy')) {
    const bucket = template.resolve<string>(policy.Properties?.Bucket);
    policies.set(`arn:aws:s3:::${bucket}`, template.resolve(policy.Properties?.PolicyDocument));
  }
  for (const [, policy] of template.find('AWS::SNS::TopicPolicy')) {
    for (const topic of template.resolve<string[]>(policy.Properties?.Topics)) {
      policies.set(topic, template.resolve(policy.Properties?.PolicyDocument));
    }
  }
  return (arn) => policies.get(arn) ?? policies.get(arn.split('/')[0]);
}
