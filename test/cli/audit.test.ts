/**
 * `backstop audit verify | export | hold` end to end on the embedded simulator, reached through
 * the client factory the CLI uses; and `verify --bundle`, which must make no AWS call at all:
 * its client factory throws on any use.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type { AuditRecord } from '../../lambda/shared/audit';
import type { AuditReport } from '../../lambda/shared/audit-verify';
import { type ClientFactory, createClientFactory } from '../../lambda/shared/clients';
import { canonicalJson } from '../../lambda/shared/hash';
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { buildCli, EXIT } from '../../lib/cli';
import type { BundleIndex } from '../../lib/cli/audit-bundle';
import { DRILL_CONFIG } from '../../lib/local/drill/scenario';
import { stackOutputsOf } from '../../lib/local/simulator';
import {
  type AuditWorld,
  auditWorld,
  chainOf,
  deleteMarker,
  forgeManifest,
  laxBucketPolicy,
  linkTo,
  overwrite,
  sealedKill,
  storedManifest,
  write,
} from '../lambda/shared/audit-world';

const lambda = mockClient(LambdaClient);
let dir: string;

beforeEach(() => {
  lambda.reset();
  dir = mkdtempSync(join(tmpdir(), 'backstop-audit-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A world whose clock is today (the CLI verifies retention against the real time). */
const world = (options: Parameters<typeof auditWorld>[0] = {}) =>
  auditWorld({ start: Date.now(), ...options });

function files(w: AuditWorld): string[] {
  writeFileSync(join(dir, 'backstop.config.json'), JSON.stringify(DRILL_CONFIG));
  writeFileSync(
    join(dir, 'cdk-outputs.json'),
    JSON.stringify({
      'Backstop-ControlPlane': {
        ...stackOutputsOf(w.cp),
        KillStateMachineArn: `arn:aws:states:us-east-1:111111111111:stateMachine:${CONTROL_PLANE.killStateMachineName}`,
      },
    }),
  );
  return ['--config', join(dir, 'backstop.config.json'), '--outputs', join(dir, 'cdk-outputs.json')];
}

/** A client factory that fails the test on any use: proof that a command made no AWS call. */
const noAws = (): ClientFactory => {
  throw new Error('an AWS client was requested');
};

function cli(clients: (region: string) => ClientFactory) {
  const out: string[] = [];
  const err: string[] = [];
  const { run } = buildCli({ out: (t) => out.push(t), err: (t) => err.push(t), clients });
  // eslint-disable-next-line no-control-regex
  const plain = (lines: string[]) => lines.join('\n').replace(/\u001b\[[0-9;]*m/g, '');
  // Lines wrap at 100 columns: `flat` joins them back for matching sentences.
  const flat = (lines: string[]) => plain(lines).replace(/\n\s*/g, ' ');
  return {
    run: (...argv: string[]) => run(argv),
    text: () => plain(out),
    errors: () => plain(err),
    flatText: () => flat(out),
    flatErrors: () => flat(err),
  };
}
const as = (w: AuditWorld, roleArn = w.cp.killWorkerRoleArn) => cli(() => w.clientsAs(roleArn));
const widest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

describe('backstop audit verify', () => {
  it('prints a table a reviewer can read, within 100 columns, and exits 0 for an intact incident', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    const c = as(w);
    expect(await c.run('audit', 'verify', '--incident', 'inc-1', ...files(w))).toBe(EXIT.ok);
    const text = c.text();
    expect(c.flatText()).toMatch(/Audit log VERIFIED: incident inc-1, \d+ objects read from s3:\/\//);
    expect(text).toMatch(/inc-1 .*agent-1 .*CONTAINED .*1 kill .*ok/);
    expect(text).toMatch(/its SHA-256 fingerprint: [0-9a-f]{64}/);
    expect(widest(text)).toBeLessThanOrEqual(100);

    const json = as(w);
    await json.run('audit', 'verify', '--incident', 'inc-1', '--json', ...files(w));
    expect((JSON.parse(json.text()) as AuditReport).incidents[0]).toMatchObject({
      incidentId: 'inc-1',
      ok: true,
    });
  });

  it('narrows --all with --agent and --since, and exits 2 naming each finding', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    await write(chainOf(w, 'inc-1', 'rogue-00000001'), [['KillCompleted', {}]]);
    const c = as(w);
    expect(
      await c.run('audit', 'verify', '--all', '--agent', 'agent-1', '--since', '2020-01-01', ...files(w)),
    ).toBe(EXIT.notContained);
    expect(c.flatText()).toMatch(/error \[extra\] incidents\/inc-1\/rogue-00000001\/0001-KillCompleted.json/);
    expect(c.flatText()).toMatch(/all incidents of agent agent-1 since 2020-01-01/);
    const none = as(w);
    expect(await none.run('audit', 'verify', '--all', '--agent', 'nobody', ...files(w))).toBe(EXIT.ok);
    expect(none.text()).toMatch(/No incident matched/);
  });

  it('refuses unclear input, naming the option, and reads nothing', async () => {
    const c = cli(noAws);
    expect(await c.run('audit', 'verify', '--incident', 'inc-1', '--all')).toBe(EXIT.error);
    expect(c.errors()).toMatch(/exactly one of --incident <id>, --all or --bundle <path>/);
    const since = cli(noAws);
    expect(await since.run('audit', 'verify', '--all', '--since', 'yesterday')).toBe(EXIT.error);
    expect(since.flatErrors()).toMatch(/--since .*"yesterday" is not a date: use ISO 8601/);
    const agent = cli(noAws);
    expect(await agent.run('audit', 'verify', '--incident', 'inc-1', '--agent', 'a')).toBe(EXIT.error);
    expect(agent.errors()).toMatch(/--agent and --since narrow --all/);
    const id = cli(noAws);
    expect(await id.run('audit', 'verify', '--incident', '../x')).toBe(EXIT.error);
    expect(id.errors()).toMatch(/--incident "\.\.\/x": 1 to 55 letters/);
  });
});

describe('backstop audit export and verify --bundle', () => {
  async function exported(w: AuditWorld, name: string, ...extra: string[]): Promise<string> {
    const out = join(dir, name);
    const c = as(w);
    await c.run('audit', 'export', '--incident', 'inc-1', '--out', out, ...extra, ...files(w));
    expect(c.errors()).toBe('');
    return out;
  }
  const verifyBundle = async (path: string, ...extra: string[]) => {
    const c = cli(noAws);
    const code = await c.run('audit', 'verify', '--bundle', path, ...extra);
    return { code, text: c.text(), flat: c.flatText(), errors: c.errors(), flatErrors: c.flatErrors() };
  };
  const bundleJson = async (path: string, ...extra: string[]) => {
    const c = cli(noAws);
    await c.run('audit', 'verify', '--bundle', path, '--json', ...extra);
    return JSON.parse(c.text()) as AuditReport;
  };
  const named = (report: AuditReport) =>
    report.findings.filter((f) => f.severity === 'error').map((f) => [f.check, f.key]);

  it('writes every record with its version and retention, the manifests, the public key and a timeline', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    const c = as(w);
    const out = join(dir, 'evidence');
    expect(await c.run('audit', 'export', '--incident', 'inc-1', '--out', out, ...files(w))).toBe(EXIT.ok);
    expect(c.flatText()).toMatch(/Exported incident inc-1: 8 object versions, 1 manifests/);
    expect(c.flatText()).toMatch(/Verify it anywhere, without AWS: npx backstop audit verify --bundle/);
    expect(widest(c.text())).toBeLessThanOrEqual(100);
    const index = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')) as BundleIndex;
    expect(index.objects.filter((o) => o.key.startsWith('incidents/'))).toHaveLength(7);
    for (const o of index.objects) {
      expect(o).toMatchObject({
        versionId: expect.any(String),
        lockMode: 'COMPLIANCE',
        retainUntil: expect.any(String),
      });
      expect(existsSync(join(out, o.file as string))).toBe(true);
    }
    expect(readFileSync(join(out, 'objects/manifests/inc-1/0001-kill.json'), 'utf8')).toBe(
      canonicalJson(storedManifest(w, 'manifests/inc-1/0001-kill.json')),
    );
    expect(readFileSync(join(out, index.publicKeys[0]!.file), 'utf8')).toMatch(/BEGIN PUBLIC KEY/);
    const timeline = readFileSync(join(out, 'timeline.md'), 'utf8');
    expect(timeline).toMatch(/# Incident inc-1/);
    expect(timeline).toMatch(/\| KillCompleted \| .* outcome CONTAINED/);
  });

  it('verifies a directory and a single .tar.gz offline, with no AWS call, and says so', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    for (const path of [await exported(w, 'evidence'), await exported(w, 'evidence.tar.gz', '--archive')]) {
      const result = await verifyBundle(path);
      expect(result.errors).toBe('');
      expect(result.code).toBe(EXIT.ok);
      expect(result.flat).toMatch(/Audit log VERIFIED: incident inc-1, 8 objects read from bundle /);
      expect(result.flat).toMatch(/Offline: this verification made no AWS call/);
      expect(widest(result.text)).toBeLessThanOrEqual(100);
    }
    expect(existsSync(join(dir, 'evidence.tar.gz'))).toBe(true);
  });

  it('exports through --endpoint: every SDK call goes to that endpoint', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    const saved = process.env.AWS_ENDPOINT_URL;
    const hosts = new Set<string>();
    const capture = (client: { middlewareStack: { add: (m: unknown, o: unknown) => void } }) =>
      client.middlewareStack.add(
        (next: (a: unknown) => unknown) => (args: { request: { hostname: string; port?: number } }) => {
          hosts.add(`${args.request.hostname}:${args.request.port}`);
          return next(args);
        },
        { step: 'finalizeRequest', name: 'captureEndpoint' },
      );
    try {
      const c = cli((region) =>
        createClientFactory({
          region,
          plugins: [capture as never, w.sim.plugin()],
          credentials: w.sim.credentialsFor(w.cp.killWorkerRoleArn),
        }),
      );
      const out = join(dir, 'via-endpoint');
      const code = await c.run(
        'audit',
        'export',
        '--incident',
        'inc-1',
        '--out',
        out,
        '--endpoint',
        'http://127.0.0.1:4566',
        ...files(w),
      );
      expect(c.errors()).toBe('');
      expect(code).toBe(EXIT.ok);
      expect([...hosts]).toEqual(['127.0.0.1:4566']);
      expect((await verifyBundle(out)).code).toBe(EXIT.ok);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });

  it('refuses to export over an existing path or an incident with no objects, and writes nothing', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    writeFileSync(join(dir, 'taken.tar.gz'), 'x');
    const c = as(w);
    expect(
      await c.run(
        'audit',
        'export',
        '--incident',
        'inc-1',
        '--out',
        join(dir, 'taken.tar.gz'),
        '--archive',
        ...files(w),
      ),
    ).toBe(EXIT.error);
    expect(c.errors()).toMatch(/taken.tar.gz: exists; choose a new file name/);
    const none = as(w);
    expect(
      await none.run('audit', 'export', '--incident', 'inc-9', '--out', join(dir, 'x'), ...files(w)),
    ).toBe(EXIT.error);
    expect(none.errors()).toMatch(/incident inc-9 has no object .*nothing to export/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  describe('finds each tampering of the bucket in the exported bundle too', () => {
    const SNAPSHOT = 'incidents/inc-1/iam-agent-1-00000002/0002-SnapshotTaken.json';
    const KILL = 'manifests/inc-1/0001-kill.json';
    const cases: [string, (w: AuditWorld) => Promise<unknown>, [string, string][]][] = [
      [
        'an overwrite',
        async (w) => {
          await laxBucketPolicy(w);
          await overwrite(w, SNAPSHOT, '{"forged":true}');
        },
        [['versions', SNAPSHOT]],
      ],
      [
        'a second version of a record',
        async (w) => {
          await laxBucketPolicy(w);
          const [v] = w.sim.s3.objectVersions(w.cp.auditBucketName, SNAPSHOT);
          await overwrite(w, SNAPSHOT, v!.body);
        },
        [['versions', SNAPSHOT]],
      ],
      [
        'a delete marker',
        async (w) => {
          await laxBucketPolicy(w);
          await deleteMarker(w, SNAPSHOT);
        },
        [['delete-marker', SNAPSHOT]],
      ],
      [
        'a forged record',
        (w) => write(chainOf(w, 'inc-1', 'rogue-00000001'), [['KillCompleted', {}]]),
        [['extra', 'incidents/inc-1/rogue-00000001/0001-KillCompleted.json']],
      ],
      [
        'a broken manifest chain',
        (w) =>
          forgeManifest(w, {
            incidentId: 'inc-1',
            seq: 2,
            kind: 'hold',
            createdAt: new Date(w.clock.now()).toISOString(),
            records: [],
            previousInIncident: { ...linkTo(w, KILL), sha256: '0'.repeat(64) },
            previousManifest: linkTo(w, KILL),
          }),
        [['manifest-chain', 'manifests/inc-1/0002-hold.json']],
      ],
      [
        'a wrong signing key',
        async (w) => {
          const own = (await w.root.kms.CreateKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
            .KeyMetadata!.Arn!;
          await forgeManifest(w, {
            incidentId: 'inc-1',
            seq: 2,
            kind: 'hold',
            createdAt: new Date(w.clock.now()).toISOString(),
            records: [],
            previousInIncident: linkTo(w, KILL),
            previousManifest: linkTo(w, KILL),
            signingKeyArn: own,
            namedKeyArn: w.cp.manifestSigningKeyArn,
          });
        },
        [['signature', 'manifests/inc-1/0002-hold.json']],
      ],
      [
        'a record without retention',
        async (w) => {
          await laxBucketPolicy(w);
          await w.root.s3.PutObjectLockConfiguration({
            Bucket: w.cp.auditBucketName,
            ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
          });
          await write(chainOf(w, 'inc-1', 'late-00000001'), [['SurfaceVerified', {}]]);
        },
        [
          ['retention', 'incidents/inc-1/late-00000001/0001-SurfaceVerified.json'],
          ['extra', 'incidents/inc-1/late-00000001/0001-SurfaceVerified.json'],
        ],
      ],
    ];
    it.each(cases)('%s', async (_name, tamper, expected) => {
      const w = await world();
      await sealedKill(w, 'inc-1');
      await tamper(w);
      const out = await exported(w, 'evidence.tar.gz', '--archive');
      expect(named(await bundleJson(out))).toEqual(expected);
    });
  });

  describe('finds tampering of the bundle itself', () => {
    const RECORD = 'objects/incidents/inc-1/iam-agent-1-00000002/0002-SnapshotTaken.json';

    it('an edited record file: its hash, and the next record’s link', async () => {
      const w = await world();
      await sealedKill(w, 'inc-1');
      const out = await exported(w, 'evidence');
      const record = JSON.parse(readFileSync(join(out, RECORD), 'utf8')) as AuditRecord;
      writeFileSync(join(out, RECORD), canonicalJson({ ...record, detail: { forged: true } }));
      expect(named(await bundleJson(out))).toEqual([
        ['hash', RECORD.slice('objects/'.length)],
        ['chain', 'incidents/inc-1/iam-agent-1-00000002/0003-SurfaceContained.json'],
      ]);
    });

    it('an edited manifest file: its signature', async () => {
      const w = await world();
      await sealedKill(w, 'inc-1');
      const out = await exported(w, 'evidence');
      const file = join(out, 'objects/manifests/inc-1/0001-kill.json');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof storedManifest>;
      writeFileSync(
        file,
        canonicalJson({ ...doc, manifest: { ...doc.manifest, createdAt: '2020-01-01T00:00:00.000Z' } }),
      );
      expect(named(await bundleJson(out))).toEqual([
        ['signature', 'manifests/inc-1/0001-kill.json'],
        ['extra', 'incidents/inc-1/finalize-00000003/0002-ManifestWritten.json'],
      ]);
    });

    it('a record removed from the bundle, and a second version added to its index', async () => {
      const w = await world();
      await sealedKill(w, 'inc-1');
      const out = await exported(w, 'evidence');
      const index = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')) as BundleIndex;
      const key = RECORD.slice('objects/'.length);
      const removed = 'incidents/inc-1/prepare-00000001/0002-ControlFlagSet.json';
      const objects = index.objects
        .filter((o) => o.key !== removed)
        .flatMap((o) =>
          o.key === key
            ? [
                { ...o, versionId: 'forged', isLatest: true, file: RECORD },
                { ...o, isLatest: false },
              ]
            : [o],
        );
      writeFileSync(join(out, 'bundle.json'), JSON.stringify({ ...index, objects }));
      expect(named(await bundleJson(out))).toEqual([
        ['versions', key],
        ['missing', removed],
      ]);
    });

    it('a whole bundle forged with another key passes on its own key, and fails on the published one', async () => {
      const w = await world();
      await sealedKill(w, 'inc-1');
      const published = join(dir, 'published.pem');
      writeFileSync(
        published,
        w.sim.s3.objectVersions(w.cp.auditBucketName, w.cp.publicKeyObjectKey)[0]!.body,
      );
      // The forger re-signs with a key of their own and ships its public key in the bundle.
      const forger = await world();
      await sealedKill(forger, 'inc-1');
      const out = await exported(forger, 'forged');
      const index = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')) as BundleIndex;
      const forgedIndex = {
        ...index,
        settings: { ...index.settings, trustedSigningKeyArns: [w.cp.manifestSigningKeyArn] },
        publicKeys: index.publicKeys.map((k) => ({ ...k, signingKeyArn: w.cp.manifestSigningKeyArn })),
      };
      writeFileSync(join(out, 'bundle.json'), JSON.stringify(forgedIndex));
      const file = join(out, 'objects/manifests/inc-1/0001-kill.json');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof storedManifest>;
      writeFileSync(file, canonicalJson({ ...doc, signingKeyArn: w.cp.manifestSigningKeyArn }));

      const trusting = await verifyBundle(out);
      expect(trusting.code).toBe(EXIT.ok);
      expect(trusting.flat).toMatch(/from the bundle's public-keys\/.*compare its fingerprint/);
      const pinned = await bundleJson(out, '--public-key', published);
      expect(named(pinned)).toEqual([['signature', 'manifests/inc-1/0001-kill.json']]);
    });

    it('refuses what is not a bundle, naming the option', async () => {
      writeFileSync(join(dir, 'bundle.json'), '{"format":"other"}');
      const result = await verifyBundle(dir);
      expect(result.code).toBe(EXIT.error);
      expect(result.flatErrors).toMatch(
        /--bundle .*: bundle.json is not a version 1 backstop-evidence-bundle/,
      );
      expect((await verifyBundle(join(dir, 'nothing-here'))).errors).toMatch(/no such file or directory/);
      const pem = cli(noAws);
      expect(
        await pem.run('audit', 'verify', '--bundle', dir, '--public-key', join(dir, 'bundle.json')),
      ).toBe(EXIT.error);
      expect(pem.errors()).toMatch(/--public-key .*: not a readable PEM public key/);
    });
  });
});

describe('backstop audit hold', () => {
  it('--local holds every version of the incident, records it and seals the record', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    const c = as(w, w.cp.auditSealerRoleArn);
    expect(
      await c.run('audit', 'hold', '--incident', 'inc-1', '--local', '--reason', 'litigation 7', ...files(w)),
    ).toBe(EXIT.ok);
    expect(c.flatText()).toMatch(/Legal hold placed on \d+ object versions of incident inc-1/);
    expect(c.flatText()).toMatch(/sealed by manifests\/inc-1\/0002-hold.json/);
    const keys = [
      ...w.sim.s3.keys(w.cp.auditBucketName, 'incidents/inc-1/'),
      ...w.sim.s3.keys(w.cp.auditBucketName, 'manifests/inc-1/'),
    ];
    for (const key of keys) {
      expect(w.sim.s3.objectVersions(w.cp.auditBucketName, key).map((v) => v.legalHold)).toEqual(['ON']);
    }
    const v = as(w);
    expect(await v.run('audit', 'verify', '--incident', 'inc-1', '--json', ...files(w))).toBe(EXIT.ok);
    const report = JSON.parse(v.text()) as AuditReport;
    expect(report.incidents[0]!.manifests.map((m) => m.kind)).toEqual(['kill', 'hold']);
  });

  it('asks the sealer function when deployed, and reports its refusal plainly', async () => {
    const w = await world();
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: Buffer.from(
        JSON.stringify({
          incidentId: 'inc-1',
          status: 'PLACED',
          versions: [{ key: 'k', versionId: 'v' }],
          recordKey: 'incidents/inc-1/hold-1/0001-LegalHoldPlaced.json',
          manifestKey: 'manifests/inc-1/0002-hold.json',
        }),
      ) as never,
    });
    const c = as(w);
    expect(await c.run('audit', 'hold', '--incident', 'inc-1', ...files(w))).toBe(EXIT.ok);
    const call = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(call.FunctionName).toBe(CONTROL_PLANE.auditSealerFunctionName);
    expect(JSON.parse(Buffer.from(call.Payload as Uint8Array).toString())).toEqual({
      action: 'hold',
      incidentId: 'inc-1',
      requestedBy: expect.stringMatching(/^arn:aws:sts::111111111111:assumed-role\/backstop-kill-worker\//),
    });
    expect(c.flatText()).toMatch(/Legal hold placed on 1 object versions of incident inc-1/);

    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: Buffer.from(
        JSON.stringify({ errorType: 'IncidentNotFoundError', errorMessage: 'no object' }),
      ) as never,
    });
    const refused = as(w);
    expect(await refused.run('audit', 'hold', '--incident', 'inc-9', ...files(w))).toBe(EXIT.error);
    expect(refused.flatErrors()).toMatch(
      /The sealer refused or failed the hold \(IncidentNotFoundError: no object\)/,
    );
  });

  it('--release changes nothing and says it needs two approvers, and how', async () => {
    const w = await world();
    await sealedKill(w, 'inc-1');
    const c = as(w, w.cp.auditSealerRoleArn);
    await c.run('audit', 'hold', '--incident', 'inc-1', '--local', ...files(w));
    const release = cli(noAws);
    expect(await release.run('audit', 'hold', '--incident', 'inc-1', '--release', ...files(w))).toBe(
      EXIT.notContained,
    );
    expect(release.flatErrors()).toMatch(/needs the same two-person approval as a restore/);
    expect(release.flatErrors()).toMatch(
      /2 distinct approvers of restore.approvers .*oncall-alice.*oncall-bob/,
    );
    expect(release.flatErrors()).toMatch(/release request hold-release-inc-1/);
    expect(release.flatErrors()).toMatch(/This command released nothing/);
    expect(widest(release.errors())).toBeLessThanOrEqual(100);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    const [first] = w.sim.s3.keys(w.cp.auditBucketName, 'incidents/inc-1/');
    expect(w.sim.s3.objectVersions(w.cp.auditBucketName, first!)[0]!.legalHold).toBe('ON');
  });
});
