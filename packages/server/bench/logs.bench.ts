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
 * With `BENCH_BASELINE=<a built checkout, e.g. a worktree of main>` a second server runs that code on
 * the same database, and the two take turns measurement by measurement (median of `BENCH_ROUNDS`), so
 * "before" and "after" come from one run. Compare ratios only (shared machines).
 *
 *   pnpm --filter @toolmux/server build && BENCH_BASELINE=../main node --no-warnings packages/server/bench/logs.bench.ts
 *
 * BENCH_SIZES=10000,1000000 (rows), BENCH_REQUESTS=3200 (per measurement), BENCH_CALLERS=0,16,
 * BENCH_STORES=postgres,sqlite, TOOLMUX_TEST_POSTGRES_URL.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ToolMux } from '@toolmux/core';
import { createTestPostgresStore } from '@toolmux/core/test';
import { z } from 'zod';

const API_KEY = 'bench-api-key-0123456789';
const CLIENTS = 64;
const OWN_ROWS = 75;
const SIZES = (process.env.BENCH_SIZES ?? '10000,1000000').split(',').map(Number);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CALLERS = (process.env.BENCH_CALLERS ?? '0,16').split(',').map(Number);
/** A checkout (built) whose code is the baseline, e.g. a worktree of main. */
const BASELINE = process.env.BENCH_BASELINE ?? '';
const silent = { debug() {}, warn() {}, error() {} };

/** Runs in the child: a server on `store`, with this checkout's code or the one at `root`. */
async function serve(store: string, root: string): Promise<void> {
  const core: typeof import('@toolmux/core') =
    root === '' ? await import('@toolmux/core') : await import(join(root, 'packages/core/dist/index.js'));
  const server: typeof import('@toolmux/server') =
    root === '' ? await import('@toolmux/server') : await import(join(root, 'packages/server/dist/index.js'));
  const toolkit = core.defineToolkit({
    slug: 'echo',
    description: 'Echoes text.',
    tools: [
      core.defineTool({
        slug: 'ECHO_ECHO',
        description: 'Echo the text back.',
        inputSchema: z.object({ text: z.string() }),
        execute: ({ text }) => ({ text }),
      }),
    ],
  });
  const secretKey = Buffer.alloc(32, 7).toString('base64');
  const mux = new core.ToolMux({ toolkits: [toolkit], store, secretKey, logger: silent });
  const sessionIds: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    // the same user ids on both servers: the second one resumes nothing, it makes its own sessions
    sessionIds.push((await mux.create(`bench_user_${i}`, { toolkits: ['echo'] })).sessionId);
  }
  const running = await server
    .createServer({ toolmux: mux, apiKey: API_KEY, logger: silent })
    .serve({ port: 0 });
  process.send!({ url: running.url, sessionIds });
  process.on('message', (message) => {
    // the server's CPU time so far (µs), for CPU per request
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpu: user + system });
    } else process.exit(0);
  });
}

async function startServer(
  store: string,
  root = '',
): Promise<{ url: string; sessionIds: string[]; stop(): void; cpu(): Promise<number> }> {
  const child = fork(new URL(import.meta.url), ['server', store, root], {
    stdio: 'inherit',
    execArgv: [
      '--no-warnings',
      ...(process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []),
    ],
  });
  const started = await new Promise<{ url: string; sessionIds: string[] }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { url: string; sessionIds: string[] }));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const cpu = () =>
    new Promise<number>((resolve) => {
      child.once('message', (message) => resolve((message as { cpu: number }).cpu));
      child.send('cpu');
    });
  return { ...started, stop: () => child.send('stop'), cpu };
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

/**
 * The clients' HTTP: node:http over keep-alive connections (one per client). The clients share the
 * machine's cores with the server and the database, so what a request costs them is taken from the
 * server: `fetch` (undici) cost a client about as much CPU per request as the server spent answering
 * it (~250-500 µs), node:http about half of that.
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function send(url: string, method: 'GET' | 'POST', body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const outgoing = request(url, { method, agent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      // a kept-alive connection the server closed as it was reused (idle past its keep-alive
      // timeout while the other contender was measured): once more, on a new one
      if (outgoing.reusedSocket && error.code === 'ECONNRESET') send(url, method, body).then(resolve, reject);
      else reject(error);
    });
    outgoing.end(body);
  });
}

/** 64 clients, each reading its own session's log (first page, then the next one), `REQUESTS` in all. */
async function load(
  url: string,
  sessionIds: string[],
  callers = 0,
): Promise<{ p50: number; p99: number; rps: number; clientCpu: number }> {
  // `callers` more clients call a tool meanwhile (each call writes a log entry)
  let calling = callers > 0;
  const calls = Array.from({ length: callers }, async (_, index) => {
    const sessionId = sessionIds[index % sessionIds.length]!;
    while (calling) {
      const response = await send(
        `${url}/api/v1/sessions/${sessionId}/execute`,
        'POST',
        JSON.stringify({ tool_slug: 'ECHO_ECHO', arguments: { text: 'hello' } }),
      );
      if (response.status !== 200) throw new Error(`call failed: ${response.status} ${response.text}`);
    }
  });
  const read = async (sessionId: string, cursor?: string): Promise<string | null> => {
    const response = await send(
      `${url}/api/v1/sessions/${sessionId}/logs?limit=50${cursor ? `&cursor=${cursor}` : ''}`,
      'GET',
    );
    const page = JSON.parse(response.text) as { items: unknown[]; next_cursor: string | null };
    if (response.status !== 200 || page.items.length === 0) throw new Error(`bad page: ${response.status}`);
    return page.next_cursor;
  };
  const run = async (count: number, latencies?: number[]) => {
    let next = 0;
    await Promise.all(
      sessionIds.map(async (sessionId) => {
        let cursor: string | undefined;
        while (next++ < count) {
          const started = performance.now();
          const nextCursor = await read(sessionId, cursor);
          latencies?.push(performance.now() - started);
          // first page, second page, first page, …
          cursor = cursor === undefined ? (nextCursor ?? undefined) : undefined;
        }
      }),
    );
  };
  await run(CLIENTS * 10); // warm up: connections, plans, caches
  const latencies: number[] = [];
  const started = performance.now();
  const cpu = process.cpuUsage();
  await run(REQUESTS, latencies);
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  calling = false;
  await Promise.all(calls);
  latencies.sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    rps: latencies.length / seconds,
    // the clients' CPU per read (the callers' included), for the share of the cores the server had
    clientCpu: (user + system) / latencies.length,
  };
}

interface Contender {
  name: string;
  server: { url: string; sessionIds: string[]; stop(): void; cpu(): Promise<number> };
}

const GOAL_P99_MS = 20;

async function bench(backend: Backend): Promise<void> {
  const contenders: Contender[] = [{ name: 'after', server: await startServer(backend.store) }];
  if (BASELINE) contenders.unshift({ name: 'before', server: await startServer(backend.store, BASELINE) });
  try {
    console.log(
      `\n## GET /sessions/:id/logs on ${backend.name}, ${CLIENTS} concurrent readers, ${REQUESTS} requests per measurement`,
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
          Array<{ p50: number; p99: number; rps: number; cpu: number; clientCpu: number }>
        >();
        // the contenders take turns, so that a burst of load on the shared machine hits both alike
        for (let round = 0; round < ROUNDS; round++) {
          for (const { name, server } of round % 2 === 0 ? contenders : [...contenders].reverse()) {
            const cpuBefore = await server.cpu();
            const result = await load(server.url, server.sessionIds, callers);
            // the server's CPU per request (µs), warm-up included: independent of the machine's load
            const cpu = ((await server.cpu()) - cpuBefore) / (REQUESTS + CLIENTS * 10);
            results.set(name, [...(results.get(name) ?? []), { ...result, cpu }]);
          }
        }
        const summary = new Map(
          [...results].map(([name, runs]) => [
            name,
            {
              p50: median(runs.map((run) => run.p50)),
              p99: median(runs.map((run) => run.p99)),
              rps: median(runs.map((run) => run.rps)),
              cpu: median(runs.map((run) => run.cpu)),
              clientCpu: median(runs.map((run) => run.clientCpu)),
            },
          ]),
        );
        for (const [name, result] of summary) {
          console.log(
            `${String(size).padStart(9)} rows, ${String(callers).padStart(2)} callers, ${name.padEnd(6)}  p50 ${ms(result.p50)}  p99 ${ms(result.p99)}  ${Math.round(result.rps).toString().padStart(5)} req/s  server CPU ${Math.round(result.cpu)} µs/request  clients ${Math.round(result.clientCpu)} µs  (goal p99 ≤ ${GOAL_P99_MS} ms: ${result.p99 <= GOAL_P99_MS ? 'met' : 'not met'}; load average ${loadavg()[0]!.toFixed(1)})`,
          );
          const bySize = flatness.get(`${name} ${callers}`) ?? [];
          bySize.push({ size, p50: result.p50, p99: result.p99 });
          flatness.set(`${name} ${callers}`, bySize);
        }
        const before = summary.get('before');
        const after = summary.get('after')!;
        if (before) {
          console.log(
            `${' '.repeat(31)}after/before  p50 ${(after.p50 / before.p50).toFixed(2)}×  p99 ${(after.p99 / before.p99).toFixed(2)}×  req/s ${(after.rps / before.rps).toFixed(2)}×  server CPU/request ${(after.cpu / before.cpu).toFixed(2)}×`,
          );
        }
      }
    }
    // the same latency with more rows: the largest table against the smallest, per contender
    for (const [key, bySize] of flatness) {
      if (bySize.length < 2) continue;
      const first = bySize[0]!;
      const last = bySize[bySize.length - 1]!;
      console.log(
        `${key.padEnd(12)} callers: ${last.size} rows / ${first.size} rows  p50 ${(last.p50 / first.p50).toFixed(2)}×  p99 ${(last.p99 / first.p99).toFixed(2)}× (flat: ≈ 1×)`,
      );
    }
  } finally {
    for (const { server } of contenders) server.stop();
    await backend.close();
  }
}

const stores = (process.env.BENCH_STORES ?? 'postgres,sqlite').split(',');
async function main(): Promise<void> {
  if (stores.includes('postgres')) await bench(await postgresBackend());
  if (stores.includes('sqlite')) await bench(await sqliteBackend());
  agent.destroy();
}

if (process.argv[2] === 'server') await serve(process.argv[3]!, process.argv[4] ?? '');
else await main();
