/** One problem in a configuration: where (`agents[1].accountId`) and why. */
export interface ConfigIssue {
  /** Dotted path of the field, with array indexes: `agents[1].roleArns[0]`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

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
    super(
      `Invalid Backstop configuration ${source}:\n${issues
        .map((issue) => `  - ${issue.path ? `${issue.path}: ` : ''}${issue.message}`)
        .join('\n')}`,
    );
  }
}

/** Renders a path as `agents[1].roleArns[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
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
