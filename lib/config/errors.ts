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
