import type { BlockList } from 'node:net';
import { ToolMuxError } from '@toolmux/core';
import { shownValue } from '@toolmux/core/internal';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { addressListOf, listed } from './addresses.js';

/** Who may read `GET /metrics`. */
export interface MetricsOptions {
  /** Serve `GET /metrics`. @default true */
  enabled?: boolean;
  /** Anyone may read it, without the API key (only behind a network boundary of your own). @default false */
  public?: boolean;
  /**
   * Client addresses (IPs or CIDR ranges such as `10.0.0.0/8`) that may read it without the API key.
   * A request that came through a proxy (a forwarding header set: `Forwarded`, `X-Forwarded-For`,
   * `X-Forwarded-Host`, `X-Forwarded-Proto`, `X-Real-IP`, `Via`, a CDN's client-address header) never
   * counts as from these addresses: behind a reverse proxy on the same host every request comes from
   * loopback.
   * Anyone else sends the project API key (`Authorization: Bearer <key>`).
   * @default ['127.0.0.0/8', '::1/128'] (loopback)
   */
  allowFrom?: string[];
}

const DEFAULT_ALLOW_FROM = ['127.0.0.0/8', '::1/128'];

/**
 * Headers a proxy or CDN adds to the requests it forwards: one of them on a request means that its
 * socket's address is the proxy's, not the client's. nginx is often told to send only `X-Real-IP`,
 * CDNs send their own (`CF-Connecting-IP`, `True-Client-IP`), a proxy that follows RFC 9110 `Via`.
 */
const PROXY_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'via',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'x-envoy-external-address',
] as const;

/** Latency buckets in seconds: 1 ms to 30 s. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Throws what `createServer({ metrics })` would throw: CONFIG_INVALID for an `enabled` or `public`
 * that is no boolean (both were read as truthy or not: `public: 'false'` let anyone read the metrics,
 * `enabled: 'false'` served them), INVALID_REQUEST for a bad `allowFrom` entry.
 */
export function checkMetricsOptions(options: MetricsOptions): void {
  for (const name of ['enabled', 'public'] as const) {
    const value: unknown = options[name];
    if (value === undefined || typeof value === 'boolean') continue;
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `metrics.${name} must be true or false; got ${shownValue(value)}. Leave it out for its default (${name === 'enabled' ? 'true' : 'false'}).`,
    });
  }
  addressListOf(options.allowFrom ?? DEFAULT_ALLOW_FROM, 'metrics.allowFrom', 'INVALID_REQUEST');
}

/**
 * Node's process metrics (CPU, memory, event loop lag, GC), one registry for the process, made when
 * the first server with metrics is created. They are the process's, not a server's; made per server,
 * each server created added a GC observer and an event loop delay monitor (a 10 ms timer) to the
 * process that nothing ever stopped.
 */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The server's Prometheus metrics, in a registry of their own (several servers in one process do not
 * share counters): tool calls by toolkit and status, tool-call latency, the connection waits held,
 * HTTP request latency by method, route pattern and status; and Node's process metrics, which are
 * the process's (see `processMetrics`).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #toolCalls: Counter<'toolkit' | 'status'>;
  readonly #toolCallSeconds: Histogram<'toolkit' | 'status'>;
  readonly #httpSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly #refusedConnections: Counter;
  readonly #allowFrom: BlockList;
  readonly #public: boolean;
  readonly #process: Registry;

  constructor(options: MetricsOptions = {}) {
    this.#public = options.public ?? false;
    this.#allowFrom = addressListOf(
      options.allowFrom ?? DEFAULT_ALLOW_FROM,
      'metrics.allowFrom',
      'INVALID_REQUEST',
    );
    this.#process = processMetrics();
    this.#toolCalls = new Counter({
      name: 'toolmux_tool_calls_total',
      help: 'Tool calls answered, by toolkit and status (success or error).',
      labelNames: ['toolkit', 'status'],
      registers: [this.registry],
    });
    this.#toolCallSeconds = new Histogram({
      name: 'toolmux_tool_call_duration_seconds',
      help: 'How long tool calls took, by toolkit and status.',
      labelNames: ['toolkit', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
    this.#refusedConnections = new Counter({
      name: 'toolmux_connections_refused_total',
      help: 'Connections refused because their client held the most open connections one may (connections.perClient).',
      registers: [this.registry],
    });
    this.#httpSeconds = new Histogram({
      name: 'toolmux_http_request_duration_seconds',
      help: 'How long HTTP requests took to answer, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
  }

  /** `toolmux_connection_waits`: the connection waits the server holds, as `count()` says at a scrape. */
  connectionWaits(count: () => number): void {
    new Gauge({
      name: 'toolmux_connection_waits',
      help: 'Connection waits (wait-for-connections, TOOLMUX_WAIT_FOR_CONNECTIONS) the server holds open.',
      registers: [this.registry],
      collect() {
        this.set(count());
      },
    });
  }

  toolCall(toolkit: string, status: string, durationMs: number): void {
    this.#toolCalls.inc({ toolkit, status });
    this.#toolCallSeconds.observe({ toolkit, status }, durationMs / 1000);
  }

  connectionRefused(): void {
    this.#refusedConnections.inc();
  }

  httpRequest(method: string, route: string, status: number, durationMs: number): void {
    this.#httpSeconds.observe({ method, route, status: String(status) }, durationMs / 1000);
  }

  /**
   * Whether a request may read the metrics without the API key: always when public, else when it
   * comes straight (no proxy headers) from an allowed address.
   */
  openTo(remoteAddress: string | undefined, headers: Headers): boolean {
    if (this.#public) return true;
    if (!remoteAddress || PROXY_HEADERS.some((name) => headers.has(name))) return false;
    return listed(this.#allowFrom, remoteAddress);
  }

  /** The exposition: Prometheus text format 0.0.4. */
  async render(): Promise<{ contentType: string; text: string }> {
    const [process, own] = await Promise.all([this.#process.metrics(), this.registry.metrics()]);
    return { contentType: this.registry.contentType, text: `${process}\n${own}` };
  }
}
