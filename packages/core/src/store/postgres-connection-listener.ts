import { createHash } from 'node:crypto';
import type { Client, Notification, QueryConfig } from 'pg';
import type { ConnectionWatch } from './types.js';

/**
 * The channel the connection triggers of migration 8 notify: the payload is
 * `<table schema>:<md5 of the user id>`, never the user id itself, nor anything secret.
 */
export const CONNECTIONS_CHANNEL = 'toolmux_connections';

/** After the listening connection broke, the next attempt waits this long. */
const RECONNECT_DELAY_MS = 1_000;
/** The listening connection closes after this long without waits (as the pool's idle ones do). */
const IDLE_CLOSE_MS = 10_000;

/** pg's `Client.ref()` and `unref()` (of its socket), which `@types/pg` does not declare. */
function refOf(client: Client): { ref(): void; unref(): void } {
  return client as unknown as { ref(): void; unref(): void };
}

/** The payload key of one user in one schema (what the trigger sends). */
export function connectionKey(schema: string, userId: string): string {
  return `${schema}:${createHash('md5').update(userId, 'utf8').digest('hex')}`;
}

/**
 * One `LISTEN` connection per PostgreSQL store, opened when the first wait subscribes, shared by
 * every wait of the store, closed 10 s after the last wait ended (so it keeps no idle process alive)
 * and with the store. Each notification wakes only the waits of that user.
 * A broken connection is reopened (at most once a second) while waits remain; until then the waits
 * see `live() === false` and poll more often.
 */
export class PostgresConnectionListener {
  readonly #connect: () => Client;
  /** The schema whose tables notify: the store's, or the connection's `current_schema()`. */
  #schema: string | undefined;
  readonly #watchers = new Map<string, Set<() => void>>();
  #client: Client | undefined;
  #connecting: Promise<boolean> | undefined;
  #live = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  /** Subscriptions not closed yet (also those still connecting). */
  #open = 0;

  /** The longest wait for the answer to each of its statements (the store's query_timeout). */
  readonly #queryTimeoutMs: number;

  constructor(connect: () => Client, schema: string | undefined, queryTimeoutMs: number) {
    this.#connect = connect;
    this.#schema = schema;
    this.#queryTimeoutMs = queryTimeoutMs;
  }

  watch(userId: string, onChange: () => void): ConnectionWatch {
    this.#open++;
    if (this.#idle) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
      // waited on again: the connection keeps the process alive while a wait needs it
      if (this.#client) refOf(this.#client).ref();
    }
    const ready = this.#ensure().then(() => this.#live);
    let key: string | undefined;
    let closed = false;
    // the key needs the schema, known once connected when the store has no schema of its own
    const subscribed = ready.then(() => {
      if (closed || this.#schema === undefined) return;
      key = connectionKey(this.#schema, userId);
      const set = this.#watchers.get(key) ?? new Set();
      this.#watchers.set(key, set);
      set.add(onChange);
    });
    return {
      ready: subscribed.then(() => this.#live && key !== undefined),
      live: () => this.#live && key !== undefined,
      close: () => {
        if (closed) return;
        closed = true;
        if (--this.#open === 0) this.#closeWhenIdle();
        if (key === undefined) return;
        const set = this.#watchers.get(key);
        set?.delete(onChange);
        if (set?.size === 0) this.#watchers.delete(key);
      },
    };
  }

  /** Connects and listens, once; resolves whether listening worked. */
  #ensure(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#live) return Promise.resolve(true);
    this.#connecting ??= this.#listen().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #listen(): Promise<boolean> {
    const client = this.#connect();
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    client.on('notification', (message: Notification) => this.#notify(message));
    try {
      await client.connect();
      const query_timeout = this.#queryTimeoutMs;
      if (this.#schema === undefined) {
        const result = await client.query<{ schema: string }>({
          text: 'SELECT current_schema() AS schema',
          query_timeout,
        } as QueryConfig);
        this.#schema = result.rows[0]?.schema ?? 'public';
      }
      await client.query({ text: `LISTEN ${CONNECTIONS_CHANNEL}`, query_timeout } as QueryConfig);
    } catch {
      this.#lost(client);
      await client.end().catch(() => {});
      return false;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return false;
    }
    this.#client = client;
    this.#live = true;
    // every wait ended while it connected: idle from the start
    if (this.#open === 0) {
      if (this.#idle) refOf(client).unref();
      else this.#closeWhenIdle();
    }
    return true;
  }

  #notify(message: Notification): void {
    if (message.channel !== CONNECTIONS_CHANNEL || !message.payload) return;
    for (const onChange of this.#watchers.get(message.payload) ?? []) onChange();
  }

  /** The connection broke: waits poll until it is back; reopened while anyone waits. */
  #lost(client: Client): void {
    if (this.#client === client) {
      this.#client = undefined;
      this.#live = false;
    }
    if (this.#closed || this.#retry || this.#watchers.size === 0) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#watchers.size > 0) {
        void this.#ensure().then((live) => {
          // a notification may have been missed while the connection was down
          if (live) for (const set of this.#watchers.values()) for (const onChange of set) onChange();
        });
      }
    }, RECONNECT_DELAY_MS);
    this.#retry.unref();
  }

  /**
   * Ends the listening connection if no wait starts within {@link IDLE_CLOSE_MS}; meanwhile it does
   * not keep the process alive (a script whose last wait ended exits at once).
   */
  #closeWhenIdle(): void {
    if (this.#client) refOf(this.#client).unref();
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#open > 0 || this.#connecting) return;
      const client = this.#client;
      this.#client = undefined;
      this.#live = false;
      void client?.end().catch(() => {});
    }, IDLE_CLOSE_MS);
    this.#idle.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idle) clearTimeout(this.#idle);
    this.#live = false;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#connecting?.catch(() => false);
    const client = this.#client;
    this.#client = undefined;
    this.#watchers.clear();
    await client?.end().catch(() => {});
  }
}
