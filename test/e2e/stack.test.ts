/**
 * The local stack's secrets (issue 11, item 7): each stack makes its own bot token and signing
 * secret, so nothing else on the machine can call its stand-in as the bot or sign a click for it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../functions/local/compose.js';
import { ContainerdSandbox } from '../../functions/local/sandbox/containerd.js';
import { describeWithContainerd } from '../support/containerd.js';

describeWithContainerd('two local stacks', () => {
  let sandbox: ContainerdSandbox;
  let a: LocalStack;
  let b: LocalStack;

  beforeAll(async () => {
    sandbox = await ContainerdSandbox.start();
    a = await startLocalStack({ sandbox });
    b = await startLocalStack({ sandbox });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sandbox?.dispose();
  });

  /** `auth.test` against a stack's stand-in with a token, as the app's WebClient calls it. */
  async function authTest(stack: LocalStack, token: string): Promise<{ ok: boolean; error?: string }> {
    const res = await fetch(`${stack.standIn.apiUrl}auth.test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    return (await res.json()) as { ok: boolean; error?: string };
  }

  it('have different random bot tokens and signing secrets, none of them a fixed value', () => {
    expect(a.botToken).toMatch(/^xoxb-local-[0-9a-f]{32}$/);
    expect(b.botToken).toMatch(/^xoxb-local-[0-9a-f]{32}$/);
    expect(a.botToken).not.toBe(b.botToken);
    expect([a.botToken, b.botToken]).not.toContain('xoxb-local-demo-token');
    expect(a.signingSecret).not.toBe(b.signingSecret);
    expect(a.signingSecret.length).toBeGreaterThanOrEqual(32);
  });

  it("each stand-in accepts its own stack's token only", async () => {
    expect(await authTest(a, a.botToken)).toMatchObject({ ok: true });
    expect(await authTest(b, a.botToken)).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await authTest(a, 'xoxb-local-demo-token')).toEqual({ ok: false, error: 'invalid_auth' });
  });
});
