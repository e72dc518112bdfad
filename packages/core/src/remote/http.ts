import {
  isToolMuxErrorCode,
  quotedMessage,
  quotedText,
  ToolMuxError,
  type ToolMuxErrorCode,
} from '../errors.js';
import { pause, settlesWithin } from '../util/abort.js';
import { parsedJsonDepthExceeds } from '../util/json-depth.js';
import { byteSize, declaredByteLength, responseTextUpTo } from '../util/response-text.js';
import { checkText, checkUserId } from '../util/stored-text.js';
import { MAX_TIMER_MS, wholeNumberOf } from '../util/whole-number.js';
import { KeyMask } from './key-mask.js';
import { MAX_REMOTE_CURSOR_LENGTH, MAX_REMOTE_ERROR_MESSAGE_LENGTH, MAX_REMOTE_JSON_DEPTH } from './wire.js';

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export type Read<W, R> = (wire: W) => R;

export interface RemoteCall<W = unknown, R = W> {
  query?: Query;
  /**
   * Turns the answer into what the caller returns. What it throws, other than a ToolMuxError, means
   * the answer is not of the shape the SDK reads: SERVER_UNREACHABLE, naming the request.
   */
  read?: Read<W, R>;
  body?: unknown;
  signal?: AbortSignal;
  /** How long this request may take; the client's `requestTimeoutMs` when not given. */
  timeoutMs?: number;
  /**
   * How long the server holds this request before it answers, as the caller asked (a wait for
   * connections): added to the request's timeout, so that a `requestTimeoutMs` shorter than the wait
   * does not stop a request that the server answers in time.
   */
  heldMs?: number;
}

/** How long a request to the server may take by default, its answer read included: 10 minutes. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 600_000;

/**
 * The longest `requestTimeoutMs`: 2147483647 ms (about 24.8 days), the longest a Node.js timer waits. A
 * longer one was a timer of 1 ms (Node.js says so in a TimeoutOverflowWarning), which stopped every
 * request at once.
 */
export const MAX_REQUEST_TIMEOUT_MS = MAX_TIMER_MS;

/** A remote ToolMux's `requestTimeoutMs` (undefined: the default), checked. */
export function requestTimeoutOf(option: unknown): number {
  if (option === undefined) return DEFAULT_REQUEST_TIMEOUT_MS;
  return wholeNumberOf(option, {
    name: 'requestTimeoutMs',
    code: 'CONFIG_INVALID',
    unit: 'milliseconds',
    min: 1,
    max: MAX_REQUEST_TIMEOUT_MS,
    show: (bound) => (bound === MAX_REQUEST_TIMEOUT_MS ? `${bound} (about 24.8 days)` : String(bound)),
    purpose: 'how long one request to the server may take, its answer read included',
    leaveOut: `Leave it out for ${DEFAULT_REQUEST_TIMEOUT_MS} (10 minutes).`,
  });
}

/**
 * The largest answer the client reads unless `maxResponseBytes` says: far more than any page, tool
 * result or proxy answer (at most 32 MiB unless the server's operator raised it) the server sends,
 * and far less than what would exhaust memory or a string's length.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 128 * 1024 * 1024;

/** What `maxResponseBytes` may be: from 64 KiB (an error answer, a page of a few items) to 256 MiB. */
export const MAX_RESPONSE_BYTES_RANGE = { min: 64 * 1024, max: 256 * 1024 * 1024 } as const;

/** A remote ToolMux's `maxResponseBytes` (undefined: the default), checked. */
export function maxResponseBytesOf(option: unknown): number {
  if (option === undefined) return DEFAULT_MAX_RESPONSE_BYTES;
  return wholeNumberOf(option, {
    name: 'maxResponseBytes',
    code: 'CONFIG_INVALID',
    unit: 'bytes',
    ...MAX_RESPONSE_BYTES_RANGE,
    show: (bound) => `${bound} (${byteSize(bound)})`,
    purpose: 'the most of one answer of the server this ToolMux reads',
    leaveOut: `Leave it out for ${DEFAULT_MAX_RESPONSE_BYTES} (${byteSize(DEFAULT_MAX_RESPONSE_BYTES)}).`,
  });
}

/** Statuses after which a read is sent again: busy, bad gateway, unavailable, gateway timeout. */
const RETRIED = new Set([429, 502, 503, 504]);

/** The longest `Retry-After` a read waits for before it is sent again; a longer one fails at once. */
export const MAX_RETRY_AFTER_MS = 5_000;

/**
 * How long to wait before a read answered with one of {@link RETRIED} is sent again: its
 * `Retry-After` (seconds or an HTTP date), else half a second; undefined when it asks for more than
 * {@link MAX_RETRY_AFTER_MS} (the caller is told, and decides) or the status is another.
 */
function retryDelayOf(response: Response): number | undefined {
  if (!RETRIED.has(response.status)) return undefined;
  const header = response.headers.get('retry-after')?.trim();
  let delay = 500;
  if (header) {
    const at = /^\d+$/.test(header) ? Number(header) * 1000 : Date.parse(header) - Date.now();
    if (Number.isNaN(at)) return delay;
    delay = Math.max(0, at);
  }
  return delay <= MAX_RETRY_AFTER_MS ? delay : undefined;
}

/** The most bytes of a 503 that is read to see whether it is a refused connection. */
const MAX_REFUSAL_BYTES = 4096;

/**
 * The codes of a `503` that a toolmux server answers before it handles the request: the connection it
 * came on was past its client's share (`TOO_MANY_CONNECTIONS`), or it arrived after the server's
 * shutdown drain ran out (`SERVER_SHUTTING_DOWN`; another instance behind the same address takes the
 * request sent again).
 */
export const UNHANDLED_CODES: ReadonlySet<unknown> = new Set([
  'TOO_MANY_CONNECTIONS',
  'SERVER_SHUTTING_DOWN',
]);

/**
 * Whether `response` is the server's refusal of a request it did not handle (`503` with one of
 * {@link UNHANDLED_CODES}): a short JSON body, read from a copy of the response.
 */
async function refusedUnhandled(response: Response): Promise<boolean> {
  if (response.status !== 503) return false;
  const length = declaredByteLength(response);
  if (length === undefined || length > MAX_REFUSAL_BYTES) return false;
  try {
    const json = (await response.clone().json()) as { error?: { code?: unknown } } | null;
    return UNHANDLED_CODES.has(json?.error?.code);
  } catch {
    return false;
  }
}

/**
 * Whether `error`, thrown by a request, says that no answer came: the connection could not be made,
 * or broke before the answer's status arrived. Once a status arrived, whatever failed after it (a
 * body cut or that does not decode, one too large or not the toolmux API), the server or a proxy
 * had the request, which may have done what it asked: such a request is never taken for one not sent.
 */
export function answerNeverCame(error: unknown): boolean {
  return (
    ToolMuxError.isInstance(error) &&
    error.code === 'SERVER_UNREACHABLE' &&
    error.details?.connectionFailed === true &&
    error.details.status === undefined
  );
}

/**
 * Whether `error`, thrown by a request, says that the server answered it with a 2xx status (it did
 * what was asked) and that the answer's body then could not be read (cut, or not decoded).
 */
export function succeededUnread(error: unknown): boolean {
  if (!ToolMuxError.isInstance(error) || error.code !== 'SERVER_UNREACHABLE') return false;
  const status = error.details?.status;
  return error.details?.answerUnread === true && typeof status === 'number' && status >= 200 && status < 300;
}

/** A request sent and not yet answered. */
interface InFlight {
  /** The caller's signal. */
  signal: AbortSignal | undefined;
  stop: (reason: Stopped) => void;
  done: Promise<void>;
}

/** Why a request was stopped by the client itself (not by the caller's signal). */
class Stopped {
  readonly by: 'timeout' | 'close';
  readonly afterMs: number;
  constructor(by: 'timeout' | 'close', afterMs: number) {
    this.by = by;
    this.afterMs = afterMs;
  }
}

/** Where the REST API is under a server's baseUrl. */
const API_PATH = '/api/v1';

/** The most characters of a cause's message that {@link failureOf} quotes. */
const MAX_CAUSE_MESSAGE_CHARS = 200;

/** The code of a failed fetch's cause (`ECONNREFUSED`, `ERR_SSL_WRONG_VERSION_NUMBER`), if it has one. */
function failureCode(error: unknown): string | undefined {
  try {
    const cause = error instanceof Error ? (error.cause as { code?: unknown; errors?: unknown }) : undefined;
    // connecting to each address of a name fails as one AggregateError
    const first = Array.isArray(cause?.errors) ? (cause.errors[0] as { code?: unknown }) : undefined;
    return typeof cause?.code === 'string'
      ? cause.code
      : typeof first?.code === 'string'
        ? first.code
        : undefined;
  } catch {
    // a cause whose getters throw (a fetch of the application's own)
    return undefined;
  }
}

/**
 * What OpenSSL says when a TLS handshake is answered by something that is not TLS: an `https://`
 * baseUrl in front of a server that speaks plain HTTP, as `toolmux serve` does.
 */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** The fix for a connection to the server at `baseUrl` that failed with `error`. */
function unreachableHint(error: unknown, baseUrl: string): string {
  const code = failureCode(error);
  if (baseUrl.startsWith('https://') && code !== undefined && NOT_TLS.has(code)) {
    const host = new URL(baseUrl).host;
    return ` The server at ${host} does not speak TLS: it answered the https:// handshake as a plain HTTP server does (\`toolmux serve\` serves http; TLS is a proxy's job in front of it), so use baseUrl "http://${baseUrl.slice('https://'.length)}", or the address of the TLS proxy.`;
  }
  return ' Check baseUrl and that the server runs (`toolmux serve`).';
}

/**
 * `fetch failed (ECONNREFUSED)`: undici says only `fetch failed` and keeps the reason (refused, reset,
 * a name that does not resolve, a TLS failure) in its cause; a cause without a code (undici's `bad
 * port`) is named by its message: `fetch failed (bad port)`.
 */
function failureOf(error: unknown, apiKey: string): string {
  // the API key masked: a fetch of the application's own may say what it sent
  const message = quotedMessage(error, [apiKey]);
  try {
    const code = failureCode(error);
    if (code) return message.includes(code) ? message : `${message} (${quotedText(code, [apiKey], 64)})`;
    const cause = error instanceof Error ? (error.cause as { code?: unknown }) : undefined;
    if (!(cause instanceof Error) || typeof cause.message !== 'string' || cause.message === '')
      return message;
    const why = quotedText(cause.message, [apiKey], MAX_CAUSE_MESSAGE_CHARS);
    return message.includes(why) ? message : `${message} (${why})`;
  } catch {
    // a cause whose getters throw (a fetch of the application's own): its message is all there is
    return message;
  }
}

/**
 * The REST API of a toolmux server (`/api/v1`), authenticated with the project API key. Every error
 * the server answers becomes the ToolMuxError it was there (same code, same message); a server that
 * cannot be reached, does not answer in time, redirects elsewhere, or answers something that is not
 * the toolmux API, is `SERVER_UNREACHABLE`. Redirects are not followed: the request (the API key,
 * credentials in a body) would go to another address than `baseUrl`.
 */
export class RemoteApi {
  readonly #base: string;
  readonly #apiKey: string;
  /** Takes the API key out of everything a request throws. */
  readonly #mask: KeyMask;
  readonly #authorization: string;
  readonly #fetch: typeof globalThis.fetch;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  /** Requests sent and not yet answered (their answer read), for `stopInFlight`. */
  readonly #inFlight = new Set<InFlight>();

  constructor(options: {
    baseUrl: string;
    apiKey: string;
    fetch: typeof globalThis.fetch;
    timeoutMs?: number;
    /** The most bytes of one answer it reads (checked by {@link maxResponseBytesOf}). */
    maxResponseBytes?: number;
  }) {
    this.#base = `${options.baseUrl}${API_PATH}`;
    this.#apiKey = options.apiKey;
    this.#mask = new KeyMask(options.apiKey);
    this.#authorization = `Bearer ${options.apiKey}`;
    this.#fetch = options.fetch;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /**
   * A 404 ROUTE_NOT_FOUND, which no route of this SDK meets on a toolmux server of its version,
   * most often comes of a baseUrl that already ends in `/api/v1` (the SDK adds it: the server is
   * asked for `/api/v1/api/v1/sessions`), or of one that is a session's MCP URL (`…/mcp/ses_…`,
   * pasted from `session.mcp.url`) or ends in `/mcp`: the message then says to drop it and names the
   * server's root. The baseUrl is taken as
   * given, since a proxy may serve the server below a path of its own.
   */
  #routeNotFound(said: string): string {
    const base = new URL(this.#base);
    // a session's MCP URL pasted as baseUrl (`…/mcp/ses_…`), or the MCP endpoints' path (`…/mcp`)
    const mcp = /\/mcp(?:\/[^/]+)?\/api\/v1$/.exec(base.pathname);
    if (mcp !== null) {
      const root = `${base.origin}${base.pathname.slice(0, mcp.index)}`;
      const suffix = mcp[0].slice(0, -'/api/v1'.length);
      const what =
        suffix === '/mcp' ? 'the path of the MCP endpoints' : "a session's MCP endpoint (its mcp.url)";
      return `baseUrl ${this.#mask.text(root + suffix)} ends in ${this.#mask.text(suffix)}, ${what}: baseUrl is the toolmux server's root, to which the SDK adds /api/v1 itself, and the MCP URL is for MCP clients. Give new ToolMux({ baseUrl: "${this.#mask.text(root)}", apiKey }). The server said: ${said}`;
    }
    if (!/\/api\/v1\/api\/v1$/.test(base.pathname)) return said;
    const address = `${base.origin}${base.pathname.slice(0, -'/api/v1/api/v1'.length)}`;
    return `baseUrl ${this.#mask.text(address)}/api/v1 ends in /api/v1, which the SDK adds to every request itself: give the server's address without it, new ToolMux({ baseUrl: "${this.#mask.text(address)}", apiKey }). The server said: ${said}`;
  }

  get<W, R = W>(path: string, query?: Query, read?: Read<W, R>): Promise<R> {
    return this.call('GET', path, { query, read });
  }

  post<W, R = W>(path: string, body: unknown, signal?: AbortSignal, read?: Read<W, R>): Promise<R> {
    return this.call('POST', path, { body, signal, read });
  }

  /**
   * Lets the requests in flight now answer for up to `timeoutMs`, then stops those still waiting:
   * they reject with TOOLMUX_CLOSED (a tool call answers TOOL_ABORTED). Only the requests `which`
   * takes, by their caller's signal. Resolves with how many it stopped, once every one settled.
   */
  async stopInFlight(
    timeoutMs: number,
    which: (request: { signal: AbortSignal | undefined }) => boolean = () => true,
  ): Promise<number> {
    const requests = [...this.#inFlight].filter(which);
    if (requests.length === 0) return 0;
    const all = Promise.all(requests.map((request) => request.done));
    const late = !(await settlesWithin(all, timeoutMs));
    if (!late) return 0;
    const left = requests.filter((request) => this.#inFlight.has(request));
    for (const request of left) request.stop(new Stopped('close', timeoutMs));
    await all;
    return left.length;
  }

  /**
   * Sends a request and reads its answer. Whatever it throws has the API key masked (see
   * {@link KeyMask}): the error's message, details, stack and causes, whether the key came from the
   * server's answer, a proxy's or a `fetch` of the application's own; a caller's abort reason is
   * thrown as it is.
   */
  async call<W, R = W>(method: string, path: string, call: RemoteCall<W, R> = {}): Promise<R> {
    try {
      return await this.#call(method, path, call);
    } catch (error) {
      if (call.signal?.aborted && error === call.signal.reason) throw error;
      throw this.#mask.error(error);
    }
  }

  async #call<W, R = W>(
    method: string,
    path: string,
    { query, body, signal, timeoutMs: givenTimeoutMs, heldMs = 0, read }: RemoteCall<W, R>,
  ): Promise<R> {
    const timeoutMs = Math.min((givenTimeoutMs ?? this.#timeoutMs) + heldMs, MAX_TIMER_MS);
    const url = new URL(this.#base + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      // a URL turns a lone surrogate into U+FFFD, which would name another user: refuse it here
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item !== 'string') continue;
        if (key === 'user_id' || key === 'user_ids')
          checkUserId(item, key === 'user_id' ? 'userId' : 'userIds[]');
        else
          checkText(item, {
            field: key,
            code: 'INVALID_REQUEST',
            maxLength: MAX_REMOTE_CURSOR_LENGTH,
            allowEmpty: true,
          });
      }
      if (key === 'user_ids' && Array.isArray(value) && value.some(needsOwnParameter)) {
        // a user id that holds a comma (or starts or ends with a space) is not a comma-separated
        // list's item: the server would split it ("a,b" listed the accounts of users "a" and "b"),
        // so every id goes in a `user_ids[]` parameter of its own, which it takes as is
        for (const item of value) url.searchParams.append('user_ids[]', String(item));
        continue;
      }
      url.searchParams.set(key, Array.isArray(value) ? value.join(',') : String(value));
    }
    // the caller's signal, the request's timeout and close() each end the request and the read of
    // its answer: a server that stalls (before or after its headers) never holds a call for ever
    const controller = new AbortController();
    const stop = (reason: Stopped) => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => stop(new Stopped('timeout', timeoutMs)), timeoutMs);
    timer.unref?.();
    let settled!: () => void;
    const request: InFlight = {
      signal,
      stop,
      done: new Promise<void>((resolve) => {
        settled = resolve;
      }),
    };
    this.#inFlight.add(request);
    let wire: W;
    try {
      wire = await this.#send<W>(method, url, body, controller.signal);
    } catch (error) {
      const reason: unknown = controller.signal.reason;
      if (!(reason instanceof Stopped)) throw error;
      if (reason.by === 'close') {
        throw new ToolMuxError({
          code: 'TOOLMUX_CLOSED',
          message: `${method} ${url.pathname} was stopped: its ToolMux was closed (mux.close()) and the server had not answered within close({ timeoutMs: ${reason.afterMs} }).`,
          details: { closeTimeoutMs: reason.afterMs },
        });
      }
      throw new ToolMuxError({
        code: 'SERVER_UNREACHABLE',
        message: `The toolmux server at ${url.origin} did not answer ${method} ${url.pathname} within ${reason.afterMs} ms, and the request was stopped. Check that the server (and any proxy before it) runs and answers, or give new ToolMux({ requestTimeoutMs }) more time.`,
        details: { timeoutMs: reason.afterMs },
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.#inFlight.delete(request);
      settled();
    }
    if (!read) return wire as unknown as R;
    try {
      return read(wire);
    } catch (error) {
      if (ToolMuxError.isInstance(error)) throw error;
      throw new ToolMuxError({
        code: 'SERVER_UNREACHABLE',
        message: `${url.origin} answered ${method} ${url.pathname} with JSON that is not what the toolmux API answers there (${quotedMessage(error, [this.#apiKey])}): is baseUrl a toolmux server, of a version this SDK works with?`,
        cause: error,
      });
    }
  }

  async #send<T>(method: string, url: URL, body: unknown, signal: AbortSignal): Promise<T> {
    const headers: Record<string, string> = {
      authorization: this.#authorization,
      accept: 'application/json',
      // error messages then name SDK methods (`toolkits.list()`), not REST routes
      'x-toolmux-client': 'sdk',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const send = () =>
      this.#fetch(url, {
        method,
        headers,
        body:
          body === undefined ? undefined : body instanceof JsonBodyText ? body.text : JSON.stringify(body),
        signal,
        redirect: 'manual',
      });
    let response: Response;
    try {
      // A read is retried once when the connection fails (a keep-alive socket the server just
      // closed, a restarting instance), or when it is answered "busy" or "unavailable" (a proxy
      // while the server restarts) and asked to come back soon; a write is not, since it may have
      // reached the server (a tool call would run twice), unless the server says it did not (below).
      response = await send().catch((error: unknown) => {
        if (method !== 'GET' || signal.aborted) throw error;
        return send();
      });
      // A write is sent again (once, after Retry-After) when the server refused it before handling
      // it: the connection it came on (TOO_MANY_CONNECTIONS: the SDK opens a connection per request
      // in flight, and many calls at once can pass the share of one client), or it came after the
      // server's shutdown drain ran out (SERVER_SHUTTING_DOWN).
      const wait =
        method === 'GET' || (await refusedUnhandled(response)) ? retryDelayOf(response) : undefined;
      if (wait !== undefined) {
        await response.body?.cancel().catch(() => undefined);
        // stopped by the signal, the wait rejects with its reason (the caller's, or the timeout's or
        // close()'s), as fetch does, not with a bare AbortError
        await pause(wait, signal);
        response = await send();
      }
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ToolMuxError({
        code: 'SERVER_UNREACHABLE',
        message: `Could not reach the toolmux server at ${url.origin} (${method} ${url.pathname}): ${failureOf(error, this.#apiKey)}.${unreachableHint(error, this.#base.slice(0, -API_PATH.length))}`,
        // no status arrived: the only failure after which a write may be taken for one not sent
        details: { connectionFailed: true },
        cause: error,
      });
    }
    const retryAfter = response.headers.get('retry-after');
    const answered = `${url.origin} answered ${method} ${url.pathname} with HTTP ${response.status}${
      retryAfter !== null && RETRIED.has(response.status) ? ` (Retry-After: ${retryAfter.slice(0, 64)})` : ''
    }`;
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get('location');
      let target: URL | undefined;
      try {
        target = location === null ? undefined : new URL(location, url);
      } catch {
        target = undefined;
      }
      throw new ToolMuxError({
        code: 'SERVER_UNREACHABLE',
        message: `${answered}, a redirect${target ? ` to ${this.#mask.text(`${target.origin}${target.pathname}`)}` : ''}: the SDK does not follow redirects, so that the API key and the request never go to another address than baseUrl. Set baseUrl to the address the toolmux server answers at${target && target.origin !== url.origin ? ` (${target.origin}?)` : ''}.`,
        details: { status: response.status },
      });
    }
    // an answer that says it is too large is not downloaded at all
    const limit = this.#maxResponseBytes;
    const declared = declaredByteLength(response);
    const saysTooLarge = declared !== undefined && declared > limit;
    if (saysTooLarge) await response.body?.cancel().catch(() => undefined);
    let read: { text: string; cut: boolean };
    try {
      read = saysTooLarge ? { text: '', cut: true } : await responseTextUpTo(response, limit);
    } catch (error) {
      // the connection broke while the answer was read (reset, closed before its Content-Length,
      // a body its Content-Encoding does not decode)
      if (signal.aborted) throw error;
      throw new ToolMuxError({
        code: 'SERVER_UNREACHABLE',
        message: `${answered}, but its answer could not be read to the end: ${failureOf(error, this.#apiKey)}. The server (or a proxy before it) closed the connection or sent a broken body; check that it runs, and retry.`,
        // the status arrived: the server (or a proxy) had the request, which may have done what it
        // asked (stored a log upload, ran a tool), so it is never taken for one not sent
        details: { status: response.status, answerUnread: true },
        cause: error,
      });
    }
    if (read.cut) {
      const size = saysTooLarge ? `${declared} bytes (its Content-Length)` : `more than ${byteSize(limit)}`;
      throw new ToolMuxError({
        code: 'SERVER_UNREACHABLE',
        message: `${answered} and ${size}, more than this ToolMux reads (maxResponseBytes: ${limit}); it was not read further. Ask for less (a smaller limit or a narrower query), or give new ToolMux({ maxResponseBytes }) more, up to ${MAX_RESPONSE_BYTES_RANGE.max} (${byteSize(MAX_RESPONSE_BYTES_RANGE.max)}); check too that baseUrl is a toolmux server.`,
        details: { status: response.status, maxResponseBytes: limit },
      });
    }
    let json: unknown;
    try {
      json = read.text === '' ? undefined : JSON.parse(read.text);
    } catch {
      json = undefined;
    }
    // every answer of the toolmux API is a JSON object
    const object = typeof json === 'object' && json !== null && !Array.isArray(json);
    if (response.ok && object) return json as T;
    const error = object ? (json as { error?: unknown }).error : undefined;
    const problem = errorProblem(error, (value) => this.#mask.shown(value));
    if (problem === undefined) {
      const { code, message, details } = error as ErrorWire;
      // as the server said it, less the API key should it echo the request's Authorization, and cut
      // as a message of toolmux's own quotes one from outside: no longer than an embedded ToolMux's
      const said = quotedText(message, [this.#apiKey], MAX_REMOTE_ERROR_MESSAGE_LENGTH);
      throw new ToolMuxError({
        code,
        message: code === 'ROUTE_NOT_FOUND' ? this.#routeNotFound(said) : said,
        details: this.#mask.details(details),
      });
    }
    throw new ToolMuxError({
      code: 'SERVER_UNREACHABLE',
      message:
        response.status >= 500 && !object
          ? `${answered} and ${json === undefined ? 'no JSON' : 'JSON that is not a toolmux error'} (a proxy's error page?): the toolmux server behind it may be down or restarting. Check that it runs, and that baseUrl is its address (the REST API is under /api/v1).`
          : `${answered} and ${json === undefined ? 'no JSON' : object ? `JSON that is not a toolmux error (${problem})` : 'JSON that is not an object'}: is baseUrl a toolmux server (the REST API is under /api/v1), of a version this SDK works with?`,
      details: { status: response.status },
    });
  }
}

/** The `error` of an error answer of the toolmux API. */
interface ErrorWire {
  code: ToolMuxErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * Why `error` (the `error` of an answer) is not a toolmux error, or undefined when it is: its `code`
 * one of this SDK's (the application branches on it), its `message` a string (cut past
 * {@link MAX_REMOTE_ERROR_MESSAGE_LENGTH} characters where it is read), its `details` absent or
 * an object nested no deeper than a tool result may be. What a proxy or another API answers, or a
 * server that sends something else, is then SERVER_UNREACHABLE naming the field, never an error whose
 * code is an arbitrary string or whose details are an array. `shown` quotes a value, the API key
 * masked (a proxy may echo the request's Authorization header in any field).
 */
function errorProblem(error: unknown, shown: (value: unknown) => string): string | undefined {
  if (typeof error !== 'object' || error === null || Array.isArray(error)) return 'no "error" object';
  const { code, message, details } = error as Record<string, unknown>;
  if (!isToolMuxErrorCode(code)) {
    return typeof code === 'string'
      ? `"error.code" is ${shown(code)}, not a code of this SDK's ToolMuxError: if the server is newer, update @toolmux/core to its version`
      : `"error.code" is ${shown(code)}, not a string`;
  }
  if (typeof message !== 'string') return `"error.message" is ${shown(message)}, not a string`;
  if (details === undefined) return undefined;
  if (typeof details !== 'object' || details === null || Array.isArray(details))
    return `"error.details" is ${shown(details)}, not an object`;
  if (parsedJsonDepthExceeds(details, MAX_REMOTE_JSON_DEPTH))
    return `"error.details" nests objects and arrays more than ${MAX_REMOTE_JSON_DEPTH} levels deep`;
  return undefined;
}

/** A request body already written as JSON text (a large value the caller serialised a slice at a time). */
export class JsonBodyText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** True for a user id a comma-separated `user_ids` would not carry as it is. */
function needsOwnParameter(item: unknown): boolean {
  return typeof item === 'string' && (item.includes(',') || item.trim() !== item);
}
