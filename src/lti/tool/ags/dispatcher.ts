import pg from 'pg';
import type { Logger } from 'pino';
import { servicesChannel } from './repository.js';

export type DispatchHandlers = Readonly<Record<string, (id: string) => Promise<void>>>;

/**
 * Turns outbox notifications into pg-boss jobs. Grade passback and roster sync rows are written
 * inside the transaction that causes them, with a `pg_notify` that PostgreSQL delivers only at
 * commit; this listener (one per worker node, on its own connection) hands each `<kind>:<id>`
 * to the matching handler, which claims the row and enqueues its job. Notifications missed
 * while disconnected are caught by `catchUp` on every (re)connect and by the minute sweep.
 */
export class ServiceDispatcher {
  private client: pg.Client | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelayMs = 1000;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: {
    readonly connectionString: string;
    readonly log: Logger;
    readonly handlers: DispatchHandlers;
    readonly catchUp: () => Promise<unknown>;
  }) {}

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString, application_name: 'cairn-lti-dispatch' });
    client.on('notification', (message) => {
      if (message.channel === servicesChannel && message.payload) this.dispatch(message.payload);
    });
    client.on('error', (error) => {
      if (!this.stopped) this.options.log.warn({ err: error }, 'LTI service dispatcher connection lost; reconnecting');
      this.scheduleReconnect(client);
    });
    client.on('end', () => this.scheduleReconnect(client));
    await client.connect();
    await client.query(`listen ${servicesChannel}`);
    this.client = client;
    this.reconnectDelayMs = 1000;
    await this.track(this.options.catchUp().then(() => undefined, (error: unknown) => this.options.log.warn({ err: error }, 'LTI service catch-up failed')));
  }

  private scheduleReconnect(client: pg.Client): void {
    if (this.stopped || this.client !== client || this.reconnectTimer) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'LTI service dispatcher could not reconnect');
        this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 30_000);
        this.client = client;
        this.scheduleReconnect(client);
      });
    }, this.reconnectDelayMs);
    this.reconnectTimer.unref();
  }

  private dispatch(payload: string): void {
    const separator = payload.indexOf(':');
    const handler = separator > 0 ? this.options.handlers[payload.slice(0, separator)] : undefined;
    if (!handler) return;
    const id = payload.slice(separator + 1);
    void this.track(handler(id).catch((error: unknown) => this.options.log.warn({ err: error, payload }, 'LTI service dispatch failed; the sweep will retry')));
  }

  private track(promise: Promise<void>): Promise<void> {
    this.inFlight.add(promise);
    return promise.finally(() => this.inFlight.delete(promise));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await Promise.allSettled([...this.inFlight]);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
