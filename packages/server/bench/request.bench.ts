/**
 * The server CPU every REST request pays whatever it does: a small REST answer (`GET
 * /api/v1/sessions/:id/logs?limit=1` of a session without entries: API key, route, validation,
 * request log, metrics, a JSON answer) beside `GET /healthz` (none of that), and a small MCP
 * tools/call (`POST /mcp/:sessionId`: `ECHO_ECHO` of `{ text }`, the message checked, the tool run
 * and logged), each on 16 keep-alive connections of pre-built request bytes.
 *
 * The servers run in child processes on a SQLite file each; their CPU (user + system) per request is
 * read from the child. With `BENCH_BASELINE=<a built checkout, e.g. a worktree of main>` a second
 * server runs that code, and the two take turns route by route, round by round; the ratio printed is
 * the median of the rounds' ratios, `/healthz` being the control (it runs none of the REST path).
 * `BENCH_CODE=<a built checkout>` measures that checkout as "after". Compare ratios only, in both
 * slot orders (swap BENCH_CODE and BENCH_BASELINE).
 *
 *   pnpm --filter @toolmux/server build && BENCH_BASELINE=../main node --no-warnings packages/server/bench/request.bench.ts
 *
 * BENCH_REQUESTS=10000 (per measurement), BENCH_ROUNDS=11.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoToolkit } from './echo-toolkit.ts';

const API_KEY = 'bench-api-key-0123456789';
const CONNECTIONS = 16;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const BASELINE = process.env.BENCH_BASELINE ?? '';
const CODE = process.env.BENCH_CODE ?? '';

/** Runs in the child: a server with this checkout's code or the one at `root`. */
async function serve(root: string): Promise<void> {
  const core: typeof import('@toolmux/core') =
    root === '' ? await import('@toolmux/core') : await import(join(root, 'packages/core/dist/index.js'));
  const server: typeof import('@toolmux/server') =
    root === '' ? await import('@toolmux/server') : await import(join(root, 'packages/server/dist/index.js'));
  const silent = { debug() {}, warn() {}, error() {} };
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-request-bench-'));
  const echo = echoToolkit(core);
  const mux = new core.ToolMux({
    toolkits: [echo],
    store: `sqlite:${join(dir, 'bench.db')}`,
    secretKey: Buffer.alloc(32, 7).toString('base64'),
    logger: silent,
  });
  const { sessionId } = await mux.create('bench_user', {});
  const mcp = await mux.create('bench_user', { toolkits: ['echo'], sessionPreset: 'DIRECT_TOOLS' });
  const running = await server
    .createServer({ toolmux: mux, apiKey: API_KEY, logger: silent })
    .serve({ port: 0 });
  process.send!({
    port: running.port,
    sessionId,
    mcpSessionId: mcp.sessionId,
    mcpAuthorization: mcp.mcp.headers.Authorization,
  });
  process.on('message', (message) => {
    if (message === 'cpu') process.send!({ cpu: process.cpuUsage() });
    else {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
  });
}

interface Server {
  name: string;
  /** Each route's request, as bytes. */
  requests: Record<string, Buffer>;
  port: number;
  cpu(): Promise<NodeJS.CpuUsage>;
  stop(): void;
}

async function startServer(name: string, root: string): Promise<Server> {
  const child = fork(new URL(import.meta.url), ['server', root], { execArgv: ['--no-warnings'] });
  const { port, sessionId, mcpSessionId, mcpAuthorization } = await new Promise<Started>(
    (resolve, reject) => {
      child.once('message', (message) => resolve(message as Started));
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    },
  );
  const get = (path: string) =>
    Buffer.from(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${API_KEY}\r\n\r\n`,
      'latin1',
    );
  const call = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'ECHO_ECHO', arguments: { text: 'hello, world' } },
  });
  const mcpCall = Buffer.from(
    `POST /mcp/${mcpSessionId} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${mcpAuthorization}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(call)}\r\n\r\n${call}`,
    'latin1',
  );
  return {
    name,
    port,
    requests: {
      healthz: get('/healthz'),
      'REST GET': get(`/api/v1/sessions/${sessionId}/logs?limit=1`),
      'MCP call': mcpCall,
    },
    cpu: () =>
      new Promise((resolve) => {
        child.once('message', (message) => resolve((message as { cpu: NodeJS.CpuUsage }).cpu));
        child.send('cpu');
      }),
    stop: () => child.send('stop'),
  };
}

/** What a server child reports once it listens. */
interface Started {
  port: number;
  sessionId: string;
  mcpSessionId: string;
  mcpAuthorization: string;
}

/** `count` of `request`, on keep-alive connections, each answer read by its Content-Length. */
async function load(port: number, request: Buffer, count: number): Promise<void> {
  let left = count;
  const connection = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let buffered = '';
      const next = () => {
        if (left-- > 0) socket.write(request);
        else socket.end(resolve);
      };
      socket.on('connect', next);
      socket.on('error', reject);
      socket.on('data', (data) => {
        buffered += data.toString('latin1');
        for (;;) {
          const head = buffered.indexOf('\r\n\r\n');
          if (head < 0) return;
          const length = /\r\ncontent-length: *(\d+)/i.exec(buffered.slice(0, head))?.[1];
          const end = head + 4 + Number(length ?? Number.NaN);
          if (length === undefined || !buffered.startsWith('HTTP/1.1 200')) {
            socket.destroy();
            reject(new Error(`unexpected answer: ${buffered.slice(0, 200)}`));
            return;
          }
          if (buffered.length < end) return;
          buffered = buffered.slice(end);
          next();
        }
      });
    });
  await Promise.all(Array.from({ length: CONNECTIONS }, connection));
}

async function main(): Promise<void> {
  const servers = [await startServer('after', CODE)];
  if (BASELINE) servers.unshift(await startServer('before', BASELINE));
  const perRequest = new Map<string, number[]>();
  try {
    // warm up every route of every server
    for (const server of servers)
      for (const request of Object.values(server.requests)) await load(server.port, request, 2000);
    for (let round = 0; round < ROUNDS; round++) {
      for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
        for (const [route, request] of Object.entries(server.requests)) {
          const before = await server.cpu();
          await load(server.port, request, REQUESTS);
          const after = await server.cpu();
          const key = `${server.name} ${route}`;
          const cpu = (after.user + after.system - before.user - before.system) / REQUESTS;
          perRequest.set(key, [...(perRequest.get(key) ?? []), cpu]);
        }
      }
    }
  } finally {
    for (const server of servers) server.stop();
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
  console.log(
    `\n## Server CPU per request, ${CONNECTIONS} keep-alive connections, ${REQUESTS} requests per measurement`,
  );
  for (const [key, values] of perRequest) {
    console.log(
      `${key.padEnd(18)} ${median(values).toFixed(1).padStart(7)} µs/request (median of ${values.length})`,
    );
  }
  if (BASELINE) {
    for (const route of Object.keys(servers[0]!.requests)) {
      const before = perRequest.get(`before ${route}`)!;
      const after = perRequest.get(`after ${route}`)!;
      const ratio = median(after.map((value, index) => value / before[index]!));
      console.log(
        `${route.padEnd(9)} after/before server CPU per request ${ratio.toFixed(3)}× (median of the rounds' ratios)`,
      );
    }
  }
  console.log(
    `load average ${loadavg()
      .map((value) => value.toFixed(1))
      .join(' ')}`,
  );
}

if (process.argv[2] === 'server') await serve(process.argv[3] ?? '');
else await main();
