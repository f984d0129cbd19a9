import { describe, expect, it } from 'vitest';
import { escapeMrkdwn, renderOutcome } from '../../functions/core/render/slack.js';
import { chatLine, plainText } from '../../functions/local/terminal.js';
import { incident } from '../slack/support.js';

const NAMES = { users: { U0ALICE: 'alice' }, groups: { S0ONCALL: 'on-call' } };

describe('plainText: Slack mrkdwn as a terminal prints it', () => {
  it.each([
    ['a group mention, by its handle', '<!subteam^S0ONCALL> Cluster local', '@on-call Cluster local'],
    ['a group mention nobody named', '<!subteam^S0OTHER> look', '@S0OTHER look'],
    ['a group mention with its label', '<!subteam^S0OTHER|@db-team> look', '@db-team look'],
    ['a user mention, by name', 'approved by <@U0ALICE>', 'approved by @alice'],
    ['a user mention nobody named', 'approved by <@U0BOB>', 'approved by @U0BOB'],
    ['a user mention with its label', '<@U0BOB|bob>', '@bob'],
    ['@here, @channel, @everyone', '<!here> <!channel> <!everyone>', '@here @channel @everyone'],
    ['a channel link', 'see <#C0OPS|ops> and <#C0X>', 'see #ops and #C0X'],
    [
      'a labelled link',
      'read <https://example.com/runbook|the runbook>',
      'read the runbook (https://example.com/runbook)',
    ],
    ['a bare link', '<https://example.com/a?b=1&amp;c=2>', 'https://example.com/a?b=1&c=2'],
    [
      'a date, as its fallback',
      'at <!date^1795773900^{date_short_pretty} {time}|2026-11-27T10:05:00.000Z>',
      'at 2026-11-27T10:05:00.000Z',
    ],
    ['escaped text', '1 &lt; 2 &amp;&amp; 3 &gt; 2, and &amp;lt; stays', '1 < 2 && 3 > 2, and &lt; stays'],
    [
      'escaped markup from a node, which stays text',
      '&lt;!channel&gt; &lt;@U0ALICE&gt;',
      '<!channel> <@U0ALICE>',
    ],
    ['emphasis and emoji, left as written', ':x: *Fix failed* _slow_ `ctr`', ':x: *Fix failed* _slow_ `ctr`'],
  ])('turns %s into plain text', (_what, mrkdwn, plain) => {
    expect(plainText(mrkdwn, NAMES)).toBe(plain);
  });

  it('shows control characters a terminal would act on as ?, and keeps line breaks', () => {
    expect(plainText('red \u001b[31mtext\u0007\nnext\tcell\u009b', NAMES)).toBe(
      'red ?[31mtext?\nnext\tcell?',
    );
  });

  it('never takes a name from the prototype', () => {
    expect(plainText('<@constructor> <!subteam^__proto__>', NAMES)).toBe('@constructor @__proto__');
  });
});

describe('chatLine', () => {
  it('prints a rendered escalation readably, markup and escapes gone, on one line', () => {
    const message = renderOutcome(incident(), {
      kind: 'escalated',
      detail: 'stderr: <!channel> & more\nsecond line',
      mentionUserGroup: 'S0ONCALL',
    });
    const line = chatLine(message.text, NAMES);
    expect(message.text).toContain('<!subteam^S0ONCALL>');
    expect(message.text).toContain(escapeMrkdwn('<!channel> & more'));
    expect(line).toBe(
      '@on-call escalated: i-0abc12345678def01 (ip-10-0-1-23.ec2.internal): stderr: <!channel> & more second line',
    );
  });

  it('cuts at the given length', () => {
    expect(chatLine(`<!here> ${'x'.repeat(300)}`, NAMES, 20)).toBe(`@here ${'x'.repeat(14)}`);
  });
});
