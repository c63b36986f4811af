import { MAX_REASON_LENGTH } from '../../lambda/shared/request';
import type { BackstopConfig } from '../config';
import { previewValue } from '../config/errors';
import { REGION } from '../config/schema';

/**
 * Checks of what a person typed, made against the configuration before any AWS call: a mistake
 * is said at once, naming the option, and nothing starts.
 */

/** A command used wrongly: said plainly, nothing started. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An incident id: also a Step Functions execution name and part of a role session name. */
export const INCIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$/;

/** Levenshtein distance: how many one-character edits turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known id closest to `id` (fewest one-character edits; the first of equals); undefined when none is known. */
export function nearest(id: string, known: readonly string[]): string | undefined {
  let best: { id: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(id.toLowerCase(), candidate);
    if (!best || distance < best.distance) best = { id: candidate, distance };
  }
  return best?.id;
}

/** Every id must be an agent of the configuration; the message names each unknown one and its nearest known id. */
export function checkAgents(config: BackstopConfig, ids: readonly string[], configPath: string): void {
  const known = config.agents.map((a) => a.id);
  const unknown = [...new Set(ids)].filter((id) => !known.includes(id));
  if (unknown.length === 0) return;
  const lines = unknown.map((id) => {
    const guess = nearest(id, known);
    return `unknown agent ${previewValue(id)}: not in ${configPath}${guess ? `. Did you mean ${guess}?` : ''}`;
  });
  const list =
    known.length <= 10 ? known.join(', ') : `${known.slice(0, 10).join(', ')} and ${known.length - 10} more`;
  lines.push(known.length > 0 ? `Known agents: ${list}` : `${configPath} declares no agents.`);
  throw new UsageError(lines.join('\n'));
}

/**
 * Who a kill or plan is for: the agents named, or with `--account` every agent the configuration
 * declares in that account (the kill path expands it the same way). One or the other, never both.
 */
export function checkTargets(
  config: BackstopConfig,
  agents: readonly string[],
  account: string | undefined,
  configPath: string,
): { readonly agents: readonly string[]; readonly accountId?: string } {
  if (account === undefined) {
    if (agents.length === 0) {
      throw new UsageError('name the agent(s) to cut, or give --account <id> for every agent of an account');
    }
    return { agents };
  }
  if (agents.length > 0) {
    throw new UsageError(`--account ${previewValue(account)} and agent ids: give one or the other, not both`);
  }
  if (!/^\d{12}$/.test(account)) {
    throw new UsageError(
      `--account ${previewValue(account)}: a 12-digit AWS account id (for example 222222222222)`,
    );
  }
  const inAccount = config.agents.filter((a) => a.accountId === account).map((a) => a.id);
  if (inAccount.length === 0) {
    const accounts = [...new Set(config.agents.map((a) => a.accountId))].sort();
    throw new UsageError(
      `--account ${account}: no agent of that account is in ${configPath}${
        accounts.length > 0 ? `. Accounts with agents: ${accounts.slice(0, 10).join(', ')}` : ''
      }`,
    );
  }
  return { agents: inAccount, accountId: account };
}

/** A kill's reason: not empty, at most the length the kill path accepts. */
export function checkReason(reason: string | undefined, required: boolean): string | undefined {
  if (reason === undefined) {
    if (required) throw new UsageError('--reason <text> is required: say why (it goes in the audit log)');
    return undefined;
  }
  if (reason.trim() === '') throw new UsageError('--reason is empty: say why (it goes in the audit log)');
  if (reason.length > MAX_REASON_LENGTH) {
    throw new UsageError(
      `--reason is ${reason.length} characters long; at most ${MAX_REASON_LENGTH} (put the details in your ticket)`,
    );
  }
  return reason.trim();
}

export function checkIncident(id: string | undefined, option = '--incident'): string | undefined {
  if (id === undefined) return undefined;
  if (!INCIDENT_ID.test(id)) {
    throw new UsageError(
      `${option} ${previewValue(id)}: 1 to 55 letters, digits, ".", "_" or "-", starting with a letter or digit (for example INC-4711)`,
    );
  }
  return id;
}

/** An endpoint must be a URL with a scheme and a host: `localhost:4566` parses as a URL with scheme `localhost:`. */
export function checkEndpoint(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    const hint = /^[\w.-]+:\d+/.test(endpoint) ? `http://${endpoint}` : 'http://localhost:4566';
    throw new UsageError(
      `--endpoint ${previewValue(endpoint)}: needs a URL with http:// or https:// (for example ${hint})`,
    );
  }
  return endpoint;
}

export interface RegionChoice {
  /** The region every call goes to: the control plane's. */
  readonly region: string;
  /** A note to print when AWS_REGION was set to another region and is not used. */
  readonly note?: string;
}

/**
 * The control plane runs in one region, the configuration's. `--region` may only confirm it (a
 * different one is a mistake worth stopping for); AWS_REGION set to another region for other
 * work is noted and not used.
 */
export function chooseRegion(
  config: BackstopConfig,
  given: string | undefined,
  source: 'cli' | 'env' | string | undefined,
  configPath: string,
): RegionChoice {
  const region = config.controlPlane.region;
  if (given === undefined || given === region) return { region };
  if (source === 'env') {
    return {
      region,
      note: `AWS_REGION=${previewValue(given)} not used: the control plane is in ${region} (controlPlane.region in ${configPath})`,
    };
  }
  if (!REGION.test(given)) {
    throw new UsageError(`--region ${previewValue(given)}: not an AWS region name (for example ${region})`);
  }
  throw new UsageError(
    `--region ${given}: the control plane is in ${region} (controlPlane.region in ${configPath}) and the kill path runs only there. Leave --region out or pass --region ${region}.`,
  );
}

export function checkProfile(profile: string | undefined): string | undefined {
  if (profile === undefined) return undefined;
  if (profile.trim() === '' || /\s/.test(profile)) {
    throw new UsageError(
      `--profile ${previewValue(profile)}: a profile name from ~/.aws/config, without spaces`,
    );
  }
  return profile;
}
