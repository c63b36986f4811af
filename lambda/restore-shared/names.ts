/**
 * Fixed names of the restore path's functions: the restore worker's policy pins its calls to
 * them by ARN (`lambda:SourceFunctionArn`), so they must never be generated.
 */
export const RESTORE_FUNCTION_NAMES = {
  prepare: 'backstop-restore-prepare',
  await: 'backstop-restore-await',
  apply: 'backstop-restore-apply',
  finalize: 'backstop-restore-finalize',
  /** The function URL (AWS_IAM) people call to request, approve and reject restores. */
  endpoint: 'backstop-restore-endpoint',
} as const;

export function restoreFunctionArn(
  partition: string,
  accountId: string,
  region: string,
  name: string,
): string {
  return `arn:${partition}:lambda:${region}:${accountId}:function:${name}`;
}
