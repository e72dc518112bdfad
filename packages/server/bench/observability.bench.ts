/**
 * What a request costs with the operator's observability on: a request log line (pino, JSON, written
 * to /dev/null) and Prometheus metrics (HTTP and tool-call histograms), against the same server with
 * request lines dropped and metrics off.
 *
 * Both servers serve one tool (`ECHO_ECHO`) on an in-memory store in this process, driven through
 * `server.fetch` (no sockets, so the difference is the server's own work): `POST
 * /api/v1/sessions/:id/execute` one call at a time, alternating call by call between the two so that
 * load from other processes falls on both alike; figures are the median and 10th percentile of the
 * per-call latencies; compare only the ratios. BENCH_METRICS=0 leaves metrics off in both.
 *
 *   pnpm --filter @toolmux/server build && node packages/server/bench/observability.bench.ts
 */
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { createServer, type ServerLogger } from '@toolmux/server';
import { pino } from 'pino';
import { z } from 'zod';

const CALLS = Number(process.env.BENCH_CALLS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const API_KEY = 'bench-api-key-0123456789';

const silent = { debug() {}, warn() {}, error() {} };

async function setup(observed: boolean) {
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
  const mux = new ToolMux({ toolkits: [echo], store: ':memory:', logger: silent });
  const log = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: true }));
  const logger: ServerLogger = observed
    ? {
        debug: (message, data) => log.debug(data ?? {}, message),
        info: (message, data) => log.info(data ?? {}, message),
        warn: (message, data) => log.warn(data ?? {}, message),
        error: (message, data) => log.error(data ?? {}, message),
      }
    : silent;
  const server = createServer({
    toolmux: mux,
    apiKey: API_KEY,
    logger,
    metrics: { enabled: observed && process.env.BENCH_METRICS !== '0' },
  });
  const session = await mux.create('bench_user', { toolkits: ['echo'] });
  const url = `http://localhost:8787/api/v1/sessions/${session.sessionId}/execute`;
  const call = async () => {
    const response = await server.fetch(
      new Request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: '{"tool_slug":"ECHO_ECHO","arguments":{"text":"hi"}}',
      }),
    );
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    await response.arrayBuffer();
  };
  return { mux, call };
}

/** One call's latency in µs. */
async function timed(call: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - started) / 1000;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const bare = await setup(false);
const observed = await setup(true);
for (let index = 0; index < 300; index++) {
  await bare.call();
  await observed.call();
}
// call by call, alternating, so that load from other processes falls on both alike
const times = { bare: [] as number[], observed: [] as number[] };
for (let index = 0; index < CALLS * ROUNDS; index++) {
  times.bare.push(await timed(bare.call));
  times.observed.push(await timed(observed.call));
}
await bare.mux.close();
await observed.mux.close();
const p10 = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 10)]!;
console.log(`POST /api/v1/sessions/:id/execute, ${CALLS * ROUNDS} calls each, alternating (median / p10):`);
console.log(
  `  bare (no request lines, metrics off): ${median(times.bare).toFixed(1)} / ${p10(times.bare).toFixed(1)} µs/request`,
);
console.log(
  `  observed (pino JSON line + metrics):  ${median(times.observed).toFixed(1)} / ${p10(times.observed).toFixed(1)} µs/request`,
);
console.log(
  `  ratio observed / bare: ${(median(times.observed) / median(times.bare)).toFixed(3)}× median, ${(p10(times.observed) / p10(times.bare)).toFixed(3)}× p10`,
);
