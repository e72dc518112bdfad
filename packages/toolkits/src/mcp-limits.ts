import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { deserializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** The most bytes of one message an MCP server may send (a tool's result is one): 10 MiB. */
export const DEFAULT_MCP_MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

/** How much of a dropped message's start and end is kept to read its JSON-RPC id from. */
const KEPT_BYTES = 512;

/**
 * The longest event id or event type of a stream's event that is kept for the event that stands for
 * one past the limit: the client sends the last event id back as a `Last-Event-ID` header to resume,
 * and HTTP servers refuse headers far shorter (Node's default for all of a request's is 16 KiB).
 */
const KEPT_FIELD_BYTES = 64 * 1024;

/** JSON-RPC's "Internal error", the code of the error answer given for a dropped answer. */
const INTERNAL_ERROR = -32603;

const ID = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
/**
 * The start of a JSON-RPC message up to the member `key` (a pattern of its quoted name): `{`, then
 * `"jsonrpc": "2.0"` and the `id` (captured) in the orders MCP SDKs write them, each optional.
 */
function messageStart(key: string): RegExp {
  const version = String.raw`(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?`;
  return new RegExp(String.raw`^\s*\{\s*${version}(?:"id"\s*:\s*${ID}\s*,\s*)?${version}${key}\s*:`);
}
/**
 * A response's start: `{"result":` (TypeScript SDK servers write `result`, `jsonrpc`, `id`), or
 * `{"jsonrpc":"2.0","id":…,"result":` (Python SDK servers), also with `error`. A request or a
 * notification of the server (`method`) is no answer to a call, whatever its size.
 */
const RESPONSE_START = messageStart('"(?:result|error)"');
/** A message's last member `"id": …` before its closing brace: the id of the whole message. */
const ID_AT_END = new RegExp(String.raw`"id"\s*:\s*${ID}\s*\}\s*$`);

/**
 * The id of a response, read from its first and last bytes (all that is kept of one past the limit),
 * or undefined when they do not show a response with an id (then no call can be told by it; see the
 * callers).
 */
export function responseIdOf(head: string, tail: string | (() => string)): string | number | undefined {
  const start = RESPONSE_START.exec(head);
  if (!start) return undefined;
  const id = start[1] ?? ID_AT_END.exec(typeof tail === 'string' ? tail : tail())?.[1];
  if (id === undefined) return undefined;
  try {
    return JSON.parse(id) as string | number;
  } catch {
    return undefined;
  }
}

type RequestId = string | number;

/** The message given to the model for an answer past the limit. */
export function tooLargeMessage(label: string, maxBytes: number): string {
  return `The MCP server ${label} answered with more than ${maxBytes} bytes, the most one answer may hold (mcpToolkit() maxResponseBytes); the answer was dropped. Ask for less (a page, a filter, fewer fields), or raise maxResponseBytes.`;
}

/**
 * The message given to the model for a call whose event stream the server closed (or that broke)
 * before the call's answer, without an event id to resume it by.
 */
export function unansweredMessage(label: string): string {
  return `The MCP server ${label} closed the call's event stream before answering it, and gave no event id to resume it by: the tool may or may not have run, so check its effect before calling it again.`;
}

function errorAnswer(id: string | number, message: string): JSONRPCMessage {
  return { jsonrpc: '2.0', id, error: { code: INTERNAL_ERROR, message } };
}

const decoder = new TextDecoder();

/** Copies `source`'s bytes from `from` to `to` into `target` at `at`. */
function copy(target: Uint8Array, at: number, source: Uint8Array, from: number, to: number): void {
  // a few bytes (an event stream's short lines) one by one: a view for set() costs more
  if (to - from > 16) target.set(source.subarray(from, to), at);
  else for (let index = from; index < to; index++) target[at++] = source[index]!;
}

/** UTF-8 `pieces` as text (a character cut at either edge is replaced). */
function textOf(pieces: Uint8Array[]): string {
  return pieces.length === 1 ? decoder.decode(pieces[0]) : decoder.decode(Buffer.concat(pieces));
}

/**
 * The first and last {@link KEPT_BYTES} of a value given in pieces (to find a dropped message's id
 * in), in time linear in the pieces' size: the last bytes are kept in a ring, so a piece costs only
 * its own length (appending each piece to the last bytes and cutting them copied those at every
 * piece, which an event stream of one-byte data lines would have made hundreds of times its size).
 */
class Edges {
  readonly #head = new Uint8Array(KEPT_BYTES);
  readonly #tail = new Uint8Array(KEPT_BYTES);
  #size = 0;

  /** Adds the bytes of `source` from `from` to `to`. */
  add(source: Uint8Array, from = 0, to = source.length): void {
    if (this.#size < KEPT_BYTES) {
      copy(this.#head, this.#size, source, from, Math.min(to, from + KEPT_BYTES - this.#size));
    }
    // the ring holds byte n of the value at n % KEPT_BYTES
    const lastFrom = Math.max(from, to - KEPT_BYTES);
    const at = (this.#size + lastFrom - from) % KEPT_BYTES;
    const wrap = lastFrom + Math.min(to - lastFrom, KEPT_BYTES - at);
    copy(this.#tail, at, source, lastFrom, wrap);
    copy(this.#tail, 0, source, wrap, to);
    this.#size += to - from;
  }

  clear(): void {
    this.#size = 0;
  }

  /** The first bytes as text (a character cut at the edge is replaced). */
  head(): string {
    return textOf([this.#head.subarray(0, Math.min(this.#size, KEPT_BYTES))]);
  }

  /** The last bytes as text (a character cut at the edge is replaced). */
  tail(): string {
    if (this.#size <= KEPT_BYTES) return textOf([this.#tail.subarray(0, this.#size)]);
    const at = this.#size % KEPT_BYTES;
    return textOf([this.#tail.subarray(at), this.#tail.subarray(0, at)]);
  }
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
  readonly #edges = new Edges();
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  add(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.#size += piece.length;
    this.#edges.add(piece);
    if (this.#size <= this.#maxBytes) this.#pieces.push(piece);
    else this.#pieces = [];
  }

  /** The message's bytes (under the limit) or its kept start and end (past it), and starts over. */
  take(): { bytes: Buffer } | { head: string; tail: string } {
    const taken =
      this.#size > this.#maxBytes
        ? { head: this.#edges.head(), tail: this.#edges.tail() }
        : { bytes: this.#pieces.length === 1 ? Buffer.from(this.#pieces[0]!) : Buffer.concat(this.#pieces) };
    this.#edges.clear();
    this.#pieces = [];
    this.#size = 0;
    return taken;
  }
}

/**
 * Reads newline-delimited JSON-RPC messages as the SDK's stdio `ReadBuffer` does (same interface:
 * `append`, `readMessage`, `clear`), in time linear in their size, and answers a response past
 * `maxBytes` with an error answer to its call, so that only that call fails (and at once, not at
 * its timeout). The calls still waiting are known (`sent`, and the answers read): a response past
 * the limit whose id is in neither its first nor its last bytes answers each of them, as no one of
 * them can be told (the one it answered would otherwise wait for its timeout). A notification of the
 * server past the limit (a log message) is dropped; a request of the server past it is answered
 * with an error through `answerServer`, so that the server does not wait for an answer.
 */
export class LineReader {
  readonly #message: MessageBytes;
  readonly #maxBytes: number;
  readonly #lines: Array<string | JSONRPCMessage> = [];
  readonly #tooLarge: string;
  readonly #answerServer: (message: JSONRPCMessage) => void;
  /** The ids of the requests sent and not answered yet, in the order they were sent. */
  readonly #waiting = new Set<RequestId>();

  constructor(
    maxBytes: number,
    tooLarge: string,
    answerServer: (message: JSONRPCMessage) => void = () => {},
  ) {
    this.#message = new MessageBytes(maxBytes);
    this.#maxBytes = maxBytes;
    this.#tooLarge = tooLarge;
    this.#answerServer = answerServer;
  }

  /**
   * Counts a message sent to the server: a request waits for its answer, until it comes or the
   * client gives up on it (`notifications/cancelled`, sent at its timeout or abort; the server may
   * never answer it then).
   */
  sent(message: JSONRPCMessage): void {
    if (!('method' in message)) return;
    if ('id' in message) this.#waiting.add(message.id);
    else if (message.method === 'notifications/cancelled') {
      const cancelled = (message.params as { requestId?: unknown } | undefined)?.requestId;
      if (typeof cancelled === 'string' || typeof cancelled === 'number') this.#waiting.delete(cancelled);
    }
  }

  append(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(0x0a, start);
      if (end === -1) break;
      this.#message.add(chunk.subarray(start, end));
      this.#endLine();
      start = end + 1;
    }
    this.#message.add(chunk.subarray(start));
  }

  readMessage(): JSONRPCMessage | null {
    const line = this.#lines.shift();
    if (line === undefined) return null;
    const message = typeof line === 'string' ? deserializeMessage(line) : line;
    if (!('method' in message) && 'id' in message && message.id !== undefined)
      this.#waiting.delete(message.id);
    return message;
  }

  clear(): void {
    this.#message.take();
    this.#lines.length = 0;
    this.#waiting.clear();
  }

  #endLine(): void {
    const taken = this.#message.take();
    if ('bytes' in taken) {
      const line = taken.bytes.toString('utf8').replace(/\r$/, '');
      if (line.trim() !== '') this.#lines.push(line);
      return;
    }
    const id = responseIdOf(taken.head, taken.tail);
    if (id !== undefined) {
      this.#lines.push(errorAnswer(id, this.#tooLarge));
      return;
    }
    const request = serverRequestOf(taken.head);
    if (request === 'notification') return;
    if (request !== undefined) {
      this.#answerServer(serverRequestRefusal(request, this.#maxBytes));
      return;
    }
    // an answer (or what cannot be read) that names no call: every call waiting may be the one
    for (const waiting of this.#waiting) this.#lines.push(errorAnswer(waiting, this.#tooLarge));
  }
}

/**
 * A message of the server that is a request (its id) or a notification, told by its start:
 * `{"method":…`, `{"jsonrpc":"2.0","method":…`, `{"jsonrpc":"2.0","id":…,"method":…` (the orders
 * MCP SDKs write); undefined for anything else.
 */
function serverRequestOf(head: string): RequestId | 'notification' | undefined {
  const start = REQUEST_START.exec(head);
  if (!start) return undefined;
  if (start[1] === undefined) return 'notification';
  try {
    return JSON.parse(start[1]) as RequestId;
  } catch {
    return undefined;
  }
}

const REQUEST_START = messageStart('"method"');

/** The error answer to a request of the server that was past the limit (JSON-RPC "Invalid request"). */
function serverRequestRefusal(id: RequestId, maxBytes: number): JSONRPCMessage {
  const message = `The request had more than ${maxBytes} bytes, the most the client reads of one message (maxResponseBytes); it was dropped.`;
  return { jsonrpc: '2.0', id, error: { code: -32600, message } };
}

/** The SDK's stdio client transport, reading the server's output with a {@link LineReader}. */
export class LimitedStdioTransport extends StdioClientTransport {
  readonly #reader: LineReader;

  constructor(server: StdioServerParameters, maxBytes: number, tooLarge: string) {
    super(server);
    // the SDK's ReadBuffer joins every piece to what it holds (quadratic) and, past its own 10 MB,
    // closes the connection without telling the call; the transport reads through this field
    const transport = this as unknown as { _readBuffer?: unknown };
    if (transport._readBuffer === undefined) {
      throw new Error('the MCP SDK client stdio transport has no _readBuffer: update LimitedStdioTransport');
    }
    this.#reader = new LineReader(maxBytes, tooLarge, (answer) => {
      // the server waits for an answer to its request; if the connection is gone, so is the request
      this.send(answer).catch(() => {});
    });
    transport._readBuffer = this.#reader;
  }

  override send(message: JSONRPCMessage): Promise<void> {
    this.#reader.sent(message);
    return super.send(message);
  }
}

/** Statuses whose response has no body (a Response cannot be made with one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The ids of the requests in a POST's body: one JSON-RPC message or an array of them. */
function requestIdsOf(body: unknown): RequestId[] {
  if (typeof body !== 'string') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  return (Array.isArray(parsed) ? parsed : [parsed]).flatMap((message: unknown) => {
    const { method, id } = (message ?? {}) as { method?: unknown; id?: unknown };
    return typeof method === 'string' && (typeof id === 'string' || typeof id === 'number') ? [id] : [];
  });
}

/**
 * The calls a POST's response answers: the requests of its body (read from it once an answer goes
 * by, a message past the limit names none of them, or the stream ends), and the ones whose answer
 * went by. Answers are told by their first and last bytes ({@link responseIdOf}); an
 * answer told wrongly as none leaves its call counted as open, and a later message past the limit
 * then answers it a second time, which the SDK's client ignores (an answer to no pending call).
 */
class PostCalls {
  #body: unknown;
  #requests: RequestId[] | undefined;
  readonly #answered = new Set<RequestId>();

  constructor(body: unknown) {
    this.#body = body;
  }

  /** Counts `id` as answered when it is one of the POST's requests. */
  answered(id: RequestId): void {
    if (this.#requestIds().includes(id)) this.#answered.add(id);
  }

  /** Whether a request of the POST is still unanswered. */
  get open(): boolean {
    // only the POST's requests are counted as answered
    return this.#answered.size < this.#requestIds().length;
  }

  /** The requests not answered yet, counted as answered from now on. */
  takeUnanswered(): RequestId[] {
    const unanswered = this.#unanswered();
    for (const id of unanswered) this.#answered.add(id);
    return unanswered;
  }

  #unanswered(): RequestId[] {
    return this.#requestIds().filter((id) => !this.#answered.has(id));
  }

  #requestIds(): RequestId[] {
    if (this.#requests === undefined) {
      this.#requests = requestIdsOf(this.#body);
      this.#body = undefined;
    }
    return this.#requests;
  }
}

/** The most streams with unanswered calls kept for the SDK to resume, per toolkit. */
const MAX_RESUMABLE_STREAMS = 100;

/**
 * The calls of POST streams that ended (or broke) before answering all of them, by the session and
 * the last event id the SDK's client resumes them with (a GET with `Last-Event-ID`): the resumed
 * stream answers the same calls.
 */
class ResumableCalls {
  readonly #byEvent = new Map<string, PostCalls>();

  keep(session: string | null, eventId: string, calls: PostCalls): void {
    const key = `${session ?? ''}\n${eventId}`;
    this.#byEvent.delete(key);
    this.#byEvent.set(key, calls);
    if (this.#byEvent.size > MAX_RESUMABLE_STREAMS) this.#byEvent.delete(this.#byEvent.keys().next().value!);
  }

  take(session: string | null, eventId: string): PostCalls | undefined {
    const key = `${session ?? ''}\n${eventId}`;
    const calls = this.#byEvent.get(key);
    this.#byEvent.delete(key);
    return calls;
  }
}

/**
 * `fetch` whose answers hold at most `maxBytes` per message: a JSON answer as a whole, each event of
 * an event stream on its own (a stream lives as long as the session and carries many). A response
 * past the limit becomes an error answer to its call (the SDK then fails that call only). A message
 * past it that names no call it answers (a request or notification of the server, a response whose
 * id is not in its first or last bytes) fails the calls of the POST it came in answer to that are
 * still open, also when the SDK resumes that POST's stream with a GET; on the session's own GET
 * stream, which answers no call, it is dropped. The response, and each of its clones, keeps the
 * fetched one's `url`, `redirected`, `type` and `headers`.
 */
export function limitedFetch(
  fetch: typeof globalThis.fetch,
  maxBytes: number,
  tooLarge: string,
  unanswered = unansweredMessage("(a toolkit's)"),
): typeof globalThis.fetch {
  const resumable = new ResumableCalls();
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.body === null || NULL_BODY_STATUSES.has(response.status)) return response;
    const request = input instanceof Request ? input : undefined;
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const headers = new Headers(init?.headers ?? request?.headers);
    const session = headers.get('mcp-session-id');
    const resumedFrom = headers.get('last-event-id');
    const calls =
      method === 'POST'
        ? new PostCalls(init?.body)
        : resumedFrom === null
          ? undefined
          : resumable.take(session, resumedFrom);
    const eventStream = /^text\/event-stream\b/i.test(response.headers.get('content-type') ?? '');
    const limit = eventStream
      ? new EventStreamLimit(
          maxBytes,
          tooLarge,
          calls,
          (lastEventId) => {
            if (calls?.open && lastEventId !== undefined) resumable.keep(session, lastEventId, calls);
          },
          // a POST's stream the SDK will not resume: its calls would wait for their timeout
          method === 'POST' ? unanswered : undefined,
        )
      : new BodyLimit(maxBytes, tooLarge, calls);
    const limited = new Response(limitedBody(response.body, limit), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    return keptFrom(response, limited);
  };
}

/**
 * `limited` with `fetched`'s `url`, `redirected`, `type` and `headers`, also in each of its clones:
 * a Response made here has no URL, is no redirect's and is of type "default" (the SDK reads the URL
 * to name a redirect it did not follow), and `clone()` makes one of the same kind again.
 */
function keptFrom(fetched: Response, limited: Response): Response {
  const clone = limited.clone.bind(limited);
  return Object.defineProperties(limited, {
    url: { value: fetched.url },
    redirected: { value: fetched.redirected },
    type: { value: fetched.type },
    headers: { value: fetched.headers },
    clone: { value: () => keptFrom(fetched, clone()) },
  });
}

/** What reads a body through a limit: each piece read gives the bytes to pass on. */
interface BodyReader {
  add(chunk: Uint8Array): Uint8Array[];
  /** The body ended. */
  end(): Uint8Array[];
  /**
   * Reading the body failed (the connection broke, or was aborted): bytes to end the body with in
   * place of the failure, or none to fail it.
   */
  broken(): Uint8Array[];
}

/** `body` read through `reader`. */
function limitedBody(body: ReadableStream<Uint8Array>, reader: BodyReader): ReadableStream<Uint8Array> {
  const source = body.getReader();
  return new ReadableStream({
    async pull(controller) {
      // a pull that enqueues nothing is not called again: read until there is something to pass on
      for (;;) {
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await source.read();
        } catch (error) {
          const last = reader.broken();
          if (last.length === 0) throw error;
          for (const bytes of last) controller.enqueue(bytes);
          controller.close();
          return;
        }
        const passed = read.done ? reader.end() : reader.add(read.value);
        for (const bytes of passed) controller.enqueue(bytes);
        if (read.done) {
          controller.close();
          return;
        }
        if (passed.length > 0) return;
      }
    },
    cancel: (reason) => source.cancel(reason),
  });
}

const encoder = new TextEncoder();

/** The error answers that stand for a message past the limit, one per call. */
function tooLargeAnswers(ids: RequestId[], tooLarge: string): JSONRPCMessage[] {
  return ids.map((id) => errorAnswer(id, tooLarge));
}

/**
 * A whole body (the JSON answer of a POST) of at most `maxBytes`; past it, the error answer to its
 * call, or to every request of the POST when its id is not in its first or last bytes.
 */
class BodyLimit implements BodyReader {
  readonly #message: MessageBytes;
  readonly #tooLarge: string;
  readonly #calls: PostCalls | undefined;

  constructor(maxBytes: number, tooLarge: string, calls: PostCalls | undefined) {
    this.#message = new MessageBytes(maxBytes);
    this.#tooLarge = tooLarge;
    this.#calls = calls;
  }

  add(chunk: Uint8Array): Uint8Array[] {
    this.#message.add(chunk);
    return [];
  }

  end(): Uint8Array[] {
    const taken = this.#message.take();
    if ('bytes' in taken) return taken.bytes.length > 0 ? [taken.bytes] : [];
    const id = responseIdOf(taken.head, taken.tail);
    const answers = tooLargeAnswers(
      id === undefined ? (this.#calls?.takeUnanswered() ?? []) : [id],
      this.#tooLarge,
    );
    if (answers.length === 0)
      throw new Error(`${this.#tooLarge} It was no answer to a call that could be told.`);
    return [encoder.encode(JSON.stringify(answers.length === 1 ? answers[0] : answers))];
  }

  broken(): Uint8Array[] {
    return [];
  }
}

/** The fields of an event that are read; any other is passed on as it is. */
type EventField = 'data' | 'id' | 'event' | 'other';

const NEWLINE = new Uint8Array([10]);

/** The field whose name is the first `length` bytes of `name`. */
function fieldNamed(name: Uint8Array, length: number): EventField {
  // compared as bytes: making a string of each line's name cost more than the rest of the line
  const is = (field: string) => {
    if (length !== field.length) return false;
    for (let index = 0; index < length; index++) if (name[index] !== field.charCodeAt(index)) return false;
    return true;
  };
  return is('data') ? 'data' : is('id') ? 'id' : is('event') ? 'event' : 'other';
}

/**
 * An event stream whose events hold at most `maxBytes` each. It is parsed as the SDK's parser
 * (eventsource-parser) parses it, as bytes and one piece at a time: lines end in LF, CR or CRLF
 * (also split between pieces), a blank line ends an event, a field's value follows its name's colon
 * and one optional space, `data` lines are joined with LF. An event is passed on as it came once it
 * ends; one past the limit is replaced: a response by the error answer to its call (its id read from
 * the first and last bytes of its data, where JSON-RPC servers write it), any other message by the
 * error answers to the open `calls` of the stream (the POST's requests), or by nothing but its event
 * id (so a resumed stream goes on after it) when the stream answers no call. An event of a type
 * other than `message`, which the SDK does not read, is dropped the same way.
 */
class EventStreamLimit implements BodyReader {
  readonly #maxBytes: number;
  readonly #tooLarge: string;
  readonly #calls: PostCalls | undefined;
  readonly #onEnd: (lastEventId: string | undefined) => void;
  /** The id of the last event the SDK reads (one with data), where a resumption starts after. */
  #lastEventId: string | undefined;
  /**
   * For a POST's stream: the message of the error answers its open calls get when it ends (or
   * breaks) without an event id, which the SDK's client needs to resume it (it sees one on any
   * event, also one without data). Without them, such a call waited for its timeout (60 s).
   */
  readonly #unanswered: string | undefined;
  #sawEventId = false;

  // the piece being read, where the bytes not passed on yet start, where the current event starts
  // in it, and what is passed on
  #chunk: Uint8Array = new Uint8Array(0);
  #passFrom = 0;
  #eventStart = 0;
  #passed: Uint8Array[] = [];

  // the event read so far: its bytes in the pieces before (while within the limit), its data's
  // edges and its fields
  #pieces: Uint8Array[] = [];
  #size = 0;
  readonly #data = new Edges();
  #dataLines = 0;
  #id: string | undefined;
  #type: string | undefined;

  // the line read so far
  #lineBytes = 0;
  /** The field name's first bytes, while the colon after it is not read yet. */
  readonly #name = new Uint8Array(6);
  #nameBytes = 0;
  #field: EventField | undefined;
  #spaceNext = false;
  #value: Uint8Array[] = [];
  #valueBytes = 0;
  /** The last line ended in CR: an LF right after it belongs to that line end. */
  #afterReturn = false;

  constructor(
    maxBytes: number,
    tooLarge: string,
    calls: PostCalls | undefined,
    onEnd: (lastEventId: string | undefined) => void,
    unanswered?: string,
  ) {
    this.#maxBytes = maxBytes;
    this.#tooLarge = tooLarge;
    this.#calls = calls;
    this.#onEnd = onEnd;
    this.#unanswered = unanswered;
  }

  add(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length === 0) return [];
    this.#chunk = chunk;
    this.#passFrom = 0;
    // the LF of a CRLF whose CR ended the last piece: it ends no line, and is kept with the event's
    // bytes (after a blank line, the next event's: dropped with it, the SDK's parser reads a blank
    // line, which ends no event)
    const start = this.#afterReturn && chunk[0] === 10 ? 1 : 0;
    this.#afterReturn = false;
    this.#eventStart = 0;
    let lineStart = start;
    // where the next LF and CR are, each looked for once per line end it makes
    let lf = chunk.indexOf(10, start);
    let cr = chunk.indexOf(13, start);
    while (lf >= 0 || cr >= 0) {
      const end = cr < 0 || (lf >= 0 && lf < cr) ? lf : cr;
      const crlf = end === cr && chunk[end + 1] === 10;
      const next = crlf ? end + 2 : end + 1;
      // a CR that ends the piece may be the first half of a CRLF
      this.#afterReturn = end === cr && !crlf && next === chunk.length;
      this.#line(lineStart, end);
      this.#endLine(next);
      lineStart = next;
      if (lf >= 0 && lf < next) lf = chunk.indexOf(10, next);
      if (cr >= 0 && cr < next) cr = chunk.indexOf(13, next);
    }
    this.#line(lineStart, chunk.length);
    // the bytes of the event not ended yet are kept while it is within the limit
    const rest = chunk.subarray(this.#eventStart);
    this.#size += rest.length;
    if (this.#size > this.#maxBytes) this.#pieces = [];
    else if (rest.length > 0) this.#pieces.push(rest);
    this.#passUpTo(this.#eventStart);
    const passed = this.#passed;
    this.#passed = [];
    return passed;
  }

  end(): Uint8Array[] {
    this.#onEnd(this.#lastEventId);
    // an event the stream did not end: passed on (the SDK's parser drops it) unless past the limit
    const rest = this.#size <= this.#maxBytes ? this.#pieces : [];
    const answers = this.#unansweredAnswers();
    if (!answers) return rest;
    // only whole events were passed on: the answers are events of their own after them, and after
    // the line ends kept (the LF of a CRLF cut between pieces), not after an event the stream did not
    // end (the SDK's parser drops it: it is left out)
    const lineEndsOnly = rest.every((piece) => piece.every((byte) => byte === 10 || byte === 13));
    return lineEndsOnly ? [...rest, answers] : [answers];
  }

  broken(): Uint8Array[] {
    this.#onEnd(this.#lastEventId);
    const answers = this.#unansweredAnswers();
    return answers ? [answers] : [];
  }

  /** Events of error answers to the POST's open calls, when the SDK will not resume its stream. */
  #unansweredAnswers(): Uint8Array | undefined {
    if (this.#unanswered === undefined || this.#sawEventId || !this.#calls?.open) return undefined;
    const answers = this.#calls.takeUnanswered().map((id) => errorAnswer(id, this.#unanswered!));
    return encoder.encode(
      answers.map((answer) => `event: message\ndata: ${JSON.stringify(answer)}\n\n`).join(''),
    );
  }

  /** Passes on the bytes of the piece read from where passing stopped up to `end`. */
  #passUpTo(end: number): void {
    if (end > this.#passFrom) this.#passed.push(this.#chunk.subarray(this.#passFrom, end));
    this.#passFrom = end;
  }

  /** The current line's bytes from `from` to `to` in the piece (without its end). */
  #line(from: number, to: number): void {
    if (from === to) return;
    const chunk = this.#chunk;
    this.#lineBytes += to - from;
    if (this.#field === undefined) {
      // the name up to its colon; no field read here is named with more than 5 bytes, so 6 bytes
      // without a colon are another field (whose value is not read)
      for (; from < to && this.#field === undefined; from++) {
        const byte = chunk[from]!;
        if (byte === 58) {
          this.#startField();
          this.#spaceNext = true;
        } else if (this.#nameBytes < 6) this.#name[this.#nameBytes++] = byte;
        else this.#field = 'other';
      }
    }
    if (from === to || this.#field === undefined || this.#field === 'other') return;
    if (this.#spaceNext) {
      this.#spaceNext = false;
      if (chunk[from] === 32) from++;
    }
    if (this.#field === 'data') this.#data.add(chunk, from, to);
    else {
      // an id or event type longer than this is not kept (the event's bytes are, within the limit)
      this.#valueBytes += to - from;
      if (this.#valueBytes <= KEPT_FIELD_BYTES) this.#value.push(chunk.subarray(from, to));
    }
  }

  #startField(): void {
    this.#field = fieldNamed(this.#name, this.#nameBytes);
    if (this.#field !== 'data') return;
    if (this.#dataLines > 0) this.#data.add(NEWLINE);
    this.#dataLines++;
  }

  /** The current line ended; the next starts at `next` in the piece. */
  #endLine(next: number): void {
    if (this.#lineBytes === 0) {
      this.#endEvent(next);
      return;
    }
    // a line without a colon names a field whose value is empty
    if (this.#field === undefined) this.#startField();
    if (this.#field === 'id' || this.#field === 'event') {
      const value = this.#valueBytes <= KEPT_FIELD_BYTES ? textOf(this.#value) : undefined;
      if (this.#field === 'event') this.#type = value || undefined;
      else if (!value?.includes('\0')) {
        this.#id = value;
        if (value) this.#sawEventId = true;
      }
    }
    this.#lineBytes = 0;
    this.#nameBytes = 0;
    this.#field = undefined;
    this.#spaceNext = false;
    this.#value = [];
    this.#valueBytes = 0;
  }

  /** The current event ended; the next starts at `next` in the piece. */
  #endEvent(next: number): void {
    const dropped = this.#size + next - this.#eventStart > this.#maxBytes;
    // the SDK's parser gives only events with data; the SDK reads those of type "message"
    const read = this.#dataLines > 0;
    const message = read && (this.#type === undefined || this.#type === 'message');
    // read only where it is used: to count the stream's answered calls (until all are), or in place
    // of the event
    const answered =
      message && (dropped || this.#calls?.open)
        ? responseIdOf(this.#data.head(), () => this.#data.tail())
        : undefined;
    if (answered !== undefined) this.#calls?.answered(answered);
    if (!dropped) {
      // its bytes in the pieces before (then it is the first event of this piece), the rest later
      if (this.#pieces.length > 0) {
        this.#passUpTo(this.#eventStart);
        for (const piece of this.#pieces) this.#passed.push(piece);
      }
    } else {
      this.#passUpTo(this.#eventStart);
      this.#passFrom = next;
      const answers = tooLargeAnswers(
        answered !== undefined ? [answered] : message ? (this.#calls?.takeUnanswered() ?? []) : [],
        this.#tooLarge,
      );
      const replacement = read ? this.#replacement(answers) : '';
      if (replacement) this.#passed.push(encoder.encode(replacement));
    }
    if (read && this.#id) this.#lastEventId = this.#id;
    this.#eventStart = next;
    this.#pieces = [];
    this.#size = 0;
    this.#data.clear();
    this.#dataLines = 0;
    this.#id = undefined;
    this.#type = undefined;
  }

  /** Events for the `answers` of a dropped event, the last with its id; with none, its id alone. */
  #replacement(answers: JSONRPCMessage[]): string {
    const id = this.#id ? `id: ${this.#id}\n` : '';
    if (answers.length === 0) return id ? `${id}data:\n\n` : '';
    return answers
      .map(
        (answer, index) =>
          `event: message\n${index === answers.length - 1 ? id : ''}data: ${JSON.stringify(answer)}\n\n`,
      )
      .join('');
  }
}
