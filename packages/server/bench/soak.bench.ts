/**
 * Memory of a long-running server (a soak): a toolmux server in a child process (its heap is not the
 * clients') on an SQLite file (`BENCH_STORE=postgres`: a fresh PostgreSQL schema) serves mixed
 * traffic from `BENCH_CLIENTS` (8) clients for `BENCH_SECONDS` (120). Each round creates a session
 * (200 user ids, reused), runs a tool three times over REST, reads its log, lists tools and searches
 * over MCP, runs a workbench cell that keeps a value on `globalThis` and calls a tool
 * (`BENCH_WORKBENCH=0` leaves it out), and deletes the session every `BENCH_DELETE_EVERY` (2) rounds;
 * the other sessions stay, as an application's do.
 *
 * Every `BENCH_SAMPLE_SECONDS` (10) the server collects its garbage twice and reports its heap, RSS
 * and external memory. Printed: the samples, and the heap's growth per 1,000 rounds from the third
 * sample to the last. What a steady server holds grows with what stays alive (a live workbench
 * context until it is idle for 10 minutes, at most 1,000 of them; the store's page cache), never
 * with what it has served: with every session deleted (`BENCH_DELETE_EVERY=1`) the heap is flat.
 * (External memory counts each live context's WebAssembly memory as reserved, most of it never
 * touched: RSS is what the machine gives.)
 *
 *   node --no-warnings packages/server/bench/soak.bench.ts
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPostgresUrl } from '@toolmux/core/test';

const API_KEY = 'soak-api-key-0123456789abcdef';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 120);
const SAMPLE_SECONDS = Number(process.env.BENCH_SAMPLE_SECONDS ?? 10);

interface Heap {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

if (process.argv[2] === 'serve') {
  const core = await import('@toolmux/core');
  const server = await import('@toolmux/server');
  const { echoToolkit } = await import('./echo-toolkit.ts');
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const mux = new core.ToolMux({
    toolkits: [echoToolkit(core)],
    store: process.argv[3]!,
    secretKey: Buffer.alloc(32, 7).toString('base64'),
    logger: silent,
  });
  const running = await server
    .createServer({ toolmux: mux, apiKey: API_KEY, logger: silent })
    .serve({ port: 0 });
  // the bench that forked it ended (failed, or interrupted): no server runs on for no one
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message) => {
    if (message !== 'heap') process.exit(0);
    const gc = (globalThis as { gc?: () => void }).gc!;
    gc();
    gc();
    const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
    process.send!({ heapUsed, rss, external, arrayBuffers });
  });
  process.send!({ url: running.url });
} else {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-soak-'));
  const postgres = process.env.BENCH_STORE === 'postgres' ? await createTestPostgresUrl() : undefined;
  const store = postgres?.url ?? join(dir, 'toolmux.db');
  const child = fork(new URL(import.meta.url).pathname, ['serve', store], {
    execArgv: ['--no-warnings', '--expose-gc'],
  });
  // a failed round or a server that died: the server stopped and the files and schema removed, the
  // error printed (they were left behind, the server running on with no parent)
  let stopping = false;
  const fail = async (error: unknown) => {
    if (stopping) return;
    stopping = true;
    child.kill();
    rmSync(dir, { recursive: true, force: true });
    await postgres?.cleanup();
    console.error(error);
    process.exit(1);
  };
  child.once('exit', (code, signal) => void fail(new Error(`the server exited (${signal ?? code})`)));
  const next = <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
  const { url } = await next<{ url: string }>();
  const heap = () => {
    const answer = next<Heap>();
    child.send('heap');
    return answer;
  };
  const auth = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = auth,
  ) => {
    const response = await fetch(url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status >= 500)
      throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    return {
      status: response.status,
      json: text
        ? (JSON.parse(text.startsWith('event:') ? text.split('data: ')[1]!.split('\n')[0]! : text) as any)
        : undefined,
    };
  };
  let rounds = 0;
  let failures = 0;
  const round = async (n: number) => {
    const created = await call('POST', '/api/v1/sessions', {
      user_id: `soak_user_${n % 200}`,
      config: { toolkits: ['echo'] },
    });
    const session = created.json;
    const id: string = session.session_id;
    for (let i = 0; i < 3; i++) {
      const executed = await call('POST', `/api/v1/sessions/${id}/execute`, {
        tool_slug: 'ECHO_ECHO',
        arguments: { text: `hello ${n} ${i}` },
      });
      if (executed.json?.successful !== true) failures++;
    }
    await call('GET', `/api/v1/sessions/${id}/logs?limit=10`);
    const mcpHeaders = {
      ...session.mcp.headers,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const mcpPath = new URL(session.mcp.url).pathname;
    await call('POST', mcpPath, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, mcpHeaders);
    await call(
      'POST',
      mcpPath,
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'TOOLMUX_SEARCH_TOOLS', arguments: { queries: [{ use_case: 'echo some text' }] } },
      },
      mcpHeaders,
    );
    const cell =
      process.env.BENCH_WORKBENCH === '0'
        ? { json: { successful: true } }
        : await call('POST', `/api/v1/sessions/${id}/execute`, {
            tool_slug: 'TOOLMUX_WORKBENCH',
            arguments: {
              code: "globalThis.seen = (globalThis.seen ?? []).concat('x'.repeat(100)); const r = await toolmux.execute('ECHO_ECHO', { text: 'in a cell' }); return r.data.text + seen.length",
            },
          });
    if (cell.json?.successful !== true) failures++;
    if (n % Number(process.env.BENCH_DELETE_EVERY ?? 2) === 0) await call('DELETE', `/api/v1/sessions/${id}`);
    rounds++;
  };
  const started = Date.now();
  const samples: Array<Heap & { seconds: number; rounds: number }> = [];
  samples.push({ ...(await heap()), seconds: 0, rounds: 0 });
  let n = 0;
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (Date.now() - started < SECONDS * 1000) await round(n++);
  });
  const sampler = (async () => {
    for (let at = SAMPLE_SECONDS; at <= SECONDS; at += SAMPLE_SECONDS) {
      await new Promise((resolve) => setTimeout(resolve, started + at * 1000 - Date.now()));
      samples.push({ ...(await heap()), seconds: at, rounds });
    }
  })();
  await Promise.all([...clients, sampler]).catch(fail);
  samples.push({ ...(await heap()), seconds: Math.round((Date.now() - started) / 1000), rounds });
  stopping = true;
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  await postgres?.cleanup();
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1).padStart(7);
  console.log(
    `\n## a server's memory under mixed traffic (${CLIENTS} clients, ${SECONDS} s, ${postgres ? 'PostgreSQL' : 'SQLite file'}, a session deleted every ${process.env.BENCH_DELETE_EVERY ?? 2} rounds${process.env.BENCH_WORKBENCH === '0' ? ', no workbench' : ''})`,
  );
  console.log('    s   rounds  heap MB   RSS MB  external MB');
  for (const s of samples)
    console.log(
      `${String(s.seconds).padStart(5)} ${String(s.rounds).padStart(8)} ${mb(s.heapUsed)}  ${mb(s.rss)}  ${mb(s.external)}`,
    );
  const from = samples[Math.min(2, samples.length - 2)]!;
  const to = samples.at(-1)!;
  const per1000 = ((to.heapUsed - from.heapUsed) / Math.max(1, to.rounds - from.rounds)) * 1000;
  console.log(
    `heap growth after warm-up: ${(per1000 / 1024).toFixed(1)} KB per 1,000 rounds (${from.rounds} → ${to.rounds} rounds); ${failures} failed calls`,
  );
}
