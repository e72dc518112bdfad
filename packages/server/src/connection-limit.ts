import { readFileSync } from 'node:fs';
import type { BlockList, Socket } from 'node:net';
import { wholeNumberOf } from '@toolmux/core/internal';
import { addressListOf, clientOf, listed } from './addresses.js';

/** How many connections one client may hold open, how long a request's headers may take. */
export interface ConnectionOptions {
  /**
   * The most connections one client (an IPv4 address, or an IPv6 /64 network: what one host is
   * given) may hold open at once. A request on a connection past it is answered
   * `503 TOO_MANY_CONNECTIONS`, and the connection is closed within a second. Without a limit, one
   * client holding idle connections (slowloris) takes every file descriptor of the process, and then
   * nobody else is answered. `0` turns the limit off.
   * @default a sixteenth of the files the process may open (its open-file limit, read on Linux), at
   * least 256; 256 where the limit cannot be read
   */
  perClient?: number;
  /**
   * Client addresses (IPs or CIDR ranges such as `10.0.0.0/8`) whose connections are not counted: a
   * reverse proxy or load balancer in front of the server, whose connections carry every client's
   * requests. Limit each client there (nginx: `limit_conn`).
   * @default ['127.0.0.0/8', '::1/128'] (loopback: a proxy or the application on the same host)
   */
  unlimited?: string[];
  /**
   * How long a client may take to send a request's headers, from when it connected or sent the
   * request before; past it the connection is answered `408` and closed (Node's `headersTimeout`).
   * Node's own default, 60 s, kept an idle connection three times as long.
   * @default 20_000
   */
  headersTimeoutMs?: number;
}

/** The least default share of a client (see {@link defaultConnectionsPerClient}). */
export const MIN_DEFAULT_CONNECTIONS_PER_CLIENT = 256;
/** A client may hold this share of the files the process may open, by default. */
const DEFAULT_SHARE_OF_FILES = 1 / 16;

/**
 * The default of `connections.perClient`: a sixteenth of the files the process may open (its soft
 * `RLIMIT_NOFILE`, which Node.js raises to the hard one at start), at least
 * {@link MIN_DEFAULT_CONNECTIONS_PER_CLIENT}; that where the limit cannot be read (not Linux). So no
 * one client can take the process's files, and an application on another host may keep as many
 * calls in flight as the machine can serve (an SDK opens a connection per call in flight).
 */
export function defaultConnectionsPerClient(limits = processLimits()): number {
  const files = /^Max open files\s+(\d+)\s/m.exec(limits ?? '')?.[1];
  if (files === undefined) return MIN_DEFAULT_CONNECTIONS_PER_CLIENT;
  return Math.max(MIN_DEFAULT_CONNECTIONS_PER_CLIENT, Math.floor(Number(files) * DEFAULT_SHARE_OF_FILES));
}

/** `/proc/self/limits` (Linux), or undefined. */
function processLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
/** `connections.unlimited` by default: loopback. */
const DEFAULT_UNLIMITED: readonly string[] = ['127.0.0.0/8', '::1/128'];
/** Node's `requestTimeout` (the whole request), which `headersTimeout` may not pass. */
const REQUEST_TIMEOUT_MS = 300_000;
/** At most this many of the clients refused since the last warning are named in the next one. */
const NAMED_CLIENTS = 5;
/** Refusals are logged at most once per this long (an attack refuses thousands a second). */
const WARNING_INTERVAL_MS = 10_000;

/** The options checked, with their defaults. */
export interface ConnectionSettings {
  perClient: number;
  unlimited: BlockList;
  /** `unlimited` as written (its default, loopback, when left out), for the startup line. */
  unlimitedEntries: readonly string[];
  headersTimeoutMs: number;
  /** How often Node looks for connections past their `headersTimeoutMs` (a quarter of it, 0.1–2 s). */
  checkingIntervalMs: number;
}

/**
 * Checks `connections` (`createServer`'s and the config file's): `CONFIG_INVALID` naming the bad
 * value and what to write.
 */
export function connectionSettings(options: ConnectionOptions = {}): ConnectionSettings {
  const perClient =
    options.perClient === undefined
      ? defaultConnectionsPerClient()
      : wholeNumberOf(options.perClient, {
          name: 'connections.perClient',
          code: 'CONFIG_INVALID',
          unit: 'connections',
          min: 0,
          purpose: 'the most connections one client may hold open; 0 for no limit',
          leaveOut: 'Leave it out for a sixteenth of the files the process may open (at least 256).',
        });
  const headersTimeoutMs = wholeNumberOf(options.headersTimeoutMs, {
    name: 'connections.headersTimeoutMs',
    code: 'CONFIG_INVALID',
    unit: 'milliseconds',
    min: 1,
    max: REQUEST_TIMEOUT_MS,
    purpose: "how long a client may take to send a request's headers",
    leaveOut: `Leave it out for ${DEFAULT_HEADERS_TIMEOUT_MS}.`,
    default: DEFAULT_HEADERS_TIMEOUT_MS,
  });
  const unlimitedEntries = options.unlimited ?? DEFAULT_UNLIMITED;
  const unlimited = addressListOf(unlimitedEntries, 'connections.unlimited', 'CONFIG_INVALID');
  const checkingIntervalMs = Math.min(2000, Math.max(100, Math.floor(headersTimeoutMs / 4)));
  return { perClient, unlimited, unlimitedEntries, headersTimeoutMs, checkingIntervalMs };
}

/**
 * How long a refused connection is kept for its request (ms): a client that sends one at once reads
 * the 503; one that sends nothing (or a byte at a time) loses the connection after this.
 */
export const REFUSED_CONNECTION_MS = 1000;

/**
 * Counts each client's open connections (see {@link ConnectionOptions.perClient}) and refuses those
 * past its share: its request is answered `503 TOO_MANY_CONNECTIONS` with `Connection: close`, and
 * the connection is closed after {@link REFUSED_CONNECTION_MS} whatever it sent. (Writing the answer
 * and closing at once, unread, made the system reset the connection when the request came, and a
 * client that had sent it read the reset, not the answer.)
 */
export class ConnectionLimit {
  readonly #settings: ConnectionSettings;
  readonly #open = new Map<string, number>();
  /** Refused connections, by socket, with their client. */
  readonly #refusedSockets = new WeakMap<Socket, string>();
  readonly #onRefused: (warning: string | undefined) => void;
  readonly #warningIntervalMs: number;
  readonly #now: () => number;
  /** Refusals since the last warning, and some of their clients. */
  #refused = 0;
  readonly #refusedClients = new Set<string>();
  /** Clients were refused that {@link NAMED_CLIENTS} left out of `#refusedClients`. */
  #moreClients = false;
  #warnedAt = -Infinity;

  /**
   * `onRefused` is called for each refused connection, with a warning for the log at most once per
   * `clock.warningIntervalMs` ({@link WARNING_INTERVAL_MS}; it counts those refused since the one
   * before), as `clock.now` tells the time (ms; `performance.now`).
   */
  constructor(
    settings: ConnectionSettings,
    onRefused: (warning: string | undefined) => void,
    clock: { warningIntervalMs?: number; now?: () => number } = {},
  ) {
    this.#settings = settings;
    this.#onRefused = onRefused;
    this.#warningIntervalMs = clock.warningIntervalMs ?? WARNING_INTERVAL_MS;
    this.#now = clock.now ?? (() => performance.now());
  }

  /** The open connections counted for `client` (as {@link clientOf} names it). */
  #openOf(client: string): number {
    return this.#open.get(client) ?? 0;
  }

  /** Counts a new connection against its client's share, or refuses it (false). */
  admit(socket: Socket): boolean {
    const { perClient, unlimited } = this.#settings;
    const address = socket.remoteAddress;
    if (perClient === 0 || address === undefined || listed(unlimited, address)) return true;
    const client = clientOf(address);
    const open = this.#openOf(client);
    if (open >= perClient) {
      this.#refuse(socket, client);
      return false;
    }
    this.#open.set(client, open + 1);
    socket.once('close', () => {
      const left = this.#openOf(client) - 1;
      if (left > 0) this.#open.set(client, left);
      else this.#open.delete(client);
    });
    return true;
  }

  /**
   * What a request on a refused connection is answered (`undefined` on any other): `503
   * TOO_MANY_CONNECTIONS` with this message and `Retry-After: 1`, in the envelope of the API asked.
   */
  refusalOn(socket: Socket): string | undefined {
    const client = this.#refusedSockets.get(socket);
    if (client === undefined) return undefined;
    return `The server refused this connection: your address (${client}) holds ${this.#settings.perClient} open connections, the most one client may. Reuse connections (keep-alive) or close idle ones; the server's operator can raise connections.perClient, or list a proxy's address in connections.unlimited.`;
  }

  #refuse(socket: Socket, client: string): void {
    this.#refusedSockets.set(socket, client);
    const timer = setTimeout(() => socket.destroy(), REFUSED_CONNECTION_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    this.#refused++;
    if (this.#refusedClients.size < NAMED_CLIENTS) this.#refusedClients.add(client);
    else if (!this.#refusedClients.has(client)) this.#moreClients = true;
    const now = this.#now();
    if (now - this.#warnedAt < this.#warningIntervalMs) {
      this.#onRefused(undefined);
      return;
    }
    const { perClient } = this.#settings;
    const clients = [...this.#refusedClients].join(', ');
    const warning = `toolmux server: refused ${this.#refused === 1 ? 'a connection' : `${this.#refused} connections`} from ${clients}${this.#moreClients ? ' and other clients' : ''}: a client may hold ${perClient} open connections (connections.perClient). If that is a reverse proxy carrying many clients' requests, list its address in connections.unlimited.`;
    this.#warnedAt = now;
    this.#refused = 0;
    this.#refusedClients.clear();
    this.#moreClients = false;
    this.#onRefused(warning);
  }
}
