/**
 * The CDK app (`cdk.json`: `npx tsx infra/app.ts`): the ready stack, with cdk-nag's AwsSolutions
 * pack registered as a policy-validation plugin so every synth checks it (errors fail synth and
 * land in cdk.out/policy-validation-report.json).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { NodeMedicStack, readSettings } from './stack.js';

const app = new App();
const settings = readSettings((key) => app.node.tryGetContext(key));
if (settings.defaulted.length > 0) {
  process.stderr.write(
    `nodemedic: no ${settings.defaulted.join(' / ')} in context; synthesizing with example values. ` +
      'Deploy with -c slackChannelId=C… -c clusterNames=prod,stage\n',
  );
}
new NodeMedicStack(app, 'NodeMedic', {
  settings,
  description:
    'nodemedic: diagnoses NotReady Kubernetes nodes (containerd) and runs approved fixes from Slack',
  // Environment-agnostic: synth works offline without credentials (account/region resolve at deploy).
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
