import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { IAM_PATH } from '../../lambda/shared/naming';

export interface WorkerRoleProps {
  /**
   * Fixed name of the role. The workload stacks trust it by ARN (`aws:PrincipalArn`), so it must
   * never be generated.
   */
  readonly roleName: string;
  readonly description: string;
  /**
   * ARNs of the execution roles the worker may assume, one per workload account and region (built
   * with `killExecutionRoleArn`/`restoreExecutionRoleArn`; those roles live in other accounts, so
   * there is no construct to pass).
   */
  readonly executionRoleArns: readonly string[];
  /**
   * ARNs of the only Lambda functions whose credentials may assume the execution roles
   * (`lambda:SourceFunctionArn`, which Lambda puts in the credentials of a function's own
   * calls). The restore worker names its apply function: any other function that runs as the role
   * (one created with `iam:PassRole` on it, say) cannot reach a workload account.
   * @default - any function running as the role
   */
  readonly assumeFromFunctionArns?: readonly string[];
}

/**
 * A control plane worker role (kill or restore), assumed by the path's Lambda handlers. Out of the
 * box it may only assume its execution roles in the workload accounts, setting a source identity;
 * the path that uses it grants it what its handlers need in the control plane.
 */
export class WorkerRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: WorkerRoleProps) {
    super(scope, id);
    if (props.executionRoleArns.length === 0) {
      throw new Error(
        `WorkerRole ${props.roleName}: executionRoleArns must name at least one execution role`,
      );
    }
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      path: IAM_PATH,
      description: props.description,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssumeExecutionRolesInWorkloadAccounts',
        actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        resources: [...props.executionRoleArns],
        ...(props.assumeFromFunctionArns && {
          conditions: { ArnEquals: { 'lambda:SourceFunctionArn': [...props.assumeFromFunctionArns] } },
        }),
      }),
    );
  }
}
