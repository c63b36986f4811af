/**
 * The evidence bundle of one incident, for a reviewer who verifies it away from AWS:
 *
 * ```
 * bundle.json                     what is in it: every version of every object, as S3 reported it
 *                                 (version id, time, retention, legal hold), the settings to verify
 *                                 against, the public keys
 * objects/<key>                   the original (oldest) version of each record and manifest
 * objects/<key>.versions/<id>     any later version (there should be none)
 * public-keys/<key id>.pem        the public signing key(s), as published in the bucket
 * timeline.md                     the incident in time order, for people
 * verification.json               `audit verify` over the bucket at export time
 * ```
 *
 * `backstop audit verify --bundle` reads it through {@link BundleSource} and runs the same checks
 * as against the bucket, with no AWS call at all. What it cannot prove offline, it says: the
 * retention and versions are as S3 reported them at export, and a public key that came in the
 * bundle is only as good as the comparison of its fingerprint with the published one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { AuditRecord } from '../../lambda/shared/audit';
import {
  type AuditSource,
  type ObjectVersionContent,
  type ObjectVersionInfo,
  publicKeyFingerprint,
  type PublicKeySource,
  toPublicKey,
} from '../../lambda/shared/audit-source';
import { type AuditReport, type RetentionMode, verifyAudit } from '../../lambda/shared/audit-verify';
import { sha256Hex } from '../../lambda/shared/hash';
import { parseSignedManifest } from '../../lambda/shared/manifest';
import { auditManifestPrefix, publicKeyObjectKey } from '../../lambda/shared/naming';
import { type ArchiveEntry, readArchive, writeArchive } from './audit-archive';
import { timelineMarkdown } from './audit-timeline';

export const BUNDLE_FORMAT = 'backstop-evidence-bundle';
export const BUNDLE_FILE = 'bundle.json';
export const TIMELINE_FILE = 'timeline.md';
export const VERIFICATION_FILE = 'verification.json';

export interface BundleSettings {
  readonly expectedMode?: RetentionMode;
  readonly retentionDays?: number;
  readonly trustedSigningKeyArns?: readonly string[];
}

export interface BundleObject {
  readonly key: string;
  readonly versionId: string;
  readonly isLatest: boolean;
  readonly deleteMarker: boolean;
  readonly lastModified?: string;
  /** Where the bytes are in the bundle (not for delete markers). */
  readonly file?: string;
  readonly sha256?: string;
  readonly size?: number;
  readonly lockMode?: string;
  readonly retainUntil?: string;
  readonly legalHold?: string;
  /** A manifest of another incident, included because this incident's manifests link to it. */
  readonly context?: boolean;
}

export interface BundleIndex {
  readonly format: typeof BUNDLE_FORMAT;
  readonly formatVersion: 1;
  readonly incidentId: string;
  readonly bucket: string;
  readonly exportedFrom: string;
  readonly exportedAt: string;
  readonly settings: BundleSettings;
  readonly objects: BundleObject[];
  readonly publicKeys: { signingKeyArn: string; file: string; from: string; fingerprint: string }[];
  readonly verificationAtExport: { ok: boolean; errors: number; warnings: number; checkedAt: string };
}

export interface ExportedBundle {
  readonly index: BundleIndex;
  readonly files: ArchiveEntry[];
  /** `audit verify` over the source at export time. */
  readonly report: AuditReport;
}

/** The bundle path of an object version: the oldest under objects/<key>, later ones beside it. */
function fileOf(key: string, versionId: string, original: boolean): string {
  return original ? `objects/${key}` : `objects/${key}.versions/${encodeURIComponent(versionId)}`;
}

const enc = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

/** Reads every version of the incident's objects (and the manifests they link to) into a bundle. */
export async function exportIncident(options: {
  readonly source: AuditSource;
  readonly incidentId: string;
  readonly settings: BundleSettings;
  readonly clock: () => Date;
}): Promise<ExportedBundle> {
  const { source, incidentId, settings } = options;
  const versions = [
    ...(await source.listVersions(`incidents/${incidentId}/`)),
    ...(await source.listVersions(auditManifestPrefix(incidentId))),
  ];
  if (versions.length === 0) {
    throw new Error(`incident ${incidentId} has no object in ${source.description}: nothing to export`);
  }
  const objects: BundleObject[] = [];
  const files: ArchiveEntry[] = [];
  const previousKeys = new Set<string>();
  const signingKeys = new Set<string>();

  const take = async (list: readonly ObjectVersionInfo[], context: boolean) => {
    const byKey = new Map<string, ObjectVersionInfo[]>();
    for (const v of list) byKey.set(v.key, [...(byKey.get(v.key) ?? []), v]);
    for (const [key, all] of byKey) {
      const kept = all.filter((v) => !v.deleteMarker);
      const oldest = kept[kept.length - 1];
      for (const v of all) {
        const base = {
          key,
          versionId: v.versionId,
          isLatest: v.isLatest,
          deleteMarker: v.deleteMarker,
          ...(v.lastModified && { lastModified: v.lastModified.toISOString() }),
          ...(context && { context: true }),
        };
        if (v.deleteMarker) {
          objects.push(base);
          continue;
        }
        const content = await source.readVersion(key, v.versionId);
        const file = fileOf(key, v.versionId, v === oldest);
        files.push({ path: file, bytes: content.bytes });
        objects.push({
          ...base,
          file,
          sha256: sha256Hex(content.bytes),
          size: content.bytes.length,
          ...(content.lockMode && { lockMode: content.lockMode }),
          ...(content.retainUntil && { retainUntil: content.retainUntil.toISOString() }),
          ...(content.legalHold && { legalHold: content.legalHold }),
        });
        if (v === oldest && key.startsWith('manifests/')) {
          try {
            const signed = parseSignedManifest(content.bytes);
            signingKeys.add(signed.signingKeyArn);
            const prev = signed.manifest.previousManifest;
            if (prev && !prev.key.startsWith(auditManifestPrefix(incidentId))) previousKeys.add(prev.key);
          } catch {
            // A malformed manifest is exported as it is; verification reports it.
          }
        }
      }
    }
  };
  await take(versions, false);
  for (const key of previousKeys) await take(await source.listVersions(key), true);

  const publicKeys: BundleIndex['publicKeys'] = [];
  for (const arn of [...signingKeys].sort()) {
    let found: PublicKeySource | undefined;
    try {
      found = await source.publicKey(arn);
    } catch {
      found = undefined;
    }
    if (!found) continue;
    const file = publicKeyObjectKey(arn);
    files.push({ path: file, bytes: enc(found.key.export({ format: 'pem', type: 'spki' }) as string) });
    publicKeys.push({
      signingKeyArn: arn,
      file,
      from: found.from,
      fingerprint: publicKeyFingerprint(found.key),
    });
  }

  const report = await verifyAudit({
    source,
    clock: options.clock,
    incidentId,
    ...(settings.expectedMode && { expectedMode: settings.expectedMode }),
    ...(settings.retentionDays !== undefined && { retentionDays: settings.retentionDays }),
    ...(settings.trustedSigningKeyArns && { trustedSigningKeyArns: settings.trustedSigningKeyArns }),
  });
  const index: BundleIndex = {
    format: BUNDLE_FORMAT,
    formatVersion: 1,
    incidentId,
    bucket: source.bucket,
    exportedFrom: source.description,
    exportedAt: options.clock().toISOString(),
    settings,
    objects,
    publicKeys,
    verificationAtExport: {
      ok: report.ok,
      errors: report.findings.filter((f) => f.severity === 'error').length,
      warnings: report.findings.filter((f) => f.severity === 'warning').length,
      checkedAt: report.checkedAt,
    },
  };
  const records = files
    .filter((f) => f.path.startsWith(`objects/incidents/${incidentId}/`) && !f.path.includes('.versions/'))
    .map((f) => {
      try {
        return {
          key: f.path.slice('objects/'.length),
          record: JSON.parse(Buffer.from(f.bytes).toString('utf8')) as AuditRecord,
        };
      } catch {
        return undefined;
      }
    })
    .filter((r): r is { key: string; record: AuditRecord } => r !== undefined);
  files.push(
    { path: TIMELINE_FILE, bytes: enc(timelineMarkdown({ index, records, report })) },
    { path: VERIFICATION_FILE, bytes: enc(`${JSON.stringify(report, null, 2)}\n`) },
    { path: BUNDLE_FILE, bytes: enc(`${JSON.stringify(index, null, 2)}\n`) },
  );
  return { index, files, report };
}

/** Writes the bundle as a directory (refusing to write into a non-empty one). */
export function writeBundleDirectory(dir: string, files: readonly ArchiveEntry[]): void {
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new Error(`--out ${dir}: exists and is not an empty directory; choose a new path`);
  }
  for (const f of files) {
    const path = join(dir, ...f.path.split('/'));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.bytes);
  }
}

/** Writes the bundle as one .tar.gz file (refusing to replace a file). */
export function writeBundleArchive(file: string, files: readonly ArchiveEntry[], at: Date): void {
  if (existsSync(file)) throw new Error(`--out ${file}: exists; choose a new file name`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, writeArchive(files, at));
}

/** Reads a bundle from a directory or a .tar.gz file: its files by bundle path. */
export function readBundleFiles(path: string): Map<string, Uint8Array> {
  if (!existsSync(path)) throw new Error(`--bundle ${path}: no such file or directory`);
  const files = new Map<string, Uint8Array>();
  if (statSync(path).isDirectory()) {
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const full = join(dir, name);
        if (statSync(full).isDirectory()) walk(full);
        else files.set(relative(path, full).split(sep).join('/'), new Uint8Array(readFileSync(full)));
      }
    };
    walk(path);
  } else {
    for (const e of readArchive(readFileSync(path))) files.set(e.path, e.bytes);
  }
  return files;
}

/** A bundle, read back: an {@link AuditSource} that makes no AWS call. */
export class BundleSource implements AuditSource {
  readonly offline = true;
  readonly description: string;
  readonly bucket: string;
  readonly index: BundleIndex;

  constructor(
    private readonly files: ReadonlyMap<string, Uint8Array>,
    path: string,
  ) {
    const raw = files.get(BUNDLE_FILE);
    if (!raw) throw new Error(`--bundle ${path}: no ${BUNDLE_FILE}; is it an evidence bundle?`);
    let index: BundleIndex;
    try {
      index = JSON.parse(Buffer.from(raw).toString('utf8')) as BundleIndex;
    } catch (err) {
      throw new Error(`--bundle ${path}: ${BUNDLE_FILE} is not JSON (${(err as Error).message})`);
    }
    if (index.format !== BUNDLE_FORMAT || index.formatVersion !== 1 || !Array.isArray(index.objects)) {
      throw new Error(`--bundle ${path}: ${BUNDLE_FILE} is not a version 1 ${BUNDLE_FORMAT}`);
    }
    this.index = index;
    this.bucket = index.bucket;
    this.description = `bundle ${path}`;
  }

  async listVersions(prefix: string): Promise<ObjectVersionInfo[]> {
    return this.index.objects
      .filter((o) => o.key.startsWith(prefix))
      .map((o) => ({
        key: o.key,
        versionId: o.versionId,
        isLatest: o.isLatest,
        deleteMarker: o.deleteMarker,
        ...(o.lastModified && { lastModified: new Date(o.lastModified) }),
      }));
  }

  async readVersion(key: string, versionId: string): Promise<ObjectVersionContent> {
    const o = this.index.objects.find((x) => x.key === key && x.versionId === versionId);
    if (!o?.file) throw new Error(`${BUNDLE_FILE} lists no file for ${key} version ${versionId}`);
    const bytes = this.files.get(o.file);
    if (!bytes) {
      throw Object.assign(new Error(`the bundle has no file ${o.file}`), { name: 'MissingFromBundle' });
    }
    return {
      bytes,
      ...(o.lastModified && { lastModified: new Date(o.lastModified) }),
      ...(o.lockMode && { lockMode: o.lockMode }),
      ...(o.retainUntil && { retainUntil: new Date(o.retainUntil) }),
      ...(o.legalHold && { legalHold: o.legalHold }),
    };
  }

  async publicKey(signingKeyArn: string): Promise<PublicKeySource | undefined> {
    const entry = this.index.publicKeys.find((k) => k.signingKeyArn === signingKeyArn);
    const bytes = entry && this.files.get(entry.file);
    if (!entry || !bytes) return undefined;
    return {
      key: toPublicKey(Buffer.from(bytes).toString('utf8')),
      from: `the bundle's ${entry.file} (compare its fingerprint with the key published in the bucket)`,
    };
  }
}
