import { setTimeout as sleep } from 'node:timers/promises';
import { type Credentials, type Tool, type ToolContext, ToolMuxError } from '@toolmux/core';
import { byteSize, quotedMessage, responseTextUpTo } from '@toolmux/core/internal';
import { OptionChecks } from './option-checks.js';

/** What a request needs from the tool's context. */
export type RequestContext = Pick<ToolContext, 'credentials' | 'fetch' | 'signal'>;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A value of `query` in an `ApiRequest`: an array repeats the parameter; null and undefined leave it out. */
export type QueryValue = string | number | boolean | null | undefined | ReadonlyArray<string | number>;

export interface ApiOptions {
  /** The provider's name as the model should read it, e.g. `GitHub`. */
  service: string;
  /** Every relative request path is resolved against it. */
  baseUrl: string;
  /** Headers for every request, usually built from the connected account's credentials. */
  headers?: (credentials: Credentials | undefined) => Record<string, string>;
  /** Reads the provider's error body into a short message. @default common `message` / `error` shapes */
  errorDetail?: (body: unknown) => string | undefined;
  /**
   * Turns a successful-looking answer that is an error (Slack's `ok: false`, GraphQL `errors`) into
   * the HTTP status it stands for, so it gets the same message as a real one.
   */
  bodyError?: (body: any) => { status: number; detail: string; retryAfterSeconds?: number } | undefined;
  /** Longest Retry-After (seconds) that is waited out before retrying once. @default 5 */
  maxRetryWaitSeconds?: number;
  /** False for APIs called without a connected account (401 is then not "reconnect"). @default true */
  hasAccount?: boolean;
  /**
   * The most bytes of an answer that are read: the rest is not downloaded (the connection is closed),
   * so that an answer of gigabytes, or one that never ends, cannot fill the server's memory. Past
   * it the call fails with an ApiError that asks for a narrower request, unless the request asks
   * for the cut text (`tooLarge: 'truncate'`). @default 32 MiB
   */
  maxResponseBytes?: number;
}

export interface ApiRequest {
  /** @default 'GET' */
  method?: HttpMethod;
  /** A path relative to the base URL (`/repos/a/b`), or an absolute URL. */
  path: string;
  /** Query parameters; `undefined` and `null` are left out, arrays repeat the parameter (`a=1&a=2`). */
  query?: Record<string, QueryValue>;
  /** JSON request body. */
  body?: unknown;
  /** A request body sent as it is (instead of `body`), `text/plain` unless a Content-Type header is given. */
  text?: string;
  /**
   * `manual` returns a 3xx answer (with its Location header) instead of following it. `follow`
   * follows redirects within the request's origin (scheme, host and port) only: a redirect to another
   * origin fails the call with an ApiError naming it, so the account's headers never go there.
   * @default 'follow'
   */
  redirect?: 'follow' | 'manual';
  headers?: Record<string, string>;
  /** What a 404 means in words, e.g. `issue #12 in octo/hello`. @default the method and path */
  resource?: string;
  /** How to read the answer. @default 'json' */
  responseType?: 'json' | 'text' | 'auto';
  /**
   * A successful JSON answer is a JSON object or array: anything else (an empty body, `null`, a bare
   * string or number: a proxy's answer, or a base URL that names another service) fails the call
   * with an ApiError saying so, where a tool read a field of it and failed with a TypeError. `true`
   * takes `null` too (an API that answers `null` for an item it does not have). A 204 or 205 answer,
   * whose body is empty, is always taken. @default false
   */
  nullAnswer?: boolean;
  /** This request's {@link ApiOptions.maxResponseBytes}. */
  maxResponseBytes?: number;
  /**
   * An answer longer than `maxResponseBytes`: `error` fails the call; `truncate` answers the text
   * read until then (not parsed), with `truncated: true`. @default 'error'
   */
  tooLarge?: 'error' | 'truncate';
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  /** Parsed JSON (`null` for an empty answer), or text for `responseType: 'text'`. */
  body: T;
  /** The answer was longer than `maxResponseBytes` (`tooLarge: 'truncate'`): `body` is the text read. */
  truncated?: true;
}

/** {@link ApiOptions.maxResponseBytes} by default. */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/**
 * A provider's answer that the model should read as a failure: the message says what happened and
 * what to do next (reconnect, ask for access, fix an id, wait).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly service: string;
  /** HTTP status, or 0 when the provider could not be reached. */
  readonly status: number;
  /** Seconds to wait before retrying, for rate limits. */
  readonly retryAfterSeconds: number | undefined;
  constructor(service: string, status: number, message: string, retryAfterSeconds?: number) {
    super(message);
    this.service = service;
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface Api {
  readonly service: string;
  readonly baseUrl: string;
  /** Sends a request and returns the parsed body; provider errors throw an {@link ApiError}. */
  request<T = any>(context: RequestContext, request: ApiRequest): Promise<T>;
  /** Like `request`, with the status and headers. */
  send<T = any>(context: RequestContext, request: ApiRequest): Promise<ApiResponse<T>>;
}

const DETAIL_MAX = 400;
/** The statuses fetch follows, and how many redirects it follows at most. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

/** The connected account's token: an OAuth access token, a bearer token or an API key. */
export function tokenOf(credentials: Credentials | undefined): string | undefined {
  return credentials?.accessToken ?? credentials?.token ?? credentials?.apiKey;
}

/**
 * The token of the connected account, or an error that tells the model to connect one. Used by
 * header builders of toolkits that need an account.
 */
export function requireToken(credentials: Credentials | undefined, service: string): string {
  const token = tokenOf(credentials);
  if (!token) {
    throw new ApiError(
      service,
      401,
      `No ${service} credentials were given for this call: connect a ${service} account (OAuth or API key) and retry.`,
    );
  }
  return token;
}

/** The usual places a JSON error body keeps its message. */
export function defaultErrorDetail(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() || undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, any>;
  const nested = typeof record.error === 'object' && record.error !== null ? record.error : undefined;
  const candidates = [
    record.message,
    nested?.message,
    typeof record.error === 'string' ? record.error : undefined,
    record.error_description,
    record.detail,
  ];
  const message = candidates.find((value) => typeof value === 'string' && value.trim() !== '');
  const errors = Array.isArray(record.errors)
    ? record.errors
        .map((entry: any) =>
          typeof entry === 'string' ? entry : (entry?.message ?? [entry?.field, entry?.code].join(' ')),
        )
        .filter(Boolean)
        .join('; ')
    : '';
  return [message, errors].filter(Boolean).join(' — ') || undefined;
}

function clip(text: string): string {
  const single = text.replace(/\s+/g, ' ').trim();
  return single.length > DETAIL_MAX ? `${single.slice(0, DETAIL_MAX)}…` : single;
}

/**
 * The longest wait a provider's answer is read as: 30 days. A larger Retry-After or reset time
 * (`Retry-After: 99999999999999`) made a date past JavaScript's last one, and the call failed with
 * "Invalid time value" instead of the rate-limit message.
 */
const MAX_RETRY_AFTER_SECONDS = 30 * 24 * 3600;

const waitOf = (seconds: number) => Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, Math.ceil(seconds)));

/** Seconds from a Retry-After header (seconds or an HTTP date), the only wait a 5xx answer means. */
function retryAfterHeaderSeconds(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after');
  if (!retryAfter) return undefined;
  const value = Number(retryAfter);
  if (Number.isFinite(value)) return waitOf(value);
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : waitOf((date - now) / 1000);
}

/**
 * Seconds until the provider accepts requests again, from Retry-After or rate-limit reset headers.
 * A reset time is that of the limit the remaining-requests header counts: while that header says
 * requests remain, the reset is not when this limit ends (GitHub sends both with every answer; a
 * secondary rate limit, hit with 4,990 requests left, was told to wait for the hourly reset).
 */
export function retryAfterSeconds(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = retryAfterHeaderSeconds(headers, now);
  if (retryAfter !== undefined) return retryAfter;
  const remaining = headers.get('x-ratelimit-remaining') ?? headers.get('x-ratelimit-requests-remaining');
  if (remaining !== null && Number(remaining) > 0) return undefined;
  const reset = headers.get('x-ratelimit-reset') ?? headers.get('x-ratelimit-requests-reset');
  if (reset && Number.isFinite(Number(reset))) {
    const value = Number(reset);
    // Epoch milliseconds (Linear), epoch seconds (GitHub), or seconds from now.
    const resetAt = value > 1e12 ? value : value > 1e9 ? value * 1000 : now + value * 1000;
    return waitOf((resetAt - now) / 1000);
  }
  return undefined;
}

/**
 * The first segment of a relative request path that URL parsing resolves away: `.` or `..`, also
 * percent-encoded (`%2e`, `.%2E`), with `\` as a separator too (as in every http URL). Toolkits put
 * the model's identifiers into paths with `encodeURIComponent`, which leaves dots alone, so a GitHub
 * file path `../collaborators/mallory` or an owner `..` made `PUT /repos/o/r/contents/../collaborators/mallory`,
 * which is `PUT /repos/o/r/collaborators/mallory`: another route of the API, with the account's token.
 */
function dotSegmentOf(path: string): string | undefined {
  const pathname = path.split(/[?#]/, 1)[0]!;
  return pathname.split(/[/\\]/).find((part) => /^(?:\.|%2e){1,2}$/i.test(part));
}

function buildUrl(service: string, baseUrl: string, path: string, query: ApiRequest['query']): URL {
  const isAbsolute = /^https?:\/\//i.test(path);
  const dotSegment = isAbsolute ? undefined : dotSegmentOf(path);
  if (dotSegment !== undefined) {
    throw new ToolMuxError({
      code: 'TOOL_ARGUMENTS_INVALID',
      message: `${JSON.stringify(dotSegment)} cannot be a part of a ${service} request path (${path.slice(0, 200)}): URL parsing would resolve it and send the request to another ${service} API route than this tool's. An owner, name, id or file path given to the tool is never "." or ".." (nor has such a part): fix it and retry.`,
      details: { service, segment: dotSegment },
    });
  }
  const url = isAbsolute ? new URL(path) : new URL(baseUrl.replace(/\/+$/, '') + path);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, String(item));
    else url.searchParams.set(key, String(value));
  }
  return url;
}

function describeWait(seconds: number): string {
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} minutes`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} hours`;
  return `${Math.round(seconds / 86_400)} days`;
}

/** "Retry after 2 minutes (at 2026-…Z), not before", or `undefined` without a wait. */
function retryWhen(retryAfter: number | undefined): string | undefined {
  if (retryAfter === undefined) return undefined;
  const at = new Date(Date.now() + Math.min(retryAfter, MAX_RETRY_AFTER_SECONDS) * 1000);
  return `Retry after ${describeWait(retryAfter)} (at ${at.toISOString()}), not before`;
}

/**
 * The error for a provider status, worded for the model: 401 → reconnect (a CREDENTIALS_REJECTED
 * ToolMuxError, on which core refreshes an OAuth token and retries once, else marks the account
 * EXPIRED), 403 → permission or scope, 413 (or a 403 that is a size limit) → too large, ask for less,
 * 404 → names what was not found, 409 → re-read the current state and retry, 429 → when to retry, 5xx → the provider's side. Exported for answers
 * that are errors without an HTTP status (an API that answers `null` for a missing item).
 */
export function providerError(failure: {
  service: string;
  status: number;
  statusText?: string | undefined;
  detail?: string | undefined;
  /** What was asked for, e.g. `issue #12 in octo/hello`. */
  resource: string;
  retryAfter?: number | undefined;
  /** False for APIs used without an account: a 401 then cannot mean "reconnect". @default true */
  hasAccount?: boolean | undefined;
}): ApiError | ToolMuxError {
  const { service, status, statusText, detail, resource, retryAfter } = failure;
  const said = detail ? `: ${clip(detail)}` : '';
  const code = `${status}${statusText ? ` ${statusText}` : ''}`;
  const accountless = failure.hasAccount === false;
  if (status === 401 && accountless) {
    return new ApiError(
      service,
      status,
      `${service} asked for authentication for ${resource} (${code}${said}). This toolkit sends no credentials and has no account to connect: ${resource} is not public. Check the identifiers (and the toolkit's base URL); retrying will not help.`,
    );
  }
  if (status === 403 && accountless) {
    return new ApiError(
      service,
      status,
      `${service} refused access to ${resource} (${code}${said}). This toolkit sends no credentials, so no account or permission of the user is involved: ${service} does not serve ${resource} publicly, or refuses requests from this server. Check the identifiers; asking the user for access or a reconnect will not help.`,
    );
  }
  if (status === 401) {
    // core refreshes an OAuth token and retries once; else the account becomes EXPIRED
    return new ToolMuxError({
      code: 'CREDENTIALS_REJECTED',
      message: `${service} rejected the credentials (${code}${said}). The connected ${service} account's token is invalid, expired or revoked: ask the user to reconnect the ${service} account, then retry.`,
      details: { service, status },
    });
  }
  if (status === 402) {
    return new ApiError(
      service,
      status,
      `${service} refused ${resource} because the account is out of credits or needs a paid plan (${code}${said}). Tell the user; retrying will not help.`,
    );
  }
  if (status === 403) {
    return new ApiError(
      service,
      status,
      `${service} refused access to ${resource} (${code}${said}). The connected account lacks permission for it, or its token lacks a required scope: ask the user to grant access (or reconnect with the needed scopes), or use a resource the account can access.`,
    );
  }
  if (status === 413) {
    return new ApiError(
      service,
      status,
      `${service} refused ${resource} as too large for its API (${code}${said}). Retrying will not help: ask for something smaller (a narrower range, a smaller file or page), or tell the user it cannot be had through ${service}'s API.`,
    );
  }
  if (status === 404) {
    return new ApiError(
      service,
      status,
      `${service} found no ${resource} (${code}${said}). Check the identifiers (spelling, owner, id)${accountless ? '' : ' and that the connected account can see it'}.`,
    );
  }
  if (status === 429) {
    const when = retryWhen(retryAfter) ?? 'Wait a minute before retrying';
    return new ApiError(
      service,
      status,
      `${service} rate limit reached (${code}${said}). ${when}.`,
      retryAfter,
    );
  }
  if (status >= 500) {
    // a 503 (maintenance, overload) says with Retry-After when to come back: the model is told so
    const when = retryWhen(retryAfter);
    return new ApiError(
      service,
      status,
      `${service} had a server error (${code}${said}). The problem is on ${service}'s side: ${when ? `${when[0]!.toLowerCase()}${when.slice(1)}` : 'retry in a little while'}.`,
      retryAfter,
    );
  }
  if (status === 409) {
    return new ApiError(
      service,
      status,
      `${service} could not apply the request for ${resource} because of a conflict with its current state (${code}${said}): it changed since it was read, or another change to it was in progress. Read its current state again, then retry (the same request may succeed in a moment).`,
    );
  }
  if (status === 400 || status === 422) {
    return new ApiError(
      service,
      status,
      `${service} rejected the request for ${resource} (${code}${said}). Fix the arguments and retry.`,
    );
  }
  return new ApiError(service, status, `${service} answered ${code} for ${resource}${said}.`);
}

async function readBody(
  response: Response,
  type: ApiRequest['responseType'],
  maxBytes: number,
): Promise<{ body: unknown; cut: boolean }> {
  const { text, cut } = await responseTextUpTo(response, maxBytes);
  if (cut) return { body: text, cut };
  return { body: parseBody(response, text, type), cut };
}

function parseBody(response: Response, text: string, type: ApiRequest['responseType']): unknown {
  if (type === 'text') return text;
  if (text.trim() === '') return null;
  const contentType = response.headers.get('content-type') ?? '';
  if (type === 'auto' && !/json/i.test(contentType)) return text;
  try {
    return JSON.parse(text);
  } catch {
    if (type === 'auto' || !response.ok) return text;
    throw new Error(
      `the answer is not JSON (content-type "${contentType}", starts with ${JSON.stringify(text.slice(0, 80))})`,
    );
  }
}

/** The calls (their contexts) that read at least one answer of a provider, for {@link readingAnswers}. */
const answered = new WeakSet<RequestContext>();

/**
 * `tools` whose handlers read their provider's answers through an {@link Api}: a TypeError a handler
 * throws after an answer arrived (it read a field the answer lacks: `response.body.map is not a
 * function` for an object where the API answers an array) fails the call with an ApiError that says
 * the provider answered in a shape the tool does not read, instead of the bare TypeError.
 */
export function readingAnswers(service: string, tools: Tool[]): Tool[] {
  return tools.map((tool) =>
    Object.freeze({
      ...tool,
      execute: async (input: unknown, context: ToolContext) => {
        try {
          return await tool.execute(input as never, context);
        } catch (error) {
          if (!(error instanceof TypeError) || !answered.has(context) || context.signal.aborted) throw error;
          throw new ApiError(
            service,
            200,
            `${tool.slug} could not read ${service}'s answer (${error.message}): ${service} answered in a shape this tool does not read, so its API may have changed or the toolkit's base URL names another service. Retrying will not help; tell the user.`,
          );
        }
      },
    }),
  );
}

/** The failure of a successful answer that holds no JSON object or array (see {@link ApiRequest.nullAnswer}). */
function notData(service: string, resource: string, status: number, body: unknown): string {
  const what =
    body === null
      ? 'an empty body (or null)'
      : typeof body === 'string'
        ? `a bare JSON string (${JSON.stringify(body.slice(0, 60))}${body.length > 60 ? '…' : ''})`
        : `a bare JSON ${typeof body} (${String(body).slice(0, 40)})`;
  return `${service} answered ${resource} with ${what} and status ${status}, where its API answers a JSON object or array: the answer is not ${service}'s (a proxy's, or the toolkit's base URL names another service) or ${service} failed. Retry later; if it goes on, tell the user.`;
}

/**
 * Why an answer could not be read, in words the model can act on. fetch says only "terminated" when
 * the connection closed before the body's end (a provider's proxy cut it, a body shorter than its
 * Content-Length), and names the real cause (a socket closed, a gzip body that is not gzip) in
 * `cause`, which the message left out: "Acme sent an unreadable answer: terminated."
 */
function unreadableAnswer(service: string, resource: string, error: unknown): string {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  const why =
    cause instanceof Error ? `${quotedMessage(error)}: ${quotedMessage(cause)}` : quotedMessage(error);
  if (error instanceof TypeError && error.message === 'terminated') {
    return `${service}'s answer for ${resource} broke off before its end (${why}): the connection closed, or the answer was cut or corrupt on the way. Retry; if it happens again the problem is on ${service}'s side.`;
  }
  return `${service} sent an unreadable answer for ${resource}: ${why}.`;
}

/**
 * A 403 that is a rate limit, not a missing permission: GitHub answers an exhausted primary limit
 * with `x-ratelimit-remaining: 0`, a secondary limit with Retry-After or only its message ("You have
 * exceeded a secondary rate limit"), Google's APIs with "User Rate Limit Exceeded". A refusal that
 * says when to come back (Retry-After) is a limit on any provider.
 */
function isRateLimit(headers: Headers, detail: string | undefined): boolean {
  return (
    headers.get('x-ratelimit-remaining') === '0' ||
    headers.has('retry-after') ||
    /\brate[ -]?limit/i.test(detail ?? '')
  );
}

/**
 * A 403 that is a size limit, not a missing permission: GitHub refuses a file or blob past what its
 * API serves (over 100 MB) with 403 and an error of code `too_large`. It read as "the account lacks
 * permission": the model asked the user for access that would not have helped.
 */
function isSizeLimit(body: unknown): boolean {
  const errors = (body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) && errors.some((entry) => (entry as { code?: unknown })?.code === 'too_large');
}

/**
 * The one HTTP path of every built-in toolkit: resolves the URL against the (overridable) base URL,
 * adds the account's headers, passes the call's abort signal, and turns provider errors into
 * {@link ApiError}s the model can act on. A 429 whose Retry-After is at most `maxRetryWaitSeconds`
 * is waited out and retried once.
 *
 * @example
 * const api = createApi({ service: 'Acme', baseUrl, headers: (c) => ({ Authorization: `Bearer ${requireToken(c, 'Acme')}` }) });
 * const order = await api.request(context, { path: `/orders/${id}`, resource: `order ${id}` });
 */
export function createApi(options: ApiOptions): Api {
  const { service, baseUrl } = options;
  // a toolkit factory's baseUrl that is no URL failed every call of the toolkit, not its definition
  new OptionChecks(`The ${service} toolkit's`).httpUrl('baseUrl', baseUrl, true);
  const errorDetail = options.errorDetail ?? defaultErrorDetail;
  const maxWait = options.maxRetryWaitSeconds ?? 5;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  /** One request, its redirects not followed; `method` and `withBody` are those of a redirect's hop. */
  async function attempt(
    context: RequestContext,
    request: ApiRequest,
    url: URL,
    hop: { method: string; withBody: boolean },
  ): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      ...options.headers?.(context.credentials),
      ...request.headers,
    };
    const hasContentType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
    let body: string | undefined;
    if (!hop.withBody) {
      // a 303 (or a POST's 301/302) is followed with a GET without the body, as fetch does
      for (const name of Object.keys(headers))
        if (name.toLowerCase() === 'content-type') delete headers[name];
    } else if (request.text !== undefined) {
      if (!hasContentType) headers['Content-Type'] = 'text/plain; charset=utf-8';
      body = request.text;
    } else if (request.body !== undefined) {
      if (!hasContentType) headers['Content-Type'] = 'application/json';
      body = JSON.stringify(request.body);
    }
    try {
      return await context.fetch(url, {
        method: hop.method,
        headers,
        body,
        signal: context.signal,
        redirect: 'manual',
      });
    } catch (error) {
      // an ApiError is already worded for the model (e.g. a refused connection of the http toolkit)
      if (context.signal.aborted || error instanceof ApiError) throw error;
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new ApiError(
        service,
        0,
        `Could not reach ${service} at ${url.origin} (${cause}). Check the network or the toolkit's base URL, then retry.`,
      );
    }
  }

  /**
   * The request, following redirects within its origin only. fetch's own `redirect: 'follow'` took
   * every header but `Authorization` and `Cookie` to whatever host a redirect named: Exa's
   * `x-api-key` (and any API-key header of a toolkit built on `createApi`) went to it, and the answer
   * of a host that is not the provider's was read as the provider's.
   */
  async function following(
    context: RequestContext,
    request: ApiRequest,
    url: URL,
    resource: string,
  ): Promise<Response> {
    const hop: { method: HttpMethod; withBody: boolean } = {
      method: request.method ?? 'GET',
      withBody: true,
    };
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const response = await attempt(context, request, current, hop);
      const location = response.headers.get('location');
      if (request.redirect === 'manual' || !REDIRECT_STATUSES.has(response.status) || location === null) {
        return response;
      }
      await response.body?.cancel().catch(() => {});
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw new ApiError(
          service,
          response.status,
          `${service} redirected ${resource} to ${JSON.stringify(location.slice(0, 200))}, which is no URL. The problem is on ${service}'s side (or the toolkit's base URL is wrong): retry later, or tell the user.`,
        );
      }
      if (next.origin !== url.origin) {
        throw new ApiError(
          service,
          response.status,
          `${service} redirected ${resource} to ${next.origin}, another host than ${url.origin}; the request was not sent there, so that the account's credentials stay with ${service}. If ${service}'s API moved, the toolkit's base URL must be changed: tell the user.`,
        );
      }
      if (redirects >= MAX_REDIRECTS) {
        throw new ApiError(
          service,
          response.status,
          `${service} redirected ${resource} more than ${MAX_REDIRECTS} times (a redirect loop). The problem is on ${service}'s side: retry later, or tell the user.`,
        );
      }
      if (
        (response.status === 303 && hop.method !== 'GET') ||
        ((response.status === 301 || response.status === 302) && hop.method === 'POST')
      ) {
        hop.method = 'GET';
        hop.withBody = false;
      }
      current = next;
    }
  }

  async function send<T>(context: RequestContext, request: ApiRequest): Promise<ApiResponse<T>> {
    const url = buildUrl(service, baseUrl, request.path, request.query);
    const resource = request.resource ?? `${request.method ?? 'GET'} ${url.pathname}`;
    for (let retried = false; ; retried = true) {
      const response = await following(context, request, url, resource);
      let body: unknown;
      const limit = request.maxResponseBytes ?? maxBytes;
      try {
        const read = await readBody(response, request.responseType, limit);
        body = read.body;
        if (read.cut) {
          if (request.tooLarge === 'truncate') {
            return { status: response.status, headers: response.headers, body: body as T, truncated: true };
          }
          throw new ApiError(
            service,
            response.status,
            `${service} answered more than ${byteSize(limit)} for ${resource}, more than a tool reads: ask for less (a filter, a smaller page or a narrower range) and retry.`,
          );
        }
      } catch (error) {
        if (context.signal.aborted || error instanceof ApiError) throw error;
        throw new ApiError(service, response.status, unreadableAnswer(service, resource, error));
      }
      answered.add(context);
      let status = response.status;
      let detail: string | undefined;
      let retryAfter = retryAfterSeconds(response.headers);
      const isRedirect = request.redirect === 'manual' && status >= 300 && status < 400;
      if (
        response.ok &&
        (request.responseType ?? 'json') === 'json' &&
        status !== 204 &&
        status !== 205 &&
        (body === null ? !request.nullAnswer : typeof body !== 'object')
      ) {
        throw new ApiError(service, status, notData(service, resource, status, body));
      }
      if (response.ok || isRedirect) {
        const inBody = options.bodyError?.(body);
        if (!inBody) return { status, headers: response.headers, body: body as T };
        status = inBody.status;
        detail = inBody.detail;
        retryAfter = inBody.retryAfterSeconds ?? retryAfter;
      } else {
        detail = errorDetail(body);
        const inBody = options.bodyError?.(body);
        if (inBody) {
          status = inBody.status;
          detail = inBody.detail;
          retryAfter = inBody.retryAfterSeconds ?? retryAfter;
        }
        if (status === 403 && isRateLimit(response.headers, detail)) status = 429;
        else if (status === 403 && isSizeLimit(body)) status = 413;
      }
      if (status === 429 && !retried && retryAfter !== undefined && retryAfter <= maxWait) {
        await sleep(retryAfter * 1000, undefined, { signal: context.signal });
        continue;
      }
      throw providerError({
        service,
        status,
        statusText: status === response.status ? response.statusText : '',
        detail,
        resource,
        // a rate limit's reset time (GitHub sends it with every answer) says nothing about a 5xx
        retryAfter: status >= 500 ? retryAfterHeaderSeconds(response.headers) : retryAfter,
        hasAccount: options.hasAccount,
      });
    }
  }

  return {
    service,
    baseUrl,
    send,
    request: async <T>(context: RequestContext, request: ApiRequest) =>
      (await send<T>(context, request)).body,
  };
}
