/**
 * `npm run demo -- --port 0`, exactly as the README gives it (issue 14): the test starts the real
 * command as a child process, opens the page it prints in Debian's chromium, and plays the incident
 * as a person would. mallory's click is refused; alice's Approve runs the fix on the real containerd
 * the demo started; the card reaches "Recovered" and stays there with the page still live. Then a
 * second fault goes in from the page's game-day console, and that incident is fixed as well; a third
 * is ended by the console's "Reset node". Ctrl-C
 * (SIGINT to the demo's process group, as a terminal sends it) must leave no sandbox daemon and no
 * sandbox dir behind.
 *
 * The screenshots of the README come from here: each run writes them to a temp dir (printed), and
 * to docs/ when UPDATE_SCREENSHOT=1 or when they are missing. The page's timeline (click →
 * Recovered) is printed for each incident.
 *
 * A last suite stops the demo the way a process manager would, with a SIGTERM to npm alone.
 *
 * Without chromium or containerd the suites are skipped locally and fail under CI=true.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_USERS } from '../../functions/local/compose.js';
import { describeWithContainerd } from '../support/containerd.js';
import { CHROMIUM, CHROMIUM_ARGS, requireTools } from './chromium.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs');
const SCREENSHOTS = { findings: 'demo-findings.png', recovered: 'demo-recovered.png' } as const;
const REPO = join(import.meta.dirname, '..', '..');

/** The demo as a child process, with everything it printed so far. */
interface Demo {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<number | null>;
}

/** Start `npm run demo -- ARGS` in a process group of its own (a terminal's job), TMPDIR=tmp. */
function startDemo(args: string[], tmp: string): Demo {
  const child = spawn('npm', ['run', 'demo', '--', ...args], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: tmp, FORCE_COLOR: '0' },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const demo: Demo = { child, output: '', exited };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    demo.output += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    demo.output += d;
  });
  return demo;
}

/** Wait until the demo printed a line matching `re` (its first group), or fail with its output. */
async function printed(demo: Demo, re: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = re.exec(demo.output);
    if (m) return m[1]!;
    if (demo.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the demo did not print ${re} within ${timeoutMs} ms:\n${demo.output.slice(-3000)}`);
}

/** True while any process of the group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line names `needle` (the demo's TMPDIR): daemons it left, if any. */
function processesUnder(needle: string): string {
  return spawnSync('pgrep', ['-af', needle], { encoding: 'utf8' }).stdout.trim();
}

/** The hard open-file limit of the sandbox's containerd, from its pid file and /proc. */
function daemonNofile(sandboxDir: string): number {
  const pid = readFileSync(join(sandboxDir, 'run', 'containerd.pid'), 'utf8').trim();
  const row = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((line) => line.startsWith('Max open files'));
  return Number(row?.trim().split(/\s+/)[4]);
}

/** What a person sees in an element: rendered text, line breaks included, hidden parts left out. */
function text(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, and the rendered text is the point
  return locator.innerText();
}

describe.skipIf(!requireTools(true))('npm run demo -- --port 0, in chromium', () => {
  let tmp: string;
  let artifacts: string;
  let demo: Demo;
  let browser: Browser;
  let tab: Page;
  let url: string;
  let sandboxDir: string;
  let injectedLimit: number;
  let firstFindingsTs: string;
  const timeline: string[] = [];

  beforeAll(async () => {
    // The demo's sandboxes go under a dir of its own, so the leftover check cannot mistake another
    // suite's sandbox (vitest runs files side by side) for one the demo left behind.
    tmp = await mkdtemp(join(tmpdir(), 'nm-rehearsal-'));
    artifacts = await mkdtemp(join(tmpdir(), 'nodemedic-e2e-'));
    demo = startDemo(['--port', '0'], tmp);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);
  afterEach(async (context) => {
    // What the terminal and the page said is the first thing to read when a step failed.
    if (context.task.result?.state !== 'fail') return;
    const said = async (id: string) =>
      (await tab
        .getByTestId(id)
        .textContent({ timeout: 1_000 })
        .catch(() => null)) ?? '-';
    console.info(`page toast: ${await said('toast')}\npage console: ${await said('console-status')}`);
    console.info(`demo output:\n${demo.output.slice(-6000)}`);
  });
  afterAll(async () => {
    await browser?.close();
    // A failed test may leave the demo running: stop it as Ctrl-C would, then for good.
    if (demo?.child.pid && groupAlive(demo.child.pid)) {
      process.kill(-demo.child.pid, 'SIGINT');
      const deadline = Date.now() + 20_000;
      while (groupAlive(demo.child.pid) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      if (groupAlive(demo.child.pid)) process.kill(-demo.child.pid, 'SIGKILL');
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
    if (timeline.length > 0) console.info(`e2e rehearsal timeline (page):\n  ${timeline.join('\n  ')}`);
    console.info(`e2e rehearsal screenshots: ${artifacts}`);
  });

  /** Save a screenshot to the artifacts, and to docs/ when asked to or when it is missing there. */
  async function screenshot(name: keyof typeof SCREENSHOTS): Promise<void> {
    const own = join(artifacts, SCREENSHOTS[name]);
    // From the top, where the console bar sits: it is sticky, and a full-page shot keeps it where
    // the scrolled window had it.
    await tab.evaluate('window.scrollTo(0, 0)');
    await tab.screenshot({ path: own, fullPage: true });
    const doc = join(DOCS, SCREENSHOTS[name]);
    if (process.env.UPDATE_SCREENSHOT === '1' || !existsSync(doc)) await copyFile(own, doc);
  }

  /** Press a fix as the user the page acts as; wait for the card's final phase; it must be Recovered. */
  async function approveUntilEnded(fix: string, incident: string): Promise<void> {
    const clicked = Date.now();
    await tab.getByTestId(`action-nm_fix:${fix}`).click();
    await tab
      .getByTestId('phase')
      .getByText(/^(Recovered|Escalated):/)
      .waitFor({ timeout: 240_000 });
    const seconds = ((Date.now() - clicked) / 1000).toFixed(1);
    timeline.push(`${incident}: Approve click → Recovered on the page: ${seconds} s`);
    expect(await text(tab.getByTestId('phase')), demo.output.slice(-3000)).toMatch(/^Recovered:/);
  }

  it('prints the page address, and the page shows the findings of the fault it injected', async () => {
    url = await printed(demo, /open the Slack stand-in page: (http:\/\/127\.0\.0\.1:\d+\/)/, 60_000);
    expect(url).not.toContain(':8787/');
    sandboxDir = await printed(demo, /containerd sandbox up in (\S+)/, 1_000);
    const opened = Date.now();
    await tab.goto(url);
    await tab.getByTestId('action-nm_fix:raise-nofile').waitFor({ timeout: 120_000 });
    timeline.push(`page opened → findings visible: ${((Date.now() - opened) / 1000).toFixed(1)} s`);
    injectedLimit = daemonNofile(sandboxDir);

    const findings = tab.getByTestId('findings');
    expect(await text(findings)).toContain('fd-exhaustion');
    // At the limit, or past it when prlimit lowered it under fds already open.
    expect(await text(findings)).toMatch(/open-file limit \((\d+ of \d+|\d+ open, soft limit \d+)\)/);
    await tab
      .getByTestId('phase')
      .getByText(/^Awaiting approval: i-0de30c0ffee000001/)
      .waitFor({ timeout: 10_000 });
    expect(await text(tab.getByTestId('banner'))).toContain('node cooldown 0 min (15 in AWS)');
    expect(await text(tab.getByTestId('console-status'))).toContain('Inject waits: an incident is open');
    expect(await tab.getByTestId('inject').isDisabled()).toBe(true);
    firstFindingsTs = (await findings.getAttribute('data-ts'))!;
    await screenshot('findings');
  }, 180_000);

  it('refuses the fix pressed by mallory (not on call), tells only her, and runs nothing', async () => {
    await tab.getByTestId('user-picker').selectOption(LOCAL_USERS.visitor);
    await tab.getByTestId('action-nm_fix:raise-nofile').click();
    const refusal = tab.getByTestId('ephemeral');
    await refusal.waitFor();
    expect(await text(refusal)).toContain('Only visible to you');
    expect(await text(refusal)).toMatch(/on-call group.*refused/);
    expect(await text(tab.getByTestId('phase'))).toMatch(/^Awaiting approval/);
    expect(daemonNofile(sandboxDir)).toBe(injectedLimit);

    await tab.getByTestId('user-picker').selectOption(LOCAL_USERS.onCall);
    // A locator, not waitForFunction with a string: the page's CSP (script-src 'self') refuses the
    // eval Playwright polls a string predicate with whenever it is not true at the first look.
    await tab.getByTestId('ephemeral').first().waitFor({ state: 'detached' });
  });

  it('runs the fix alice approves: the card reaches Recovered and stays there, the page still live', async () => {
    await approveUntilEnded('raise-nofile', 'incident 1 (fd-exhaustion)');
    expect(await text(tab.getByTestId('findings'))).toMatch(/Approved .* by @alice \(on call\)/);
    expect(daemonNofile(sandboxDir)).toBeGreaterThan(injectedLimit);

    // The demo keeps serving: seconds later the card still says Recovered and the page is live.
    await tab.waitForTimeout(5_000);
    expect(await text(tab.getByTestId('phase'))).toMatch(/^Recovered:/);
    expect(await text(tab.getByTestId('connection'))).toBe('live');
    expect(await text(tab.getByTestId('console-status'))).toMatch(/^Incident ended: recovered/);
    expect(demo.child.exitCode).toBeNull();
    expect(demo.output).toMatch(/incident ended: recovered/);
    expect(demo.output).toMatch(/the page stays up at http:\/\/127\.0\.0\.1:\d+\/.*Ctrl-C stops the demo/);
    await screenshot('recovered');
  }, 300_000);

  it('injects a second fault from the page: a fresh alarm, new findings, fixed again', async () => {
    await tab.getByTestId('fault-picker').selectOption('grpc-limits');
    expect(await text(tab.getByTestId('fault-description'))).toContain('max_recv_message_size');
    await tab.getByTestId('inject').click();
    await tab.getByTestId('action-nm_fix:raise-grpc-message-size').waitFor({ timeout: 120_000 });
    const findings = tab.getByTestId('findings');
    expect(await findings.getAttribute('data-ts')).not.toBe(firstFindingsTs);
    expect(await text(findings)).toContain('grpc-limits');
    // The card is updated right after the findings are posted.
    await tab
      .getByTestId('phase')
      .getByText(/^Awaiting approval/)
      .waitFor({ timeout: 10_000 });
    // The first incident's card is still in the channel, still Recovered.
    expect(await tab.getByText(/^Recovered: i-0de30c0ffee000001/).count()).toBe(1);

    await approveUntilEnded('raise-grpc-message-size', 'incident 2 (grpc-limits)');
  }, 300_000);

  it('resets the node from the page: the daemon answers again and the open incident closes', async () => {
    await tab.getByTestId('fault-picker').selectOption('daemon-stopped');
    await tab.getByTestId('inject').click();
    await tab.getByTestId('action-nm_fix:restart-containerd').waitFor({ timeout: 120_000 });
    expect(await text(tab.getByTestId('findings'))).toContain('containerd-down');
    expect(existsSync(join(sandboxDir, 'containerd.sock'))).toBe(false);

    await tab.getByTestId('reset-node').click();
    const status = tab.getByTestId('console-status');
    await status
      .getByText(/^(Node reset to a healthy containerd|resetting the node failed)/)
      .waitFor({ timeout: 90_000 });
    expect(await text(status)).toMatch(/^Node reset to a healthy containerd; the open incident closed/);
    await tab
      .getByTestId('phase')
      .getByText(/^Recovered:/)
      .waitFor({ timeout: 10_000 });
    expect(await text(tab.getByTestId('findings'))).toContain('No longer needed');
    expect(existsSync(join(sandboxDir, 'containerd.sock'))).toBe(true);
    expect(await tab.getByTestId('inject').isEnabled()).toBe(true);
  }, 180_000);

  it('on Ctrl-C stops, leaving no sandbox daemon and no sandbox dir', async () => {
    const pgid = demo.child.pid!;
    process.kill(-pgid, 'SIGINT');
    await demo.exited;
    const deadline = Date.now() + 30_000;
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(groupAlive(pgid)).toBe(false);
    expect(demo.output).toContain('stopped: nothing the demo started is left');
    expect(processesUnder(`${tmp}/nodemedic-sb-`)).toBe('');
    expect(readdirSync(tmp).filter((name) => name.startsWith('nodemedic-sb-'))).toEqual([]);
    // The page is gone with the demo.
    await expect(fetch(url)).rejects.toThrow();
  }, 60_000);
});

describeWithContainerd('npm run demo, when only npm gets a SIGTERM (a process manager, `timeout`)', () => {
  it('notices that npm is gone, cleans up and leaves no sandbox daemon or dir', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'nm-rehearsal-term-'));
    const demo = startDemo(['--port', '0', '--fault', 'daemon-stopped'], tmp);
    const pgid = demo.child.pid!;
    try {
      await printed(demo, /alarm fired for \S+ \(\S+\): (opened)/, 60_000);
      // npm passes a SIGTERM on to nobody: sh and npm end, the demo below them would serve on.
      process.kill(pgid, 'SIGTERM');
      await demo.exited;
      const deadline = Date.now() + 30_000;
      while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(groupAlive(pgid), demo.output.slice(-3000)).toBe(false);
      expect(demo.output).toContain('the npm process that started the demo ended');
      expect(demo.output).toContain('stopped: nothing the demo started is left');
      expect(processesUnder(`${tmp}/nodemedic-sb-`)).toBe('');
      expect(readdirSync(tmp).filter((name) => name.startsWith('nodemedic-sb-'))).toEqual([]);
    } finally {
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
      await rm(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
