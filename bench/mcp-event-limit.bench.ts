/**
 * What `mcpToolkit()`'s limit on the messages of a Streamable HTTP server (`limitedFetch`) costs per
 * byte of an event stream, against what the MCP SDK's client does with the same bytes anyway (decode
 * them, parse the events with eventsource-parser, parse each message's JSON and check its JSON-RPC
 * shape), measured in the same run, taking turns.
 *
 * Streams of 8 MiB in pieces of 64 KiB: many small events (256 bytes of data), a few large ones
 * (1 MiB, under the limit), large ones past the limit (2 MiB, limit 1 MiB: dropped, each answered by
 * its id), one event of one-byte data lines (a line end every 8 bytes), and the small and large
 * streams four times as long: work linear in the size costs the same per byte in all of them.
 *
 * With `BENCH_BASELINE=<a module exporting limitedFetch, e.g. another checkout's
 * packages/toolkits/dist/mcp-limits.js>` that limit runs too, and the table shows the ratio.
 *
 *   pnpm --filter @toolmux/toolkits build && node bench/mcp-event-limit.bench.ts
 */
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { measureInterleaved } from './harness.ts';

type LimitedFetch = (
  fetch: typeof globalThis.fetch,
  maxBytes: number,
  tooLarge: string,
) => typeof globalThis.fetch;

const toolkits = join(import.meta.dirname, '../packages/toolkits');
const load = async (path: string) =>
  ((await import(pathToFileURL(path).href)) as { limitedFetch: LimitedFetch }).limitedFetch;
const limitedFetch = await load(join(toolkits, 'dist/mcp-limits.js'));
const baseline = process.env.BENCH_BASELINE ? await load(resolve(process.env.BENCH_BASELINE)) : undefined;
const fromToolkits = async <T>(specifier: string) =>
  (await import(pathToFileURL(createRequire(join(toolkits, 'package.json')).resolve(specifier)).href)) as T;
const { EventSourceParserStream } =
  await fromToolkits<typeof import('eventsource-parser/stream')>('eventsource-parser/stream');
const { JSONRPCMessageSchema } = await fromToolkits<{
  JSONRPCMessageSchema: { parse(value: unknown): unknown };
}>('@modelcontextprotocol/sdk/types.js');

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;

function piecesOf(text: string): Uint8Array[] {
  const bytes = Buffer.from(text);
  const pieces: Uint8Array[] = [];
  // fetch (undici) gives Uint8Arrays, not Buffers
  for (let start = 0; start < bytes.length; start += PIECE)
    pieces.push(new Uint8Array(bytes.subarray(start, start + PIECE)));
  return pieces;
}

const event = (id: number, text: string) =>
  `event: message\nid: e${id}\ndata: ${JSON.stringify({ result: { content: [{ type: 'text', text }] }, jsonrpc: '2.0', id })}\n\n`;
const events = (count: number, bytes: number) =>
  Array.from({ length: count }, (_, index) => event(index, 'x'.repeat(bytes))).join('');

const shapes: Array<{ name: string; text: string; maxBytes: number }> = [
  { name: 'small events (32,768 x 256 B)', text: events(32_768, 256 - 80), maxBytes: 10 * MiB },
  { name: 'small events x4 (131,072 x 256 B)', text: events(131_072, 256 - 80), maxBytes: 10 * MiB },
  { name: 'large events (8 x 1 MiB)', text: events(8, MiB), maxBytes: 10 * MiB },
  { name: 'large events x4 (32 x 1 MiB)', text: events(32, MiB), maxBytes: 10 * MiB },
  { name: 'past the limit (4 x 2 MiB, limit 1 MiB)', text: events(4, 2 * MiB), maxBytes: MiB },
  {
    name: 'one-byte data lines (1 event, 1 M lines)',
    text: `${'data: x\n'.repeat(MiB)}\n`,
    maxBytes: 10 * MiB,
  },
];

const request = {
  method: 'POST',
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'text' } }),
};

/** Reads the stream's pieces through `limit` to the end. */
async function readLimited(limit: LimitedFetch, pieces: Uint8Array[], maxBytes: number): Promise<void> {
  const fetch = limit(
    async () => new Response(streamOf(pieces), { headers: { 'content-type': 'text/event-stream' } }),
    maxBytes,
    'too large',
  );
  const reader = (await fetch('http://mcp.test/mcp', request)).body!.getReader();
  while (!(await reader.read()).done) {}
}

/**
 * What the SDK's client does with each stream: decode it, parse its events, and each message's JSON
 * and JSON-RPC shape (the one-byte lines hold no JSON: only the first two steps).
 */
async function parseLikeTheSdk(pieces: Uint8Array[], json: boolean): Promise<void> {
  const reader = streamOf(pieces)
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new EventSourceParserStream())
    .getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    if (json) JSONRPCMessageSchema.parse(JSON.parse(read.value.data));
  }
}

function streamOf(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next < pieces.length) controller.enqueue(pieces[next++]!);
      else controller.close();
    },
  });
}

console.log('\n## limitedFetch on an event stream: ns per byte (the SDK parses the same bytes anyway)');
console.log(
  `${'stream'.padEnd(44)} ${'MiB'.padStart(5)} ${'limit'.padStart(8)} ${'SDK parse'.padStart(10)} ${'limit/SDK'.padStart(10)}${baseline ? `${'baseline'.padStart(10)} ${'limit/baseline'.padStart(15)}` : ''}`,
);
for (const { name, text, maxBytes } of shapes) {
  const pieces = piecesOf(text);
  const bytes = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const contenders: Record<string, () => Promise<unknown>> = {
    limit: () => readLimited(limitedFetch, pieces, maxBytes),
    sdk: () => parseLikeTheSdk(pieces, !name.startsWith('one-byte')),
  };
  if (baseline) contenders.baseline = () => readLimited(baseline, pieces, maxBytes);
  const result = await measureInterleaved(contenders, { rounds: 5, runsPerRound: 3, warmupRuns: 2 });
  const perByte = (key: string) => (result.nsPerRun[key]! / bytes).toFixed(2).padStart(8);
  console.log(
    `${name.padEnd(44)} ${(bytes / MiB).toFixed(1).padStart(5)} ${perByte('limit')} ${perByte('sdk').padStart(10)} ${result.ratio('limit', 'sdk').toFixed(2).padStart(10)}${baseline ? `${perByte('baseline').padStart(10)} ${result.ratio('limit', 'baseline').toFixed(2).padStart(15)}` : ''}`,
  );
}
