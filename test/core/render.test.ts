import { describe, expect, it } from 'vitest';
import { INCIDENT_PHASES } from '../../functions/core/incident.js';
import type { Report } from '../../functions/core/model.js';
import { getRemediation, REMEDIATION_LIST } from '../../functions/core/remediations/index.js';
import {
  ACTION_IDS,
  decisionText,
  renderCard,
  renderDecision,
  renderFindings,
  renderHelp,
  renderOutcome,
  renderRefusal,
  renderReply,
} from '../../functions/core/render/slack.js';
import { blockProblems } from '../../functions/local/slack-standin/server.js';
import { finding, incident } from '../slack/support.js';

type Block = {
  type: string;
  text?: { text: string };
  elements?: {
    action_id?: string;
    value?: string;
    text?: { text: string };
    style?: string;
    confirm?: unknown;
  }[];
  fields?: { text: string }[];
};

const blocksOf = (m: { blocks: readonly unknown[] }) => m.blocks as Block[];
const textsOf = (m: { blocks: readonly unknown[] }) =>
  blocksOf(m).flatMap((b) => [
    ...(b.text ? [b.text.text] : []),
    ...(b.fields ?? []).map((f) => f.text),
    ...(b.elements ?? []).flatMap((e) => ('text' in e && typeof e.text === 'string' ? [e.text] : [])),
  ]);
const buttonsOf = (m: { blocks: readonly unknown[] }) =>
  blocksOf(m)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);
const report = (over: Partial<Report> = {}): Report => ({
  healthy: false,
  findings: [finding()],
  notes: [],
  facts: {},
  ...over,
});

describe('renderCard', () => {
  it.each(INCIDENT_PHASES)('has its own look for phase %s, within Slack limits', (phase) => {
    const card = renderCard(incident({ phase }));
    expect(blockProblems(card.blocks)).toEqual([]);
    const others = INCIDENT_PHASES.filter((p) => p !== phase).map((p) => renderCard(incident({ phase: p })));
    expect(others.map((o) => JSON.stringify(o.blocks[0]))).not.toContain(JSON.stringify(card.blocks[0]));
    expect(card.text).toContain('i-0abc12345678def01');
  });

  it('adds the note and says who approved while fixing', () => {
    const card = renderCard(
      incident({
        phase: 'fixing',
        requested: { remediation: 'restart-containerd', by: 'U0ALICE' },
        approvals: [{ remediation: 'restart-containerd', user: 'U0ALICE', at: '2026-11-27T10:05:00.000Z' }],
      }),
      { note: 'Closed: <@U0BOB> is handling it.' },
    );
    const text = textsOf(card).join('\n');
    expect(text).toContain('Restart containerd');
    expect(text).toContain('<@U0ALICE>');
    expect(text).toContain('Closed: <@U0BOB> is handling it.');
  });

  it('escapes alarm and node names, which come from outside', () => {
    const card = renderCard(incident({ alarmName: '<!channel> & <@U0EVIL>' }));
    const json = JSON.stringify(card.blocks);
    expect(json).not.toContain('<!channel>');
    expect(json).toContain('&lt;!channel&gt; &amp; &lt;@U0EVIL&gt;');
  });
});

describe('renderFindings', () => {
  const ctx = {
    incident: incident(),
    offered: ['raise-nofile', 'restart-containerd'] as const,
    manual: [],
    held: null,
  };

  it('gives one button per offered fix, stating its tier, plus deny and re-run', () => {
    const m = renderFindings(report(), { ...ctx, offered: [...ctx.offered] });
    const buttons = buttonsOf(m);
    expect(buttons.map((b) => b.action_id)).toEqual([
      'nm_fix:raise-nofile',
      'nm_fix:restart-containerd',
      ACTION_IDS.deny,
      ACTION_IDS.rerun,
    ]);
    expect(buttons[0]?.text?.text).toContain('disruptive');
    expect(buttons[1]?.text?.text).toContain('safe');
    expect(buttons.every((b) => b.value === ctx.incident.id)).toBe(true);
    expect(blockProblems(m.blocks)).toEqual([]);
  });

  it('puts a confirm dialog on destructive fixes only', () => {
    const m = renderFindings(report(), {
      ...ctx,
      offered: ['reset-state', 'replace-node', 'restart-containerd'],
    });
    const [reset, replace, restart] = buttonsOf(m);
    expect(reset?.confirm).toBeDefined();
    expect(reset?.style).toBe('danger');
    expect(reset?.text?.text).toContain('destructive');
    expect(replace?.confirm).toBeDefined();
    expect(restart?.confirm).toBeUndefined();
  });

  it('keeps every button label within 75 characters for every remediation', () => {
    const runnable = REMEDIATION_LIST.filter((r) => r.tier !== 'manual').map((r) => r.id);
    const m = renderFindings(report(), { ...ctx, offered: runnable });
    for (const b of buttonsOf(m)) expect(b.text?.text.length).toBeLessThanOrEqual(75);
    expect(blockProblems(m.blocks)).toEqual([]);
  });

  it('shows no fix button when fixes are held, and says why', () => {
    const m = renderFindings(report(), {
      ...ctx,
      offered: ['restart-containerd'],
      held: { reason: 'cluster-hold', detail: '4 of 10 nodes NotReady (40% > 30%)' },
    });
    expect(buttonsOf(m).filter((b) => b.action_id?.startsWith(`${ACTION_IDS.fix}:`))).toEqual([]);
    expect(textsOf(m).join('\n')).toContain('cluster-hold');
    expect(textsOf(m).join('\n')).toContain('4 of 10 nodes NotReady');
  });

  it('lists manual remediations as text for a person, never as buttons', () => {
    const m = renderFindings(report(), { ...ctx, offered: [], manual: ['fix-config-manually'] });
    expect(buttonsOf(m)).toEqual([]);
    expect(textsOf(m).join('\n')).toContain(getRemediation('fix-config-manually').title);
  });

  it('truncates 60 findings to at most 50 blocks and says so', () => {
    const many = Array.from({ length: 60 }, (_, i) => finding({ summary: `finding number ${i}` }));
    const m = renderFindings(report({ findings: many, notes: ['a note'] }), {
      ...ctx,
      offered: [...ctx.offered],
      manual: ['fix-endpoint-mismatch'],
    });
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    expect(textsOf(m).join('\n')).toMatch(/… \d+ more findings not shown/);
    expect(buttonsOf(m).length).toBe(4); // the buttons survive the truncation
    expect(blockProblems(m.blocks)).toEqual([]);
  });

  it('cuts 10,000-character evidence to 3,000 characters per section and says so', () => {
    const long = finding({ evidence: [{ source: 'logs.containerd', text: 'x'.repeat(10_000) }] });
    const m = renderFindings(report({ findings: [long] }), { ...ctx, offered: [...ctx.offered] });
    for (const t of textsOf(m)) expect(t.length).toBeLessThanOrEqual(3000);
    expect(textsOf(m).join('\n')).toMatch(/more characters not shown/);
    expect(blockProblems(m.blocks)).toEqual([]);
  });

  it.each([
    ['a broadcast', '<!channel> wake up', '&lt;!channel&gt; wake up'],
    ['a user mention', 'ping <@U0EVIL>', 'ping &lt;@U0EVIL&gt;'],
    ['a link', '<http://evil.example|click me>', '&lt;http://evil.example|click me&gt;'],
    ['an ampersand', 'a && b', 'a &amp;&amp; b'],
  ])('escapes %s in quoted evidence', (_what, raw, escaped) => {
    const m = renderFindings(
      report({ findings: [finding({ evidence: [{ source: 'logs.containerd', text: raw }] })] }),
      {
        ...ctx,
        offered: [],
      },
    );
    const text = textsOf(m).join('\n');
    expect(text).toContain(escaped);
    expect(text).not.toContain(raw);
  });

  it('says "no finding" for a healthy report and "inconclusive" for an empty unhealthy one', () => {
    const healthy = renderFindings(report({ healthy: true, findings: [] }), { ...ctx, offered: [] });
    const unknown = renderFindings(report({ healthy: false, findings: [] }), { ...ctx, offered: [] });
    expect(textsOf(healthy).join('\n')).toContain('No finding');
    expect(textsOf(unknown).join('\n')).toContain('Inconclusive');
  });
});

describe('the notification text beside the blocks', () => {
  const evil = finding({ summary: 'endpoint <!channel> & more' });
  it.each([
    [
      'findings',
      () =>
        renderFindings(report({ findings: [evil] }), {
          incident: incident(),
          offered: [],
          manual: [],
          held: null,
        }),
    ],
    ['a decision', () => renderDecision(incident({ findings: [evil] }), 'Denied')],
    ['an outcome', () => renderOutcome(incident(), { kind: 'failed', detail: 'stderr: <!channel> & more' })],
  ])('escapes what came from a node in %s', (_what, render) => {
    const { text } = render();
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt; &amp; more');
  });
});

describe('renderDecision', () => {
  it('keeps the findings, turns the buttons into who decided what and when', () => {
    const text = decisionText('Approved', ['U0ALICE', 'U0BOB'], '2026-11-27T10:05:00.000Z', 'reset-state');
    const m = renderDecision(incident({ offered: ['reset-state'] }), text);
    expect(buttonsOf(m)).toEqual([]);
    const all = textsOf(m).join('\n');
    expect(all).toContain(`Approved *${getRemediation('reset-state').title}* by <@U0ALICE>, <@U0BOB>`);
    expect(all).toContain('<!date^1795773900^');
    expect(all).toContain('out of file descriptors');
    expect(blockProblems(m.blocks)).toEqual([]);
  });

  it('keeps the notes and the fixes for a person the findings message said, escaped', () => {
    const inc = incident({
      offered: ['restart-containerd'],
      notes: ['could not read logs (journalctl timed out) <!here>'],
      manual: ['replace-node'],
    });
    const m = renderDecision(
      inc,
      decisionText('Handled by a person', ['U0ALICE'], '2026-11-27T10:05:00.000Z'),
    );
    const all = textsOf(m).join('\n');
    expect(all).toContain('*Notes*\n• could not read logs (journalctl timed out) &lt;!here&gt;');
    expect(all).toContain(`*For a person* (nodemedic never guesses these)\n`);
    expect(all).toContain(getRemediation('replace-node').title);
    expect(buttonsOf(m)).toEqual([]);
    expect(blockProblems(m.blocks)).toEqual([]);
  });
});

describe('renderOutcome', () => {
  it.each(['recovered', 'not-recovered', 'skipped', 'failed', 'escalated'] as const)('renders %s', (kind) => {
    const m = renderOutcome(incident(), {
      kind,
      detail: 'containerd answers again',
      evidence: ['<b>1 of 65536</b>'],
    });
    expect(m.text).toContain(kind);
    expect(textsOf(m).join('\n')).toContain('&lt;b&gt;1 of 65536&lt;/b&gt;');
    expect(blockProblems(m.blocks)).toEqual([]);
  });

  it('mentions the on-call group only through its own field, and only a well-formed id', () => {
    const m = renderOutcome(incident(), {
      kind: 'escalated',
      detail: '<!subteam^S0EVIL> look',
      mentionUserGroup: 'S0ONCALL',
    });
    const text = textsOf(m).join('\n');
    expect(text).toMatch(/^<!subteam\^S0ONCALL> /);
    expect(text).toContain('&lt;!subteam^S0EVIL&gt;');
    const bad = renderOutcome(incident(), {
      kind: 'escalated',
      detail: 'x',
      mentionUserGroup: 'S0> <!channel',
    });
    expect(JSON.stringify(bad.blocks)).not.toContain('<!');
  });

  it('caps the evidence lines within the block limit and says how many were left out', () => {
    const evidence = Array.from({ length: 80 }, (_, i) => `line ${i}`);
    const m = renderOutcome(incident(), { kind: 'failed', detail: 'exit 1', evidence });
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    expect(textsOf(m).join('\n')).toMatch(/more evidence line\(s\) not shown/);
  });
});

describe('renderHelp', () => {
  it('lists the diagnose and help commands', () => {
    const text = textsOf(renderHelp()).join('\n');
    expect(text).toContain('@nodemedic diagnose');
    expect(text).toContain('@nodemedic help');
  });
});

describe('renderReply', () => {
  it("is one section of nodemedic's mrkdwn, the same text as the fallback", () => {
    const m = renderReply('I act only in <#C0OPS> (and threads there).');
    expect(m).toEqual({
      text: 'I act only in <#C0OPS> (and threads there).',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'I act only in <#C0OPS> (and threads there).' } },
      ],
    });
    expect(blockProblems(m.blocks)).toEqual([]);
  });

  it("stays within Slack's limits, and says what it cut", () => {
    const m = renderReply('x'.repeat(10_000));
    expect(m.text.length).toBeLessThanOrEqual(4000);
    expect(blockProblems(m.blocks)).toEqual([]);
    expect(textsOf(m)[0]).toMatch(/more characters not shown\)$/);
  });
});

describe('renderRefusal', () => {
  it('says who pressed what, why, and that nothing ran, as a context note', () => {
    const m = renderRefusal({ user: 'U0EVE', action: 'fix:restart-containerd', note: 'but is not on call' });
    expect(m).toEqual({
      text: 'Refused: <@U0EVE> pressed fix:restart-containerd but is not on call (logged).',
      blocks: [
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: ':no_entry: Refused: <@U0EVE> pressed `fix:restart-containerd` but is not on call. Logged; nothing ran.',
            },
          ],
        },
      ],
    });
  });

  it('escapes the action and shows a user that is no Slack id as text, not as a mention', () => {
    const m = renderRefusal({ user: '<!channel>', action: 'fix:<!here>', note: 'for <reasons>' });
    const all = [m.text, ...textsOf(m)].join('\n');
    expect(all).not.toMatch(/<!/);
    expect(m.text).toBe(
      'Refused: `&lt;!channel&gt;` pressed fix:&lt;!here&gt; for &lt;reasons&gt; (logged).',
    );
  });
});
