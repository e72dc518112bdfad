/**
 * MCP tools/call: toolmux's stateless endpoint vs a bare stateless MCP SDK server.
 *
 * Three servers answer the same tool (`ECHO_ECHO`: `{ text }` → `{ text }`), each in its own child
 * process (so the client's CPU is not the server's), one at a time:
 *
 * - toolmux: `createServer()` on `serve()`, a DIRECT_TOOLS session on an in-memory store.
 * - sdk: the SDK's stateless pattern on node:http — `McpServer` + `StreamableHTTPServerTransport`
 *   (`sessionIdGenerator: undefined`) built for every request, SSE responses (the SDK default);
 *   `sdk-json` is the same with `enableJsonResponse: true`.
 * - loopback: node:http answering a fixed JSON body: the floor any HTTP server pays on this machine.
 *
 * The same client drives each: the official `Client` + `StreamableHTTPClientTransport` (raw keep-alive
 * `fetch` for loopback). Measured: sequential latency of one client, and throughput of 64 clients
 * calling concurrently. Figures are medians of several rounds; compare only the ratios (shared machines).
 *
 *   pnpm --filter @toolmux/server build && node packages/server/bench/mcp.bench.ts
 */
import { fork } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { createServer } from '@toolmux/server';
import { z } from 'zod';

type Kind = 'toolmux' | 'sdk' | 'sdk-json' | 'loopback';

const ECHO_DESCRIPTION = 'Echo the text back.';
const CONCURRENCY = 64;
const SEQUENTIAL_CALLS = Number(process.env.BENCH_SEQUENTIAL ?? 1500);
const CONCURRENT_CALLS = Number(process.env.BENCH_CONCURRENT ?? 6000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

// ---------------------------------------------------------------- servers (child process)

async function startToolmux(): Promise<{ url: string; headers: Record<string, string> }> {
  const echo = defineToolkit({
    slug: 'echo',
    name: 'Echo',
    description: 'Echoes text.',
    tools: [
      defineTool({
        slug: 'ECHO_ECHO',
        description: ECHO_DESCRIPTION,
        inputSchema: z.object({ text: z.string() }),
        execute: ({ text }) => ({ text }),
      }),
    ],
  });
  const mux = new ToolMux({ toolkits: [echo], store: ':memory:', logger: silentLogger });
  const server = createServer({ toolmux: mux, apiKey: 'bench-api-key-0123456789' });
  const running = await server.serve({ port: 0 });
  const session = await mux.create('bench_user', { toolkits: ['echo'], sessionPreset: 'DIRECT_TOOLS' });
  return { url: `${running.url}/mcp/${session.sessionId}`, headers: session.mcp.headers };
}

function readBody(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        resolve(chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined);
      } catch (error) {
        reject(error);
      }
    });
    request.on('error', reject);
  });
}

/** The SDK's stateless server, as its docs write it: a new server and transport per request. */
async function startSdk(json: boolean): Promise<{ url: string; headers: Record<string, string> }> {
  const http = createHttpServer(async (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'POST') {
      response.writeHead(405).end();
      return;
    }
    const server = new McpServer({ name: 'bare', version: '1.0.0' });
    server.registerTool(
      'ECHO_ECHO',
      { description: ECHO_DESCRIPTION, inputSchema: { text: z.string() } },
      async ({ text }) => ({ content: [{ type: 'text', text: JSON.stringify({ text }) }] }),
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: json,
    });
    response.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request, response, await readBody(request));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, headers: {} };
}

async function startLoopback(): Promise<{ url: string; headers: Record<string, string> }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x' }] } });
  const http = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, headers: {} };
}

const silentLogger = { debug() {}, warn() {}, error: (message: string) => console.error(message) };

if (process.argv[2] === '--serve') {
  const kind = process.argv[3] as Kind;
  const started =
    kind === 'toolmux'
      ? await startToolmux()
      : kind === 'loopback'
        ? await startLoopback()
        : await startSdk(kind === 'sdk-json');
  process.send!(started);
} else {
  await main();
}

// ---------------------------------------------------------------- client (this process)

interface Result {
  name: string;
  latencyNs: number;
  throughput: number;
}

function spawnServer(
  kind: Kind,
): Promise<{ url: string; headers: Record<string, string>; stop: () => void }> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', kind], {
    execArgv: ['--no-warnings'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => {
      const { url, headers } = message as { url: string; headers: Record<string, string> };
      resolve({ url, headers, stop: () => child.kill() });
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

async function mcpClients(url: string, headers: Record<string, string>, count: number): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = new Client({ name: 'bench', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
      return client;
    }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median ns per call of `calls` sequential calls, over ROUNDS rounds (after a warm-up). */
async function sequential(call: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 300; i++) await call();
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < SEQUENTIAL_CALLS; i++) await call();
    samples.push(Number(process.hrtime.bigint() - started) / SEQUENTIAL_CALLS);
  }
  return median(samples);
}

/** Median calls per second of CONCURRENCY workers sharing CONCURRENT_CALLS calls, over ROUNDS rounds. */
async function concurrent(calls: Array<() => Promise<unknown>>): Promise<number> {
  const run = async (total: number) => {
    let next = 0;
    await Promise.all(
      calls.map(async (call) => {
        while (next++ < total) await call();
      }),
    );
  };
  await run(CONCURRENCY * 20);
  const samples: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    await run(CONCURRENT_CALLS);
    samples.push(CONCURRENT_CALLS / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  return median(samples);
}

async function benchMcp(kind: Kind, name: string): Promise<Result> {
  const server = await spawnServer(kind);
  try {
    const clients = await mcpClients(server.url, server.headers, CONCURRENCY);
    const callOf = (client: Client) => async () => {
      const result = await client.callTool({ name: 'ECHO_ECHO', arguments: { text: 'hello' } });
      if (result.isError) throw new Error(`${name}: the call failed: ${JSON.stringify(result)}`);
    };
    const latencyNs = await sequential(callOf(clients[0]!));
    const throughput = await concurrent(clients.map(callOf));
    await Promise.all(clients.map((client) => client.close()));
    return { name, latencyNs, throughput };
  } finally {
    server.stop();
  }
}

async function benchLoopback(): Promise<Result> {
  const server = await spawnServer('loopback');
  try {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'ECHO_ECHO' },
    });
    const call = async () => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await response.text();
    };
    const latencyNs = await sequential(call);
    const throughput = await concurrent(Array.from({ length: CONCURRENCY }, () => call));
    return { name: 'loopback HTTP keep-alive round trip (node:http, fetch)', latencyNs, throughput };
  } finally {
    server.stop();
  }
}

function format(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(0)} µs`;
}

async function main(): Promise<void> {
  const loopback = await benchLoopback();
  const sdk = await benchMcp('sdk', 'bare stateless MCP SDK (Server + transport per request, SSE)');
  const sdkJson = await benchMcp('sdk-json', 'bare stateless MCP SDK, enableJsonResponse');
  const toolmux = await benchMcp('toolmux', 'toolmux /mcp/:sessionId (auth, session cache, execute, log)');

  console.log(
    `\n## MCP tools/call, official client, ${SEQUENTIAL_CALLS} sequential calls / ${CONCURRENCY} clients × ${CONCURRENT_CALLS} calls, median of ${ROUNDS}`,
  );
  for (const row of [loopback, sdk, sdkJson, toolmux]) {
    console.log(
      `${row.name.padEnd(64)} ${format(row.latencyNs).padStart(9)}/call  ${Math.round(row.throughput).toString().padStart(6)} calls/s @${CONCURRENCY}`,
    );
  }
  console.log(
    `\ntoolmux vs bare SDK: latency ${(toolmux.latencyNs / sdk.latencyNs).toFixed(2)}× (goal ≤ 0.80), ` +
      `throughput ${(toolmux.throughput / sdk.throughput).toFixed(2)}× (goal ≥ 1.25)`,
  );
  console.log(
    `toolmux vs bare SDK with JSON responses: latency ${(toolmux.latencyNs / sdkJson.latencyNs).toFixed(2)}×, ` +
      `throughput ${(toolmux.throughput / sdkJson.throughput).toFixed(2)}×`,
  );
  console.log(
    `toolmux over the loopback floor: +${format(toolmux.latencyNs - loopback.latencyNs)}/call, ` +
      `throughput ${(toolmux.throughput / loopback.throughput).toFixed(2)}× loopback`,
  );
}
