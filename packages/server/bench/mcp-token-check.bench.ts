/**
 * What checking the MCP token against the store costs (it is read on every MCP request, so that
 * `session.rotateMcpToken()` revokes the old token at once on every instance).
 *
 * In one process, on SQLite (`:memory:`) and on PostgreSQL (a fresh schema, when
 * TOOLMUX_TEST_POSTGRES_URL is set), taking turns call by call so that load bursts hit both alike:
 *
 * - request: one whole MCP `tools/call` of `ECHO_ECHO` through `server.fetch` (no sockets): parse,
 *   auth (with the token read), execute, log entry;
 * - token read: the read the auth adds, alone (`storedTokenHash()` of the session).
 *
 * The ratio token read / request is the share of a request the check takes. Compare only ratios
 * (shared machines).
 *
 *   pnpm --filter @toolmux/server build && node packages/server/bench/mcp-token-check.bench.ts
 */
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { embeddedSession } from '@toolmux/core/internal';
import { createTestPostgresUrl } from '@toolmux/core/test';
import { createServer } from '@toolmux/server';
import { z } from 'zod';

const CALLS_PER_ROUND = Number(process.env.BENCH_CALLS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const silent = { debug() {}, warn() {}, error: (message: string) => console.error(message) };

const echo = defineToolkit({
  slug: 'echo',
  name: 'Echo',
  description: 'Echoes text.',
  tools: [
    defineTool({
      slug: 'ECHO_ECHO',
      description: 'Echo the text back.',
      inputSchema: z.object({ text: z.string() }),
      execute: ({ text }) => ({ text }),
    }),
  ],
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measure(store: string): Promise<{ requestNs: number; readNs: number }> {
  const mux = new ToolMux({
    toolkits: [echo],
    store,
    secretKey: 'a'.repeat(64),
    logger: silent,
  });
  try {
    const server = createServer({ toolmux: mux, apiKey: 'bench-api-key-0123456789' });
    const session = await mux.create('bench_user', { toolkits: ['echo'], sessionPreset: 'DIRECT_TOOLS' });
    const embedded = embeddedSession(session);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'ECHO_ECHO', arguments: { text: 'hello' } },
    });
    const request = async () => {
      const response = await server.fetch(
        new Request(`http://localhost/mcp/${session.sessionId}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...session.mcp.headers },
          body,
        }),
      );
      if (response.status !== 200) throw new Error(`MCP answered ${response.status}`);
      await response.text();
    };
    const read = async () => {
      if ((await embedded.storedTokenHash()) === undefined) throw new Error('no token hash');
    };
    for (let i = 0; i < 200; i++) {
      await request();
      await read();
    }
    const requests: number[] = [];
    const reads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let requestTotal = 0n;
      let readTotal = 0n;
      for (let i = 0; i < CALLS_PER_ROUND; i++) {
        let started = process.hrtime.bigint();
        await request();
        requestTotal += process.hrtime.bigint() - started;
        started = process.hrtime.bigint();
        await read();
        readTotal += process.hrtime.bigint() - started;
      }
      requests.push(Number(requestTotal) / CALLS_PER_ROUND);
      reads.push(Number(readTotal) / CALLS_PER_ROUND);
    }
    return { requestNs: median(requests), readNs: median(reads) };
  } finally {
    await mux.close();
  }
}

function format(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
}

const stores: Array<{ name: string; spec: () => Promise<{ url: string; cleanup(): Promise<void> }> }> = [
  { name: 'SQLite :memory:', spec: async () => ({ url: ':memory:', cleanup: async () => {} }) },
];
if (process.env.TOOLMUX_TEST_POSTGRES_URL) stores.push({ name: 'PostgreSQL', spec: createTestPostgresUrl });

console.log(`## MCP token check, ${CALLS_PER_ROUND} calls × median of ${ROUNDS} rounds`);
for (const { name, spec } of stores) {
  const database = await spec();
  try {
    const { requestNs, readNs } = await measure(database.url);
    console.log(
      `${name.padEnd(16)} tools/call ${format(requestNs).padStart(9)}  token read ${format(readNs).padStart(9)}  ` +
        `read / request ${(readNs / requestNs).toFixed(3)}×`,
    );
  } finally {
    await database.cleanup();
  }
}
