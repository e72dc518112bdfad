/**
 * Issue 15, item 2, load-independent: what a REST call with a 1 MB argument and a 1 MB result
 * allocates, by stage, measured by V8's sampling heap profiler (collected objects included). What is
 * allocated from the parse to the answer is allocated while the call's arguments are alive: the more
 * of it, the more often a scavenge falls meanwhile and copies them (1 MB of JSON is 1.4–2.5 MB of
 * small objects once parsed), and then again when the store that holds them has been promoted
 * (docs/security.md, "Redaction"). Unlike the event-loop delay, these figures do not move with the
 * machine's load.
 *
 * The server and the client run in this process (a real server on loopback); the client's stack
 * (fetch, reading the answer) is counted apart. Bytes are bytes wherever V8 puts them: the body's
 * text counts the same whether its pieces are strings of the young generation's ordinary pages
 * (copied by a scavenge that meets them) or too large for them (never copied), as they are now.
 * Run: `node --experimental-strip-types --no-warnings bench/request-allocation.bench.ts` (after `pnpm build`).
 * BENCH_CALLS=10 (calls per shape).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { z } from 'zod';
import { createServer } from '../packages/server/dist/index.js';
import { payloadsOf } from './payloads.ts';

const MB = 1024 * 1024;
const CALLS = Number(process.env.BENCH_CALLS ?? 10);
const API_KEY = 'bench-api-key-0123456789abcdef';
const silent = { debug() {}, warn() {}, error() {} };

/** The shapes of bench/event-loop-delay.bench.ts. */
const shapes = payloadsOf(MB);

interface ProfileNode {
  callFrame: { functionName: string; url: string };
  selfSize: number;
  children: ProfileNode[];
}

/** The stage an allocation belongs to, by the functions on its stack. */
function stageOf(stack: string): string {
  if (stack.includes('readAllBytes') || (stack.includes('undici') && !stack.includes('readBodyText')))
    return 'client';
  if (stack.includes('readBodyText')) return 'read body';
  if (stack.includes('parseJsonText') || stack.includes('parseJsonSliced')) return 'parse';
  if (stack.includes('jsonBody')) return 'answer';
  if (stack.includes('execute')) return 'execute';
  return 'other';
}

const STAGES = ['read body', 'parse', 'execute', 'answer', 'other', 'client'];

const dir = mkdtempSync(join(tmpdir(), 'toolmux-bench-'));
const mux = new ToolMux({
  toolkits: [
    defineToolkit({
      slug: 'bench',
      description: 'Bench',
      tools: [
        defineTool({
          slug: 'BENCH_ECHO',
          description: 'Returns its payload',
          inputSchema: z.object({ payload: z.unknown() }),
          execute: async ({ payload }) => ({ echoed: payload }),
        }),
      ],
    }),
  ],
  store: `sqlite:${join(dir, 'bench.db')}`,
  logger: silent,
});
const session = await mux.create('user_1', { toolkits: ['bench'] });
const running = await createServer({
  toolmux: mux,
  apiKey: API_KEY,
  bodyLimit: 8 * MB,
  logger: silent,
}).serve({
  port: 0,
  hostname: '127.0.0.1',
});
const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
console.log(
  `## MB allocated per REST call of BENCH_ECHO (1 MB argument, 1 MB result), by stage (mean of ${CALLS} calls)`,
);
console.log(
  `${'payload'.padEnd(36)} ${STAGES.map((stage) => stage.padStart(10)).join('')} ${'parse to answer'.padStart(16)}`,
);
for (const [name, make] of Object.entries(shapes)) {
  const body = JSON.stringify({ tool_slug: 'BENCH_ECHO', arguments: { payload: make() } });
  const post = async () => {
    const response = await fetch(`${running.url}/api/v1/sessions/${session.sessionId}/execute`, {
      method: 'POST',
      headers,
      body,
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${name}: ${response.status} ${text.slice(0, 300)}`);
  };
  // warm: the first calls compile the code
  for (let index = 0; index < 3; index++) await post();
  const inspector = new Session();
  inspector.connect();
  await inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  for (let index = 0; index < CALLS; index++) await post();
  const { profile } = (await inspector.post('HeapProfiler.stopSampling')) as unknown as {
    profile: { head: ProfileNode };
  };
  inspector.disconnect();
  const bytes = new Map<string, number>();
  const walk = (node: ProfileNode, stack: string) => {
    const here = `${stack} ${node.callFrame.functionName} ${node.callFrame.url}`;
    if (node.selfSize > 0) {
      const stage = stageOf(here);
      bytes.set(stage, (bytes.get(stage) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, '');
  const mb = (stage: string) => (bytes.get(stage) ?? 0) / CALLS / MB;
  const window = mb('parse') + mb('execute') + mb('answer');
  console.log(
    `${name.padEnd(36)} ${STAGES.map((stage) => mb(stage).toFixed(2).padStart(10)).join('')} ${window.toFixed(2).padStart(16)}`,
  );
}
await running.close();
await mux.close();
rmSync(dir, { recursive: true, force: true });
