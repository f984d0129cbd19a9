// biome-ignore-all lint/suspicious/noExplicitAny: synthesized CloudFormation templates are untyped JSON
/**
 * Shared helpers for the infra specs: synthesize nodemedic without bundling (esbuild is skipped
 * through the `aws:cdk:bundling-stacks` context, as CDK documents), and turn the synthesized state
 * machine definition into plain ASL with fake ARNs in place of CloudFormation references.
 */
import { GetCommandInvocationCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { SdkIntegration } from '../../functions/local/asl.js';
import { NodeMedic, type NodeMedicProps } from '../../infra/nodemedic.js';

/** Props every spec starts from: a valid channel and one cluster. */
const BASE_PROPS: NodeMedicProps = {
  slackChannelId: 'C0123456789',
  clusterNames: ['prod', 'stage'],
  onCallUserGroupId: 'S0123456789',
  onCallAllowList: ['U0123456789'],
};

/** A stack holding one NodeMedic with `props` over BASE_PROPS, synthesized without bundling. */
export function synthNodeMedic(props: Partial<NodeMedicProps> = {}): {
  app: App;
  stack: Stack;
  nodemedic: NodeMedic;
  template: Template;
} {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Spec');
  const nodemedic = new NodeMedic(stack, 'NodeMedic', { ...BASE_PROPS, ...props });
  return { app, stack, nodemedic, template: Template.fromStack(stack) };
}

/** The fake ARN a function's Ref/GetAtt resolves to in definitionOf. */
function fakeFunctionArn(logicalId: string): string {
  return `arn:aws:lambda:eu-west-1:123456789012:function:${logicalId}`;
}

/** Each function's fake ARN (as definitionOf resolves it), mapped to its handler name. */
export function handlersByArn(stack: Stack, nodemedic: NodeMedic): Record<string, string> {
  return Object.fromEntries(
    Object.entries(nodemedic.functions).map(([handler, fn]) => [
      fakeFunctionArn(stack.getLogicalId(fn.node.defaultChild as never)),
      handler,
    ]),
  );
}

/** Resources of one type, as `[logicalId, resource]` pairs. */
export function resourcesOf(
  template: Template,
  type: string,
): [string, { Properties: Record<string, any> }][] {
  return Object.entries(template.findResources(type)) as [string, { Properties: Record<string, any> }][];
}

/**
 * Replace CloudFormation intrinsics with plain strings: `Fn::Join` joined, `Ref`/`GetAtt` of a
 * function → a fake Lambda ARN, pseudo parameters → fixed values. Enough for asl-validator, which
 * checks ARNs syntactically.
 */
function resolveIntrinsics(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  if (Array.isArray(node['Fn::Join'])) {
    const [sep, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(resolveIntrinsics).join(sep);
  }
  if (Array.isArray(node['Fn::GetAtt'])) {
    const [logicalId] = node['Fn::GetAtt'] as [string, string];
    return fakeFunctionArn(logicalId);
  }
  if (typeof node.Ref === 'string') {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': 'eu-west-1',
      'AWS::AccountId': '123456789012',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[node.Ref] ?? `fake-${node.Ref}`;
  }
  throw new Error(`unexpected intrinsic in the definition: ${JSON.stringify(value).slice(0, 200)}`);
}

/** A state of the ASL definition (only the fields the specs read). */
export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, any>;
  TimeoutSeconds?: number;
  SecondsPath?: string;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number; BackoffRate?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string }[];
  Choices?: Record<string, any>[];
  Default?: string;
  [key: string]: unknown;
}

/** The state machine's definition as an object, intrinsics resolved. */
export function definitionOf(template: Template): {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, AslState>;
} {
  const [[, machine]] = resourcesOf(template, 'AWS::StepFunctions::StateMachine') as [[string, any]];
  return JSON.parse(resolveIntrinsics(machine.Properties.DefinitionString));
}

/**
 * The state machine's `ssm:getCommandInvocation` answered by an SSM client (aws-sdk-client-mock in
 * the specs): the SDK's output as Step Functions returns it, and a failure named as Step Functions
 * names SDK errors, `Ssm.` and the exception's name with the `Exception` suffix it always carries
 * there (`InvocationDoesNotExist` → `Ssm.InvocationDoesNotExistException`).
 * https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
 */
export function ssmIntegration(client: SSMClient): SdkIntegration {
  return async (parameters) => {
    try {
      const { $metadata: _, ...output } = await client.send(
        new GetCommandInvocationCommand(parameters as { CommandId: string; InstanceId: string }),
      );
      return output;
    } catch (error) {
      const name = (error as Error).name;
      throw Object.assign(new Error((error as Error).message), {
        name: `Ssm.${name}${name.endsWith('Exception') ? '' : 'Exception'}`,
      });
    }
  };
}
