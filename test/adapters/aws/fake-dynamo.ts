/**
 * A small, honest stand-in for the DynamoDB calls the incident store makes, behind
 * aws-sdk-client-mock: GetItem, PutItem and TransactWriteItems (Put / Delete / Update) on a table
 * keyed by `pk`, with condition expressions evaluated, transactions all-or-nothing and cancelled
 * with per-item reasons, and every item passed through the real marshaller (so what the store
 * writes must be storable: no `undefined`, sets as sets).
 *
 * The expression grammar covers what DynamoDB accepts and the store uses: terms joined by AND/OR
 * (no parentheses), `attribute_exists(p)`, `attribute_not_exists(p)`, `p <op> :v`,
 * `size(p) <op> :v`; update
 * clauses `SET p = :v[, …]`, `ADD p :set`, `DELETE p :set`. Anything else throws, so a store change
 * that outgrows the fake fails loudly instead of passing by accident.
 *
 * UpdateItem (single-item, with a condition, `SET` of a map path `#a.#b`, `ADD` of a number,
 * `REMOVE`, `ReturnValues: ALL_NEW`) as the store's cluster record uses it.
 *
 * Query runs on a global secondary index only (`IndexName`), with a key condition `#pk = :v` or
 * `#pk = :v AND #sk >= :w` (or `<=`, `<`, `>`, `=`), items in sort-key order, and pages of at most
 * `pageSize` items continued through `LastEvaluatedKey` / `ExclusiveStartKey`, as DynamoDB pages
 * at 1 MB ("Paginating table query results", DynamoDB developer guide). Items lacking the index's
 * keys are not in the index (a sparse index).
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { OPEN_INDEX } from '../../../functions/core/cluster.js';
import { HISTORY_INDEX } from '../../../functions/core/success-rates.js';

type Item = Record<string, unknown>;
/** The operations a test can make fail. */
export type FakeOperation = 'Get' | 'Put' | 'TransactWrite' | 'Update' | 'Query';
type Names = Record<string, string> | undefined;
type Values = Record<string, unknown> | undefined;

function awsError(name: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, $metadata: {}, ...extra });
}

/** Round-trip through the real marshaller: what DynamoDB would store and give back. */
function store(item: Item): Item {
  return unmarshall(marshall(item));
}

export class FakeTable {
  readonly items = new Map<string, Item>();
  /** Runs before each TransactWriteItems is evaluated: a test's "other writer". */
  beforeTransact: (() => void) | null = null;
  transactions = 0;
  /** Query page size, in items (DynamoDB's is 1 MB): small in tests, so paging is exercised. */
  pageSize = 100;
  /** Global secondary indexes: name → [partition key, sort key]; the stack's table has these two. */
  readonly indexes = new Map<string, [string, string]>([
    [HISTORY_INDEX.name, [HISTORY_INDEX.partitionKey, HISTORY_INDEX.sortKey]],
    [OPEN_INDEX.name, [OPEN_INDEX.partitionKey, OPEN_INDEX.sortKey]],
  ]);
  queries = 0;

  /** Faults to answer the next calls of one operation with, before the table is consulted. */
  private readonly faults = new Map<FakeOperation, Error[]>();

  /**
   * Make the next `times` calls of `operation` fail with the exception `name` (e.g.
   * `ProvisionedThroughputExceededException`, `InternalServerError`), as DynamoDB answers them;
   * the table is not touched by a failed call.
   */
  failNext(operation: FakeOperation, name: string, times = 1): void {
    const queue = this.faults.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push(awsError(name, { message: `${name} (injected)` }));
    this.faults.set(operation, queue);
  }

  /**
   * Throttle a share of every call, whatever the operation (a storm's hot partition): each call is
   * answered ProvisionedThroughputExceededException when `random()` falls below `rate`.
   */
  throttle: { rate: number; random: () => number } | null = null;

  private fault(operation: FakeOperation): void {
    const error = this.faults.get(operation)?.shift();
    if (error) throw error;
    if (this.throttle && this.throttle.random() < this.throttle.rate) {
      throw awsError('ProvisionedThroughputExceededException', {
        message: 'The level of configured provisioned throughput for the table was exceeded (injected)',
      });
    }
  }

  /** Route the stub's calls to this table. */
  install(s: AwsClientStub<DynamoDBDocumentClient>): void {
    s.on(GetCommand).callsFake((input: { Key: Item }) => {
      this.fault('Get');
      const item = this.items.get(String(input.Key.pk));
      return { Item: item ? store(item) : undefined };
    });
    s.on(PutCommand).callsFake((input) => {
      this.fault('Put');
      this.check(
        input.Item.pk,
        input.ConditionExpression,
        input.ExpressionAttributeNames,
        input.ExpressionAttributeValues,
        'ConditionalCheckFailedException',
      );
      this.items.set(String(input.Item.pk), store(input.Item));
      return {};
    });
    s.on(QueryCommand).callsFake((input) => {
      this.fault('Query');
      return this.query(input);
    });
    s.on(DeleteCommand).rejects(awsError('UnsupportedByFake'));
    s.on(UpdateCommand).callsFake((input) => {
      this.fault('Update');
      const pk = String(input.Key.pk);
      this.check(
        pk,
        input.ConditionExpression,
        input.ExpressionAttributeNames,
        input.ExpressionAttributeValues,
        'ConditionalCheckFailedException',
      );
      this.apply({ Update: input });
      const item = this.items.get(pk);
      return input.ReturnValues === 'ALL_NEW' && item ? { Attributes: store(item) } : {};
    });
    s.on(TransactWriteCommand).callsFake((input: { TransactItems: Item[] }) => {
      this.fault('TransactWrite');
      this.transactions += 1;
      this.beforeTransact?.();
      const keys = input.TransactItems.map((t) => String(this.keyOf(t)));
      if (new Set(keys).size !== keys.length) {
        throw awsError('ValidationException', {
          message: 'Transaction request cannot include multiple operations on one item',
        });
      }
      const reasons = input.TransactItems.map((t) => {
        const op = (t.Put ?? t.Delete ?? t.Update) as Item;
        return this.holds(
          String(this.keyOf(t)),
          op.ConditionExpression as string | undefined,
          op.ExpressionAttributeNames as Names,
          op.ExpressionAttributeValues as Values,
        )
          ? { Code: 'None' }
          : { Code: 'ConditionalCheckFailed' };
      });
      if (reasons.some((r) => r.Code !== 'None')) {
        throw awsError('TransactionCanceledException', { CancellationReasons: reasons });
      }
      for (const t of input.TransactItems) this.apply(t);
      return {};
    });
  }

  private query(input: {
    IndexName?: string;
    KeyConditionExpression?: string;
    ExpressionAttributeNames?: Names;
    ExpressionAttributeValues?: Values;
    ExclusiveStartKey?: Item;
    Select?: string;
  }): { Items?: Item[]; Count: number; LastEvaluatedKey?: Item } {
    this.queries += 1;
    const index = input.IndexName ? this.indexes.get(input.IndexName) : undefined;
    if (!index) throw awsError('ValidationException', { message: `no index ${input.IndexName}` });
    const [pkName, skName] = index;
    const terms = (input.KeyConditionExpression ?? '').split(/\s+AND\s+/);
    const parsed = terms.map((term) => {
      const m = /^(\S+)\s*(=|<=|>=|<|>)\s*(:\w+)$/.exec(term.trim());
      if (!m) throw awsError('UnsupportedByFake', { message: `key condition ${term}` });
      return {
        name: name(m[1]!, input.ExpressionAttributeNames),
        op: m[2]!,
        value: value(m[3]!, input.ExpressionAttributeValues),
      };
    });
    const [hash, range] = parsed;
    if (
      !hash ||
      hash.name !== pkName ||
      hash.op !== '=' ||
      (range && range.name !== skName) ||
      parsed.length > 2
    ) {
      throw awsError('ValidationException', { message: 'Query condition missed key schema element' });
    }
    const compare = (a: unknown, op: string, b: unknown): boolean => {
      const [x, y] = [String(a), String(b)];
      return op === '=' ? x === y : op === '<' ? x < y : op === '>' ? x > y : op === '<=' ? x <= y : x >= y;
    };
    const matches = [...this.items.values()]
      .filter((item) => item[pkName] === hash.value && item[skName] !== undefined)
      .filter((item) => !range || compare(item[skName], range.op, range.value))
      .sort(
        (a, b) =>
          String(a[skName]).localeCompare(String(b[skName])) || String(a.pk).localeCompare(String(b.pk)),
      );
    const after = input.ExclusiveStartKey;
    const start = after ? matches.findIndex((item) => item.pk === after.pk) + 1 : 0;
    const page = matches.slice(start, start + this.pageSize);
    const more = start + this.pageSize < matches.length;
    const last = page[page.length - 1];
    return {
      ...(input.Select === 'COUNT' ? {} : { Items: page.map(store) }),
      Count: page.length,
      ...(more && last
        ? { LastEvaluatedKey: { pk: last.pk, [pkName]: last[pkName], [skName]: last[skName] } }
        : {}),
    };
  }

  private keyOf(t: Item): unknown {
    if (t.Put) return (t.Put as { Item: Item }).Item.pk;
    const op = (t.Delete ?? t.Update) as { Key: Item } | undefined;
    if (!op) throw awsError('UnsupportedByFake');
    return op.Key.pk;
  }

  private apply(t: Item): void {
    if (t.Put) {
      const item = (t.Put as { Item: Item }).Item;
      this.items.set(String(item.pk), store(item));
    } else if (t.Delete) {
      this.items.delete(String((t.Delete as { Key: Item }).Key.pk));
    } else {
      const u = t.Update as {
        Key: Item;
        UpdateExpression: string;
        ExpressionAttributeNames: Names;
        ExpressionAttributeValues: Values;
      };
      const pk = String(u.Key.pk);
      const item: Item = { ...(this.items.get(pk) ?? { pk }) };
      this.update(item, u.UpdateExpression, u.ExpressionAttributeNames, u.ExpressionAttributeValues);
      this.items.set(pk, store(item));
    }
  }

  private check(
    pk: unknown,
    condition: string | undefined,
    names: Names,
    values: Values,
    error: string,
  ): void {
    if (!this.holds(String(pk), condition, names, values)) throw awsError(error);
  }

  private holds(pk: string, condition: string | undefined, names: Names, values: Values): boolean {
    if (!condition) return true;
    const item = this.items.get(pk);
    return condition
      .split(/\s+OR\s+/)
      .some((any) => any.split(/\s+AND\s+/).every((term) => this.term(item, term.trim(), names, values)));
  }

  private term(item: Item | undefined, term: string, names: Names, values: Values): boolean {
    const fn = /^attribute_(not_)?exists\((\S+)\)$/.exec(term);
    if (fn) {
      const exists = item !== undefined && item[name(fn[2]!, names)] !== undefined;
      return fn[1] ? !exists : exists;
    }
    const cmp = /^(size\((\S+)\)|\S+)\s*(=|<>|<=|>=|<|>)\s*(:\w+)$/.exec(term);
    if (!cmp) throw awsError('UnsupportedByFake', { message: `condition term ${term}` });
    const left = cmp[2] ? sizeOf(item?.[name(cmp[2], names)]) : item?.[name(cmp[1]!, names)];
    const op = cmp[3]!;
    const right = value(cmp[4]!, values);
    if (left === undefined) return false;
    switch (op) {
      case '=':
        return left === right;
      case '<>':
        return left !== right;
      case '<':
        return (left as number) < (right as number);
      case '>':
        return (left as number) > (right as number);
      case '<=':
        return (left as number) <= (right as number);
      default:
        return (left as number) >= (right as number);
    }
  }

  private update(item: Item, expression: string, names: Names, values: Values): void {
    const clauses = expression.split(/\b(?=SET |ADD |DELETE |REMOVE )/).map((c) => c.trim());
    const path = (p: string): [Item, string] => {
      const parts = p.split('.').map((part) => name(part, names));
      let target = item;
      for (const part of parts.slice(0, -1)) {
        const next = target[part];
        // DynamoDB refuses a path through an attribute that is not a map.
        if (typeof next !== 'object' || next === null || next instanceof Set || Array.isArray(next))
          throw awsError('ValidationException', { message: `document path ${p} is invalid` });
        target = next as Item;
      }
      return [target, parts[parts.length - 1]!];
    };
    for (const clause of clauses) {
      const [verb, ...rest] = clause.split(/\s+/);
      const body = rest.join(' ');
      if (verb === 'SET') {
        for (const assignment of body.split(',')) {
          const [p, v] = assignment.split('=').map((part) => part.trim());
          const [target, key] = path(p!);
          target[key] = value(v!, values);
        }
      } else if (verb === 'REMOVE') {
        for (const p of body.split(',')) {
          const [target, key] = path(p.trim());
          delete target[key];
        }
      } else if (verb === 'ADD' && typeof value(body.split(/\s+/)[1]!, values) === 'number') {
        const [p, v] = body.split(/\s+/);
        const key = name(p!, names);
        const current = item[key] ?? 0;
        if (typeof current !== 'number')
          throw awsError('ValidationException', { message: `ADD of a number to a non-number ${key}` });
        item[key] = current + (value(v!, values) as number);
      } else if (verb === 'ADD' || verb === 'DELETE') {
        const [p, v] = body.split(/\s+/);
        const key = name(p!, names);
        const operand = value(v!, values);
        if (!(operand instanceof Set))
          throw awsError('UnsupportedByFake', { message: `${verb} of a non-set` });
        const current = new Set(item[key] instanceof Set ? (item[key] as Set<unknown>) : []);
        for (const x of operand) {
          if (verb === 'ADD') current.add(x);
          else current.delete(x);
        }
        // DynamoDB removes a set attribute that becomes empty.
        if (current.size === 0) delete item[key];
        else item[key] = current;
      } else {
        throw awsError('UnsupportedByFake', { message: `update clause ${clause}` });
      }
    }
  }
}

/** DynamoDB's size(): elements of a set or list, characters of a string; undefined otherwise. */
function sizeOf(attribute: unknown): number | undefined {
  if (attribute instanceof Set) return attribute.size;
  if (Array.isArray(attribute) || typeof attribute === 'string') return attribute.length;
  return undefined;
}

function name(path: string, names: Names): string {
  if (!path.startsWith('#')) return path;
  const resolved = names?.[path];
  if (!resolved) throw awsError('ValidationException', { message: `unresolved name ${path}` });
  return resolved;
}

function value(token: string, values: Values): unknown {
  if (!values || !(token in values))
    throw awsError('ValidationException', { message: `unresolved value ${token}` });
  return values[token];
}
