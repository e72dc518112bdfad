import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { deserializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** The most bytes of one message an MCP server may send (a tool's result is one): 10 MiB. */
export const DEFAULT_MCP_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

/** How much of a dropped message's start and end is kept to read its JSON-RPC id from. */
const KEPT_BYTES = 512;

/** JSON-RPC's "Internal error", the code of the error answer given for a dropped answer. */
const INTERNAL_ERROR = -32603;

const ID = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
/**
 * A response's start: `{"result":` (TypeScript SDK servers write `result`, `jsonrpc`, `id`), or
 * `{"jsonrpc":"2.0","id":…,"result":` (Python SDK servers), also with `error`. A request or a
 * notification of the server (`method`) is no answer to a call, whatever its size.
 */
const RESPONSE_START = new RegExp(
  String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?(?:"id"\s*:\s*${ID}\s*,\s*)?(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"(?:result|error)"\s*:`,
);
/** A message's last member `"id": …` before its closing brace: the id of the whole message. */
const ID_AT_END = new RegExp(String.raw`"id"\s*:\s*${ID}\s*\}\s*$`);

/**
 * The id of a response that was too large to keep, read from its first and last bytes, or undefined
 * when they do not show a response with an id (then no call can be told; see the callers).
 */
export function idOfDroppedResponse(head: string, tail: string): string | number | undefined {
  const start = RESPONSE_START.exec(head);
  if (!start) return undefined;
  const id = start[1] ?? ID_AT_END.exec(tail)?.[1];
  if (id === undefined) return undefined;
  try {
    return JSON.parse(id) as string | number;
  } catch {
    return undefined;
  }
}

/** The message given to the model for an answer past the limit. */
export function tooLargeMessage(label: string, maxBytes: number): string {
  return `The MCP server ${label} answered with more than ${maxBytes} bytes, the most one answer may hold (mcpToolkit() maxResponseBytes); the answer was dropped. Ask for less (a page, a filter, fewer fields), or raise maxResponseBytes.`;
}

function errorAnswer(id: string | number, message: string): JSONRPCMessage {
  return { jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message } };
}

/**
 * The bytes of one message kept while it is read, up to `maxBytes`; past them only its first and
 * last {@link KEPT_BYTES} are kept (to find its id) and the rest is counted. Pieces are kept as they
 * came and joined once: appending each piece to one buffer copied the whole message at every piece
 * (quadratic: a 5 MB result took seconds of copying).
 */
class MessageBytes {
  #pieces: Uint8Array[] = [];
  #size = 0;
  #head: Uint8Array | undefined;
  #tail: Uint8Array = new Uint8Array(0);
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get dropped(): boolean {
    return this.#head !== undefined;
  }

  add(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.#size += piece.length;
    if (this.#head === undefined && this.#size <= this.#maxBytes) {
      this.#pieces.push(piece);
      return;
    }
    if (this.#head === undefined) {
      // copies: the joined message is let go at once
      const joined = Buffer.concat([...this.#pieces, piece]);
      this.#head = Buffer.from(joined.subarray(0, KEPT_BYTES));
      this.#pieces = [];
      this.#tail = Buffer.from(joined.subarray(Math.max(KEPT_BYTES, joined.length - KEPT_BYTES)));
      return;
    }
    this.#tail =
      piece.length >= KEPT_BYTES
        ? Buffer.from(piece.subarray(piece.length - KEPT_BYTES))
        : Buffer.concat([this.#tail, piece]).subarray(-KEPT_BYTES);
  }

  /** The message's bytes (under the limit) or its kept start and end (past it), and starts over. */
  take(): { bytes: Buffer } | { head: string; tail: string } {
    const head = this.#head;
    const taken = head
      ? { head: Buffer.from(head).toString('utf8'), tail: Buffer.from(this.#tail).toString('utf8') }
      : { bytes: this.#pieces.length === 1 ? Buffer.from(this.#pieces[0]!) : Buffer.concat(this.#pieces) };
    this.#pieces = [];
    this.#size = 0;
    this.#head = undefined;
    this.#tail = new Uint8Array(0);
    return taken;
  }
}

/**
 * Reads newline-delimited JSON-RPC messages as the SDK's stdio `ReadBuffer` does (same interface:
 * `append`, `readMessage`, `clear`), in time linear in their size, and answers a response past
 * `maxBytes` with an error answer to its call, so that only that call fails (and at once, not at
 * its timeout). A message past the limit that is no response with an id cannot be told to any call:
 * `append` throws, and the transport closes (the next call reconnects).
 */
export class LineReader {
  readonly #message: MessageBytes;
  readonly #lines: Array<string | JSONRPCMessage> = [];
  readonly #tooLarge: string;

  constructor(maxBytes: number, tooLarge: string) {
    this.#message = new MessageBytes(maxBytes);
    this.#tooLarge = tooLarge;
  }

  append(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, start)) {
      this.#message.add(chunk.subarray(start, end));
      this.#endLine();
      start = end + 1;
    }
    this.#message.add(chunk.subarray(start));
  }

  readMessage(): JSONRPCMessage | null {
    const line = this.#lines.shift();
    if (line === undefined) return null;
    return typeof line === 'string' ? deserializeMessage(line) : line;
  }

  clear(): void {
    this.#message.take();
    this.#lines.length = 0;
  }

  #endLine(): void {
    const taken = this.#message.take();
    if ('bytes' in taken) {
      const line = taken.bytes.toString('utf8').replace(/\r$/, '');
      if (line.trim() !== '') this.#lines.push(line);
      return;
    }
    const id = idOfDroppedResponse(taken.head, taken.tail);
    if (id === undefined) throw new Error(`${this.#tooLarge} It was no answer to a call that could be told.`);
    this.#lines.push(errorAnswer(id, this.#tooLarge));
  }
}

/** The SDK's stdio client transport, reading the server's output with a {@link LineReader}. */
export class LimitedStdioTransport extends StdioClientTransport {
  constructor(server: StdioServerParameters, maxBytes: number, tooLarge: string) {
    super(server);
    // the SDK's ReadBuffer joins every piece to what it holds (quadratic) and, past its own 10 MB,
    // closes the connection without telling the call; the transport reads through this field
    const transport = this as unknown as { _readBuffer?: unknown };
    if (transport._readBuffer === undefined) {
      throw new Error('the MCP SDK client stdio transport has no _readBuffer: update LimitedStdioTransport');
    }
    transport._readBuffer = new LineReader(maxBytes, tooLarge);
  }
}

/** Statuses whose response has no body (a Response cannot be made with one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * `fetch` whose answers hold at most `maxBytes` per message: a JSON answer as a whole, each event of
 * an event stream on its own (a stream lives as long as the session and carries many). A response
 * past the limit becomes an error answer to its call (the SDK then fails that call only); a message
 * past it that is no response with an id errors the stream.
 */
export function limitedFetch(
  fetch: typeof globalThis.fetch,
  maxBytes: number,
  tooLarge: string,
): typeof globalThis.fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.body === null || NULL_BODY_STATUSES.has(response.status)) return response;
    const eventStream = /^text\/event-stream\b/i.test(response.headers.get('content-type') ?? '');
    const limit = eventStream ? eventLimit(maxBytes, tooLarge) : bodyLimit(maxBytes, tooLarge);
    return new Response(response.body.pipeThrough(limit), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

const encoder = new TextEncoder();

/** A whole body (one JSON answer) of at most `maxBytes`, else the error answer to its call. */
function bodyLimit(maxBytes: number, tooLarge: string): TransformStream<Uint8Array, Uint8Array> {
  const message = new MessageBytes(maxBytes);
  return new TransformStream({
    transform(chunk) {
      message.add(chunk);
    },
    flush(controller) {
      const taken = message.take();
      if ('bytes' in taken) {
        if (taken.bytes.length > 0) controller.enqueue(taken.bytes);
        return;
      }
      const id = idOfDroppedResponse(taken.head, taken.tail);
      if (id === undefined) throw new Error(`${tooLarge} It was no answer to a call that could be told.`);
      controller.enqueue(encoder.encode(JSON.stringify(errorAnswer(id, tooLarge))));
    },
  });
}

/**
 * An event stream whose events hold at most `maxBytes` each: an event is passed on once it ends (a
 * blank line), an event past the limit is replaced by one that carries the error answer to its call.
 */
function eventLimit(maxBytes: number, tooLarge: string): TransformStream<Uint8Array, Uint8Array> {
  const event = new MessageBytes(maxBytes);
  /** Bytes of the current line so far, and whether the last of them is a carriage return. */
  let lineBytes = 0;
  let endsInReturn = false;
  const endEvent = (controller: TransformStreamDefaultController<Uint8Array>) => {
    const taken = event.take();
    if ('bytes' in taken) {
      controller.enqueue(taken.bytes);
      return;
    }
    // the data of the event: after its `data:` field name
    const data = /(?:^|\n)data: ?([^\n]*)/.exec(taken.head)?.[1] ?? '';
    const id = idOfDroppedResponse(data, taken.tail);
    if (id === undefined) throw new Error(`${tooLarge} It was no answer to a call that could be told.`);
    controller.enqueue(
      encoder.encode(`event: message\ndata: ${JSON.stringify(errorAnswer(id, tooLarge))}\n\n`),
    );
  };
  return new TransformStream({
    transform(chunk, controller) {
      let start = 0;
      for (let end = chunk.indexOf(10); end >= 0; end = chunk.indexOf(10, start)) {
        // a blank line ("\n" or "\r\n", also split between chunks) ends the event
        const here = end - start;
        const blank =
          (lineBytes === 0 && (here === 0 || (here === 1 && chunk[start] === 13))) ||
          (lineBytes === 1 && endsInReturn && here === 0);
        event.add(chunk.subarray(start, end + 1));
        lineBytes = 0;
        endsInReturn = false;
        start = end + 1;
        if (blank) endEvent(controller);
      }
      event.add(chunk.subarray(start));
      lineBytes += chunk.length - start;
      if (chunk.length > start) endsInReturn = chunk[chunk.length - 1] === 13;
    },
    flush(controller) {
      const taken = event.take();
      if ('bytes' in taken && taken.bytes.length > 0) controller.enqueue(taken.bytes);
    },
  });
}
