/**
 * The repository stands alone: a clone with nothing beside it runs `npm ci && npm run drill` and
 * `npm test`. No source, script or test may name a path outside the repository (a sibling checkout,
 * an absolute path on someone's machine, a relative path that climbs above the root), and every
 * document a message or a doc points to is in the repository.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const SCANNED_DIRS = ['bin', 'lib', 'lambda', 'scripts', 'test'];
// (eslint.config.mjs is left out: its '../lib/*' are import patterns, not paths.)
const SCANNED_FILES = ['cdk.json', 'jest.config.js', 'tsconfig.json', '.ci/run'];
const SOURCE = /\.(ts|js|mjs|cjs|json|sh)$/;
/** Recorded AWS responses: data the tests parse, not paths anything opens. */
const DATA = `test${sep}fixtures${sep}aws-recorded${sep}`;

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (name === 'node_modules' || name.startsWith('cdk.out')) return [];
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly text: string;
  readonly why: string;
}

/** Absolute paths that only exist on one machine. */
const MACHINE_PATH =
  /["'`](?:\/(?:work|home|Users|root|mnt|opt|srv|var\/folders)\/[^"'`]*|[A-Za-z]:\\\\[^"'`]*|file:\/\/\/[^"'`]*)["'`]/;
/** The sibling checkout of fixtures the repository used to need (its own copy is under test/fixtures). */
const SIBLING = /\bshared\/fixtures\b|['"]\.\.['"]\s*,\s*['"]shared['"]/;
/** `join(repoRoot(), '..')`: anything that climbs from the root climbs out of it. */
const ROOT_CLIMB = /(?:join|resolve)\([^)]*\broot\b[^)]*['"]\.\.['"]/i;
/** A quoted relative path: `'../x'`, `"../../y"`. */
const RELATIVE = /["'`]((?:\.\.\/)+[^"'`\s]*)["'`]/g;
/** `join(__dirname, '..', '..')` or `resolve(__dirname, '..')`: climbs one level per `'..'`. */
const DIRNAME_CLIMB = /(?:join|resolve)\(\s*__dirname\s*((?:,\s*['"]\.\.['"]\s*)+)/g;

/** Where a file names something outside the repository root `root`. */
export function outsideReferences(file: string, text: string, root: string): Finding[] {
  const found: Finding[] = [];
  const inside = (target: string) => {
    const rel = relative(root, target);
    return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
  };
  text.split('\n').forEach((line, i) => {
    const at = (why: string) =>
      found.push({ file: relative(root, file), line: i + 1, text: line.trim(), why });
    if (SIBLING.test(line)) at('names a sibling checkout (shared/)');
    if (ROOT_CLIMB.test(line)) at('climbs above the repository root');
    if (MACHINE_PATH.test(line)) at('names an absolute path on one machine');
    for (const m of line.matchAll(RELATIVE)) {
      if (!inside(resolve(dirname(file), m[1] as string))) at(`relative path ${m[1]} leaves the repository`);
    }
    for (const m of line.matchAll(DIRNAME_CLIMB)) {
      const ups = (m[1]?.match(/\.\./g) ?? []).length;
      if (!inside(resolve(dirname(file), ...Array(ups).fill('..'))))
        at(`__dirname climbs ${ups} levels, above the root`);
    }
  });
  return found;
}

describe('the repository stands alone', () => {
  it('finds what it must find: the checker flags each way out of the repository', () => {
    const file = join(ROOT, 'test', 'helpers', 'x.ts');
    // The bad examples are assembled from parts, so that this file names no path outside the
    // repository itself and is scanned like every other file.
    const up = (n: number) => Array(n).fill("'..'").join(', ');
    const sib = 'shared';
    const sibling = ['..', sib, 'fixtures'].join('/');
    const machine = ['', 'work', sib, 'fixtures', 'a.json'].join('/');
    const home = ['', 'home', 'alice', 'backstop', 'cdk-outputs.json'].join('/');
    const cases = [
      `const dir = path.join(__dirname, ${up(3)}, '${sib}');`,
      `readFileSync('${sibling}/aws-recorded/x.json')`,
      `const f = '${machine}';`,
      `const f = "${home}";`,
      `import x from '${'../'.repeat(3)}outside';`,
      `const fixtures = join(repoRoot(), ${up(1)}, '${sib}', 'fixtures');`,
      `const d = resolve(__dirname, ${up(3)});`,
    ];
    for (const line of cases) expect(outsideReferences(file, line, ROOT)).not.toEqual([]);
    const fine = [
      "import { x } from '../../lib/config';",
      "const root = join(__dirname, '..', '..');",
      "const url = 'https://docs.aws.amazon.com/';",
      "const file = join(tmpdir(), 'backstop-outputs.json');",
      "const policy = '/backstop/';",
    ];
    for (const line of fine) expect(outsideReferences(file, line, ROOT)).toEqual([]);
  });

  it('names no path outside the repository in bin/, lib/, lambda/, scripts/, test/ or the tool configs', () => {
    const scanned = [
      ...SCANNED_DIRS.flatMap((d) => files(join(ROOT, d))),
      ...SCANNED_FILES.map((f) => join(ROOT, f)).filter(existsSync),
    ]
      .filter((f) => SOURCE.test(f) || f.endsWith(`${sep}run`))
      // The recordings are data.
      .filter((f) => !relative(ROOT, f).startsWith(DATA));
    expect(scanned.length).toBeGreaterThan(100);
    const findings = scanned.flatMap((f) => outsideReferences(f, readFileSync(f, 'utf8'), ROOT));
    expect(findings).toEqual([]);
  });

  it('runs every package.json script inside the repository', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const findings = Object.entries(pkg.scripts).flatMap(([name, script]) =>
      outsideReferences(join(ROOT, 'package.json'), `"${script}"`, ROOT)
        .concat(
          /(^|\s)\.\.\//.test(script)
            ? [{ file: 'package.json', line: 0, text: script, why: 'climbs above the root' }]
            : [],
        )
        .map((f) => ({ ...f, text: `${name}: ${f.text}` })),
    );
    expect(findings).toEqual([]);
  });

  it('holds every document that code, messages or docs refer to', () => {
    const texts = [
      ...['bin', 'lib', 'lambda', 'scripts']
        .flatMap((d) => files(join(ROOT, d)))
        .filter((f) => SOURCE.test(f) || f.endsWith('.md')),
      ...files(join(ROOT, 'docs')),
      join(ROOT, 'README.md'),
    ];
    const missing: string[] = [];
    for (const file of texts) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\b((?:docs\/)[\w./-]+\.md|DESIGN\.md)\b/g)) {
        const target = m[1] as string;
        if (!existsSync(join(ROOT, target))) missing.push(`${relative(ROOT, file)} -> ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
