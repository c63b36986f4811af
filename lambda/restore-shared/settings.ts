import { EnvironmentError } from '../shared/env';

/**
 * Settings of the restore path's functions beyond the common handler environment, read from their
 * environment (the construct sets them from `restore` in backstop.config.json). The approvers and
 * quorum use the same variables as the audit sealer's hold releases.
 */
export const RESTORE_ENV = {
  approvers: 'BACKSTOP_RESTORE_APPROVERS',
  quorum: 'BACKSTOP_RESTORE_QUORUM',
  /** Who may ask for a restore: the approvers, the break-glass principals and the break-glass role. */
  requesters: 'BACKSTOP_RESTORE_REQUESTERS',
  approvalTimeoutSeconds: 'BACKSTOP_RESTORE_APPROVAL_TIMEOUT_SECONDS',
  /** The endpoint only: the restore state machine it starts. */
  stateMachineArn: 'BACKSTOP_RESTORE_STATE_MACHINE_ARN',
  /** The endpoint only: the audit sealer function it asks to seal refusals that no restore will seal. */
  sealerFunction: 'BACKSTOP_SEALER_FUNCTION',
} as const;

export interface RestoreSettings {
  /** `restore.approvers`: IAM user or role ARNs. */
  readonly approvers: readonly string[];
  /** Distinct approvers a restore needs (at least 2). */
  readonly quorum: number;
  readonly requesters: readonly string[];
  readonly approvalTimeoutSeconds: number;
  readonly stateMachineArn?: string;
  readonly sealerFunction?: string;
}

function list(env: Readonly<Record<string, string | undefined>>, name: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(env[name] ?? '');
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new EnvironmentError(`environment variable ${name} must be a JSON list of principal ARNs`);
  }
  return value;
}

export function readRestoreSettings(env: Readonly<Record<string, string | undefined>>): RestoreSettings {
  const quorum = Number(env[RESTORE_ENV.quorum]);
  if (!Number.isInteger(quorum) || quorum < 2) {
    throw new EnvironmentError(
      `environment variable ${RESTORE_ENV.quorum} must be a whole number of at least 2`,
    );
  }
  const timeout = Number(env[RESTORE_ENV.approvalTimeoutSeconds]);
  if (!Number.isInteger(timeout) || timeout < 60) {
    throw new EnvironmentError(
      `environment variable ${RESTORE_ENV.approvalTimeoutSeconds} must be a whole number of seconds, at least 60`,
    );
  }
  return {
    approvers: list(env, RESTORE_ENV.approvers),
    quorum,
    requesters: list(env, RESTORE_ENV.requesters),
    approvalTimeoutSeconds: timeout,
    ...(env[RESTORE_ENV.stateMachineArn] && { stateMachineArn: env[RESTORE_ENV.stateMachineArn] }),
    ...(env[RESTORE_ENV.sealerFunction] && { sealerFunction: env[RESTORE_ENV.sealerFunction] }),
  };
}
