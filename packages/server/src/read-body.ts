import { ToolMuxError } from '@toolmux/core';
import {
  JsonTextError,
  jsonDepthExceeds,
  MAX_JSON_DEPTH,
  MAX_OBJECT_KEYS,
  parseJsonSliced,
  SLICED_PARSE_FROM,
  shownValue,
  WorkSlice,
  yieldToEventLoop,
} from '@toolmux/core/internal';
import { invalidRequest } from './http-errors.js';

/** Default limit of a request body: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * How deep a JSON request body may nest: room for the deepest tool arguments or tool schema core
 * accepts, plus the envelope around them (a custom toolkit's tool schema sits 8 levels down).
 */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 16;

/**
 * Requests whose client waits for `100 Continue` before it sends the body (`Expect: 100-continue`),
 * with what sends it: the server's `checkContinue` handler (see `serve()`) leaves it to the body's
 * reader, so that a request refused before its body is read (401, 413 on the declared length, 415)
 * is answered without inviting the upload first (RFC 9110 §10.1.1).
 */
export const continueBeforeBody = new WeakMap<Request, () => void>();

/** Tells a client that waits for `100 Continue` to send the body, once, before it is read. */
function wantBody(request: Request): void {
  const send = continueBeforeBody.get(request);
  if (send === undefined) return;
  continueBeforeBody.delete(request);
  send();
}

function tooLarge(maxBytes: number): ToolMuxError {
  return new ToolMuxError({
    code: 'REQUEST_TOO_LARGE',
    message: `The request body is larger than ${maxBytes} bytes; send less data per request.`,
  });
}

/**
 * Reads a request body as text, at most `maxBytes`. A body with a `Content-Length` over the limit is
 * refused before it is read; a chunked one is read until it passes the limit. (Hono's `bodyLimit`
 * does the same, but it touches `request.body` first, which makes `@hono/node-server` build a full
 * `Request` and lose its fast path for small JSON bodies.)
 */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  checkContentEncoding(request.headers.get('content-encoding'));
  const length = request.headers.get('content-length');
  if (length !== null && !request.headers.has('transfer-encoding')) {
    if (Number(length) > maxBytes) throw tooLarge(maxBytes);
    wantBody(request);
    if (Number(length) < SLICED_PARSE_FROM) return request.text();
  }
  wantBody(request);
  const body = request.body;
  if (!body) return '';
  // the bytes are kept as they arrive (outside the JavaScript heap) and decoded DECODE_BYTES at a
  // time: a megabyte decoded at once is milliseconds of one turn (of CJK text), and decoding each
  // network chunk of 64 KB made strings of the young generation's ordinary pages, which a scavenge
  // meanwhile copies, where a piece of 512 KB is a string too large for them (kept apart, never
  // copied) and brings the next scavenge less close
  const stream = new TextDecoder();
  const parts: string[] = [];
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  const decodeHeld = (last: boolean) => {
    if (heldBytes > 0) {
      const bytes = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
      held = [];
      heldBytes = 0;
      parts.push(stream.decode(bytes, { stream: !last }));
    } else if (last) {
      parts.push(stream.decode());
    }
  };
  let size = 0;
  const reader = body.getReader();
  const slice = new WorkSlice();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    held.push(value);
    heldBytes += value.byteLength;
    if (heldBytes >= DECODE_BYTES) decodeHeld(false);
    // chunks that arrived together are read in one turn
    if (slice.due()) await slice.pause();
  }
  decodeHeld(true);
  return parts.length === 1 ? parts[0]! : parts.join('');
}

/**
 * Refuses a body in a content coding (`Content-Encoding: gzip`, …) with 415, as RFC 9110 asks of a
 * server that does not decode it: it was read as if it were the JSON, and a compressed body was
 * answered 400 "not valid JSON", a JSON one labelled gzip taken. `identity` is no coding.
 */
function checkContentEncoding(coding: string | null): void {
  if (coding === null || /^[\s,]*(?:identity[\s,]*)*$/i.test(coding)) return;
  throw new ToolMuxError({
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: `The request body is sent with Content-Encoding ${shownValue(coding)}, which this server does not decode: send it uncompressed, without a Content-Encoding header.`,
  });
}

/** A large body is decoded this many bytes at a time (see {@link readBodyText}). */
const DECODE_BYTES = 512 * 1024;

/** True when a `Content-Type` header names JSON (`application/json`, `application/*+json`). */
export function isJsonContentType(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function notJsonMediaType(): ToolMuxError {
  return new ToolMuxError({
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'The request body must be JSON: send it with "Content-Type: application/json".',
  });
}

/** JSON's whitespace, and what `String.prototype.trim` takes for it among single bytes. */
function isBlankByte(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

/**
 * Reads a body sent without a JSON `Content-Type`, which is taken only when it is empty (a `POST`
 * without a body): `undefined` for an empty or blank one, a 415 as soon as a byte that is not
 * whitespace arrives (the rest is not read), a 413 past `maxBytes` of whitespace. A body that
 * declares its length is refused at once unless that is 0.
 */
async function readNoJsonBody(request: Request, maxBytes: number): Promise<undefined> {
  const length = request.headers.get('content-length');
  if (length !== null && !request.headers.has('transfer-encoding')) {
    if (Number(length) === 0) return undefined;
    throw notJsonMediaType();
  }
  wantBody(request);
  const body = request.body;
  if (!body) return undefined;
  const reader = body.getReader();
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return undefined;
    size += value.byteLength;
    if (!value.every(isBlankByte) || size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw size > maxBytes && value.every(isBlankByte) ? tooLarge(maxBytes) : notJsonMediaType();
    }
  }
}

/**
 * Reads and parses a JSON body. An empty body is `undefined`; a wrong `Content-Type` is 415, before
 * the body is read (see {@link readNoJsonBody}), broken JSON 400, a body over the limit 413 (as it
 * streams in, see {@link readBodyText}).
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  if (!isJsonContentType(request.headers.get('content-type'))) return readNoJsonBody(request, maxBytes);
  const text = await readBodyText(request, maxBytes);
  if (text.trim() === '') return undefined;
  return parseBody(text);
}

/**
 * Parses JSON body text: `JSON.parse` and the depth check for a small body; a large one (from
 * {@link SLICED_PARSE_FROM} characters) is parsed a slice at a time, the depth and key limits enforced
 * while parsing, with the event loop free between slices (a megabyte of JSON is tens of milliseconds
 * of work). Broken JSON, JSON nested deeper than {@link MAX_BODY_DEPTH}, or an object of more than
 * `MAX_OBJECT_KEYS` keys (which only a large body can hold), is a 400 INVALID_REQUEST.
 */
export async function parseBody(text: string): Promise<unknown> {
  try {
    return await parseJsonText(text, MAX_BODY_DEPTH, MAX_OBJECT_KEYS);
  } catch (error) {
    if (error instanceof JsonTextError && error.kind === 'depth') throw tooDeep();
    if (error instanceof JsonTextError && error.kind === 'keys') throw tooWide();
    if (error instanceof SyntaxError) throw notJson(error);
    throw error;
  }
}

/**
 * `JSON.parse(text)` with a depth limit: at once for a small text, a slice at a time for a large one
 * (see {@link parseBody}). Throws a SyntaxError for broken JSON, a `JsonTextError` of kind `depth`
 * for JSON nested deeper than `maxDepth`, of kind `keys` for an object of more than `maxKeys` keys
 * (checked in a large text only: a small one cannot hold that many). `keyCounts`: filled with the
 * key count of each object of a large text that has at least `WIDE_OBJECT_KEYS` (under a `maxKeys`).
 */
export async function parseJsonText(
  text: string,
  maxDepth: number,
  maxKeys?: number,
  keyCounts?: WeakMap<object, number>,
): Promise<unknown> {
  if (text.length < SLICED_PARSE_FROM) {
    const value: unknown = JSON.parse(text);
    if (jsonDepthExceeds(value, maxDepth)) {
      throw new JsonTextError(`JSON nests more than ${maxDepth} levels deep`, 'depth', 0);
    }
    return value;
  }
  // decoding the body was a slice of its own
  await yieldToEventLoop();
  const slice = new WorkSlice();
  const value = await parseJsonSliced(text, slice, { maxDepth, maxKeys, keyCounts });
  if (slice.due()) await slice.pause();
  return value;
}

/**
 * Parses a JSON request body: broken JSON, or JSON nested deeper than {@link MAX_BODY_DEPTH}, is a
 * 400 (nothing past the boundary then walks a value deep enough to overflow the stack).
 */
export function parseJsonBody(text: string): unknown {
  const value = parseJson(text);
  checkBodyDepth(value);
  return value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw notJson(error);
  }
}

/**
 * The 400 of a body that is not JSON. It says where the JSON breaks, never what is there: the
 * engine's own message quotes the body's first characters (`Unexpected token 'a', "apiKey=sk_"...`),
 * and a body may hold a secret (a form post of credentials, a token pasted in the wrong place).
 */
function notJson(error: unknown) {
  return invalidRequest(
    `The request body is not valid JSON (${jsonBreak(error)}); the body is not quoted here, as it may hold a secret. Send one JSON value, with "Content-Type: application/json".`,
  );
}

/** Where a JSON text broke, without any of its characters. */
function jsonBreak(error: unknown): string {
  if (error instanceof JsonTextError) return `it breaks at character ${error.position + 1}`;
  const message = error instanceof Error ? error.message : '';
  if (/Unexpected end of JSON input|Unterminated string/.test(message)) return 'it ends too soon';
  const position = /at position (\d+)/.exec(message);
  if (position) return `it breaks at character ${Number(position[1]) + 1}`;
  return 'it holds a character JSON does not allow there';
}

function tooDeep() {
  return invalidRequest(
    `The request body nests objects and arrays more than ${MAX_BODY_DEPTH} levels deep; tool arguments and schemas may nest at most ${MAX_JSON_DEPTH} levels.`,
  );
}

/**
 * The 400 of a body with an object of more than `MAX_OBJECT_KEYS` keys, refused while it is parsed:
 * listing the keys of one object cannot be split, and every stage after the parse would list them.
 */
function tooWide() {
  return invalidRequest(
    `The request body holds an object of more than ${MAX_OBJECT_KEYS} keys: listing the keys of one object is a step that cannot be split, which would hold every other request meanwhile. Send its entries as an array ([{ key, value }, …]), or fewer keys.`,
  );
}

function checkBodyDepth(value: unknown): void {
  if (jsonDepthExceeds(value, MAX_BODY_DEPTH)) throw tooDeep();
}

/**
 * The most of a body a route that takes none reads: enough for `{}` with some whitespace around it.
 * A larger body is refused on its declared length, unread, or once this much of it arrived.
 */
const NO_BODY_READ_BYTES = 1024;

/**
 * Refuses a body sent to a route that takes none (`POST /api/v1/connected-accounts/:id/enable`, a
 * `DELETE`, …) with a 400 naming the route and the fields to leave out, where it was ignored: a client
 * whose fields were meant for another route, or for the query, was answered 200 as if they were
 * taken. An empty body and `{}` (what SDKs and HTTP clients send for "nothing") pass. At most
 * {@link NO_BODY_READ_BYTES} are read. `route` is the route's method and path
 * (`DELETE /api/v1/sessions/:sessionId`); `pathNames` its path parameters, which a field of the same
 * name (or its snake_case) is told the path holds already. A GET's body is never seen (the Node.js
 * adapter does not read it), so GET routes are not checked.
 */
export async function checkNoBody(
  request: Request,
  route: string,
  pathNames: readonly string[] = [],
): Promise<void> {
  const length = request.headers.get('content-length');
  const chunked = request.headers.has('transfer-encoding');
  if (!chunked && length !== null && Number(length) === 0) return;
  if (!chunked && length !== null && !(Number(length) <= NO_BODY_READ_BYTES)) {
    throw carriesBody(route, `leave out the body (${Number(length)} bytes were sent)`);
  }
  let text: string;
  try {
    text = await readBodyText(request, NO_BODY_READ_BYTES);
  } catch (error) {
    if (!ToolMuxError.isInstance(error)) throw error;
    throw carriesBody(
      route,
      error.code === 'REQUEST_TOO_LARGE'
        ? `leave out the body (more than ${NO_BODY_READ_BYTES} bytes were sent)`
        : 'leave out the body',
    );
  }
  if (text.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw carriesBody(route, 'leave out the body');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw carriesBody(route, `leave out the body (it held ${shownValue(value)})`);
  }
  const names = Object.keys(value);
  if (names.length === 0) return;
  const listed = (some: string[]) =>
    some.slice(0, 5).map(shownValue).join(', ') + (some.length > 5 ? ` and ${some.length - 5} more` : '');
  // a field named as a path parameter (`session_id`, `connectedAccountId`) is in the path already
  const pathName = (name: string) =>
    pathNames.find((path) => name === path || name === path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  const inPath = names.filter((name) => pathName(name) !== undefined);
  const others = names.filter((name) => pathName(name) === undefined);
  const advice = [
    ...(others.length > 0 ? [`leave out ${listed(others)}`] : []),
    ...(inPath.length > 0
      ? [`leave out ${listed(inPath)}: the path names it (:${pathName(inPath[0]!)})`]
      : []),
  ];
  throw carriesBody(route, advice.join('; '));
}

function carriesBody(route: string, advice: string): ToolMuxError {
  return invalidRequest(`${route} takes no body: ${advice}; send no body, or {}.`);
}
