import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { ToolMuxError } from '@toolmux/core';
import { quotedMessage, quotedText } from '@toolmux/core/internal';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';

/**
 * Where the server writes: one line per request, and every server fault with its cause. Core's
 * `Logger` (`debug` / `warn` / `error`) and `console` fit; `data` holds the line's fields for
 * structured loggers (pino and the like), and `message` reads on its own for the others.
 */
export interface ServerLogger {
  debug(message: string, data?: Record<string, unknown>): void;
  /** The request lines; a logger without `info` gets them as `debug`. */
  info?(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** The default logger: errors and warnings on the console, request lines only with TOOLMUX_DEBUG=1. */
export const defaultServerLogger: ServerLogger = {
  debug(message, data) {
    if (process.env.TOOLMUX_DEBUG) console.debug(message, data ?? '');
  },
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

/** The response header that carries the request id (taken from the request when it is sane). */
export const REQUEST_ID_HEADER = 'x-request-id';

/** A request id a client or proxy may set: short, and nothing a log line could be forged with. */
const SANE_REQUEST_ID = /^[\w.:/+=@-]{1,128}$/;

/** What the server knows about the request being handled (through AsyncLocalStorage). */
interface RequestContext {
  id: string;
  /** The error behind the response, when a handler threw or a fault was reported. */
  fault?: unknown;
  /** Why a 5xx is no fault (a draining server's `/readyz`): its line is a warning, not an error. */
  expected?: string;
  /** The response {@link responseWithRequestId} made: it carries the request id already. */
  answered?: Response;
  /** Settles when an answer that goes on after its response was returned is done (see {@link answerGoesOn}). */
  goesOn?: Promise<unknown>;
}

const requests = new AsyncLocalStorage<RequestContext>();

/**
 * Records a server fault (a 5xx, or an internal error answered inside a 200 such as a JSON-RPC
 * internal error) against the request being handled: its log line carries the cause. Outside a
 * request, returns false and the caller logs it itself.
 */
export function recordFault(error: unknown): boolean {
  const context = requests.getStore();
  if (!context) return false;
  context.fault ??= error;
  return true;
}

/**
 * Marks the handled request's 5xx as expected, not a fault (`/readyz` of a server that is shutting
 * down): its line is a `warn` with `reason`, so that an error line always means a fault.
 */
export function recordExpectedUnavailable(reason: string): void {
  const context = requests.getStore();
  if (context) context.expected = reason;
}

/**
 * A response with these headers and the handled request's id (`x-request-id`), which the request-log
 * middleware then need not add: adding a header to a made response turns its plain headers into a
 * `Headers` object, which Node's adapter then copies header by header (a few µs of every REST
 * answer). `headers` (a fresh object) is completed with the id; outside a request, the response
 * is made without it.
 */
export function responseWithRequestId(
  body: string | ReadableStream<Uint8Array>,
  status: number,
  headers: Record<string, string>,
): Response {
  const context = requests.getStore();
  if (context === undefined) return new Response(body, { status, headers });
  headers[REQUEST_ID_HEADER] = context.id;
  const response = new Response(body, { status, headers });
  context.answered = response;
  return response;
}

/**
 * Tells the request-log middleware that the handled request's answer goes on after its response is
 * returned (the MCP endpoint's event stream of a long tools/call): its line is written when `done`
 * settles, with the duration until then and a fault recorded meanwhile (a JSON-RPC internal error in
 * the stream). Written when the response was returned, the line had neither, and a fault recorded
 * after it was logged nowhere.
 */
export function answerGoesOn(done: Promise<unknown>): void {
  const context = requests.getStore();
  if (context) context.goesOn = done;
}

/** The request id of the request being handled. */
export function currentRequestId(): string | undefined {
  return requests.getStore()?.id;
}

/**
 * The route pattern that answered (`/api/v1/sessions/:sessionId`), never the path itself: paths hold
 * ids, and the OAuth callback's query holds codes. `unmatched` when no route did.
 */
export function routeOf(c: Context): string {
  const routes = matchedRoutes(c).filter((route) => route.method !== 'ALL');
  return routes.at(-1)?.path ?? 'unmatched';
}

/** The most characters of an error's type (`name`) in a log line: a name is a word, not a text. */
const MAX_ERROR_TYPE_CHARS = 200;

/**
 * `value[key]`, or `undefined` when reading it throws (a getter, a proxy's trap): a fault's cause can
 * come from code of the application's (a store, a hook) and be anything.
 */
function readSafely(value: unknown, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** Whether `value` is an Error, false also when asking throws (a proxy's `getPrototypeOf` trap). */
function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/**
 * A cause as log fields: type, code, message and stack, then its causes (a STORE_ERROR carries the
 * database error), at most 4 deep. Request bodies and headers never get here. Never throws, and each
 * field is cut (a getter that throws leaves its field out).
 */
export function errorFields(error: unknown, depth = 0): Record<string, unknown> {
  // the message and stack quoted (cut): a driver's error can hold a whole query or response
  if (!isError(error)) return { message: quotedMessage(error) };
  const fields: Record<string, unknown> = {};
  const name = readSafely(error, 'name');
  if (typeof name === 'string') fields.type = quotedText(name, [], MAX_ERROR_TYPE_CHARS);
  fields.message = quotedMessage(error);
  const code = readSafely(error, 'code');
  if (typeof code === 'string') fields.code = quotedText(code, [], MAX_ERROR_TYPE_CHARS);
  else if (typeof code === 'number') fields.code = code;
  const stack = readSafely(error, 'stack');
  if (typeof stack === 'string' && stack !== '') fields.stack = quotedText(stack);
  const cause = readSafely(error, 'cause');
  if (cause !== undefined && depth < 4) fields.cause = errorFields(cause, depth + 1);
  return fields;
}

/** One line: the message of an error and of each cause (`STORE_ERROR …: connect ECONNREFUSED …`). */
export function causeText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (isError(current)) {
      const code = ToolMuxError.isInstance(current) ? ` (${current.code})` : '';
      // each message quoted (cut): a driver's error can hold a whole query or response
      parts.push(`${quotedMessage(current)}${code}`);
      current = readSafely(current, 'cause');
    } else {
      parts.push(quotedMessage(current));
      current = undefined;
    }
  }
  return parts.join(' ← ').replace(/\s*\n\s*/g, ' ');
}

/** The id of a request: the one it was sent with (`x-request-id`) when that is sane, else a new one. */
export function requestIdFrom(sent: string | undefined): string {
  return sent !== undefined && SANE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/** An answered request, as its log line and `onResponse` see it. */
interface AnsweredRequest {
  id: string;
  method: string;
  route: string;
  status: number;
  durationMs: number;
  /** The error behind the answer (see {@link recordFault}). */
  fault?: unknown;
  /** Why a 5xx is no fault (see {@link recordExpectedUnavailable}). */
  expected?: string;
}

/** Reports an answered request to `onResponse` (metrics), and writes its line unless `line` is false. */
function requestAnswered(
  { logger, onResponse }: RequestLogOptions,
  info: (message: string, data?: Record<string, unknown>) => void,
  { id, method, route, status, durationMs, fault, expected }: AnsweredRequest,
  line = true,
): void {
  onResponse?.({ method, route, status, durationMs });
  if (!line) return;
  const fields = { req_id: id, method, route, status, duration_ms: durationMs };
  const text = `${method} ${route} ${status} ${durationMs}ms`;
  if (status >= 500 && fault === undefined && expected !== undefined) {
    logger.warn(`${text} (request ${id}): ${expected}`, fields);
  } else if (status >= 500 || fault !== undefined) {
    const cause = fault === undefined ? 'no cause recorded' : causeText(fault);
    logger.error(`${text} (request ${id}): ${cause}`, {
      ...fields,
      ...(fault === undefined ? {} : { error: errorFields(fault) }),
    });
  } else {
    info(text, fields);
  }
}

/** Milliseconds since `started` (a `performance.now()`), to the hundredth. */
function millisecondsSince(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/**
 * What an answer given before the app routes the request (a connection past its client's share, a
 * dot segment, a target or Host header that cannot be read) is counted and logged with, as the
 * request-log middleware counts and logs the others: the id it answers with (`x-request-id`), and
 * `done(status)`, which reports it to `onResponse` under the route `unmatched` and writes its line
 * (not when `line` is false: refusals of connections are logged in a warning of their own, at most
 * so often).
 */
export function earlyAnswerLog(options: RequestLogOptions): (
  method: string,
  sentId: string | undefined,
  started: number,
) => {
  id: string;
  done(status: number, details?: { fault?: unknown; expected?: string; line?: boolean }): void;
} {
  const info = (options.logger.info ?? options.logger.debug).bind(options.logger);
  return (method, sentId, started) => {
    const id = requestIdFrom(sentId);
    return {
      id,
      done: (status, details = {}) =>
        requestAnswered(
          options,
          info,
          {
            id,
            method,
            route: 'unmatched',
            status,
            durationMs: millisecondsSince(started),
            fault: details.fault,
            expected: details.expected,
          },
          details.line ?? true,
        ),
    };
  };
}

/** A server's drain that ended with connections still open, and cut them. */
export interface DrainCut {
  /** What set its time: `shutdownTimeoutMs` (toolmux serve), `running.close({ timeoutMs })`. */
  setting: string;
  /** Its time, in milliseconds. */
  ms: number;
}

export interface RequestLogOptions {
  logger: ServerLogger;
  /** Called when a response is ready, with its route pattern, status and duration (metrics). */
  onResponse?: (entry: { method: string; route: string; status: number; durationMs: number }) => void;
  /** Whether the server's drain cut the connections still open, and what set its time. */
  cut?: () => DrainCut | undefined;
}

/**
 * Whether the connection of a request served by Node.js (`c.env.outgoing`) closed before its answer
 * could be sent: the client went away, or the server's drain cut it. No status reached anyone. Its
 * socket is looked at too: the response learns of a cut socket only when the socket's 'close' event
 * comes, a turn of the event loop or more later, and an answer ready before that (a tool call the
 * drain's end stopped just before the cut) reached no one either.
 */
function connectionGone(c: Context): boolean {
  const outgoing = (
    c.env as
      | { outgoing?: { destroyed?: unknown; headersSent?: unknown; socket?: { destroyed?: unknown } | null } }
      | undefined
  )?.outgoing;
  if (outgoing === undefined || outgoing.headersSent !== false) return false;
  return outgoing.destroyed === true || outgoing.socket?.destroyed === true;
}

/**
 * The middleware that gives every request an id (`x-request-id`, echoed), and writes one line when it
 * is answered: method, route pattern, status, duration, request id. A 5xx (or a fault recorded with
 * {@link recordFault}) is an `error` line with the cause; the rest go to `info`.
 */
export function requestLog(options: RequestLogOptions): MiddlewareHandler {
  const info = (options.logger.info ?? options.logger.debug).bind(options.logger);
  return async (c, next) => {
    const started = performance.now();
    const context: RequestContext = { id: requestIdFrom(c.req.header(REQUEST_ID_HEADER)) };
    await requests.run(context, next);
    if (connectionGone(c)) {
      // nothing is sent: no status to log or count. A client that went away is not logged; a
      // request the server's drain cut is, as cut, with the setting that gave it its time
      const cut = options.cut?.();
      if (cut !== undefined) {
        const method = c.req.method;
        const route = routeOf(c);
        const durationMs = millisecondsSince(started);
        options.logger.warn(
          `${method} ${route} cut, unanswered, after ${durationMs}ms (request ${context.id}): the server shut down, and its drain (${cut.setting}: ${cut.ms} ms) ended before the answer was ready, so the connection was closed with no status sent`,
          { req_id: context.id, method, route, status: null, cut: true, duration_ms: durationMs },
        );
      }
      return;
    }
    try {
      if (c.res !== context.answered) c.res.headers.set(REQUEST_ID_HEADER, context.id);
    } catch {
      // a response with immutable headers (Response.redirect, a fetched response): copy it
      c.res = new Response(c.res.body, c.res);
      c.res.headers.set(REQUEST_ID_HEADER, context.id);
    }
    const method = c.req.method;
    const route = routeOf(c);
    const status = c.res.status;
    const answered = () =>
      requestAnswered(options, info, {
        id: context.id,
        method,
        route,
        status,
        durationMs: millisecondsSince(started),
        fault: context.fault,
        expected: context.expected,
      });
    if (context.goesOn === undefined) {
      answered();
      return;
    }
    // an event stream: its line waits for its end, and for its connection's, which tells whether the
    // stream's end reached the client or the server's drain cut it (logged as a 200 on the code before)
    const streamEnded = () => {
      const outgoing = nodeResponseOf(c);
      if (outgoing === undefined || outgoing.writableFinished === true) answered();
      else if (outgoing.closed === true) streamClosed(outgoing);
      else outgoing.once('close', () => streamClosed(outgoing));
    };
    const streamClosed = (outgoing: NodeResponse) => {
      const cut = outgoing.writableFinished === true ? undefined : options.cut?.();
      if (outgoing.writableFinished === true || (cut === undefined && context.fault !== undefined)) {
        answered();
        return;
      }
      // closed before its answer was sent: its status was. By the server's drain (logged as a 200 on
      // the code before), or by its client, which stopped waiting or went away
      const durationMs = millisecondsSince(started);
      options.onResponse?.({ method, route, status, durationMs });
      const line = `${method} ${route} ${status} event stream`;
      const fields = { req_id: context.id, method, route, status, duration_ms: durationMs };
      if (cut === undefined) {
        info(
          `${line} closed by the client after ${durationMs}ms (request ${context.id}), before its answer was sent`,
          { ...fields, closed_by_client: true },
        );
      } else {
        options.logger.warn(
          `${line} cut after ${durationMs}ms (request ${context.id}): the server shut down, and its drain (${cut.setting}: ${cut.ms} ms) ended before the stream's answer was sent, so the connection was closed mid-stream`,
          { ...fields, cut: true },
        );
      }
    };
    context.goesOn.then(streamEnded, streamEnded);
  };
}

/** Node.js's response to a request (`c.env.outgoing`), as far as the line of an event stream reads it. */
interface NodeResponse {
  writableFinished?: unknown;
  closed?: unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** The response of a request served by Node.js; undefined for one the app was handed otherwise (`server.fetch`). */
function nodeResponseOf(c: Context): NodeResponse | undefined {
  const outgoing = (c.env as { outgoing?: Partial<NodeResponse> } | undefined)?.outgoing;
  return typeof outgoing?.once === 'function' ? (outgoing as NodeResponse) : undefined;
}
