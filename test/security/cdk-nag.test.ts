import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
// How cdk-nag writes a resource with tokens into a finding id (`<LogicalId.Arn>/incidents/*`).
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';
import { configWith, synthStacks } from '../helpers/cdk';

// cdk-nag's EventBusOpenAccess rule reads a deprecated property of CfnEventBusPolicy; keep the log readable.
process.env.JSII_DEPRECATED = 'quiet';

const variants = {
  'the sample configuration': synthStacks(),
  'an organization, an agent role path, VPCs in every region and no alarms': synthStacks(
    configWith((c) => {
      c.organizationId = 'o-a1b2c3d4e5';
      c.agentRolePath = '/agents/';
      for (const account of c.workloadAccounts) {
        for (const region of account.regions)
          region.vpcIds = ['vpc-0123456789abcdef0', 'vpc-0fedcba9876543210'];
      }
      for (const agent of c.agents ?? []) agent.alarms = [];
    }),
  ),
};

function allNodes(root: IConstruct): IConstruct[] {
  return [root, ...root.node.children.flatMap(allNodes)];
}

function acknowledgments(node: IConstruct): [string, string][] {
  return node.node.metadata
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
    .map(([id, reason]) => [id.replace(/^annotation::/i, ''), reason]);
}

describe.each(Object.entries(variants))('cdk-nag AwsSolutions over %s', (_, synth) => {
  const stacks: Stack[] = [synth.controlPlane, ...synth.workloads];
  // Synthesize first, so that aspects (tags) have run, as they have when cdk-nag runs at synth.
  synth.app.synth();

  it.each(stacks.map((stack) => [stack.stackName, stack] as const))(
    '%s has no unacknowledged finding',
    (_name, stack) => {
      const report = new AwsSolutionsChecks().validateScope(stack);
      expect(
        report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath)}`),
      ).toEqual([]);
      expect(report.success).toBe(true);
    },
  );

  it('acknowledges findings only on the resource that has them, never on a stack, each with its own reason', () => {
    const seen: string[] = [];
    for (const stack of stacks) {
      for (const node of allNodes(stack)) {
        for (const [id, reason] of acknowledgments(node)) {
          seen.push(id);
          expect(Stack.isStack(node)).toBe(false);
          expect(reason.length).toBeGreaterThan(60);
          const resource = CfnResource.isCfnResource(node) ? node : node.node.defaultChild;
          expect(resource && CfnResource.isCfnResource(resource)).toBe(true);
          const wildcard = /^AwsSolutions-IAM5\[Resource::(.+)\]$/.exec(id)?.[1];
          if (wildcard) {
            // The acknowledged wildcard is a resource of an Allow statement of this very policy.
            const props = stack.resolve(
              (resource as CfnResource & { policyDocument: unknown }).policyDocument,
            ) as {
              Statement: { Effect: string; Resource: unknown }[];
            };
            const allowed = props.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) =>
              [s.Resource].flat().map(flattenCfnReference),
            );
            expect(allowed).toContain(wildcard);
          } else {
            expect(id).toMatch(
              /^(AwsSolutions-(IAM5\[Action::\*\]|EC23|SQS3)|CloudFormation-Validate::W2508)$/,
            );
          }
        }
      }
    }
    expect(seen.length).toBeGreaterThan(0);
  });
});
