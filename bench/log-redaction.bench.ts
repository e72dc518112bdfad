/**
 * Issue 15, item 2: the execution log's redaction must be linear and cut before it works.
 * 1. One `redactForLog` call, the redaction before issue 15 (a regular expression over the whole JSON,
 *    then a copy of the value) against the bounded walk of today, on adversarial payloads of growing
 *    size. A call blocks the event loop for its whole duration; the old one is only run up to the size
 *    where a call takes longer than `OLD_LIMIT_MS`.
 * 2. A toolmux server (SQLite file) answering REST execute calls with a 1 MB argument and a 1 MB result
 *    of each shape, while another client keeps sending small requests: the event-loop delay
 *    (perf_hooks.monitorEventLoopDelay, max over the run) and the slowest small request, next to the
 *    same run with small payloads. Goal: max event-loop delay ≤ 20 ms.
 * Run: `node --experimental-strip-types bench/log-redaction.bench.ts` (after `pnpm build`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { z } from 'zod';
// not part of the public API: the built module itself
import { redactForLog } from '../packages/core/dist/util/redact.js';
import { createServer } from '../packages/server/dist/index.js';
import { adversarialPayloads } from './payloads.ts';

const OLD_LIMIT_MS = 3_000;
const MB = 1024 * 1024;

// ---- the redaction before issue 15, verbatim (the baseline) ----
const OLD_SECRET_KEY =
  /(pass(word|phrase)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|session[-_]?key|^auth$|bearer|signature)/i;
const OLD_SECRET_KEY_IN_JSON =
  /"[^"]*(pass(word|phrase)?|secret|token|api[-_]?key|authorization|cookie|credential|private[-_]?key|session[-_]?key|bearer|signature|auth)[^"]*":/i;
function oldNeedsRedaction(json: string, secrets: readonly string[]): boolean {
  if (OLD_SECRET_KEY_IN_JSON.test(json)) return true;
  for (const secret of secrets) {
    if (secret.length >= 4 && json.includes(JSON.stringify(secret).slice(1, -1))) return true;
  }
  return false;
}
function oldRedactValue(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return oldRedactString(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 20) return '[…]';
  if (Array.isArray(value)) return value.map((item) => oldRedactValue(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      OLD_SECRET_KEY.test(key) && item !== null && item !== undefined && item !== ''
        ? '[REDACTED]'
        : oldRedactValue(item, secrets, depth + 1);
  }
  return out;
}
function oldRedactString(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets)
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  return out;
}
function oldTruncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const marker = '…[truncated]';
  const budget = maxBytes - Buffer.byteLength(marker);
  const head = Buffer.from(text)
    .subarray(0, budget)
    .toString()
    .replace(/\uFFFD+$/, '');
  return head + marker;
}
function oldRedactForLog(value: unknown, secrets: readonly string[] = []): string {
  if (value === undefined) return 'null';
  let json: string;
  try {
    const raw = JSON.stringify(value) ?? 'null';
    json = oldNeedsRedaction(raw, secrets)
      ? (JSON.stringify(oldRedactValue(value, secrets, 0)) ?? 'null')
      : raw;
  } catch {
    json = JSON.stringify(String(value));
  }
  return oldTruncateUtf8(json.includes('\\u0000') ? json.replaceAll('\\u0000', '\\ufffd') : json, 4096);
}

// ---- adversarial payloads of about `bytes` of JSON ----
const shapes = adversarialPayloads;

function timeOnce(run: () => unknown): number {
  const started = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function direct() {
  console.log('\n## one redactForLog call (blocks the event loop for its duration), ms');
  console.log(
    `${'payload'.padEnd(36)} ${'size'.padStart(8)} ${'before'.padStart(12)} ${'now'.padStart(10)}  ratio`,
  );
  for (const [name, make] of Object.entries(shapes)) {
    let oldStopped = false;
    for (const bytes of [16 * 1024, 64 * 1024, 128 * 1024, 256 * 1024, MB]) {
      const value = make(bytes);
      const size = Buffer.byteLength(JSON.stringify(value));
      // the median of 5 runs of the new one (each well under a millisecond)
      const now = [1, 2, 3, 4, 5]
        .map(() => timeOnce(() => redactForLog(value, ['sk_live_0123456789'])))
        .sort((a, b) => a - b)[2]!;
      let before = Number.NaN;
      if (!oldStopped) {
        before = timeOnce(() => oldRedactForLog(value, ['sk_live_0123456789']));
        if (before > OLD_LIMIT_MS) oldStopped = true;
      }
      console.log(
        `${name.padEnd(36)} ${`${Math.round(size / 1024)} KB`.padStart(8)} ${(Number.isNaN(before) ? 'not run' : before.toFixed(1)).padStart(12)} ${now.toFixed(3).padStart(10)}  ${Number.isNaN(before) ? '' : `${(before / now).toFixed(0)}×`}`,
      );
    }
  }
}

/**
 * Runs `call` `calls` times, one after another, while a concurrent client keeps sending a small
 * request to `probeUrl`: the event-loop delay over the run and the slowest small request.
 */
async function underLoad(
  name: string,
  size: number,
  calls: number,
  call: () => Promise<void>,
  probeUrl: string,
) {
  let done = false;
  let slowest = 0;
  let probes = 0;
  const probe = (async () => {
    while (!done) {
      const started = performance.now();
      await (await fetch(probeUrl)).arrayBuffer();
      slowest = Math.max(slowest, performance.now() - started);
      probes++;
    }
  })();
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  // the histogram samples the delay of its own 1 ms timer: a turn held before its first tick or
  // after its last one would not count
  await new Promise((resolve) => setTimeout(resolve, 3));
  for (let index = 0; index < calls; index++) await call();
  await new Promise((resolve) => setTimeout(resolve, 3));
  histogram.disable();
  done = true;
  await probe;
  console.log(
    `${name.padEnd(40)} ${`${Math.round(size / 1024)} KB`.padStart(8)}  event-loop delay max ${(histogram.max / 1e6).toFixed(1).padStart(6)} ms, p50 ${(histogram.percentile(50) / 1e6).toFixed(1).padStart(4)} ms;  slowest concurrent request ${slowest.toFixed(1).padStart(6)} ms (${probes})`,
  );
}

async function calls() {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
  const echo = defineTool({
    slug: 'BENCH_ECHO',
    description: 'Returns its payload',
    inputSchema: z.object({ payload: z.unknown() }),
    execute: async ({ payload }) => ({ echoed: payload }),
  });
  const mux = new ToolMux({
    toolkits: [defineToolkit({ slug: 'bench', description: 'Bench', tools: [echo] })],
    store: `sqlite:${join(dir, 'bench.db')}`,
    logger: { debug() {}, warn() {}, error() {} },
  });
  const apiKey = 'bench-api-key-0123456789abcdef';
  const running = await createServer({ toolmux: mux, apiKey, bodyLimit: 8 * MB }).serve({
    port: 0,
    hostname: '127.0.0.1',
  });
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const session = await mux.create('user_1', { toolkits: ['bench'] });
  // the concurrent request: a tiny HTTP server in the same process, so it waits for the same event loop
  const tiny = createHttpServer((_, response) => response.end('ok'));
  await new Promise<void>((resolve) => tiny.listen(0, '127.0.0.1', resolve));
  const probeUrl = `http://127.0.0.1:${(tiny.address() as { port: number }).port}/`;
  const payloads: Array<[string, unknown]> = [
    ['small payload (noise floor)', { title: 'hello' }],
    ...Object.entries(shapes).map(([name, make]): [string, unknown] => [name, make(MB)]),
  ];

  console.log('\n## embedded session.execute with a 1 MB argument and a 1 MB result (goal: max ≤ 20 ms)');
  for (const [name, payload] of [payloads[0]!, ...payloads]) {
    const size = Buffer.byteLength(JSON.stringify(payload));
    await underLoad(
      name,
      size,
      10,
      async () => {
        const result = await session.execute('BENCH_ECHO', { payload });
        if (!result.successful) throw new Error(`${name}: ${result.error}`);
      },
      probeUrl,
    );
  }

  console.log(
    '\n## the same over REST (POST /sessions/:id/execute): adds JSON.parse of the 1 MB body and JSON.stringify of the 1 MB answer',
  );
  for (const [name, payload] of payloads) {
    const body = JSON.stringify({ tool_slug: 'BENCH_ECHO', arguments: { payload } });
    await underLoad(
      name,
      body.length,
      10,
      async () => {
        const response = await fetch(`${running.url}/api/v1/sessions/${session.sessionId}/execute`, {
          method: 'POST',
          headers,
          body,
        });
        const result = (await response.json()) as { successful: boolean };
        if (!result.successful) throw new Error(`${name}: ${JSON.stringify(result).slice(0, 300)}`);
      },
      probeUrl,
    );
  }
  tiny.close();
  await running.close();
  await mux.close();
  rmSync(dir, { recursive: true, force: true });
}

direct();
await calls();
