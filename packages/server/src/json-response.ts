import { JsonWriter, jsonTextSliced, WorkSlice } from '@toolmux/core/internal';

/** Answers of at least this many characters are streamed, in the chunks `JsonWriter` writes (about this many characters each). */
export const CHUNKED_FROM = 64 * 1024;

/** Values whose maker knows them to be small (see {@link smallJson}). */
const small = new WeakSet<object>();

/**
 * Marks `value` as small enough to be written by one `JSON.stringify` (at most 64K characters, well
 * under a millisecond of the event loop): {@link jsonBody} then writes it without first walking
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
 * a stream of UTF-8 chunks, with the event loop free between the slices, so other requests are not
 * held while a megabyte is serialised. Each chunk of text is encoded as soon as it is written: the
 * answer waits for the socket as bytes outside the JavaScript heap, not as a megabyte of strings
 * that every young-generation GC meanwhile would copy.
 */
export async function jsonBody(
  value: unknown,
): Promise<{ body: string | ReadableStream<Uint8Array>; length: number }> {
  if (typeof value === 'object' && value !== null && small.has(value)) {
    const json = JSON.stringify(value);
    if (json.length < CHUNKED_FROM) return { body: json, length: -1 };
    // larger than its maker said: streamed all the same
    return streamed([Buffer.from(json, 'utf8')]);
  }
  const slice = new WorkSlice();
  const writer = new JsonWriter(value);
  const due = () => slice.due();
  // text until it is long enough to stream; then UTF-8 (a chunk ends on a whole token, never
  // between the halves of a surrogate pair)
  let text: string[] = [];
  let textChars = 0;
  let bytes: Buffer[] | undefined;
  const take = () => {
    for (const chunk of writer.takeChunks()) {
      if (bytes === undefined) {
        text.push(chunk);
        textChars += chunk.length;
        if (textChars < CHUNKED_FROM) continue;
        bytes = text.map((piece) => Buffer.from(piece, 'utf8'));
        text = [];
      } else {
        bytes.push(Buffer.from(chunk, 'utf8'));
      }
    }
  };
  while (!writer.step(due)) {
    take();
    await slice.pause();
  }
  take();
  // JSON.stringify answers undefined for a value that writes nothing: the answer is then `null`
  if (!writer.written) return { body: 'null', length: -1 };
  if (bytes === undefined) return { body: text.join(''), length: -1 };
  return streamed(bytes);
}

/** An answer of UTF-8 chunks, one handed to the socket per pull, with its length. */
function streamed(chunks: Buffer[]): { body: ReadableStream<Uint8Array>; length: number } {
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  let index = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(chunks[index]!);
      // the stream holds no chunk it has handed on
      chunks[index++] = EMPTY;
      if (index >= chunks.length) controller.close();
    },
  });
  return { body, length };
}

const EMPTY = Buffer.alloc(0);

/**
 * `JSON.stringify(value)` that lets other requests run while a large value is serialised (a slice
 * at a time, see `JsonWriter`); a small value is one `JSON.stringify`. `undefined` for a value that
 * writes nothing, as JSON.stringify.
 */
export function jsonText(value: unknown): Promise<string | undefined> {
  return jsonTextSliced(value, new WorkSlice());
}
