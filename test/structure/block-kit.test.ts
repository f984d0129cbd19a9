/**
 * All Block Kit is built in the one renderer (functions/core/render, style item 8): everything
 * posted to Slack is escaped and kept within Slack's limits in one place, and typed there with
 * `@slack/types`. This check reads every source file outside the renderer with TypeScript's own
 * parser and refuses the two shapes inline Block Kit takes:
 *
 * - an object literal whose `type` is a Block Kit block, element or text object type
 *   (`{ type: 'section', … }`, `{ type: 'mrkdwn', text }`);
 * - a `blocks` property given an array literal with an element of its own (`blocks: [x]`, even
 *   from the renderer's helpers). `blocks: []` (a text-only message) and a copy of rendered
 *   blocks (`blocks: [...message.blocks]`) build no Block Kit and stay allowed.
 *
 * One directory is exempt: the Slack stand-in (functions/local/slack-standin) plays Slack itself,
 * and builds the payloads Slack sends (a click names the button it came from).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** Where Block Kit may be built: the renderer, and the stand-in that plays Slack. */
const ALLOWED = ['functions/core/render/', 'functions/local/slack-standin/'];

/**
 * Block Kit `type` values (docs.slack.dev/reference/block-kit): blocks, interactive elements and
 * composition objects. `message`, `block_actions`, `event_callback` are Slack payload types, not
 * Block Kit, and are not listed.
 */
const BLOCK_KIT_TYPES: ReadonlySet<string> = new Set([
  // blocks
  'actions',
  'context',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'table',
  'video',
  // elements
  'button',
  'checkboxes',
  'datepicker',
  'datetimepicker',
  'email_text_input',
  'number_input',
  'overflow',
  'plain_text_input',
  'radio_buttons',
  'static_select',
  'multi_static_select',
  'timepicker',
  'url_text_input',
  // composition objects
  'mrkdwn',
  'plain_text',
]);

/** One piece of inline Block Kit: where, and what. */
interface InlineBlockKit {
  readonly file: string;
  readonly line: number;
  readonly what: string;
}

const nameOf = (name: ts.PropertyName): string | null =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : null;

/** Inline Block Kit in `files` (repository-relative path with `/` → source text). */
function inlineBlockKit(files: Readonly<Record<string, string>>): InlineBlockKit[] {
  const found: InlineBlockKit[] = [];
  for (const [file, text] of Object.entries(files)) {
    if (ALLOWED.some((dir) => file.startsWith(dir))) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const at = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAssignment(node)) {
        const name = nameOf(node.name);
        const value = node.initializer;
        if (name === 'type' && ts.isStringLiteralLike(value) && BLOCK_KIT_TYPES.has(value.text)) {
          found.push({ file, line: at(node), what: `a '${value.text}' object` });
        }
        if (
          name === 'blocks' &&
          ts.isArrayLiteralExpression(value) &&
          value.elements.some((e) => !ts.isSpreadElement(e))
        ) {
          found.push({ file, line: at(node), what: 'a blocks array' });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

/** Every TypeScript source under `dir`, repository-relative. */
function sources(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const path = join(entry.parentPath, entry.name);
    files[relative(ROOT, path).split(sep).join('/')] = readFileSync(path, 'utf8');
  }
  return files;
}

describe('Block Kit is built in the renderer only', () => {
  it('finds no inline Block Kit in functions/ outside functions/core/render', () => {
    const files = sources('functions');
    expect(Object.keys(files).length).toBeGreaterThan(50); // the walk did read the tree
    expect(inlineBlockKit(files)).toEqual([]);
  });

  it.each([
    [
      "a mention's reply built in its listener",
      'functions/slack/listeners/mention.ts',
      "await chat.post(c, { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] }, ts);",
      ['a blocks array', "a 'section' object", "a 'mrkdwn' object"],
    ],
    [
      'a refusal built in a use case, as a variable',
      'functions/app/approval.ts',
      "const note = { type: 'context', elements: [] };",
      ["a 'context' object"],
    ],
    [
      'a button built in a handler',
      'functions/handlers/x.ts',
      "export const b = { 'type': 'button', action_id: 'x' };",
      ["a 'button' object"],
    ],
    [
      "blocks assembled from the renderer's helpers",
      'functions/app/x.ts',
      'await chat.post(c, { text, blocks: [section(text), ...more] });',
      ['a blocks array'],
    ],
  ])('refuses %s', (_what, file, text, expected) => {
    expect(inlineBlockKit({ [file]: text }).map((f) => f.what)).toEqual(expected);
  });

  it.each([
    [
      'the same blocks in the renderer',
      'functions/core/render/x.ts',
      "export const m = { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };",
    ],
    ['a text-only message', 'functions/app/steps.ts', "await chat.post(c, { text: 'x', blocks: [] });"],
    ['a rendered message', 'functions/app/x.ts', 'await chat.post(c, { text, blocks: rendered.blocks });'],
    ['a copy of rendered blocks', 'functions/adapters/slack/x.ts', 'send({ blocks: [...message.blocks] });'],
    [
      'other payload types',
      'functions/app/x.ts',
      "const e = { type: 'message' }; const t = { type: 'string' };",
    ],
    [
      'the stand-in building what Slack sends',
      'functions/local/slack-standin/server.ts',
      "const action = { type: 'button', action_id: 'nm_deny' };",
    ],
  ])('allows %s', (_what, file, text) => {
    expect(inlineBlockKit({ [file]: text })).toEqual([]);
  });

  it('names the file and line', () => {
    expect(inlineBlockKit({ 'functions/app/x.ts': "\n\nconst d = { type: 'divider' };" })).toEqual([
      { file: 'functions/app/x.ts', line: 3, what: "a 'divider' object" },
    ]);
  });
});
