import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Directory } from '../../lambda/shared/types';
import { handlerBundling } from './directory-bundle';

export interface ApprovalEndpointProps {
  readonly functionName: string;
  /** The restore worker: the endpoint records requests and decisions, starts restores. */
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  readonly environment: Record<string, string>;
  readonly directory: Directory;
  /** IAM users or roles (any account) that may call the URL: `restore.approvers`. */
  readonly callers: readonly string[];
  /** The break-glass role may call it too (to ask for a restore, or reject one). @default - not granted */
  readonly breakGlassRole?: iam.IRole;
}

/**
 * The restore endpoint: a Lambda function URL with `AWS_IAM` auth. Lambda authenticates every
 * request (SigV4) and passes the caller's identity in `requestContext.authorizer.iam`, which is
 * the only identity the function uses. The function's resource policy lets the configured approvers
 * call it through the URL only (`lambda:FunctionUrlAuthType` AWS_IAM for `InvokeFunctionUrl`,
 * `lambda:InvokedViaFunctionUrl` for `InvokeFunction`): a principal of another account cannot
 * invoke it directly with a made-up request context. The break-glass role gets the same two grants
 * in its own policy. The function itself checks, again, that the caller is an approver or a
 * requester for each action.
 */
export class ApprovalEndpoint extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: ApprovalEndpointProps) {
    super(scope, id);
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      functionName: props.functionName,
      entry: path.join(__dirname, '..', '..', 'lambda', 'approval-endpoint', 'index.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role: props.role,
      timeout: Duration.seconds(30),
      memorySize: 512,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: props.logGroup,
      environment: props.environment,
      bundling: handlerBundling(this, props.directory),
    });
    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    for (const caller of props.callers) this.url.grantInvokeUrl(new iam.ArnPrincipal(caller));
    if (props.breakGlassRole) this.url.grantInvokeUrl(props.breakGlassRole);
  }
}
