import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { IAM_PATH } from '../../lambda/shared/naming';
import { wildcardResourceFinding } from './policy-builder';

/** Fixed name of the break-glass role, so people can put its ARN in their own policies and runbooks. */
export const BREAK_GLASS_ROLE_NAME = 'backstop-break-glass';

export interface BreakGlassRoleProps {
  /** IAM users or roles (ARNs) that may assume the role, with MFA. */
  readonly principals: readonly string[];
  /** @default 'backstop-break-glass' */
  readonly roleName?: string;
  /** @default Duration.hours(1) */
  readonly maxSessionDuration?: Duration;
}

/**
 * The break-glass role: configured principals may assume it only with MFA
 * (`aws:MultiFactorAuthPresent`). It can do nothing until the kill path grants it the right to
 * start the kill state machine and read its executions ({@link BreakGlassRole.grantStartKill}).
 *
 * MFA is present in the request context for IAM users that signed in or called
 * `GetSessionToken` with MFA; sessions from IAM Identity Center or a chained role do not carry it.
 */
export class BreakGlassRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: BreakGlassRoleProps) {
    super(scope, id);
    if (props.principals.length === 0) {
      throw new Error('BreakGlassRole: principals must name at least one IAM user or role');
    }
    const mfa = { Bool: { 'aws:MultiFactorAuthPresent': 'true' } };
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName ?? BREAK_GLASS_ROLE_NAME,
      path: IAM_PATH,
      description: 'Backstop break-glass: start a kill and read its status (MFA required)',
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      assumedBy: new iam.CompositePrincipal(
        ...props.principals.map((arn) => new iam.ArnPrincipal(arn).withConditions(mfa)),
      ),
    });
  }

  /**
   * Lets the role start executions of the kill state machine and follow them (status, history),
   * and nothing else: no listing of the account's other state machines or activities.
   */
  grantStartKill(stateMachine: sfn.StateMachine): void {
    const executions = Stack.of(stateMachine).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // A fleet kill's Distributed Map: its map run, counted while the CLI follows the kill.
    const mapRuns = Stack.of(stateMachine).formatArn({
      service: 'states',
      resource: 'mapRun',
      resourceName: `${stateMachine.stateMachineName}/*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const statements = [
      new iam.PolicyStatement({
        sid: 'StartAndFollowKills',
        actions: ['states:StartExecution', 'states:DescribeStateMachine', 'states:ListExecutions'],
        resources: [stateMachine.stateMachineArn],
      }),
      new iam.PolicyStatement({
        sid: 'ReadKillExecutions',
        actions: [
          'states:DescribeExecution',
          'states:DescribeStateMachineForExecution',
          'states:GetExecutionHistory',
        ],
        resources: [executions],
      }),
      new iam.PolicyStatement({
        sid: 'CountFleetKillBatches',
        actions: ['states:DescribeMapRun'],
        resources: [mapRuns],
      }),
    ];
    for (const statement of statements) this.role.addToPrincipalPolicy(statement);
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (!policy) throw new Error('BreakGlassRole: the role has no DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: wildcardResourceFinding(this, executions),
      reason:
        'Execution ARNs are named at run time (the execution name is the kill idempotency key); the resource is limited to the executions of the kill state machine, read-only.',
    });
    Validations.of(policy).acknowledge({
      id: wildcardResourceFinding(this, mapRuns),
      reason:
        'Map run ARNs are named by Step Functions at run time; the resource is limited to the map runs of the kill state machine, and DescribeMapRun only reads their counts.',
    });
  }
}
