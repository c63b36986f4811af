import fc from 'fast-check';
import {
  ArnError,
  arnResource,
  eventRuleArn,
  eventSourceMappingUuid,
  formatArn,
  isArn,
  lambdaFunctionArn,
  networkInterfaceArn,
  networkInterfaceId,
  parseArn,
  parseEventRuleArn,
  parseExecutionArn,
  parseFunctionArn,
  parsePolicyArn,
  parseRoleArn,
  parseScheduleArn,
  resourceKind,
  scheduleArn,
  unqualifiedFunctionArn,
} from '../../../lambda/shared/arn';

describe('parseArn', () => {
  it('keeps colons and slashes of the resource part verbatim', () => {
    expect(parseArn('arn:aws:lambda:us-east-1:123456789012:function:billing:live')).toEqual({
      partition: 'aws',
      service: 'lambda',
      region: 'us-east-1',
      accountId: '123456789012',
      resource: 'function:billing:live',
    });
    expect(parseArn('arn:aws-us-gov:iam::123456789012:role/a/b/c').resource).toBe('role/a/b/c');
    expect(parseArn('arn:aws-cn:sqs:cn-north-1:123456789012:jobs').partition).toBe('aws-cn');
  });

  it('refuses what is not an ARN, saying why', () => {
    expect(() => parseArn('role/billing')).toThrow(ArnError);
    expect(() => parseArn('arn:aws:iam::123456789012')).toThrow(/six colon-separated fields/);
    expect(() => parseArn('urn:aws:iam::123456789012:role/x')).toThrow(/does not start with "arn:"/);
    expect(() => parseArn('arn:azure:iam::123456789012:role/x')).toThrow(/unknown partition "azure"/);
    expect(() => parseArn('arn:aws:sqs:us-east-1:123456789012:')).toThrow(/empty resource/);
    expect(isArn('arn:aws:sqs:us-east-1:123456789012:jobs')).toBe(true);
    expect(isArn(42)).toBe(false);
  });

  it('round-trips through formatArn for any resource', () => {
    const part = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
    fc.assert(
      fc.property(part, part, fc.stringMatching(/^[A-Za-z0-9:/._-]{1,40}$/), (service, region, resource) => {
        const arn = { partition: 'aws', service, region, accountId: '123456789012', resource };
        expect(parseArn(formatArn(arn))).toEqual(arn);
      }),
    );
  });

  it('splits the resource type at the first separator', () => {
    expect(arnResource(parseArn('arn:aws:iam::1:role/app/agent'))).toEqual({ type: 'role', id: 'app/agent' });
    expect(arnResource(parseArn('arn:aws:lambda:r:1:function:fn:live'))).toEqual({
      type: 'function',
      id: 'fn:live',
    });
    expect(arnResource(parseArn('arn:aws:sqs:r:1:queue'))).toEqual({ type: '', id: 'queue' });
  });
});

describe('typed readers', () => {
  it('reads role name and path, and refuses a non-role ARN', () => {
    expect(parseRoleArn('arn:aws:iam::123456789012:role/test_role')).toEqual({
      accountId: '123456789012',
      path: '/',
      roleName: 'test_role',
    });
    expect(
      parseRoleArn(
        'arn:aws:iam::123456789012:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport',
      ),
    ).toEqual({
      accountId: '123456789012',
      path: '/aws-service-role/support.amazonaws.com/',
      roleName: 'AWSServiceRoleForSupport',
    });
    expect(() => parseRoleArn('arn:aws:iam::123456789012:user/bob')).toThrow(/expected a iam role ARN/);
  });

  it('reads policy paths, AWS managed ones included', () => {
    expect(parsePolicyArn('arn:aws:iam::aws:policy/AdministratorAccess')).toEqual({
      accountId: 'aws',
      path: '/',
      policyName: 'AdministratorAccess',
    });
    expect(
      parsePolicyArn('arn:aws:iam::123456789012:policy/backstop/backstop-full-stop-us-east-1').path,
    ).toBe('/backstop/');
  });

  it('builds and reads Lambda function and mapping ARNs', () => {
    const arn = lambdaFunctionArn('aws', 'us-east-1', '123456789012', 'billing');
    expect(arn).toBe('arn:aws:lambda:us-east-1:123456789012:function:billing');
    expect(parseFunctionArn(`${arn}:live`)).toEqual({ functionName: 'billing', qualifier: 'live' });
    expect(unqualifiedFunctionArn(`${arn}:$LATEST`)).toBe(arn);
    expect(unqualifiedFunctionArn(arn)).toBe(arn);
    expect(() => parseFunctionArn(`${arn}:1:extra`)).toThrow(/malformed function name/);
    expect(
      eventSourceMappingUuid(
        'arn:aws:lambda:us-east-1:123456789012:event-source-mapping:332f71ae-ddb2-4bc2-a876-54d99204fdd7',
      ),
    ).toBe('332f71ae-ddb2-4bc2-a876-54d99204fdd7');
  });

  it('builds rule ARNs the way EventBridge does and reads bus and name back, partner buses included', () => {
    const onDefault = eventRuleArn('aws', 'us-west-1', '644160558196', 'default', 'rule-1');
    expect(onDefault).toBe('arn:aws:events:us-west-1:644160558196:rule/rule-1');
    expect(parseEventRuleArn(onDefault)).toEqual({ eventBusName: 'default', name: 'rule-1' });
    const onCustom = eventRuleArn('aws', 'us-west-1', '644160558196', 'my-event-bus', 'nightly');
    expect(onCustom).toBe('arn:aws:events:us-west-1:644160558196:rule/my-event-bus/nightly');
    expect(parseEventRuleArn(onCustom)).toEqual({ eventBusName: 'my-event-bus', name: 'nightly' });
    const partner = 'aws.partner/saas.example.com/1234/events';
    expect(parseEventRuleArn(eventRuleArn('aws', 'us-west-1', '1', partner, 'r'))).toEqual({
      eventBusName: partner,
      name: 'r',
    });
  });

  it('builds and reads schedules, interfaces and executions', () => {
    const schedule = scheduleArn('aws', 'us-east-1', '1', 'billing-jobs', 'nightly');
    expect(parseScheduleArn(schedule)).toEqual({ groupName: 'billing-jobs', name: 'nightly' });
    expect(() => parseScheduleArn('arn:aws:scheduler:us-east-1:1:schedule/only-name')).toThrow(ArnError);
    expect(networkInterfaceId(networkInterfaceArn('aws', 'us-east-1', '1', 'eni-d834cdcf'))).toBe(
      'eni-d834cdcf',
    );
    expect(parseExecutionArn('arn:aws:states:us-east-1:1:execution:billing-close:run-1')).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:1:stateMachine:billing-close',
      name: 'run-1',
    });
  });

  it('classifies declared ARNs by kind', () => {
    expect(
      [
        'arn:aws:iam::1:role/r',
        'arn:aws:lambda:us-east-1:1:function:f:live',
        'arn:aws:lambda:us-east-1:1:event-source-mapping:u',
        'arn:aws:sqs:us-east-1:1:q',
        'arn:aws:states:us-east-1:1:stateMachine:m',
        'arn:aws:events:us-east-1:1:rule/bus/r',
        'arn:aws:scheduler:us-east-1:1:schedule/g/s',
        'arn:aws:ec2:us-east-1:1:network-interface/eni-1',
        'arn:aws:s3:::bucket',
        'not-an-arn',
      ].map(resourceKind),
    ).toEqual([
      'iam-role',
      'lambda-function',
      'event-source-mapping',
      'sqs-queue',
      'state-machine',
      'event-rule',
      'schedule',
      'network-interface',
      'other',
      'other',
    ]);
  });
});
