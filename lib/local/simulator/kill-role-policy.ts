/**
 * The identity policy the simulator seeds the kill execution role with: what a kill needs
 * (lambda/shared/kill-permissions.ts), with the conditions that matter to a cut (only Backstop's
 * deny policies are attached; policies are detached and deleted only under the kill boundary; roles
 * are passed to Scheduler only), and SimulatePrincipalPolicy on the role itself for the canary.
 * The deployed role's own policies are proven against the same list by the IAM simulator tests.
 */
import {
  CANARY_SELF_CHECK_ACTION,
  KILL_PERMISSIONS,
  killBoundaryArn,
} from '../../../lambda/shared/kill-permissions';
import { IAM_PATH, killExecutionRoleArn } from '../../../lambda/shared/naming';

export function killRolePolicyDocument(partition: string, accountId: string, region: string): string {
  const backstopPolicies = `arn:${partition}:iam::${accountId}:policy${IAM_PATH}*`;
  const underKillBoundary = {
    ArnEquals: { 'iam:PermissionsBoundary': killBoundaryArn(partition, accountId, region) },
  };
  const conditions: Record<string, Record<string, Record<string, string>>> = {
    'iam:AttachRolePolicy': { ArnLike: { 'iam:PolicyARN': backstopPolicies } },
    'iam:PutRolePermissionsBoundary': underKillBoundary,
    'iam:DetachRolePolicy': { ...underKillBoundary, ArnNotLike: { 'iam:PolicyARN': backstopPolicies } },
    'iam:DeleteRolePolicy': underKillBoundary,
    'iam:PassRole': { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
  };
  const all = [
    ...new Set(
      Object.values(KILL_PERMISSIONS)
        .flat()
        .map((p) => p.action),
    ),
  ].sort();
  const plain = all.filter((a) => !(a in conditions));
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'WhatAKillNeeds', Effect: 'Allow', Action: plain, Resource: '*' },
      ...Object.entries(conditions).map(([action, condition]) => ({
        Sid: action.replace(/[^A-Za-z]/g, ''),
        Effect: 'Allow',
        Action: action,
        Resource: '*',
        Condition: condition,
      })),
      {
        Sid: 'CanaryChecksItsOwnPermissions',
        Effect: 'Allow',
        Action: CANARY_SELF_CHECK_ACTION,
        Resource: killExecutionRoleArn(partition, accountId, region),
      },
    ],
  });
}
