import { WorkSlice, yieldToEventLoop } from '@toolmux/core/internal';

/** Answers of at least this many characters are written in chunks of this many, a pause between them when due. */
export const CHUNKED_FROM = 64 * 1024;
const CHUNK = CHUNKED_FROM;
const encoder = new TextEncoder();

/**
 * The body of a JSON answer: small ones as text; a large one (a tool that returned a megabyte) as a
 * stream of UTF-8 chunks, encoded and written one at a time with the event loop free between them, so
 * other requests are not held while a megabyte is encoded and copied to the socket.
 */
export async function jsonBody(
  value: unknown,
): Promise<{ body: string | ReadableStream<Uint8Array>; length: number }> {
  const text = JSON.stringify(value);
  if (text.length < CHUNKED_FROM) return { body: text, length: -1 };
  // serialising was a slice of its own
  await yieldToEventLoop();
  const length = Buffer.byteLength(text);
  let offset = 0;
  let slice = new WorkSlice();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (slice.due()) await slice.pause();
      let end = Math.min(text.length, offset + CHUNK);
      // never half a surrogate pair in a chunk
      const last = text.charCodeAt(end - 1);
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
      controller.enqueue(encoder.encode(text.slice(offset, end)));
      offset = end;
      if (offset >= text.length) controller.close();
    },
  });
  slice = new WorkSlice();
  return { body, length };
}
