/**
 * Remote mode: what `new ToolMux({ baseUrl, apiKey })` adds on top of the REST call it makes.
 *
 * A toolmux server (in a child process, so the client's CPU is not the server's) serves one tool
 * (`ECHO_ECHO`: `{ text }` → `{ text }`) in a DIRECT_TOOLS session on an in-memory store. The client,
 * in this process, calls it three ways, taking turns call by call (so load bursts hit all alike):
 *
 * - fetch: a bare keep-alive `fetch` POST to `/api/v1/sessions/:id/execute`, its text parsed as JSON
 *   (as the SDK does; `response.json()` measured slower here) — the floor of
 *   any REST client;
 * - remote: `session.execute()` of a remote-mode session (what a provider's tool calls);
 * - custom: `session.execute()` of a custom tool of the same remote session, which runs in this process
 *   (its log entry is sent to the server off the call's path).
 *
 * Then 64 concurrent callers: remote vs fetch throughput. Compare only the ratios (shared machines).
 *
 *   pnpm --filter @toolmux/server build && node packages/server/bench/remote.bench.ts
 */
import { fork } from 'node:child_process';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { createServer } from '@toolmux/server';
import { z } from 'zod';

const API_KEY = 'bench-api-key-0123456789';
const CALLS_PER_ROUND = Number(process.env.BENCH_CALLS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CONCURRENCY = 64;
const CONCURRENT_CALLS = Number(process.env.BENCH_CONCURRENT ?? 4000);
const silent = { debug() {}, warn() {}, error() {} };

const echoTool = (slug: string, toolkit?: string) =>
  defineTool({
    slug,
    ...(toolkit ? { toolkit } : {}),
    description: 'Echo the text back.',
    inputSchema: z.object({ text: z.string() }),
    execute: ({ text }) => ({ text }),
  });

async function serve(): Promise<void> {
  const mux = new ToolMux({
    toolkits: [defineToolkit({ slug: 'echo', description: 'Echoes text.', tools: [echoTool('ECHO_ECHO')] })],
    store: ':memory:',
    logger: silent,
  });
  const running = await createServer({ toolmux: mux, apiKey: API_KEY, logger: silent }).serve({ port: 0 });
  process.send!({ url: running.url });
}

async function startServer(): Promise<{ url: string; stop: () => void }> {
  const child = fork(new URL(import.meta.url), ['server'], { stdio: 'inherit' });
  const { url } = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { url: string }));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, stop: () => child.kill() };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;

async function main(): Promise<void> {
  const server = await startServer();
  try {
    const mux = new ToolMux({ baseUrl: server.url, apiKey: API_KEY, logger: silent });
    const session = await mux.create('bench_user', {
      toolkits: ['echo', 'local'],
      sessionPreset: 'DIRECT_TOOLS',
      experimental: { customTools: [echoTool('LOCAL_ECHO', 'local')] },
    });
    const executeUrl = `${server.url}/api/v1/sessions/${session.sessionId}/execute`;
    const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ tool_slug: 'ECHO_ECHO', arguments: { text: 'hello' } });

    const contenders = {
      fetch: async () => {
        const response = await fetch(executeUrl, { method: 'POST', headers, body });
        const result = JSON.parse(await response.text()) as { successful: boolean };
        if (!result.successful) throw new Error('fetch call failed');
      },
      remote: async () => {
        const result = await session.execute('ECHO_ECHO', { text: 'hello' });
        if (!result.successful) throw new Error(`remote call failed: ${result.error}`);
      },
      custom: async () => {
        const result = await session.execute('LOCAL_ECHO', { text: 'hello' });
        if (!result.successful) throw new Error(`custom call failed: ${result.error}`);
      },
    } as const;
    type Name = keyof typeof contenders;
    const names = Object.keys(contenders) as Name[];

    for (let i = 0; i < 200; i++) for (const name of names) await contenders[name]();
    const rounds: Array<Record<Name, number>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      const total: Record<Name, bigint> = { fetch: 0n, remote: 0n, custom: 0n };
      for (let call = 0; call < CALLS_PER_ROUND; call++) {
        const offset = call % names.length;
        for (const name of [...names.slice(offset), ...names.slice(0, offset)]) {
          const started = process.hrtime.bigint();
          await contenders[name]();
          total[name] += process.hrtime.bigint() - started;
        }
      }
      await mux.close(); // sends the custom tool's log entries now, outside the timed calls
      rounds.push({
        fetch: Number(total.fetch) / CALLS_PER_ROUND,
        remote: Number(total.remote) / CALLS_PER_ROUND,
        custom: Number(total.custom) / CALLS_PER_ROUND,
      });
    }
    const per = (name: Name) => median(rounds.map((round) => round[name]));
    const ratio = (a: Name, b: Name) => median(rounds.map((round) => round[a] / round[b]));
    console.log('\n## remote mode: one call, sequential (median of rounds, paired ratios)');
    console.log(`fetch   POST /sessions/:id/execute   ${us(per('fetch')).padStart(10)}/call`);
    console.log(
      `remote  session.execute()            ${us(per('remote')).padStart(10)}/call  ${ratio('remote', 'fetch').toFixed(2)}× fetch`,
    );
    console.log(
      `custom  session.execute() (in client) ${us(per('custom')).padStart(9)}/call  ${ratio('custom', 'fetch').toFixed(3)}× fetch`,
    );

    const throughput = async (call: () => Promise<void>) => {
      const samples: number[] = [];
      for (let round = 0; round < 5; round++) {
        let next = 0;
        const started = process.hrtime.bigint();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next++ < CONCURRENT_CALLS) await call();
          }),
        );
        samples.push(CONCURRENT_CALLS / (Number(process.hrtime.bigint() - started) / 1e9));
      }
      return median(samples);
    };
    const fetchRate = await throughput(contenders.fetch);
    const remoteRate = await throughput(contenders.remote);
    console.log(`\n## ${CONCURRENCY} concurrent callers`);
    console.log(`fetch   ${Math.round(fetchRate).toString().padStart(7)} calls/s`);
    console.log(
      `remote  ${Math.round(remoteRate).toString().padStart(7)} calls/s  ${(remoteRate / fetchRate).toFixed(2)}× fetch`,
    );
    await mux.close();
  } finally {
    server.stop();
  }
}

if (process.argv[2] === 'server') await serve();
else await main();
