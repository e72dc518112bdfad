/**
 * How much memory a remote ToolMux takes to read one large answer of its server: the peak resident
 * memory (RSS) of the client process while it reads, decodes and parses an answer of ~120 MiB, above
 * what it held before the call. Each measurement runs in a fresh client process (so one run's garbage
 * is not the next one's), which resets the kernel's high-water mark of its RSS just before the call
 * (`/proc/self/clear_refs`) and reads it after (`VmHWM` of `/proc/self/status`): Linux only. The
 * answers come from a loopback server in this process (a child's memory is not the server's).
 *
 * Answers: a tool result whose `data` is one long ASCII string (`tools.execute()`), the same with
 * text outside Latin-1 (a string of two bytes a character in V8), and a page of ~400,000 execution log
 * entries (`logs.list()`); each sent with a Content-Length and again chunked (no length known ahead).
 *
 * With `BENCH_BASELINE=<a built checkout, e.g. a worktree of main>` the same calls also run on that
 * checkout's `@toolmux/core`, taking turns with this one's, and the table shows both and their ratio.
 *
 *   pnpm --filter @toolmux/core build && BENCH_BASELINE=../main node bench/remote-answer-memory.bench.ts
 *
 * BENCH_MIB=120 (the size of each answer, under the default maxResponseBytes of 128 MiB),
 * BENCH_ROUNDS=3 (the median is shown).
 */
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const MiB = 1024 * 1024;
const API_KEY = 'bench-api-key-0123456789';

/** A field of /proc/self/status, in MiB. */
function statusMiB(field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1]) / 1024;
}

interface Measured {
  peakMiB: number;
  ms: number;
}

if (process.argv[2] === 'client') {
  const [, , , baseUrl, code, call] = process.argv as [string, string, string, string, string, string];
  const core = (await import(
    code === '' ? '@toolmux/core' : pathToFileURL(join(code, 'packages/core/dist/index.js')).href
  )) as typeof import('@toolmux/core');
  const mux = new core.ToolMux({ baseUrl, apiKey: API_KEY });
  await mux.toolkits.list(); // the client and its connection warmed up
  writeFileSync('/proc/self/clear_refs', '5'); // the RSS high-water mark starts again from here
  const before = statusMiB('VmRSS');
  const started = performance.now();
  const answer =
    call === 'logs' ? await mux.logs.list() : await mux.tools.execute('BENCH_TOOL', { userId: 'user_1' });
  const ms = performance.now() - started;
  const peakMiB = statusMiB('VmHWM') - before;
  if (answer === undefined) throw new Error('no answer');
  process.send!({ peakMiB, ms } satisfies Measured);
  process.exit(0);
}

const size = Number(process.env.BENCH_MIB ?? 120) * MiB;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const baseline = process.env.BENCH_BASELINE ?? '';

function toolResult(character: string): Buffer {
  const head = '{"successful":true,"data":"';
  const tail = '","error":null,"log_id":"log_1"}';
  const count = Math.floor((size - head.length - tail.length) / Buffer.byteLength(character));
  return Buffer.from(head + character.repeat(count) + tail);
}

function logPage(): Buffer {
  const entry = JSON.stringify({
    id: 'log_0123456789abcdef',
    session_id: 'ses_0123456789abcdef',
    user_id: 'user_1',
    tool_slug: 'GITHUB_STAR_REPOSITORY',
    toolkit: 'github',
    connected_account_id: 'ca_0123456789',
    call_id: null,
    status: 'success',
    error_code: null,
    error_message: null,
    duration_ms: 12,
    input: '{"owner":"acme","repo":"web"}',
    output: '{"starred":true}',
    created_at: '2024-05-01T10:00:00.000Z',
    parent_id: null,
  });
  const count = Math.floor((size - 64) / (entry.length + 1));
  return Buffer.from(`{"items":[${new Array(count).fill(entry).join(',')}],"next_cursor":null}`);
}

const answers: Array<{ name: string; call: 'execute' | 'logs'; body: Buffer }> = [
  { name: 'tool result, ASCII text', call: 'execute', body: toolResult('x') },
  { name: 'tool result, text outside Latin-1', call: 'execute', body: toolResult('日') },
  { name: 'page of log entries', call: 'logs', body: logPage() },
];

let serving: { body: Buffer; chunked: boolean } = { body: Buffer.alloc(0), chunked: false };
const server = createServer((request, response) => {
  request.resume();
  if (request.url?.startsWith('/api/v1/toolkits')) {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"items":[],"next_cursor":null,"total":0}');
    return;
  }
  const { body, chunked } = serving;
  response.writeHead(200, {
    'content-type': 'application/json',
    ...(chunked ? {} : { 'content-length': String(body.length) }),
  });
  // chunked: written in pieces of 1 MiB, so no length is known ahead
  if (!chunked) response.end(body);
  else {
    for (let at = 0; at < body.length; at += MiB) response.write(body.subarray(at, at + MiB));
    response.end();
  }
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

function measureOnce(code: string, call: string): Promise<Measured> {
  const child = fork(new URL(import.meta.url).pathname, ['client', url, code, call], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as Measured));
    child.once('exit', (exitCode) => {
      if (exitCode !== 0) reject(new Error(`the client exited with ${exitCode}`));
    });
  });
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const contenders = baseline === '' ? { after: '' } : { before: baseline, after: '' };

console.log(
  `# Peak RSS of a remote client reading one answer of ${(size / MiB).toFixed(0)} MiB, above what it held before (median of ${rounds}; load ${loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')})`,
);
for (const answer of answers) {
  for (const chunked of [false, true]) {
    serving = { body: answer.body, chunked };
    const names = Object.keys(contenders);
    const peaks: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const [name, code] of Object.entries(contenders)) {
        const measured = await measureOnce(code, answer.call);
        peaks[name]!.push(measured.peakMiB);
        times[name]!.push(measured.ms);
      }
    }
    const shown = names.map(
      (name) =>
        `${name} ${median(peaks[name]!).toFixed(0).padStart(4)} MiB in ${median(times[name]!).toFixed(0).padStart(5)} ms`,
    );
    const ratio =
      baseline === '' ? '' : `  ${(median(peaks.after!) / median(peaks.before!)).toFixed(2)}× before`;
    console.log(
      `${answer.name.padEnd(36)} ${(chunked ? 'chunked' : 'Content-Length').padEnd(15)} ${shown.join('   ')}${ratio}`,
    );
  }
}
server.close();
