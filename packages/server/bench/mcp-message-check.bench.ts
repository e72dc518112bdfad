/**
 * The MCP endpoint's check of one small tools/call message (what every call pays): the MCP SDK's
 * schemas over the whole message (`JSONRPCMessageSchema`, then `CallToolRequestSchema`), as the
 * endpoint did, against `isJsonRpcMessage` + `toolCallOf` (the same schemas over a stand-in of the
 * message, see src/mcp/message-check.ts). Both run in this process, taking turns round by round;
 * printed: each one's time per message and the median of the rounds' ratios. Compare the ratio only.
 *
 *   node --no-warnings packages/server/bench/mcp-message-check.bench.ts
 *
 * BENCH_MESSAGES=50000 (per measurement), BENCH_ROUNDS=11.
 */
import { CallToolRequestSchema, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { isJsonRpcMessage, toolCallOf } from '../src/mcp/message-check.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);

/** A tools/call as a client sends it (parsed from its JSON text, as the endpoint reads it). */
const text = JSON.stringify({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'ECHO_ECHO', arguments: { text: 'hello, world' }, _meta: { progressToken: 7 } },
});
const messages = Array.from({ length: 64 }, () => JSON.parse(text) as Record<string, unknown>);

function sdk(message: Record<string, unknown>): boolean {
  if (!JSONRPCMessageSchema.safeParse(message).success) return false;
  return CallToolRequestSchema.safeParse(message).success;
}

function standIn(message: Record<string, unknown>): boolean {
  if (!isJsonRpcMessage(message)) return false;
  return toolCallOf(message as never).success;
}

/** Nanoseconds per message of `check`. */
function measure(check: (message: Record<string, unknown>) => boolean): number {
  const started = process.hrtime.bigint();
  let accepted = 0;
  for (let index = 0; index < MESSAGES; index++) if (check(messages[index % messages.length]!)) accepted++;
  const elapsed = Number(process.hrtime.bigint() - started);
  if (accepted !== MESSAGES) throw new Error('a valid message was refused');
  return elapsed / MESSAGES;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

// warm both paths
measure(sdk);
measure(standIn);
const times = { sdk: [] as number[], standIn: [] as number[], ratio: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  // the order alternates, so that neither always runs second
  const sdkFirst = round % 2 === 0;
  const before = sdkFirst ? measure(sdk) : 0;
  const after = measure(standIn);
  const whole = sdkFirst ? before : measure(sdk);
  times.sdk.push(whole);
  times.standIn.push(after);
  times.ratio.push(after / whole);
}
console.log(`## MCP message check of a small tools/call, ${MESSAGES} messages, median of ${ROUNDS} rounds`);
console.log(`SDK schemas over the message        ${(median(times.sdk) / 1000).toFixed(2)} µs/message`);
console.log(`SDK schemas over a stand-in         ${(median(times.standIn) / 1000).toFixed(2)} µs/message`);
console.log(`stand-in / whole message: ${median(times.ratio).toFixed(2)}×`);
