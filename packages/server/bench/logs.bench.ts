/**
 * Reading a session's execution log (`GET /api/v1/sessions/:id/logs`) under load.
 *
 * A toolmux server (in a child process, so the clients' CPU is not the server's) serves 64 sessions
 * from a fresh PostgreSQL schema (then a SQLite file). The log table is filled in bulk (one
 * `INSERT … generate_series` / recursive CTE per 100,000 rows) to 10,000 and then 1,000,000 rows: each
 * bench session owns `OWN_ROWS` entries, the rest belong to 10,000 other sessions. 64 clients, one per
 * session, read their log as fast as they can — the first page, then the page after its cursor — and
 * each request's latency is recorded: p50 and p99 are printed, with 0 and with 16 more clients calling
 * a tool meanwhile (every call writes a log entry).
 *
 * The server's CPU per measured request (user + system, and system alone) is printed beside the
 * clients', the PostgreSQL processes' (all of them on the machine) and the load average. The clients share the 2 cores with the server and the database, so
 * they must cost little: by default (`BENCH_CLIENT=net`) each keeps one TCP connection alive, writes
 * pre-built request bytes and reads an answer by its status line and Content-Length only (the
 * `next_cursor` is read from the end of the body; every 32nd page is parsed as JSON and checked);
 * `BENCH_CLIENT=http` is node:http with a keep-alive Agent, `http,net` measures both in turn.
 *
 * With `BENCH_BASELINE=<a built checkout, e.g. a worktree of main>` a second server runs that code on
 * the same database, and the two take turns measurement by measurement (median of `BENCH_ROUNDS`), so
 * "before" and "after" come from one run. Compare ratios only (shared machines). `BENCH_CODE=<a built
 * checkout>` measures that checkout's code as "after" (by path, as the baseline's), for a run from a
 * third checkout in which neither contender's code is the bench's own.
 * Prefer both (`BENCH_CODE` and `BENCH_BASELINE`, each a path) and run both slot orders: with the
 * default, this checkout's code loads by package name and the baseline's by path, and identical code
 * measured 1.14x that way.
 *
 *   pnpm --filter @toolmux/server build && BENCH_BASELINE=../main node --no-warnings packages/server/bench/logs.bench.ts
 *
 * BENCH_SIZES=10000,1000000 (rows), BENCH_REQUESTS=3200 (per measurement), BENCH_CALLERS=0,16,
 * BENCH_LIMIT=50 (entries per page), BENCH_OWN_ROWS=75 (entries per bench session),
 * BENCH_STORES=postgres,sqlite, BENCH_CLIENT=net, TOOLMUX_TEST_POSTGRES_URL. BENCH_PROF=<dir> writes a
 * CPU profile of the server per measurement (the measured requests only; BENCH_PROF_INTERVAL=<µs>, V8's
 * default 1000); BENCH_SERVER_FLAGS passes
 * flags to the server processes (`--perf-basic-prof`, then `perf record -e cpu-clock -g -p <pid>`
 * samples CPU time, GC threads and kernel included, where the V8 profile samples wall time);
 * BENCH_AFTER_FLAGS to the "after" server only (a V8 flag against the same code as the baseline).
 * BENCH_CALLGRIND=<dir> runs the servers under valgrind's callgrind and prints the instructions they
 * ran per measured request (from the first to the last; dumps in <dir>): a count that the other
 * processes on a shared machine do not change, where CPU time does (use BENCH_REQUESTS=640 or so:
 * a request costs ~50× its time). The servers' session cache then lives 50× longer (100 s; else
 * BENCH_SESSION_CACHE_TTL_MS, 2000 by default), so that its background re-reads per request do not
 * grow with the slowdown.
 */
import { execFileSync, fork } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Session as InspectorSession } from 'node:inspector/promises';
import { connect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as gcKinds, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { ToolMux } from '@toolmux/core';
import { createTestPostgresStore, postgresProcessesCpu } from '@toolmux/core/test';
import { echoToolkit } from './echo-toolkit.ts';

const API_KEY = 'bench-api-key-0123456789';
const CLIENTS = 64;
/** Entries of each bench session: pages of `LIMIT`, then the rest (75 with 50: 50 and 25). */
const OWN_ROWS = Number(process.env.BENCH_OWN_ROWS ?? 75);
/** Entries per page (`?limit=`). */
const LIMIT = Number(process.env.BENCH_LIMIT ?? 50);
const SIZES = (process.env.BENCH_SIZES ?? '10000,1000000').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLERS = (process.env.BENCH_CALLERS ?? '0,16').split(',').map(Number);
/** A checkout (built) whose code is the baseline, e.g. a worktree of main. */
const BASELINE = process.env.BENCH_BASELINE ?? '';
/**
 * A checkout (built) whose code is measured as "after"; by default this one's, imported by package
 * name. Run from a third checkout with both set, the two servers load their code alike (by path,
 * each beside a copy of the bench's own imports).
 */
const CODE = process.env.BENCH_CODE ?? '';
const silent = { debug() {}, warn() {}, error() {} };
/**
 * The servers' `sessionCacheTtlMs`: how often a session's existence is read again in the background
 * (see `SessionCache.checkReadable`). Under callgrind a server runs ~50× slower, so with the
 * default of 2 s it would re-read every session about once per measured request, and a slower
 * contender more often: the count would depend on speed. It is then 50× the default.
 */
const SESSION_CACHE_TTL_MS = Number(
  process.env.BENCH_SESSION_CACHE_TTL_MS ?? (process.env.BENCH_CALLGRIND ? 100_000 : 2000),
);

/** Runs in the child: a server on `store`, with this checkout's code or the one at `root`. */
async function serve(store: string, root: string): Promise<void> {
  const core: typeof import('@toolmux/core') =
    root === '' ? await import('@toolmux/core') : await import(join(root, 'packages/core/dist/index.js'));
  const server: typeof import('@toolmux/server') =
    root === '' ? await import('@toolmux/server') : await import(join(root, 'packages/server/dist/index.js'));
  const toolkit = echoToolkit(core);
  const secretKey = Buffer.alloc(32, 7).toString('base64');
  const mux = new core.ToolMux({ toolkits: [toolkit], store, secretKey, logger: silent });
  const sessionIds: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    // the same user ids on both servers: the second one resumes nothing, it makes its own sessions
    sessionIds.push((await mux.create(`bench_user_${i}`, { toolkits: ['echo'] })).sessionId);
  }
  const running = await server
    .createServer({ toolmux: mux, apiKey: API_KEY, logger: silent, sessionCacheTtlMs: SESSION_CACHE_TTL_MS })
    .serve({ port: 0 });
  // the server's own view of each request: from its headers parsed to its answer's last byte handed
  // to the socket (the rest of what a client sees is the wait for the event loop to read the request,
  // and the sockets), and the event loop's delay meanwhile
  const requestStarts = new WeakMap<object, bigint>();
  let requestMs: number[] = [];
  subscribe('http.server.request.start', (message) => {
    requestStarts.set((message as { response: object }).response, process.hrtime.bigint());
  });
  subscribe('http.server.response.finish', (message) => {
    const started = requestStarts.get((message as { response: object }).response);
    if (started !== undefined) requestMs.push(Number(process.hrtime.bigint() - started) / 1e6);
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  // the garbage collector's pauses meanwhile: a pause holds every request in flight
  let gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0, longestMs: 0 };
  new PerformanceObserver((entries) => {
    for (const entry of entries.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === gcKinds.NODE_PERFORMANCE_GC_MAJOR) {
        gc.major++;
        gc.majorMs += entry.duration;
      } else {
        gc.minor++;
        gc.minorMs += entry.duration;
      }
      gc.longestMs = Math.max(gc.longestMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  process.send!({ url: running.url, sessionIds });
  let profiler: InspectorSession | undefined;
  process.on('message', async (message: string | { profile: string }) => {
    if (message === 'cpu') {
      // the server's CPU time so far (µs), for CPU per request; and its request times and event-loop
      // delay since the last ask
      const sorted = requestMs.sort((a, b) => a - b);
      process.send!({
        cpu: process.cpuUsage(),
        requestP50: sorted.length > 0 ? percentile(sorted, 50) : 0,
        requestP99: sorted.length > 0 ? percentile(sorted, 99) : 0,
        loopP99: loopDelay.percentile(99) / 1e6,
        gc,
      });
      requestMs = [];
      loopDelay.reset();
      gc = { minor: 0, minorMs: 0, major: 0, majorMs: 0, longestMs: 0 };
    } else if (message === 'profile') {
      // BENCH_PROF: a CPU profile of one measurement (not of the start and the filling)
      profiler ??= new InspectorSession();
      profiler.connect();
      await profiler.post('Profiler.enable');
      // BENCH_PROF_INTERVAL: the sampling interval in µs (V8's default is 1000: few samples of a request)
      await profiler.post('Profiler.setSamplingInterval', {
        interval: Number(process.env.BENCH_PROF_INTERVAL ?? 1000),
      });
      await profiler.post('Profiler.start');
      process.send!({ profiling: true });
    } else if (typeof message === 'object') {
      const { profile } = await profiler!.post('Profiler.stop');
      writeFileSync(message.profile, JSON.stringify(profile));
      profiler!.disconnect();
      process.send!({ profiling: false });
    } else process.exit(0);
  });
}

interface ServerTimes {
  cpu: NodeJS.CpuUsage;
  /** Of the requests the server answered since the last ask (the tool callers' too): from headers parsed to answer written (ms). */
  requestP50: number;
  requestP99: number;
  /** The server's event-loop delay since the last ask, p99 (ms). */
  loopP99: number;
  /** Its garbage collections since the last ask: minor and major, how many and their pauses (ms). */
  gc: { minor: number; minorMs: number; major: number; majorMs: number; longestMs: number };
}

interface Server {
  url: string;
  sessionIds: string[];
  stop(): void;
  /** The server process's CPU time so far (µs), and its request times (ms) and event-loop delay since the last ask. */
  cpu(): Promise<ServerTimes>;
  /** Starts a CPU profile of the server, or stops it and writes it to `file`. */
  profile(file?: string): Promise<void>;
  /** BENCH_CALLGRIND: starts counting the server's instructions, or stops and answers the count. */
  instructions(measuring: boolean): Promise<number>;
}

/** BENCH_CALLGRIND=<dir>: the servers run under callgrind, which counts their instructions per measured request. */
const CALLGRIND = process.env.BENCH_CALLGRIND ?? '';

async function startServer(store: string, root = '', flags = ''): Promise<Server> {
  const nodeFlags = [
    '--no-warnings',
    ...`${process.env.BENCH_SERVER_FLAGS ?? ''} ${flags}`.split(' ').filter(Boolean),
  ];
  const child = fork(new URL(import.meta.url), ['server', store, root], {
    stdio: 'inherit',
    // BENCH_SERVER_FLAGS: e.g. --perf-basic-prof for `perf record -e cpu-clock -p <server pid>`
    ...(CALLGRIND === ''
      ? { execArgv: nodeFlags }
      : {
          // counted from the first measured request to the last (callgrind_control); V8's JIT writes code
          execPath: 'valgrind',
          execArgv: [
            '--tool=callgrind',
            '--instr-atstart=no',
            '--smc-check=all-non-file',
            `--callgrind-out-file=${join(CALLGRIND, 'callgrind.out.%p')}`,
            process.execPath,
            ...nodeFlags,
          ],
        }),
  });
  const started = await new Promise<{ url: string; sessionIds: string[] }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { url: string; sessionIds: string[] }));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const ask = <T>(message: string | object) =>
    new Promise<T>((resolve) => {
      child.once('message', (answer) => resolve(answer as T));
      child.send(message);
    });
  const pid = String(child.pid);
  return {
    ...started,
    instructions: async (measuring) => {
      if (measuring) {
        execFileSync('callgrind_control', ['--zero', pid], { stdio: 'ignore' });
        execFileSync('callgrind_control', ['--instr=on', pid], { stdio: 'ignore' });
        return 0;
      }
      execFileSync('callgrind_control', ['--instr=off', pid], { stdio: 'ignore' });
      // the counts since --zero, in a dump of their own
      const before = new Set(readdirSync(CALLGRIND));
      execFileSync('callgrind_control', ['--dump', pid], { stdio: 'ignore' });
      const dump = readdirSync(CALLGRIND).find((name) => !before.has(name) && name.includes(pid));
      const totals = /^totals: (\d+)/m.exec(readFileSync(join(CALLGRIND, dump ?? ''), 'utf8'));
      return Number(totals?.[1] ?? Number.NaN);
    },
    stop: () => child.send('stop'),
    cpu: () => ask<ServerTimes>('cpu'),
    profile: async (file) => {
      await ask(file === undefined ? 'profile' : { profile: file });
    },
  };
}

/** Where the server's store lives, and how the bench runs SQL on it past the server. */
interface Backend {
  name: string;
  store: string;
  dialect: 'postgres' | 'sqlite';
  run(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

async function postgresBackend(): Promise<Backend> {
  const database = await createTestPostgresStore();
  await database.store.migrate();
  const store = new URL(database.connectionString);
  store.searchParams.set('options', `-c search_path=${database.schema}`);
  return {
    name: 'PostgreSQL',
    store: store.toString(),
    dialect: 'postgres',
    run: (sql, params) => database.query(sql, params),
    close: () => database.cleanup(),
  };
}

async function sqliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-logs-bench-'));
  const path = join(dir, 'logs.db');
  // migrate through a ToolMux, then write past it with a connection of our own
  await new ToolMux({ store: `sqlite:${path}`, logger: silent }).close();
  const database = new DatabaseSync(path);
  database.exec('PRAGMA busy_timeout = 5000');
  return {
    name: 'SQLite',
    store: `sqlite:${path}`,
    dialect: 'sqlite',
    run: async (sql, params = []) => database.prepare(sql).all(...(params as string[])),
    close: async () => {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Adds rows until the table holds `total`: `OWN_ROWS` per bench session (first call only, their ids
 * interleaved), the rest spread over 10,000 other sessions of 1,000 other users, with ids after
 * (newer than) the bench sessions' rows. Ids sort like real ones.
 */
async function fill(backend: Backend, sessionIds: string[], total: number): Promise<void> {
  const [row] = await backend.run('SELECT count(*) AS count FROM toolmux_execution_logs');
  let present = Number(row!.count);
  const pg = backend.dialect === 'postgres';
  const insert = (from: number, to: number, numberSql: string, sessionSql: string, userSql: string) =>
    backend.run(
      (pg
        ? ''
        : `WITH RECURSIVE series(g) AS (SELECT ${from} UNION ALL SELECT g + 1 FROM series WHERE g < ${to}) `) +
        'INSERT INTO toolmux_execution_logs (id, session_id, user_id, tool_slug, toolkit, status, duration_ms, input, output, created_at) ' +
        `SELECT 'log_' || ${pg ? `lpad(to_hex(${numberSql}), 38, '0')` : `printf('%038x', ${numberSql})`}, ${sessionSql}, ${userSql}, ` +
        `'ECHO_ECHO', 'echo', 'success', 1.5, '{"text":"hello"}', '{"text":"hello"}', ${pg ? 'now()' : '1764633600000'} ` +
        (pg ? `FROM generate_series(${from}::bigint, ${to}::bigint) g` : 'FROM series'),
    );
  if (present === 0) {
    for (const [index, sessionId] of sessionIds.entries()) {
      await insert(
        1,
        OWN_ROWS,
        `g * ${sessionIds.length} + ${index}`,
        `'${sessionId}'`,
        `'bench_user_${index}'`,
      );
    }
    present = sessionIds.length * OWN_ROWS;
  }
  const step = 100_000;
  for (let from = present + 1; from <= total; from += step) {
    const to = Math.min(total, from + step - 1);
    await insert(
      from,
      to,
      `g + ${sessionIds.length * (OWN_ROWS + 1)}`,
      `'ses_other_' || (g % 10000)`,
      `'user_other_' || (g % 1000)`,
    );
  }
  // settle the bulk insert before measuring: statistics, hint bits and the visibility map (else
  // autovacuum runs during the measurement), and the WAL it wrote
  if (pg) {
    await backend.run('VACUUM ANALYZE toolmux_execution_logs');
    await backend.run('CHECKPOINT').catch(() => {}); // needs a superuser or pg_checkpoint
  } else {
    await backend.run('ANALYZE');
    await backend.run('PRAGMA wal_checkpoint(TRUNCATE)');
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** An answer as the clients see it: the status and the body's bytes. */
interface Reply {
  status: number;
  body: Buffer;
}

/**
 * How the clients speak HTTP. They share the machine's 2 cores with the server and the database, so
 * what a request costs them is taken from the server: `fetch` (undici) cost a client about as much
 * CPU per request as the server spent answering it (~250-500 µs), node:http about half of that
 * (`http`). `net` writes pre-built request bytes on a kept-alive socket and reads only the status
 * line and Content-Length of the answer (the default).
 */
interface HttpClient {
  /** `path` with its query; `body` JSON for a POST. One request at a time per `connection`. */
  send(connection: number, method: 'GET' | 'POST', path: string, body?: string): Promise<Reply>;
  close(): void;
}

/** node:http over keep-alive connections (the bench's clients until the `net` ones). */
function nodeHttpClient(url: string): HttpClient {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const send = (_connection: number, method: 'GET' | 'POST', path: string, body?: string) =>
    new Promise<Reply>((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const outgoing = request(`${url}${path}`, { method, agent, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      });
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        // a kept-alive connection the server closed as it was reused (idle past its keep-alive
        // timeout while the other contender was measured): once more, on a new one
        if (outgoing.reusedSocket && error.code === 'ECONNRESET')
          send(0, method, path, body).then(resolve, reject);
        else reject(error);
      });
      outgoing.end(body);
    });
  return { send, close: () => agent.destroy() };
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i;

/**
 * One kept-alive TCP connection, one request at a time: the request's bytes are written as given,
 * and the answer is read by its status line and Content-Length (an answer without one, chunked, is
 * an error: the bench's answers all have one).
 */
class RawConnection {
  #socket: Socket | undefined;
  #chunks: Buffer[] = [];
  #received = 0;
  /** Where the body starts, once the head is in; else -1. */
  #bodyAt = -1;
  #length = 0;
  #status = 0;
  #pending:
    | { request: Buffer; resolve(reply: Reply): void; reject(error: Error): void; retried: boolean }
    | undefined;

  readonly #port: number;
  readonly #host: string;

  constructor(port: number, host: string) {
    this.#port = port;
    this.#host = host;
  }

  send(request: Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#pending = { request, resolve, reject, retried: false };
      this.#write();
    });
  }

  close(): void {
    this.#socket?.destroy();
  }

  #write(): void {
    if (this.#socket === undefined) {
      const socket = connect({ port: this.#port, host: this.#host, noDelay: true });
      socket.on('data', (chunk: Buffer) => this.#data(chunk));
      socket.on('error', () => {}); // 'close' follows
      socket.on('close', () => this.#closed(socket));
      this.#socket = socket;
    }
    this.#socket.write(this.#pending!.request);
  }

  #closed(socket: Socket): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    const pending = this.#pending;
    if (pending === undefined) return;
    // a kept-alive connection the server closed (idle past its keep-alive timeout while the other
    // contender was measured) before any of the answer came: once more, on a new one
    if (this.#received === 0 && !pending.retried) {
      pending.retried = true;
      this.#write();
      return;
    }
    this.#pending = undefined;
    pending.reject(new Error('the server closed the connection before answering'));
  }

  #data(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#received += chunk.length;
    if (this.#bodyAt < 0) {
      const head = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks);
      this.#chunks = [head];
      const end = head.indexOf(HEADER_END);
      if (end < 0) return;
      const text = head.toString('latin1', 0, end);
      const length = CONTENT_LENGTH.exec(text);
      if (!text.startsWith('HTTP/1.1 ') || length === null) {
        this.#fail(new Error(`an answer without Content-Length: ${text.slice(0, 200)}`));
        return;
      }
      this.#status = Number(text.slice(9, 12));
      this.#length = Number(length[1]);
      this.#bodyAt = end + HEADER_END.length;
    }
    const end = this.#bodyAt + this.#length;
    if (this.#received < end) return;
    if (this.#received > end) {
      this.#fail(new Error('more bytes than the answer holds'));
      return;
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const reply = { status: this.#status, body: all.subarray(this.#bodyAt) };
    const pending = this.#pending!;
    this.#chunks = [];
    this.#received = 0;
    this.#bodyAt = -1;
    this.#pending = undefined;
    pending.resolve(reply);
  }

  #fail(error: Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    this.#socket?.destroy();
    this.#socket = undefined;
    pending?.reject(error);
  }
}

/** Raw keep-alive sockets and pre-built requests (the head of every request is the same but its path). */
function rawClient(url: string): HttpClient {
  const { hostname, port } = new URL(url);
  const connections = new Map<number, RawConnection>();
  const host = `Host: ${hostname}:${port}\r\nAuthorization: Bearer ${API_KEY}\r\n`;
  const built = new Map<string, Buffer>();
  return {
    send(connection, method, path, body) {
      let socket = connections.get(connection);
      if (socket === undefined) {
        socket = new RawConnection(Number(port), hostname);
        connections.set(connection, socket);
      }
      const key = `${method} ${path}`;
      let bytes = body === undefined ? built.get(key) : undefined;
      if (bytes === undefined) {
        bytes = Buffer.from(
          `${method} ${path} HTTP/1.1\r\n${host}` +
            (body === undefined
              ? '\r\n'
              : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
        );
        if (body === undefined && built.size < 10_000) built.set(key, bytes);
      }
      return socket.send(bytes);
    },
    close() {
      for (const connection of connections.values()) connection.close();
    },
  };
}

const CLIENT_KINDS = (process.env.BENCH_CLIENT ?? 'net').split(',') as Array<'net' | 'http'>;

const PAGE_START = Buffer.from('{"items":[{');
const NEXT_CURSOR = Buffer.from('"next_cursor":');
/** Every this many answers (and each client's first) is parsed as JSON and checked whole. */
const PARSE_EVERY = 32;

/**
 * A page's `next_cursor`, read from the end of its bytes without parsing the rest (a log id holds no
 * quote or backslash); checks that the body is a page with entries. Every {@link PARSE_EVERY}th
 * answer is parsed whole, and must agree.
 */
function nextCursor(reply: Reply, parse: boolean): string | null {
  const { status, body } = reply;
  if (status !== 200 || body.compare(PAGE_START, 0, PAGE_START.length, 0, PAGE_START.length) !== 0) {
    throw new Error(`bad page: ${status} ${body.toString('utf8', 0, 300)}`);
  }
  const at = body.lastIndexOf(NEXT_CURSOR);
  if (at < 0) throw new Error('a page without next_cursor');
  const value = at + NEXT_CURSOR.length;
  const cursor =
    body[value] === 0x22 ? body.toString('latin1', value + 1, body.indexOf(0x22, value + 1)) : null;
  if (parse) {
    const page = JSON.parse(body.toString('utf8')) as { items: unknown[]; next_cursor: string | null };
    if (!Array.isArray(page.items) || page.items.length === 0 || page.next_cursor !== cursor) {
      throw new Error(`a page that does not parse as it reads: ${body.toString('utf8', 0, 300)}`);
    }
  }
  return cursor;
}

/** 64 clients, each reading its own session's log (first page, then the next one), `REQUESTS` in all. */
async function load(
  http: HttpClient,
  sessionIds: string[],
  callers = 0,
  onMeasuring?: (measuring: boolean) => Promise<void>,
): Promise<{ p50: number; p99: number; rps: number; clientCpu: number; clientSystem: number }> {
  // `callers` more clients call a tool meanwhile (each call writes a log entry)
  let calling = callers > 0;
  const calls = Array.from({ length: callers }, async (_, index) => {
    const sessionId = sessionIds[index % sessionIds.length]!;
    const body = JSON.stringify({ tool_slug: 'ECHO_ECHO', arguments: { text: 'hello' } });
    while (calling) {
      const response = await http.send(
        CLIENTS + index,
        'POST',
        `/api/v1/sessions/${sessionId}/execute`,
        body,
      );
      if (response.status !== 200) throw new Error(`call failed: ${response.status} ${response.body}`);
    }
  });
  const run = async (count: number, latencies?: number[]) => {
    let next = 0;
    await Promise.all(
      sessionIds.map(async (sessionId, client) => {
        const firstPage = `/api/v1/sessions/${sessionId}/logs?limit=${LIMIT}`;
        let cursor: string | null = null;
        let answers = 0;
        while (next++ < count) {
          const started = performance.now();
          const reply = await http.send(
            client,
            'GET',
            cursor === null ? firstPage : `${firstPage}&cursor=${cursor}`,
          );
          latencies?.push(performance.now() - started);
          const following = nextCursor(reply, answers++ % PARSE_EVERY === 0);
          // first page, second page, first page, …
          cursor = cursor === null ? following : null;
        }
      }),
    );
  };
  await run(CLIENTS * 10); // warm up: connections, plans, caches
  await onMeasuring?.(true);
  const latencies: number[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  await run(REQUESTS, latencies);
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  await onMeasuring?.(false);
  calling = false;
  await Promise.all(calls);
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rps: latencies.length / seconds,
    // the clients' CPU per read (the callers' included), for the share of the cores the server had
    clientCpu: (user + system) / latencies.length,
    clientSystem: system / latencies.length,
  };
}

interface Contender {
  name: string;
  server: Server;
}

const GOAL_P99_MS = 20;

async function bench(backend: Backend): Promise<void> {
  const contenders: Contender[] = [
    { name: 'after', server: await startServer(backend.store, CODE, process.env.BENCH_AFTER_FLAGS) },
  ];
  if (BASELINE) contenders.unshift({ name: 'before', server: await startServer(backend.store, BASELINE) });
  // one HTTP client of each kind per contender (its connections stay open across measurements)
  const clients = new Map(
    contenders.flatMap(({ name, server }) =>
      CLIENT_KINDS.map((kind) => [
        `${name} ${kind}`,
        kind === 'http' ? nodeHttpClient(server.url) : rawClient(server.url),
      ]),
    ),
  );
  try {
    console.log(
      `\n## GET /sessions/:id/logs on ${backend.name}, ${CLIENTS} concurrent readers, ${REQUESTS} requests per measurement, clients: ${CLIENT_KINDS.join(', ')}`,
    );
    const ms = (value: number) => `${value.toFixed(1)} ms`.padStart(9);
    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
    const flatness = new Map<string, Array<{ size: number; p50: number; p99: number }>>();
    for (const size of SIZES) {
      await fill(
        backend,
        contenders.flatMap(({ server }) => server.sessionIds),
        size,
      );
      for (const callers of CALLERS) {
        const results = new Map<
          string,
          Array<{
            p50: number;
            p99: number;
            rps: number;
            cpu: number;
            system: number;
            database: number;
            instructions: number;
            clientCpu: number;
            clientSystem: number;
            requestP50: number;
            requestP99: number;
            loopP99: number;
            gc: ServerTimes['gc'];
          }>
        >();
        // the contenders (and client kinds) take turns, so that a burst of load on the shared machine
        // hits all alike
        const turns = contenders.flatMap((contender) => CLIENT_KINDS.map((kind) => ({ ...contender, kind })));
        for (let round = 0; round < ROUNDS; round++) {
          for (const { name, server, kind } of round % 2 === 0 ? turns : [...turns].reverse()) {
            const key = `${name} ${kind}`;
            let cpuBefore = { user: 0, system: 0 };
            let serverSide: Omit<ServerTimes, 'cpu'> = {
              requestP50: 0,
              requestP99: 0,
              loopP99: 0,
              gc: { minor: 0, minorMs: 0, major: 0, majorMs: 0, longestMs: 0 },
            };
            let databaseBefore = 0;
            let database = 0;
            let cpu = 0;
            let system = 0;
            let instructions = 0;
            const result = await load(clients.get(key)!, server.sessionIds, callers, async (measuring) => {
              if (measuring) {
                if (process.env.BENCH_PROF) await server.profile();
                cpuBefore = (await server.cpu()).cpu;
                databaseBefore = postgresProcessesCpu();
                if (CALLGRIND) await server.instructions(true);
              } else {
                if (CALLGRIND) instructions = (await server.instructions(false)) / REQUESTS;
                // the server's CPU per measured request (µs): independent of the machine's load
                const { cpu: cpuAfter, ...times } = await server.cpu();
                serverSide = times;
                cpu = (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / REQUESTS;
                system = (cpuAfter.system - cpuBefore.system) / REQUESTS;
                database = (postgresProcessesCpu() - databaseBefore) / REQUESTS;
                if (process.env.BENCH_PROF) {
                  const file = `${backend.dialect}-${size}-${callers}-${name}-${kind}-${round}.cpuprofile`;
                  await server.profile(join(process.env.BENCH_PROF, file));
                }
              }
            });
            results.set(key, [
              ...(results.get(key) ?? []),
              { ...result, cpu, system, database, instructions, ...serverSide },
            ]);
          }
        }
        const summary = new Map(
          [...results].map(([key, runs]) => [
            key,
            {
              p50: median(runs.map((run) => run.p50)),
              p99: median(runs.map((run) => run.p99)),
              rps: median(runs.map((run) => run.rps)),
              cpu: median(runs.map((run) => run.cpu)),
              system: median(runs.map((run) => run.system)),
              database: median(runs.map((run) => run.database)),
              instructions: median(runs.map((run) => run.instructions)),
              clientCpu: median(runs.map((run) => run.clientCpu)),
              clientSystem: median(runs.map((run) => run.clientSystem)),
              requestP50: median(runs.map((run) => run.requestP50)),
              requestP99: median(runs.map((run) => run.requestP99)),
              loopP99: median(runs.map((run) => run.loopP99)),
              // the GC of the run with the median p99
              gc: [...runs].sort((x, y) => x.p99 - y.p99)[Math.floor(runs.length / 2)]!.gc,
            },
          ]),
        );
        for (const [key, result] of summary) {
          console.log(
            `${String(size).padStart(9)} rows, ${String(callers).padStart(2)} callers, ${key.padEnd(11)}  p50 ${ms(result.p50)}  p99 ${ms(result.p99)}  ${Math.round(result.rps).toString().padStart(5)} req/s  server CPU ${Math.round(result.cpu).toString().padStart(4)} µs/request (system ${Math.round(result.system).toString().padStart(3)})  clients ${Math.round(result.clientCpu).toString().padStart(4)} µs (system ${Math.round(result.clientSystem).toString().padStart(3)})${backend.dialect === 'postgres' ? `  postgres ${Math.round(result.database).toString().padStart(4)} µs` : ''}${CALLGRIND ? `  ${Math.round(result.instructions / 1000)}k instructions/request` : ''}  in the server p50 ${ms(result.requestP50)} p99 ${ms(result.requestP99)} (event-loop delay p99 ${ms(result.loopP99)}; GC ${result.gc.minor} minor ${result.gc.minorMs.toFixed(1)} ms, ${result.gc.major} major ${result.gc.majorMs.toFixed(1)} ms, longest ${result.gc.longestMs.toFixed(1)} ms)  (goal p99 ≤ ${GOAL_P99_MS} ms: ${result.p99 <= GOAL_P99_MS ? 'met' : 'not met'}; load average ${loadavg()[0]!.toFixed(1)})`,
          );
          const bySize = flatness.get(`${key} ${callers}`) ?? [];
          bySize.push({ size, p50: result.p50, p99: result.p99 });
          flatness.set(`${key} ${callers}`, bySize);
        }
        for (const kind of CLIENT_KINDS) {
          const before = summary.get(`before ${kind}`);
          const after = summary.get(`after ${kind}`)!;
          if (before) {
            console.log(
              `${' '.repeat(31)}after/before (${kind})  p50 ${(after.p50 / before.p50).toFixed(2)}×  p99 ${(after.p99 / before.p99).toFixed(2)}×  req/s ${(after.rps / before.rps).toFixed(2)}×  server CPU/request ${(after.cpu / before.cpu).toFixed(2)}×${CALLGRIND ? `  instructions/request ${(after.instructions / before.instructions).toFixed(3)}×` : ''}`,
            );
          }
        }
      }
    }
    // the same latency with more rows: the largest table against the smallest, per contender
    for (const [key, bySize] of flatness) {
      if (bySize.length < 2) continue;
      const first = bySize[0]!;
      const last = bySize[bySize.length - 1]!;
      console.log(
        `${key.padEnd(16)} callers: ${last.size} rows / ${first.size} rows  p50 ${(last.p50 / first.p50).toFixed(2)}×  p99 ${(last.p99 / first.p99).toFixed(2)}× (flat: ≈ 1×)`,
      );
    }
  } finally {
    for (const client of clients.values()) client.close();
    for (const { server } of contenders) server.stop();
    await backend.close();
  }
}

const stores = (process.env.BENCH_STORES ?? 'postgres,sqlite').split(',');
async function main(): Promise<void> {
  if (stores.includes('postgres')) await bench(await postgresBackend());
  if (stores.includes('sqlite')) await bench(await sqliteBackend());
}

if (process.argv[2] === 'server') await serve(process.argv[3]!, process.argv[4] ?? '');
else await main();
