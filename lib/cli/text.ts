import Table from 'cli-table3';
import pc from 'picocolors';
import { shortenMiddle } from '../config/errors';

/**
 * Text for a terminal under stress: every line the CLI prints fits WIDTH columns. Long ids are
 * shortened in the middle (both the start and the distinctive end stay), text is wrapped at words.
 */

/** The widest line the CLI prints. */
export const WIDTH = 100;

export { shortenMiddle };

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** Characters a terminal obeys instead of showing: C0 and C1 controls (escape, line breaks) and bidi overrides. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text that came from AWS or from the agent (a description, an error message), made safe to
 * print: its control characters are shown as `\u001b`, never obeyed. An agent that writes escape
 * sequences or line breaks into a resource it owns must not be able to repaint the on-call
 * person's terminal or add a fake `CONTAINED` line to it.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Columns a line takes on a terminal (colour codes take none). */
export function visibleLength(text: string): number {
  return stripAnsi(text).length;
}

/**
 * One line cut to `width` columns, in the middle (ids keep both ends) or at the `end` (a timeline
 * line keeps its start). A line that has to be cut loses its colours.
 */
export function clip(line: string, width = WIDTH, where: 'middle' | 'end' = 'middle'): string {
  if (visibleLength(line) <= width) return line;
  const plain = stripAnsi(line);
  return where === 'end' ? `${plain.slice(0, width - 1)}…` : shortenMiddle(plain, width);
}

/**
 * Wraps plain text at spaces to `width` columns; continuation lines start with `indent`. A word
 * longer than a line is shortened in the middle.
 */
export function wrap(text: string, width = WIDTH, indent = ''): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    const lead = paragraph.match(/^\s*/)?.[0] ?? '';
    let line = '';
    let prefix = lead;
    for (const raw of paragraph.trim().split(/\s+/)) {
      if (raw === '') continue;
      const room = width - prefix.length;
      const word = raw.length > room ? shortenMiddle(raw, room) : raw;
      if (line && prefix.length + line.length + 1 + word.length > width) {
        lines.push(prefix + line);
        line = word;
        prefix = indent || lead;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    lines.push(prefix + line);
  }
  return lines;
}

/** `a full_stop`, `an approval_gated`: a mode with its article. */
export function aMode(mode: string): string {
  return `${/^[aeiou]/.test(mode) ? 'an' : 'a'} ${mode}`;
}

export function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `n thing` or `n things`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export interface FitTableOptions {
  /** Narrowest each column may become (padding included). @default 8 */
  readonly minWidths?: readonly number[];
  /** @default WIDTH */
  readonly width?: number;
}

/**
 * A table that fits the terminal: column widths start from the content and the widest columns
 * give way until the whole table is at most `width` columns; cells wrap at words and a word too
 * long for its column is shortened in the middle. No rule between rows, to keep it short.
 */
export function fitTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  o: FitTableOptions = {},
) {
  const width = o.width ?? WIDTH;
  const cols = head.length;
  const natural = head.map(
    (h, i) =>
      Math.max(
        visibleLength(h),
        ...rows.map((r) =>
          Math.max(
            0,
            ...String(r[i] ?? '')
              .split('\n')
              .map(visibleLength),
          ),
        ),
      ) + 2,
  );
  const min = head.map((h, i) => Math.max(o.minWidths?.[i] ?? 8, Math.min(visibleLength(h) + 2, 14)));
  const widths = [...natural];
  const total = () => widths.reduce((a, b) => a + b, 0) + cols + 1;
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < cols; i++) {
      if (widths[i] > min[i] && (widest < 0 || widths[i] > widths[widest])) widest = i;
    }
    if (widest < 0) break;
    widths[widest] -= 1;
  }
  const fitCell = (cell: string, i: number) => {
    const room = widths[i] - 2;
    if (visibleLength(cell) <= room) return cell;
    return stripAnsi(cell)
      .split('\n')
      .map((line) =>
        line
          .split(' ')
          .map((word) => (word.length > room ? shortenMiddle(word, room) : word))
          .join(' '),
      )
      .join('\n');
  };
  const table = new Table({
    head: [...head],
    colWidths: widths,
    wordWrap: true,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) table.push(row.map((cell, i) => fitCell(String(cell ?? ''), i)));
  return table.toString();
}

/**
 * Cells side by side, each wrapped to its column's width, lines zipped: `widths[i]` is the width
 * of column i (the last column takes what is left of `width`). Returns the lines, each at most
 * `width` columns.
 */
export function zipColumns(cells: readonly string[], widths: readonly number[], width = WIDTH): string[] {
  const cols = cells.map((cell, i) => {
    const w = i < widths.length ? widths[i] : width - widths.reduce((a, b) => a + b, 0);
    // A column before the last keeps one space free, so its text never touches the next one.
    const room = i < cells.length - 1 ? w - 1 : w;
    return { w, lines: cell === '' ? [''] : wrap(printable(stripAnsi(cell)), room) };
  });
  const height = Math.max(...cols.map((c) => c.lines.length));
  const out: string[] = [];
  for (let row = 0; row < height; row++) {
    const line = cols
      .map((c, i) => {
        const text = c.lines[row] ?? '';
        return i === cols.length - 1 ? text : text.padEnd(c.w);
      })
      .join('')
      .trimEnd();
    out.push(line);
  }
  return out;
}

/** A group of rows under one heading: a resource and its changes, or a reason and the resources it covers. */
export interface Block {
  /** Left: a short tag (the surface); right: the heading text. */
  readonly head: readonly [string, string];
  /** Each row: the middle column (an action, a resource) and the right column (what happens). */
  readonly rows: readonly (readonly [string, string])[];
}

const TAG = 11;
const MIDDLE = 34;

/** Column titles of a block table: the tag, the heading, then the row's two columns. */
export interface BlockHeader {
  readonly tag: string;
  readonly head: string;
  readonly middle: string;
  readonly right: string;
}

/**
 * Blocks as aligned text for a 100-column terminal: the heading on its own line after its tag,
 * each row indented under it in two columns that wrap at words.
 */
export function renderBlocks(header: BlockHeader, blocks: readonly Block[], middleWidth = MIDDLE): string[] {
  const out = [
    ...zipColumns([header.tag, header.head], [TAG]),
    ...zipColumns(['', `  ${header.middle}`, header.right], [TAG, middleWidth]),
  ].map((l) => pc.dim(l));
  for (const block of blocks) {
    out.push(...zipColumns([block.head[0], block.head[1]], [TAG]));
    for (const [middle, right] of block.rows) {
      out.push(...zipColumns(['', `  ${middle}`, right], [TAG, middleWidth]));
    }
  }
  return out;
}
