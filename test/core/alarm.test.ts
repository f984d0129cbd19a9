// biome-ignore-all lint/suspicious/noExplicitAny: fixtures are mutated as untyped JSON
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  dedupeKey,
  type ParsedAlarm,
  parseAlarmEvent,
  validateInstanceId,
} from '../../functions/core/alarm.js';
import { InvalidInputError } from '../../functions/core/errors.js';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/alarms/${name}`, import.meta.url), 'utf8'));

const NODE = {
  instanceId: 'i-0abc123def4567890',
  nodeName: 'ip-10-0-1-23.eu-west-1.compute.internal',
  cluster: 'prod',
};
const WHERE = { region: 'eu-west-1', account: '123456789012' };

/** Catch the thrown error so a table row can assert on its code and message. */
function refusal(event: unknown, filter?: Parameters<typeof parseAlarmEvent>[1]): InvalidInputError {
  try {
    parseAlarmEvent(event, filter);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected parseAlarmEvent to refuse the event');
}

describe('parseAlarmEvent: events it handles', () => {
  const cases: { fixture: string; expected: Partial<ParsedAlarm> }[] = [
    {
      fixture: 'single-metric.json',
      expected: {
        alarmName: 'nodemedic-notready-ip-10-0-1-23',
        state: 'ALARM',
        previousState: 'OK',
        time: '2026-11-27T03:14:07.125+0000',
        ...WHERE,
        ...NODE,
      },
    },
    { fixture: 'ok.json', expected: { state: 'OK', previousState: 'ALARM', ...NODE } },
    {
      fixture: 'insufficient-data.json',
      expected: { state: 'INSUFFICIENT_DATA', previousState: 'OK', ...NODE },
    },
    {
      fixture: 'metric-math.json',
      expected: { alarmName: 'nodemedic-notready-math-ip-10-0-1-23', state: 'ALARM', ...NODE },
    },
    {
      fixture: 'cluster-only.json',
      expected: {
        alarmName: 'nodemedic-prod-failed-nodes',
        cluster: 'prod',
        instanceId: null,
        nodeName: null,
        clusterOnly: true,
        metric: 'ContainerInsights/cluster_failed_node_count',
      },
    },
    {
      fixture: 'cluster-only-ok.json',
      expected: { state: 'OK', cluster: 'prod', instanceId: null, clusterOnly: true },
    },
    {
      fixture: 'cluster-only-query.json',
      expected: {
        cluster: 'prod',
        instanceId: null,
        clusterOnly: true,
        multiTimeSeries: false,
        metric: null,
      },
    },
    {
      fixture: 'instance-only.json',
      expected: { instanceId: NODE.instanceId, nodeName: null, cluster: null },
    },
  ];
  it.each(cases)('$fixture', ({ fixture: name, expected }) => {
    expect(parseAlarmEvent(fixture(name))).toMatchObject(expected);
  });

  it('keeps CloudWatch reason text and ignores reasonData, a JSON string it does not need', () => {
    const parsed = parseAlarmEvent(fixture('single-metric.json'));
    expect(parsed.reason).toMatch(/^Threshold Crossed/);
    expect(Object.keys(parsed).sort()).toEqual(
      [
        'account',
        'alarmName',
        'cluster',
        'clusterOnly',
        'contributor',
        'instanceId',
        'metric',
        'multiTimeSeries',
        'nodeName',
        'previousState',
        'query',
        'reason',
        'region',
        'state',
        'time',
      ].sort(),
    );
  });

  it('tells a cluster-only alarm from a per-node one and from a multi-time-series one', () => {
    expect(parseAlarmEvent(fixture('single-metric.json'))).toMatchObject({ clusterOnly: false });
    expect(parseAlarmEvent(fixture('instance-only.json'))).toMatchObject({ clusterOnly: false });
    expect(parseAlarmEvent(fixture('multi-time-series.json'))).toMatchObject({ clusterOnly: false });
    expect(parseAlarmEvent(fixture('contributor-alarm.json'))).toMatchObject({ clusterOnly: false });
  });

  it('falls back to the event time and a null previous state when the detail lacks them', () => {
    const event = fixture('single-metric.json') as { detail: Record<string, Record<string, unknown>> };
    delete event.detail.state!.timestamp;
    delete event.detail.previousState;
    expect(parseAlarmEvent(event)).toMatchObject({ time: '2026-11-27T03:14:07Z', previousState: null });
  });
});

describe('parseAlarmEvent: events it refuses, with a reason naming the problem', () => {
  const cases: { fixture: string; code: string; reason: RegExp }[] = [
    { fixture: 'composite.json', code: 'ALARM_UNSUPPORTED', reason: /composite alarm/ },
    { fixture: 'other-detail-type.json', code: 'ALARM_UNSUPPORTED', reason: /EC2 Instance State-change/ },
    {
      fixture: 'missing-dimensions.json',
      code: 'ALARM_UNSUPPORTED',
      reason: /no InstanceId, NodeName or ClusterName dimension/,
    },
    {
      fixture: 'metric-math-expression-only.json',
      code: 'ALARM_UNSUPPORTED',
      reason: /no InstanceId, NodeName or ClusterName/,
    },
    { fixture: 'two-nodes.json', code: 'ALARM_UNSUPPORTED', reason: /different InstanceId values/ },
    { fixture: 'junk.json', code: 'ALARM_MALFORMED', reason: /not a JSON object \(got a list\)/ },
    {
      fixture: 'bad-instance-id.json',
      code: 'ALARM_MALFORMED',
      reason: /InstanceId "i-0abc; rm -rf \/" is not/,
    },
  ];
  it.each(cases)('$fixture → $code', ({ fixture: name, code, reason }) => {
    const error = refusal(fixture(name));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(reason);
  });

  /** The single-metric fixture with the field at `path` set to `value` (undefined: removed). */
  const mutate = (path: string, value: unknown): unknown => {
    const event = fixture('single-metric.json') as Record<string, unknown>;
    const keys = path.split('.');
    const last = keys.pop()!;
    let at = event;
    for (const key of keys) at = at[key] as Record<string, unknown>;
    if (value === undefined) delete at[last];
    else at[last] = value;
    return event;
  };
  const DIMS = 'detail.configuration.metrics.0.metricStat.metric.dimensions';
  const shapes: { name: string; event: unknown; reason: RegExp }[] = [
    { name: 'null', event: null, reason: /got null/ },
    { name: 'a string', event: 'ALARM', reason: /got "ALARM"/ },
    { name: 'an empty object', event: {}, reason: /"detail-type" or "source" is missing/ },
    { name: 'no detail', event: mutate('detail', undefined), reason: /"detail" is missing/ },
    { name: 'no alarm name', event: mutate('detail.alarmName', undefined), reason: /alarmName/ },
    {
      name: 'an unknown state',
      event: mutate('detail.state.value', 'BROKEN'),
      reason: /"BROKEN", not one of ALARM, OK, INSUFFICIENT_DATA/,
    },
    {
      name: 'metrics not a list',
      event: mutate('detail.configuration.metrics', {}),
      reason: /metrics" is missing or not a list/,
    },
    {
      name: 'dimensions as a list (the old API shape)',
      event: mutate(DIMS, [{ name: 'InstanceId' }]),
      reason: /dimensions are not an object map/,
    },
    {
      name: 'a node name that is not a DNS name',
      event: mutate(`${DIMS}.NodeName`, 'Node $(id)'),
      reason: /NodeName "Node \$\(id\)" is not a Kubernetes node name/,
    },
    {
      name: 'a cluster name with the dedupe separator',
      event: mutate(`${DIMS}.ClusterName`, 'a#b'),
      reason: /ClusterName "a#b" is not a valid cluster name/,
    },
    { name: 'no region', event: mutate('region', undefined), reason: /"region" or "account"/ },
  ];
  it.each(shapes)('malformed: $name', ({ event, reason }) => {
    const error = refusal(event);
    expect(error.code).toBe('ALARM_MALFORMED');
    expect(error.message).toMatch(reason);
  });
});

const SQL =
  'SELECT MIN(node_status_condition_ready) FROM SCHEMA("ContainerInsights", ClusterName, InstanceId, NodeName) ' +
  "WHERE ClusterName = 'prod' GROUP BY InstanceId, NodeName ORDER BY MIN() ASC";
const CONTRIBUTOR_ID = '6d442278dba546f6';

describe('parseAlarmEvent: multi-time-series (Metrics Insights GROUP BY) alarms, as AWS documents them', () => {
  const cases: { fixture: string; expected: Partial<ParsedAlarm> }[] = [
    {
      fixture: 'contributor-alarm.json',
      expected: {
        alarmName: 'nodemedic-prod-nodes-not-ready',
        state: 'ALARM',
        // Contributor events carry no previousState.
        previousState: null,
        ...NODE,
        // Not an attribute (ClusterName is only in the WHERE clause): read from the query.
        cluster: 'prod',
        contributor: {
          id: CONTRIBUTOR_ID,
          attributes: { InstanceId: NODE.instanceId, NodeName: NODE.nodeName },
        },
        query: SQL,
        multiTimeSeries: false,
        time: '2026-11-27T03:14:07.125+0000',
      },
    },
    {
      fixture: 'contributor-ok.json',
      expected: { state: 'OK', ...NODE, contributor: expect.objectContaining({ id: CONTRIBUTOR_ID }) },
    },
    {
      fixture: 'contributor-no-data.json',
      expected: { state: 'OK', reason: 'No data was returned for this contributor', ...NODE },
    },
    {
      fixture: 'contributor-cluster-attribute.json',
      expected: { ...NODE, contributor: expect.objectContaining({ id: '0f1e2d3c4b5a6978' }) },
    },
    {
      fixture: 'contributor-instance-only.json',
      expected: { instanceId: NODE.instanceId, nodeName: null, cluster: null },
    },
    {
      fixture: 'multi-time-series.json',
      expected: {
        alarmName: 'nodemedic-prod-nodes-not-ready',
        state: 'ALARM',
        previousState: 'OK',
        reason: '3 out of 42 time series evaluated to ALARM',
        instanceId: null,
        nodeName: null,
        cluster: 'prod',
        contributor: null,
        query: SQL,
        multiTimeSeries: true,
      },
    },
    {
      fixture: 'multi-time-series-ok.json',
      expected: { state: 'OK', multiTimeSeries: true, contributor: null },
    },
  ];
  it.each(cases)('$fixture', ({ fixture: name, expected }) => {
    expect(parseAlarmEvent(fixture(name))).toMatchObject(expected);
  });

  const refused: { fixture: string; code: string; reason: RegExp }[] = [
    // AWS's own examples, copied as published: valid shapes that name a DynamoDB table, not a node.
    {
      fixture: 'aws-example-contributor.json',
      code: 'ALARM_UNSUPPORTED',
      reason: /contributor 6d442278dba546f6 .* attributes TableName, no InstanceId or NodeName/,
    },
    {
      fixture: 'aws-example-multi-time-series.json',
      code: 'ALARM_UNSUPPORTED',
      reason: /groups its query by TableName, not by InstanceId or NodeName/,
    },
  ];
  it.each(refused)('$fixture → $code', ({ fixture: name, code, reason }) => {
    const error = refusal(fixture(name));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(reason);
  });

  /** The contributor fixture with `change` applied to its detail. */
  const contributor = (change: (detail: Record<string, any>) => void): unknown => {
    const event = fixture('contributor-alarm.json') as { detail: Record<string, unknown> };
    change(event.detail);
    return event;
  };
  const malformedCases: { name: string; event: unknown; reason: RegExp }[] = [
    {
      name: 'INSUFFICIENT_DATA (contributors are only ALARM or OK)',
      event: contributor((d) => {
        d.state.value = 'INSUFFICIENT_DATA';
      }),
      reason: /only ever ALARM or OK/,
    },
    {
      name: 'no alarmContributor',
      event: contributor((d) => {
        delete d.alarmContributor;
      }),
      reason: /"detail.alarmContributor" is missing/,
    },
    {
      name: 'an empty contributor id',
      event: contributor((d) => {
        d.alarmContributor.id = '';
      }),
      reason: /alarmContributor.id" is "", not a contributor id/,
    },
    {
      name: 'attributes as a list',
      event: contributor((d) => {
        d.alarmContributor.attributes = [{ InstanceId: NODE.instanceId }];
      }),
      reason: /attributes" is missing or not an object/,
    },
    {
      name: 'an instance id attribute that is a shell string',
      event: contributor((d) => {
        d.alarmContributor.attributes.InstanceId = 'i-0abc; reboot';
      }),
      reason: /InstanceId "i-0abc; reboot" is not an EC2 instance id/,
    },
    {
      name: 'a cluster in the WHERE clause with the dedupe separator',
      event: contributor((d) => {
        d.configuration.metrics[0].expression = SQL.replace("'prod'", "'a#b'");
      }),
      reason: /ClusterName "a#b" is not a valid cluster name/,
    },
  ];
  it.each(malformedCases)('malformed: $name', ({ event, reason }) => {
    const error = refusal(event);
    expect(error.code).toBe('ALARM_MALFORMED');
    expect(error.message).toMatch(reason);
  });

  const where: { sql: string; cluster: string | null }[] = [
    { sql: SQL, cluster: 'prod' },
    { sql: SQL.replace('WHERE ClusterName', 'WHERE "ClusterName"'), cluster: 'prod' },
    { sql: SQL.replace('WHERE', 'where').replace('GROUP BY', 'group by'), cluster: 'prod' },
    { sql: SQL.replace("ClusterName = 'prod'", "ClusterName = 'prod' AND NodeName != 'x'"), cluster: 'prod' },
    // Anything that does not pin one cluster leaves it to the node's cluster tag.
    {
      sql: SQL.replace("ClusterName = 'prod'", "ClusterName = 'prod' OR ClusterName = 'stage'"),
      cluster: null,
    },
    { sql: SQL.replace("ClusterName = 'prod'", "ClusterName LIKE 'prod%'"), cluster: null },
    { sql: SQL.replace("ClusterName = 'prod'", "ClusterName != 'prod'"), cluster: null },
    { sql: SQL.replace("WHERE ClusterName = 'prod' ", ''), cluster: null },
  ];
  it.each(where)('reads the cluster from the WHERE clause of $sql', ({ sql, cluster }) => {
    const event = contributor((d) => {
      d.configuration.metrics[0].expression = sql;
    });
    expect(parseAlarmEvent(event).cluster).toBe(cluster);
  });

  it('takes a ClusterName attribute over the WHERE clause', () => {
    const event = contributor((d) => {
      d.alarmContributor.attributes.ClusterName = 'blue';
    });
    expect(parseAlarmEvent(event).cluster).toBe('blue');
  });

  it('applies the alarm filter to contributor events too', () => {
    expect(refusal(fixture('contributor-alarm.json'), { namePrefixes: ['other-'] }).code).toBe(
      'ALARM_FILTERED',
    );
  });
});

describe('alarm fixtures', () => {
  const dir = new URL('../fixtures/alarms/', import.meta.url);
  const jsons = readdirSync(dir).filter((name) => name.endsWith('.json'));
  it.each(jsons)('%s cites the AWS page it follows in a sibling note', (name) => {
    const note = readFileSync(new URL(name.replace(/\.json$/, '.md'), dir), 'utf8');
    expect(note).toMatch(/^Follows: https:\/\/docs\.aws\.amazon\.com\/\S+\.html$/m);
    expect(note).toMatch(/^Section: .+$/m);
  });
});

describe('parseAlarmEvent: the alarm filter', () => {
  const event = fixture('single-metric.json');
  const cases: { filter: Parameters<typeof parseAlarmEvent>[1]; accepted: boolean }[] = [
    { filter: undefined, accepted: true },
    { filter: {}, accepted: true },
    { filter: { names: [], namePrefixes: [] }, accepted: true },
    { filter: { namePrefixes: ['nodemedic-notready-'] }, accepted: true },
    { filter: { names: ['nodemedic-notready-ip-10-0-1-23'] }, accepted: true },
    { filter: { names: ['other'], namePrefixes: ['nodemedic-'] }, accepted: true },
    { filter: { namePrefixes: ['billing-'] }, accepted: false },
    { filter: { names: ['nodemedic-notready-ip-10-0-1'] }, accepted: false },
  ];
  it.each(cases)('$filter → accepted: $accepted', ({ filter, accepted }) => {
    if (accepted) {
      expect(parseAlarmEvent(event, filter).alarmName).toBe('nodemedic-notready-ip-10-0-1-23');
    } else {
      const error = refusal(event, filter);
      expect(error.code).toBe('ALARM_FILTERED');
      expect(error.message).toContain('nodemedic-notready-ip-10-0-1-23');
    }
  });

  it('filters before judging the shape, so a foreign composite alarm is "filtered", not "unsupported"', () => {
    expect(refusal(fixture('composite.json'), { namePrefixes: ['x-'] }).code).toBe('ALARM_FILTERED');
  });
});

describe('validateInstanceId', () => {
  it.each(['i-0abc123d', 'i-0abc123def4567890'])('accepts %s', (id) => {
    expect(validateInstanceId(id)).toBe(id);
  });
  it.each([
    '',
    'i-0abc123',
    'i-0ABC123DEF',
    'i-0abc123def45678901',
    'i-0abc123d;reboot',
    ' i-0abc123d',
    'local-node',
  ])('refuses %j', (id) => {
    expect(() => validateInstanceId(id)).toThrow(
      expect.objectContaining({
        code: 'INSTANCE_ID_INVALID',
        message: expect.stringContaining('not an EC2 instance id'),
      }),
    );
  });
});

describe('dedupeKey', () => {
  it('joins cluster and instance id, so redelivered and flapping alarms map to one key', () => {
    expect(dedupeKey('prod', 'i-0abc123def4567890')).toBe('prod#i-0abc123def4567890');
  });
  it.each([
    ['', 'i-0abc123d'],
    ['prod', ''],
    ['a#b', 'i-0abc123d'],
  ])('refuses cluster %j with instance %j', (cluster, instanceId) => {
    expect(() => dedupeKey(cluster, instanceId)).toThrow(InvalidInputError);
  });
});
