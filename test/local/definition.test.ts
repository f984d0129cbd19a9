/**
 * The local mode runs the definition the stack deploys: the state machine synthesized in the
 * NodeMedic construct and the one functions/local/definition.ts builds for the local runner are
 * the same document, state for state, once each function ARN is read as the handler it runs.
 */
import { describe, expect, it } from 'vitest';
import { HANDLERS } from '../../functions/app/contract.js';
import { DEFAULT_SAFETY_POLICY } from '../../functions/core/policy.js';
import { AslInterpreter } from '../../functions/local/asl.js';
import { localDefinition, localFunctionArn } from '../../functions/local/definition.js';
import { definitionOf, handlersByArn, synthNodeMedic } from '../infra/support.js';

/** Replace every function ARN in a definition by `handler:<name>`. */
function byHandler(definition: unknown, handlerOf: (arn: string) => string | undefined): unknown {
  return JSON.parse(JSON.stringify(definition), (_key, value: unknown) => {
    if (typeof value !== 'string' || !value.startsWith('arn:aws:lambda:')) return value;
    const handler = handlerOf(value);
    if (!handler) throw new Error(`a function ARN that maps to no handler: ${value}`);
    return `handler:${handler}`;
  });
}

describe('the local definition', () => {
  const { template, stack, nodemedic } = synthNodeMedic();
  const deployedArns = new Map(Object.entries(handlersByArn(stack, nodemedic)));

  it('is the synthesized stack definition, state for state', () => {
    const deployed = byHandler(definitionOf(template), (arn) => deployedArns.get(arn));
    const local = localDefinition(DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes);
    const mine = byHandler(local.definition, (arn) => local.functions[arn]);
    expect(mine).toEqual(deployed);
    // Not vacuous: the document is the whole flow, approval wait and its timeout included.
    const states = (mine as { States: Record<string, { TimeoutSeconds?: number }> }).States;
    expect(Object.keys(states).length).toBeGreaterThan(40);
    expect(states.AwaitApproval?.TimeoutSeconds).toBe(DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes * 60);
  });

  it('differs from a stack built with another approval timeout only in that timeout', () => {
    const local = localDefinition(DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes + 5);
    const deployed = definitionOf(template);
    expect(local.definition.States.AwaitApproval?.TimeoutSeconds).not.toBe(
      deployed.States.AwaitApproval?.TimeoutSeconds,
    );
  });

  it('names a handler for every function it invokes, and the interpreter accepts all of it', () => {
    const local = localDefinition(DEFAULT_SAFETY_POLICY.approvalTimeoutMinutes);
    for (const [arn, handler] of Object.entries(local.functions)) {
      expect(arn).toBe(localFunctionArn(handler));
      expect(Object.keys(HANDLERS)).toContain(handler);
    }
    // The interpreter checks the whole document at construction and refuses what it cannot run.
    expect(
      () =>
        new AslInterpreter({
          definition: local.definition,
          functions: local.functions,
          integrations: { 'ssm:getCommandInvocation': async () => ({}) },
          invoke: async () => ({}),
        }),
    ).not.toThrow();
    // Strict: an SDK integration nobody answers is refused, by name.
    expect(
      () =>
        new AslInterpreter({
          definition: local.definition,
          functions: local.functions,
          invoke: async () => ({}),
        }),
    ).toThrow(/aws-sdk:ssm:getCommandInvocation \(no integration answers ssm:getCommandInvocation\)/);
  });
});
