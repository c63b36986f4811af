/** One problem in a configuration: where (`agents[1].accountId`) and why. */
export interface ConfigIssue {
  /** Dotted path of the field, with array indexes: `agents[1].roleArns[0]`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** Issues listed one by one in the message; the rest are counted (`issues` has them all). */
const MAX_LISTED_ISSUES = 20;

/**
 * A configuration that cannot be used. The message lists every issue as `<field>: <reason>`, so
 * synth and the CLI can print it as is; `issues` holds them one by one for programs.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    /** Where the configuration came from (a file path, or a description such as `<inline>`). */
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    const listed = issues.slice(0, MAX_LISTED_ISSUES);
    const more = issues.length - listed.length;
    super(
      `Invalid Backstop configuration ${source}:\n${listed
        .map((issue) => `  - ${issue.path ? `${issue.path}: ` : ''}${issue.message}`)
        .join('\n')}${more > 0 ? `\n  ... and ${more} more` : ''}`,
    );
  }
}

/** Longest view of a found value an error message shows. */
export const MAX_VALUE_VIEW = 80;

/** `text` cut to `max` characters, the cut marked with an ellipsis in the middle. */
export function shortenMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  const tail = max - 1 - head;
  return `${text.slice(0, head)}…${tail > 0 ? text.slice(text.length - tail) : ''}`;
}

/**
 * A value as an error message shows it: its JSON, at most MAX_VALUE_VIEW characters (a 10 MB
 * value is never echoed whole), cut in the middle so both ends stay readable.
 */
export function previewValue(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = String(value);
  }
  return shortenMiddle(json, MAX_VALUE_VIEW);
}

/** What was found where something else was expected: `the number 111111111111`, `null`, `an array [1,2]`. */
export function describeFound(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array ${previewValue(value)}`;
  switch (typeof value) {
    case 'string':
      return `the string ${previewValue(value)}`;
    case 'number':
      return `the number ${previewValue(value)}`;
    case 'boolean':
      return `the boolean ${String(value)}`;
    case 'object':
      return `an object ${previewValue(value)}`;
    default:
      return typeof value;
  }
}

/** Renders a path as `agents[1].roleArns[0]` (a very long key is shortened). */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else {
      const name = shortenMiddle(String(key), 40);
      out += out ? `.${name}` : name;
    }
  }
  return out;
}

/**
 * A valid configuration that does not fit an AWS limit once synthesized (a policy's size, the
 * policies of a role, a template's resources). Each issue names the limit, where the config
 * reaches it, and what to change. Synth prints it as it prints a {@link ConfigError}.
 */
export class ConfigLimitError extends ConfigError {
  constructor(issues: readonly ConfigIssue[]) {
    super('(an AWS limit)', issues);
    this.message = `Backstop configuration too large for an AWS limit:\n${issues
      .map((issue) => wrap(`- ${issue.path ? `${issue.path}: ` : ''}${issue.message}`, 98, '  ', '    '))
      .join('\n')}`;
  }
}

/** Wraps text at word boundaries so that no line (with its indent) is longer than `width` + 2. */
function wrap(text: string, width: number, first: string, rest: string): string {
  const lines: string[] = [];
  let line = first;
  for (const word of text.split(' ')) {
    const indent = lines.length === 0 ? first : rest;
    if (line.length > indent.length && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line = line.length > indent.length ? `${line} ${word}` : `${line}${word}`;
    }
  }
  lines.push(line);
  return lines.join('\n');
}
