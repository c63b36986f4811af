/**
 * A single-file evidence bundle: the bundle's files in a POSIX tar archive (ustar, with a pax
 * `path` record for names longer than ustar holds), gzip-compressed: `tar -xzf` opens it
 * anywhere. Written and read here with node:zlib alone, so the reader needs nothing installed.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export interface ArchiveEntry {
  /** Relative path, `/`-separated. */
  readonly path: string;
  readonly bytes: Uint8Array;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number, type: '0' | 'x', mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

const pad = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK, 0);

/** A pax record `<length> path=<value>\n`, the length counting itself. */
function paxPath(path: string): Buffer {
  const body = ` path=${path}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return Buffer.from(`${length}${body}`, 'utf8');
}

/** The entries as a gzipped tar archive, in the order given. */
export function writeArchive(entries: readonly ArchiveEntry[], mtime: Date): Buffer {
  const seconds = Math.floor(mtime.getTime() / 1000);
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.path.startsWith('/') || entry.path.split('/').includes('..')) {
      throw new Error(`archive path ${entry.path} must be relative and stay inside the bundle`);
    }
    let name = entry.path;
    if (Buffer.byteLength(name) > 99) {
      const pax = paxPath(entry.path);
      parts.push(header('././@PaxHeader', pax.length, 'x', seconds), pax, pad(pax.length));
      name = entry.path.slice(-99).replace(/^[^/]*\//, '') || 'entry';
    }
    const bytes = Buffer.from(entry.bytes);
    parts.push(header(name, bytes.length, '0', seconds), bytes, pad(bytes.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return gzipSync(Buffer.concat(parts));
}

function field(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

/** Reads a gzipped tar archive's regular files (pax `path` records and ustar prefixes honoured). */
export function readArchive(gz: Uint8Array): ArchiveEntry[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(gz);
  } catch (err) {
    throw new Error(`not a gzip file (${(err as Error).message})`);
  }
  const entries: ArchiveEntry[] = [];
  let offset = 0;
  let nextPath: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break;
    const size = Number.parseInt(field(block, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(block[156] ?? 0);
    if (!Number.isFinite(size) || size < 0) throw new Error(`corrupt tar header at byte ${offset}`);
    const data = tar.subarray(offset + BLOCK, offset + BLOCK + size);
    if (data.length !== size) throw new Error(`truncated tar entry at byte ${offset}`);
    offset += BLOCK + size + pad(size).length;
    if (type === 'x') {
      for (const line of data.toString('utf8').split('\n')) {
        const m = /^\d+ path=(.*)$/.exec(line);
        if (m) nextPath = m[1];
      }
      continue;
    }
    if (type !== '0' && type !== '\0') {
      nextPath = undefined;
      continue;
    }
    const prefix = field(block, 345, 155);
    const path = nextPath ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
    nextPath = undefined;
    if (path.startsWith('/') || path.split('/').includes('..')) {
      throw new Error(`archive entry ${path} leaves the bundle`);
    }
    entries.push({ path, bytes: new Uint8Array(data) });
  }
  return entries;
}
