/**
 * `nodemedic report <incident-id> --table NAME`: the postmortem timeline of one incident, as
 * Markdown, read from the incident table with the caller's AWS credentials (the same record the
 * thread's timeline is rendered from).
 * Exit codes: 0 printed, 1 no such incident, 2 usage or internal error.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoIncidentStore } from '../adapters/aws/dynamo-store.js';
import { NodemedicError } from '../core/errors.js';
import type { IncidentStore } from '../core/incident.js';
import { timelineMarkdown } from '../core/render/timeline.js';
import { type CliIo, EXIT, parseCommandLine } from './io.js';

const REPORT_USAGE = `Usage: nodemedic report <incident-id> --table NAME [--region R] [--profile P] [--json]

Prints the postmortem timeline of one incident as Markdown: the alarm, each step with its time, the
evidence quoted, who approved what, the commands and their outcomes, and the durations. It reads
the incident table (the stack's IncidentTableName output) with your AWS credentials (dynamodb:GetItem).

  --table NAME   the incident table (default: NODEMEDIC_TABLE)
  --region R     its region (default: the SDK's)
  --profile P    the AWS profile (default: the SDK's credential chain)
  --json         print the incident record instead
  -h, --help     this text
`;

/** Dependencies a test may replace. */
export interface ReportDeps {
  /** The store to read; @default the DynamoDB table named by --table. */
  store?: (config: { table: string; region?: string; profile?: string }) => IncidentStore;
}

export async function reportCommand(args: string[], io: CliIo, deps: ReportDeps = {}): Promise<number> {
  const parsed = parseCommandLine('report', REPORT_USAGE, parse, args, io);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [id, ...extra] = positionals;
  const table = values.table ?? process.env.NODEMEDIC_TABLE;
  if (!id || extra.length > 0) {
    io.stderr('nodemedic report: name exactly one incident id (see --help)\n');
    return EXIT.error;
  }
  if (!table) {
    io.stderr('nodemedic report: --table is required (or set NODEMEDIC_TABLE)\n');
    return EXIT.error;
  }
  const config = {
    table,
    ...(values.region ? { region: values.region } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
  };
  try {
    const store = deps.store ? deps.store(config) : dynamoStore(config);
    const incident = await store.get(id);
    if (!incident) {
      io.stderr(
        `nodemedic report: no incident ${JSON.stringify(id)} in ${table} (records expire 30 days after their last write)\n`,
      );
      return EXIT.findings;
    }
    io.stdout(values.json ? `${JSON.stringify(incident, null, 2)}\n` : timelineMarkdown(incident));
    return EXIT.ok;
  } catch (err) {
    const message = err instanceof NodemedicError ? `${err.code}: ${err.message}` : String(err);
    io.stderr(`nodemedic report: ${message}\n`);
    return EXIT.error;
  }
}

function dynamoStore(config: { table: string; region?: string; profile?: string }): IncidentStore {
  const { table, ...client } = config;
  return new DynamoIncidentStore({
    client: DynamoDBDocumentClient.from(new DynamoDBClient(client)),
    tableName: table,
  });
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      region: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
