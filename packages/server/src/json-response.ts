import { stringifyJsonSliced, WorkSlice } from '@toolmux/core/internal';

/** Answers of at least this many characters are written in chunks of this many, a pause between them when due. */
export const CHUNKED_FROM = 64 * 1024;
const CHUNK = CHUNKED_FROM;
const encoder = new TextEncoder();

/** Values whose maker knows them to be small (see {@link smallJson}). */
const small = new WeakSet<object>();

/**
 * Marks `value` as small enough to be written by one `JSON.stringify` (as `JsonWriter` writes a
 * subtree of at most 16K characters of strings): {@link jsonBody} then writes it without first walking
 * it to find out, which for a page of 50 log entries (750 properties) cost about as much as writing
 * it. Only for a value whose size its maker bounds (a log page counts its entries' text); the answer
 * is the same.
 */
export function smallJson<T extends object>(value: T): T {
  small.add(value);
  return value;
}

/**
 * The body of a JSON answer: small ones as text; a large one (a tool that returned a megabyte) is
 * serialised a slice at a time (see `JsonWriter`: a small value is one `JSON.stringify`) and sent as
 * a stream of UTF-8 chunks, encoded and written one at a time with the event loop free between them,
 * so other requests are not held while a megabyte is serialised, encoded and copied to the socket.
 */
export async function jsonBody(
  value: unknown,
): Promise<{ body: string | ReadableStream<Uint8Array>; length: number }> {
  const slice = new WorkSlice();
  const chunks =
    typeof value === 'object' && value !== null && small.has(value)
      ? [JSON.stringify(value)]
      : await stringifyJsonSliced(value, slice);
  // JSON.stringify answers undefined for a value that writes nothing: the answer is then `null`
  if (!chunks) return { body: 'null', length: -1 };
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  if (total < CHUNKED_FROM) return { body: chunks.join(''), length: -1 };
  if (slice.due()) await slice.pause();
  let length = 0;
  for (const chunk of chunks) {
    length += Buffer.byteLength(chunk);
    if (slice.due()) await slice.pause();
  }
  let index = 0;
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (slice.due()) await slice.pause();
      const chunk = chunks[index]!;
      let end = Math.min(chunk.length, offset + CHUNK);
      // never half a surrogate pair in a chunk (a chunk itself ends on a whole token)
      const last = chunk.charCodeAt(end - 1);
      if (end < chunk.length && last >= 0xd800 && last <= 0xdbff) end--;
      controller.enqueue(encoder.encode(chunk.slice(offset, end)));
      offset = end;
      if (offset >= chunk.length) {
        index++;
        offset = 0;
      }
      if (index >= chunks.length) controller.close();
    },
  });
  slice.restart();
  return { body, length };
}

/**
 * `JSON.stringify(value)` that lets other requests run while a large value is serialised (a slice
 * at a time, see `JsonWriter`); a small value is one `JSON.stringify`. `undefined` for a value that
 * writes nothing, as JSON.stringify.
 */
export async function jsonText(value: unknown): Promise<string | undefined> {
  const chunks = await stringifyJsonSliced(value, new WorkSlice());
  if (!chunks) return undefined;
  return chunks.length === 1 ? chunks[0]! : chunks.join('');
}
