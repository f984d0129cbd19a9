import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAlarmCommand } from '../../functions/cli/parse-alarm.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures/alarms');
const fixture = (name: string) => join(FIXTURES, name);

/** Run the command in-process, capturing both streams. */
async function run(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await parseAlarmCommand(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('nodemedic parse-alarm (in-process)', () => {
  it('prints node, cluster, alarm and state of a NotReady alarm, exit 0', async () => {
    const { code, stdout, stderr } = await run(fixture('single-metric.json'));
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toContain('alarm    nodemedic-notready-ip-10-0-1-23\n');
    expect(stdout).toContain('state    ALARM (was OK) at 2026-11-27T03:14:07.125+0000\n');
    expect(stdout).toContain('node     ip-10-0-1-23.eu-west-1.compute.internal (i-0abc123def4567890)\n');
    expect(stdout).toContain('cluster  prod\n');
    expect(stdout).toContain('action   open an incident');
  });

  it.each([
    ['ok.json', /action {3}post recovery/],
    ['insufficient-data.json', /action {3}none: only ALARM and OK act/],
    ['cluster-only.json', /node {5}cluster-only: nodes found by readiness or sweep\n/],
    ['cluster-only.json', /metric {3}ContainerInsights\/cluster_failed_node_count\n/],
    [
      'cluster-only.json',
      /action {3}find the cluster's NotReady nodes \(Container Insights' per-node readiness, else a read-only quick probe/,
    ],
    ['cluster-only-ok.json', /action {3}none: a cluster-only alarm's OK closes nothing/],
    ['instance-only.json', /cluster {2}not in the alarm \(taken from the instance tag\)/],
    ['contributor-alarm.json', /contrib {2}6d442278dba546f6 \{"InstanceId":"i-0abc123def4567890",/],
    ['contributor-alarm.json', /cluster {2}prod\n/],
    ['contributor-ok.json', /action {3}post recovery .* if this contributor opened it/],
    ['multi-time-series.json', /node {5}each contributor in ALARM/],
    ['multi-time-series.json', /action {3}list the contributors in ALARM \(DescribeAlarmContributors\)/],
    ['multi-time-series.json', /query {4}SELECT MIN\(node_status_condition_ready\)/],
    ['multi-time-series-ok.json', /action {3}none: each contributor's own OK/],
  ])('%s → exit 0, %s', async (name, line) => {
    const { code, stdout } = await run(fixture(name));
    expect(code).toBe(0);
    expect(stdout).toMatch(line);
  });

  it('prints the parsed alarm as JSON with --json', async () => {
    const { code, stdout } = await run(fixture('metric-math.json'), '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      alarmName: 'nodemedic-notready-math-ip-10-0-1-23',
      state: 'ALARM',
      instanceId: 'i-0abc123def4567890',
      cluster: 'prod',
    });
  });

  it.each([
    ['composite.json', /\[ALARM_UNSUPPORTED\].*composite alarm/],
    ['other-detail-type.json', /\[ALARM_UNSUPPORTED\].*EC2 Instance State-change Notification/],
    ['missing-dimensions.json', /\[ALARM_UNSUPPORTED\].*no InstanceId, NodeName or ClusterName/],
    ['junk.json', /\[ALARM_MALFORMED\].*not a JSON object/],
    ['bad-instance-id.json', /\[ALARM_MALFORMED\].*InstanceId "i-0abc; rm -rf \/"/],
    [
      'aws-example-contributor.json',
      /\[ALARM_UNSUPPORTED\].*attributes TableName, no InstanceId or NodeName/,
    ],
    ['aws-example-multi-time-series.json', /\[ALARM_UNSUPPORTED\].*groups its query by TableName/],
  ])('%s → exit 2 saying why', async (name, why) => {
    const { code, stdout, stderr } = await run(fixture(name));
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(name);
    expect(stderr).toMatch(why);
  });

  it('applies --prefix and --name as the deployed filter does', async () => {
    expect((await run(fixture('single-metric.json'), '--prefix', 'nodemedic-notready-')).code).toBe(0);
    const filtered = await run(
      fixture('single-metric.json'),
      '--prefix',
      'billing-',
      '--name',
      'x',
      '--json',
    );
    expect(filtered.code).toBe(2);
    expect(filtered.stderr).toMatch(/\[ALARM_FILTERED\]/);
    expect(JSON.parse(filtered.stdout)).toMatchObject({ handled: false, code: 'ALARM_FILTERED' });
  });

  it('names the file it cannot read or parse, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nodemedic-alarm-'));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"detail-type": ');
    const missing = await run(join(dir, 'missing.json'));
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toMatch(/cannot read .*missing\.json \(ENOENT\)/);
    const bad = await run(broken);
    expect(bad).toMatchObject({ code: 2 });
    expect(bad.stderr).toMatch(/broken\.json is not valid JSON/);
  });

  it.each([[[]], [['a.json', 'b.json']], [['--bogus', 'a.json']]])(
    'refuses usage %j with exit 2',
    async (args) => {
      const { code, stderr } = await run(...args);
      expect(code).toBe(2);
      expect(stderr).toContain('Usage: nodemedic parse-alarm FILE');
    },
  );

  it('prints help with exit 0', async () => {
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: nodemedic parse-alarm FILE');
  });
});

describe('nodemedic parse-alarm (as a process, through main.ts)', () => {
  const exec = promisify(execFile);
  const cli = (...args: string[]) =>
    exec('npx', ['tsx', 'functions/cli/main.ts', 'parse-alarm', ...args], { cwd: ROOT }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  it('exits 0 and prints the node for a handled event, 2 with the reason for a composite one', async () => {
    const [handled, refused] = await Promise.all([
      cli(fixture('single-metric.json')),
      cli(fixture('composite.json')),
    ]);
    expect(handled.code).toBe(0);
    expect(handled.stdout).toContain(
      'node     ip-10-0-1-23.eu-west-1.compute.internal (i-0abc123def4567890)',
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/composite alarm/);
  });
});
