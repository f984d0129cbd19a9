/**
 * A local stand-in of the PagerDuty Events API v2 endpoint (`POST /v2/enqueue`), for the rehearsal
 * and the tests: it answers as PagerDuty documents (202 `{status, message, dedup_key}`, 400 for an
 * event without routing key, action or dedup key), keeps every event it accepted, and can be told
 * to answer 429 or 500 a number of times. Loopback only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PagerEvent } from '../core/pager.js';

/** What the stand-in accepted, newest last. */
export interface PagedEvent extends PagerEvent {
  readonly receivedAt: string;
}

export class PagerStandIn {
  readonly events: PagedEvent[] = [];
  private failures: number[] = [];
  private listeners: ((event: PagedEvent) => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  /** Start on 127.0.0.1 (port 0: a free one). */
  static async start(port = 0): Promise<PagerStandIn> {
    let standIn: PagerStandIn | null = null;
    const server = createServer((req, res) => {
      void standIn!.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address() as AddressInfo;
    standIn = new PagerStandIn(server, `http://127.0.0.1:${address.port}`);
    return standIn;
  }

  /** Be told of each event the stand-in accepts (the rehearsal shows them in the channel). */
  onEvent(listener: (event: PagedEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Answer the next requests with these statuses (e.g. `[429, 500]`), then accept again. */
  failNext(...statuses: number[]): void {
    this.failures.push(...statuses);
  }

  /** The dedup keys with a trigger and no resolve after it: alerts still open in "PagerDuty". */
  open(): string[] {
    const state = new Map<string, string>();
    for (const e of this.events) state.set(e.dedup_key, e.event_action);
    return [...state].filter(([, action]) => action === 'trigger').map(([key]) => key);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    if (req.method !== 'POST' || req.url !== '/v2/enqueue')
      return { status: 404, body: { status: 'invalid', message: 'not found' } };
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const failure = this.failures.shift();
    if (failure !== undefined)
      return { status: failure, body: { status: 'throttled', message: 'try again' } };
    let event: PagerEvent;
    try {
      event = JSON.parse(raw) as PagerEvent;
    } catch {
      return {
        status: 400,
        body: { status: 'invalid event', message: 'Event object is invalid', errors: ['not JSON'] },
      };
    }
    const errors = [
      ...(typeof event.routing_key === 'string' && event.routing_key ? [] : ['routing_key is missing']),
      ...(['trigger', 'acknowledge', 'resolve'].includes(event.event_action)
        ? []
        : ['event_action is invalid']),
      ...(event.event_action === 'trigger' && !event.payload?.summary ? ['payload.summary is missing'] : []),
      ...(event.event_action !== 'trigger' && !event.dedup_key ? ['dedup_key is missing'] : []),
    ];
    if (errors.length)
      return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
    const accepted = { ...event, receivedAt: new Date().toISOString() };
    this.events.push(accepted);
    for (const listener of this.listeners) listener(accepted);
    return {
      status: 202,
      body: { status: 'success', message: 'Event processed', dedup_key: event.dedup_key },
    };
  }
}
