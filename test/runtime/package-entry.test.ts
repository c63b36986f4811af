/**
 * `backstop/runtime` is a small entry an agent can ship: exported from package.json, the package
 * still private, and its import closure holds the DynamoDB client and nothing else (no CDK, no
 * handler code, no other SDK client).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  private?: boolean;
  exports?: Record<string, string>;
  bin?: Record<string, string>;
  dependencies: Record<string, string>;
};

/** Every module the entry loads (relative imports followed), and every package it names. */
function closure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)';/g)) {
      const spec = m[1] as string;
      if (!spec.startsWith('.')) {
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string),
        );
        continue;
      }
      const base = resolve(dirname(file), spec);
      const target = [`${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p));
      if (!target) throw new Error(`${relative(ROOT, file)} imports ${spec}, which does not exist`);
      pending.push(target);
    }
    for (const m of source.matchAll(/\brequire\(\s*'([^']+)'\s*\)|\bimport\(\s*'([^']+)'\s*\)/g)) {
      throw new Error(`${relative(ROOT, file)} loads ${m[1] ?? m[2]} dynamically`);
    }
  }
  return { files: [...files].map((f) => relative(ROOT, f)).sort(), packages: [...packages].sort() };
}

describe('the backstop/runtime entry', () => {
  it('is exported from package.json, which stays private and keeps its bin', () => {
    expect(pkg.private).toBe(true);
    expect(pkg.exports?.['./runtime']).toBe('./lib/runtime/index.ts');
    expect(existsSync(join(ROOT, pkg.exports?.['./runtime'] as string))).toBe(true);
    expect(pkg.bin?.backstop).toBe('bin/backstop.ts');
  });

  it('resolves by its package name', () => {
    expect(require.resolve('backstop/runtime')).toBe(join(ROOT, 'lib', 'runtime', 'index.ts'));
  });

  it('loads only lib/runtime and the DynamoDB client (a dependency), never aws-cdk-lib', () => {
    const { files, packages } = closure(join(ROOT, 'lib', 'runtime', 'index.ts'));
    expect(files.every((f) => f.startsWith('lib/runtime/'))).toBe(true);
    expect(packages).toEqual(['@aws-sdk/client-dynamodb']);
    expect(pkg.dependencies['@aws-sdk/client-dynamodb']).toBeDefined();
  });
});
