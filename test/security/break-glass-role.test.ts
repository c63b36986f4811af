/**
 * What the break-glass role may do once assumed (with MFA): start the kill state machine and
 * follow its executions, evaluated with an IAM simulator on the synthesized control plane.
 */
import { CONTROL_PLANE } from '../../lambda/shared/naming';
import { BREAK_GLASS_ROLE_NAME } from '../../lib/constructs/break-glass-role';
import { synthStacks } from '../helpers/cdk';
import { evaluate, ResolvedTemplate } from './iam-policies';

const CP = '111111111111';
const REGION = 'us-east-1';
const synth = synthStacks();
const template = new ResolvedTemplate(synth.controlPlaneTemplate(), 'aws', CP, REGION);
const breakGlass = template.role(BREAK_GLASS_ROLE_NAME);
const KILL = template.resolve<string>(
  synth.controlPlane.resolve(synth.controlPlane.killPath.stateMachine.stateMachineArn),
);
const OTHER = `arn:aws:states:${REGION}:${CP}:stateMachine:payments-flow`;
const execution = (machine: string, name: string) =>
  `${machine.replace(':stateMachine:', ':execution:')}:${name}`;

function asBreakGlass(action: string, resource: string) {
  return evaluate({ principal: breakGlass.arn, action, resource, identity: breakGlass.identity });
}

describe('the break-glass role', () => {
  it('starts the kill state machine and follows its executions', async () => {
    expect(KILL).toBe(`arn:aws:states:${REGION}:${CP}:stateMachine:${CONTROL_PLANE.killStateMachineName}`);
    for (const action of ['states:StartExecution', 'states:DescribeStateMachine', 'states:ListExecutions']) {
      await expect(asBreakGlass(action, KILL)).resolves.toBe('Allowed');
    }
    for (const action of [
      'states:DescribeExecution',
      'states:GetExecutionHistory',
      'states:DescribeStateMachineForExecution',
    ]) {
      await expect(
        asBreakGlass(action, execution(KILL, 'alarm-support-bot-2024-01-01T00-00-00Z')),
      ).resolves.toBe('Allowed');
    }
  });

  it("counts the batches of a fleet kill (its map runs), and no other state machine's", async () => {
    const mapRun = (machine: string) =>
      `${machine.replace(':stateMachine:', ':mapRun:')}/Cut-each-batch:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b`;
    await expect(asBreakGlass('states:DescribeMapRun', mapRun(KILL))).resolves.toBe('Allowed');
    await expect(asBreakGlass('states:DescribeMapRun', mapRun(OTHER))).resolves.not.toBe('Allowed');
    await expect(asBreakGlass('states:UpdateMapRun', mapRun(KILL))).resolves.not.toBe('Allowed');
  });

  it('can neither start nor read any other state machine, nor stop or redrive a kill', async () => {
    for (const action of ['states:StartExecution', 'states:DescribeStateMachine', 'states:ListExecutions']) {
      await expect(asBreakGlass(action, OTHER)).resolves.not.toBe('Allowed');
    }
    await expect(asBreakGlass('states:DescribeExecution', execution(OTHER, 'run-1'))).resolves.not.toBe(
      'Allowed',
    );
    for (const action of ['states:StopExecution', 'states:RedriveExecution']) {
      await expect(asBreakGlass(action, execution(KILL, 'run-1'))).resolves.not.toBe('Allowed');
    }
    await expect(asBreakGlass('states:UpdateStateMachine', KILL)).resolves.not.toBe('Allowed');
  });
});
