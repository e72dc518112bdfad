import {
  JsonWriter,
  jsonTextPiecesSliced,
  jsonTextSliced,
  type StringPieces,
  WorkSlice,
} from '@toolmux/core/internal';
import { responseWithRequestId } from './request-log.js';

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
 * held while a megabyte is serialised. The text is encoded as it is written, a piece at a time, into
 * buffers outside the JavaScript heap: the answer waits for the socket as bytes, not as a megabyte
 * of strings that every young-generation GC meanwhile would copy, and no piece is copied into a
 * joined chunk string first (that copy of the whole text in the young generation brought the next
 * scavenge closer while the value written, often the call's megabyte of arguments, was alive).
 */
export function jsonBody(value: unknown): JsonAnswer | Promise<JsonAnswer> {
  if (typeof value === 'object' && value !== null && small.has(value)) {
    const json = JSON.stringify(value);
    if (json.length < CHUNKED_FROM) return { body: json, length: -1 };
    // larger than its maker said: streamed all the same
    return streamed([Buffer.from(json, 'utf8')]);
  }
  const slice = new WorkSlice();
  // text until it is long enough to stream; then UTF-8 (a piece is a whole token, never half of
  // a surrogate pair)
  let text: string[] = [];
  let textChars = 0;
  let bytes: Utf8Chunks | undefined;
  const writer = new JsonWriter(value, {
    sink: (piece) => {
      if (bytes !== undefined) {
        bytes.add(piece);
        return;
      }
      text.push(piece);
      textChars += piece.length;
      if (textChars < CHUNKED_FROM) return;
      bytes = new Utf8Chunks();
      for (const held of text) bytes.add(held);
      text = [];
    },
  });
  const written = (): JsonAnswer => {
    // JSON.stringify answers undefined for a value that writes nothing: the answer is then `null`
    if (!writer.written) return { body: 'null', length: -1 };
    if (bytes === undefined) return { body: text.join(''), length: -1 };
    return streamed(bytes.end());
  };
  const due = () => slice.due();
  // a value written in one slice (most answers) is answered at once, without a promise
  if (writer.step(due)) return written();
  return (async () => {
    do await slice.pause();
    while (!writer.step(due));
    return written();
  })();
}

/** A JSON answer's body, and its length in bytes when it is streamed (-1 for text). */
export interface JsonAnswer {
  body: string | ReadableStream<Uint8Array>;
  length: number;
}

/**
 * A JSON answer with `status` (and `headers`), its body written by {@link jsonBody}: what every
 * route that answers a value of unbounded size (a tool's result, a list) sends, instead of a
 * framework's `c.json`, which writes the whole value with one `JSON.stringify` and encodes the text
 * in one piece, holding every other request meanwhile (about 100 ms for a result of 8 MB). A value
 * written in one slice is answered at once (no promise to wait for).
 */
export function jsonResponse(
  value: unknown,
  status: number,
  headers: Record<string, string> = {},
): Response | Promise<Response> {
  const answer = jsonBody(value);
  return answer instanceof Promise
    ? answer.then((written) => responseOf(written, status, headers))
    : responseOf(answer, status, headers);
}

function responseOf(answer: JsonAnswer, status: number, headers: Record<string, string>): Response {
  headers['content-type'] = 'application/json';
  if (answer.length >= 0) headers['content-length'] = String(answer.length);
  return responseWithRequestId(answer.body, status, headers);
}

/** Bytes of the buffers a large answer is encoded into. */
const CHUNK_BYTES = 64 * 1024;
/** Pieces shorter than this are gathered and encoded together (a native call each would cost more than the copy). */
const SMALL_PIECE = 1024;

/** Text encoded to UTF-8 a piece at a time into buffers of about {@link CHUNK_BYTES}. */
class Utf8Chunks {
  readonly #chunks: Buffer[] = [];
  #buffer: Buffer | undefined;
  #used = 0;
  #gathered = '';

  add(piece: string): void {
    if (piece.length < SMALL_PIECE) {
      this.#gathered += piece;
      if (this.#gathered.length >= SMALL_PIECE) this.#writeGathered();
      return;
    }
    this.#writeGathered();
    this.#write(piece);
  }

  /** The chunks, the last one included. */
  end(): Buffer[] {
    this.#writeGathered();
    this.#seal();
    return this.#chunks;
  }

  #writeGathered(): void {
    if (this.#gathered === '') return;
    const gathered = this.#gathered;
    this.#gathered = '';
    this.#write(gathered);
  }

  #write(text: string): void {
    const room = this.#buffer === undefined ? 0 : this.#buffer.length - this.#used;
    // at most 3 bytes per UTF-16 unit; the exact count only when that much might not fit
    const size = text.length * 3 <= room ? text.length * 3 : Buffer.byteLength(text, 'utf8');
    if (size > room) {
      this.#seal();
      this.#buffer = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, size));
    }
    this.#used += this.#buffer!.write(text, this.#used, 'utf8');
  }

  #seal(): void {
    if (this.#buffer !== undefined && this.#used > 0) {
      this.#chunks.push(this.#buffer.subarray(0, this.#used));
    }
    this.#buffer = undefined;
    this.#used = 0;
  }
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

/**
 * {@link jsonText} without joining a large text into one string (joining 8 MB is tens of
 * milliseconds in one call): a text of more than one chunk comes as its pieces.
 */
export function jsonTextPieces(value: unknown): Promise<string | StringPieces | undefined> {
  return jsonTextPiecesSliced(value, new WorkSlice());
}

/**
 * The UTF-8 bytes of a text given whole or in pieces. For pieces it can be a little over (a
 * surrogate pair cut between two pieces counts 6 bytes, not 4): what a limit may compare against.
 */
export function utf8Length(text: string | StringPieces): number {
  if (typeof text === 'string') return Buffer.byteLength(text);
  let bytes = 0;
  for (const piece of text.pieces) bytes += Buffer.byteLength(piece);
  return bytes;
}
