import { describe, expect, it } from 'vitest';
import { renderCommandCancelled, renderStepResult } from '../../functions/core/render/progress.js';

describe('renderStepResult', () => {
  it('escapes the detail quoted from the node and keeps it within a section', () => {
    const message = renderStepResult({
      purpose: 'fix',
      remediation: 'raise-nofile',
      ok: false,
      detail: `<!channel> & ${'x'.repeat(5000)}`,
    });
    const text = JSON.stringify(message.blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt; &amp;');
    const section = message.blocks[1] as { text: { text: string } };
    expect(section.text.text.length).toBeLessThanOrEqual(3000);
    expect(section.text.text).toMatch(/more characters not shown\)$/);
    expect(message.text).toMatch(/^fix of raise-nofile: failed/);
    expect(message.text).not.toContain('<!channel>');
    expect(message.text).toContain('&lt;!channel&gt; &amp;');
  });
});

describe('renderCommandCancelled', () => {
  it('escapes what SSM or the runner said, in the blocks and the fallback text', () => {
    const message = renderCommandCancelled({
      what: 'The fix command restart-containerd',
      commandId: 'cmd-1',
      detail: 'could not cancel it (<http://evil.example|Approve>)',
    });
    const shown = `${message.text}\n${JSON.stringify(message.blocks)}`;
    expect(shown).not.toContain('<http://evil');
    expect(shown).toContain('&lt;http://evil.example|Approve&gt;');
    expect(shown).toContain('The fix command restart-containerd (command cmd-1)');
  });
});
