/**
 * The state machine definition the stack deploys, built for the local mode from the same construct
 * (infra/workflow.ts) in a throwaway CDK app: no second, hand-made sequence of steps exists. Each
 * function the definition invokes gets a fixed local ARN that names its handler, so the local
 * runner maps a task back to the step use case its Lambda wraps.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { NodemedicWorkflow, type WorkflowFunctions } from '../../infra/workflow.js';
import type { HandlerName } from '../app/contract.js';
import type { AslDefinition } from './asl.js';

/** The construct's function slots, by the handler each one runs (functions/handlers/<name>.ts). */
const SLOTS: Readonly<Record<keyof WorkflowFunctions, HandlerName>> = {
  reachability: 'reachability',
  send: 'send',
  poll: 'poll',
  analyze: 'analyze',
  awaitApproval: 'await-approval',
  evaluate: 'evaluate',
  outcome: 'outcome',
  escalate: 'escalate',
};

/** The ARN a handler's function has in a local definition. */
export function localFunctionArn(handler: HandlerName): string {
  return `arn:aws:lambda:local:000000000000:function:nodemedic-${handler}`;
}

/** A definition ready to run, with the handler behind each function ARN it invokes. */
export interface LocalDefinition {
  readonly definition: AslDefinition;
  readonly functions: Readonly<Record<string, HandlerName>>;
}

const built = new Map<number, LocalDefinition>();

/**
 * The deployed definition for an approval timeout (the safety policy's `approvalTimeoutMinutes`),
 * built once per process and value.
 */
export function localDefinition(approvalTimeoutMinutes: number): LocalDefinition {
  const cached = built.get(approvalTimeoutMinutes);
  if (cached) return cached;
  const app = new App();
  const stack = new Stack(app, 'NodemedicLocal', { env: { account: '000000000000', region: 'local' } });
  const functions = Object.fromEntries(
    Object.entries(SLOTS).map(([slot, handler]) => [
      slot,
      LambdaFunction.fromFunctionArn(stack, slot, localFunctionArn(handler)),
    ]),
  ) as unknown as WorkflowFunctions;
  const workflow = new NodemedicWorkflow(stack, 'Workflow', {
    functions,
    approvalTimeout: Duration.minutes(approvalTimeoutMinutes),
    logGroup: new LogGroup(stack, 'Logs'),
  });
  const cfn = workflow.stateMachine.node.defaultChild as CfnStateMachine;
  const definition = JSON.parse(resolvePseudo(stack.resolve(cfn.definitionString))) as AslDefinition;
  const result: LocalDefinition = {
    definition,
    functions: Object.fromEntries(
      Object.values(SLOTS).map((handler) => [localFunctionArn(handler), handler]),
    ),
  };
  built.set(approvalTimeoutMinutes, result);
  return result;
}

/**
 * The resolved definition string is an `Fn::Join` over the partition (task resources are
 * `arn:${AWS::Partition}:states:::…`); locally the partition is `aws`. Any other reference means
 * the definition grew a dependency the local mode cannot know, and is refused by name.
 */
function resolvePseudo(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  if (Array.isArray(node['Fn::Join'])) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(resolvePseudo).join(separator);
  }
  if (node.Ref === 'AWS::Partition') return 'aws';
  throw new Error(
    `the workflow definition references ${JSON.stringify(value).slice(0, 120)}, which the local mode cannot resolve`,
  );
}
