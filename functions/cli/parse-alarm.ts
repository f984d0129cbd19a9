/**
 * `nodemedic parse-alarm FILE`: show what nodemedic reads from an EventBridge alarm event (node,
 * cluster, alarm, state), with the same parser and filter the alarm function uses. For checking
 * an alarm before wiring it up, and for reading a dead-lettered event.
 * Exit codes: 0 parsed, 2 an event nodemedic does not handle, an unreadable file or a usage error.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type AlarmFilter, type ParsedAlarm, parseAlarmEvent } from '../core/alarm.js';
import { InvalidInputError } from '../core/errors.js';
import { type CliIo, EXIT } from './io.js';

/** `--help` text for parse-alarm. */
const PARSE_ALARM_USAGE = `Usage: nodemedic parse-alarm FILE [options]

Reads an EventBridge "CloudWatch Alarm State Change" or "CloudWatch Alarm Contributor State
Change" event from FILE (JSON) and prints what nodemedic takes from it: node, cluster, alarm (and
contributor) and state. Exit code: 0 parsed, 2 when nodemedic would not handle the event (it says
why), or when FILE cannot be read.

Options:
  --prefix P   accept only alarms whose name starts with P (repeatable), as the deployed filter does
  --name N     accept only the alarm named N (repeatable)
  --json       print the parsed alarm as JSON
  -h, --help   show this help
`;

/** Run `parse-alarm` with its arguments; resolves with the exit code. */
export async function parseAlarmCommand(args: string[], io: CliIo): Promise<number> {
  let values: { json?: boolean; help?: boolean; prefix?: string[]; name?: string[] };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        prefix: { type: 'string', multiple: true },
        name: { type: 'string', multiple: true },
      },
    }));
  } catch (error) {
    io.stderr(`nodemedic parse-alarm: ${(error as Error).message}\n\n${PARSE_ALARM_USAGE}`);
    return EXIT.error;
  }
  if (values.help) {
    io.stdout(PARSE_ALARM_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    io.stderr(`nodemedic parse-alarm: expected one FILE, got ${positionals.length}\n\n${PARSE_ALARM_USAGE}`);
    return EXIT.error;
  }
  const file = positionals[0]!;

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    io.stderr(`nodemedic parse-alarm: cannot read ${file} (${code})\n`);
    return EXIT.error;
  }
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (error) {
    io.stderr(`nodemedic parse-alarm: ${file} is not valid JSON (${(error as Error).message})\n`);
    return EXIT.error;
  }

  const filter: AlarmFilter = { namePrefixes: values.prefix ?? [], names: values.name ?? [] };
  let alarm: ParsedAlarm;
  try {
    alarm = parseAlarmEvent(event, filter);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    io.stderr(`nodemedic parse-alarm: ${file}: not handled [${error.code}]: ${error.message}\n`);
    if (values.json)
      io.stdout(`${JSON.stringify({ handled: false, code: error.code, reason: error.message })}\n`);
    return EXIT.error;
  }
  io.stdout(values.json ? `${JSON.stringify(alarm, null, 2)}\n` : formatAlarm(alarm));
  return EXIT.ok;
}

/** The parsed alarm as aligned text, with what nodemedic would do with it. */
function formatAlarm(alarm: ParsedAlarm): string {
  const node =
    alarm.instanceId || alarm.nodeName
      ? [alarm.nodeName, alarm.instanceId && `(${alarm.instanceId})`].filter(Boolean).join(' ')
      : alarm.multiTimeSeries
        ? 'each contributor in ALARM (a multi-time-series alarm: one time series per node)'
        : alarm.clusterOnly
          ? 'cluster-only: nodes found by readiness or sweep'
          : 'unknown: the alarm names no InstanceId or NodeName, so nodemedic cannot pick a node from it';
  const rows: [string, string][] = [
    ['alarm', alarm.alarmName],
    ...(alarm.contributor
      ? [
          ['contrib', `${alarm.contributor.id} ${JSON.stringify(alarm.contributor.attributes)}`] as [
            string,
            string,
          ],
        ]
      : []),
    ['state', `${alarm.state}${alarm.previousState ? ` (was ${alarm.previousState})` : ''} at ${alarm.time}`],
    ['node', node],
    ['cluster', alarm.cluster ?? 'not in the alarm (taken from the instance tag)'],
    ...(alarm.metric ? [['metric', alarm.metric] as [string, string]] : []),
    ...(alarm.query ? [['query', alarm.query] as [string, string]] : []),
    ['where', `${alarm.region}, account ${alarm.account}`],
    ['reason', alarm.reason || '(none given)'],
    ['action', action(alarm)],
  ];
  return `${rows.map(([key, value]) => `${key.padEnd(9)}${value}`).join('\n')}\n`;
}

function action(alarm: ParsedAlarm): string {
  if (alarm.state === 'INSUFFICIENT_DATA') return 'none: only ALARM and OK act';
  if (alarm.multiTimeSeries) {
    return alarm.state === 'ALARM'
      ? 'list the contributors in ALARM (DescribeAlarmContributors) and open an incident for each node'
      : "none: each contributor's own OK closes its node's incident";
  }
  if (alarm.clusterOnly) {
    return alarm.state === 'ALARM'
      ? "find the cluster's NotReady nodes (Container Insights' per-node readiness, else a read-only quick probe of every node over SSM), open an incident for each, and post one summary"
      : "none: a cluster-only alarm's OK closes nothing; each node's incident ends on its own evidence";
  }
  if (!alarm.instanceId && !alarm.nodeName) return 'none per node: alarm on each node to get a diagnosis';
  const opener = alarm.contributor ? 'this contributor' : 'this alarm';
  return alarm.state === 'ALARM'
    ? 'open an incident for the node (or join its open one) and diagnose it'
    : `post recovery into the node's open incident and close it, if ${opener} opened it`;
}
