import { apiRef } from '../api-refs.js';
import type { Toolkit } from '../catalog/types.js';
import { quotedMessage, quotedText, ToolMuxError } from '../errors.js';
import type { AccountSelection } from '../execution/execute.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../util/json-depth.js';
import { maskedResult } from '../util/masked-result.js';
import { setOwn } from '../util/own-key.js';
import { byteSize, responseTextUpTo } from '../util/response-text.js';
import { WorkSlice } from '../util/slices.js';
import { shownValue } from '../util/stored-text.js';
import { wholeNumberOf } from '../util/whole-number.js';
import type { AuthService } from './auth-service.js';
import { credentialSecrets } from './credentials.js';
import { applyCredentials, HEADER_VALUE } from './schemes.js';
import type { ProxyExecuteRequest, ProxyExecuteResponse } from './types.js';

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function invalid(message: string): ToolMuxError {
  return new ToolMuxError({ code: 'INVALID_REQUEST', message });
}

/** `toolkit.baseUrl` + a path, or an absolute URL on the base URL's origin: credentials go nowhere else. */
function targetUrl(toolkit: Toolkit, endpoint: string): URL {
  if (!toolkit.baseUrl) {
    throw invalid(
      `${toolkit.name} (${toolkit.slug}) declares no baseUrl, so ${apiRef('session.proxyExecute')} cannot call its API.`,
    );
  }
  const base = new URL(toolkit.baseUrl);
  if (typeof endpoint !== 'string' || endpoint === '')
    throw invalid('endpoint must be a path like "/user" or a URL.');
  if (/^[a-z][a-z0-9+.-]*:/i.test(endpoint) || endpoint.startsWith('//')) {
    const url = new URL(endpoint, base);
    if (url.origin !== base.origin) {
      throw invalid(
        `endpoint ${JSON.stringify(endpoint.slice(0, 200))} is not on ${base.origin}, the API of ${toolkit.slug}: ${apiRef('session.proxyExecute')} sends credentials only there.`,
      );
    }
    return url;
  }
  const url = new URL(`${base.href.replace(/\/+$/, '')}/${endpoint.replace(/^\/+/, '')}`);
  if (url.origin !== base.origin)
    throw invalid(`endpoint ${JSON.stringify(endpoint.slice(0, 200))} leaves ${base.origin}.`);
  return url;
}

/**
 * The most bytes of an API's answer a proxy call downloads (the rest is not read) when the ToolMux's
 * `proxyMaxResponseBytes` does not say.
 */
export const DEFAULT_PROXY_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/**
 * A ToolMux's `proxyMaxResponseBytes` (undefined: the default), checked: a whole number of bytes, 1 or
 * more.
 */
export function proxyResponseLimitOf(option: unknown): number {
  if (option === undefined) return DEFAULT_PROXY_MAX_RESPONSE_BYTES;
  return wholeNumberOf(option, {
    name: 'proxyMaxResponseBytes',
    code: 'CONFIG_INVALID',
    unit: 'bytes',
    min: 1,
    purpose: "the most of an API's answer one proxyExecute call downloads",
    leaveOut: `Leave it out for ${byteSize(DEFAULT_PROXY_MAX_RESPONSE_BYTES)}.`,
  });
}

/**
 * A proxy call's `maxResponseBytes`, checked as far as it can be without the ToolMux's limit (which
 * embedded, or the server in remote mode, checks): a whole number of bytes, 1 or more.
 */
export function checkMaxResponseBytes(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return wholeNumberOf(value, {
    name: apiRef('maxResponseBytes'),
    code: 'INVALID_REQUEST',
    unit: 'bytes',
    min: 1,
    purpose: `at most the ToolMux's proxyMaxResponseBytes, ${byteSize(DEFAULT_PROXY_MAX_RESPONSE_BYTES)} unless its operator set it`,
    leaveOut: 'Leave it out to read up to that limit.',
  });
}

/** How much of the answer a call reads: its `maxResponseBytes`, at most the ToolMux's limit. */
function responseLimit(requested: unknown, limit: number): number {
  const asked = checkMaxResponseBytes(requested);
  if (asked === undefined) return limit;
  if (asked > limit) {
    throw invalid(
      `${apiRef('maxResponseBytes')} ${asked} is more than a proxy call of this ToolMux reads: ${limit} (${byteSize(limit)}, its proxyMaxResponseBytes). Ask for ${limit} or less; the operator raises the limit with proxyMaxResponseBytes in the ToolMux options (a toolmux server: its config file or TOOLMUX_PROXY_MAX_RESPONSE_BYTES).`,
    );
  }
  return asked;
}

function proxyFailed(message: string): ToolMuxError {
  return new ToolMuxError({ code: 'PROXY_FAILED', message });
}

/** Why `fetch` failed, in the network's words (`fetch failed` hides it in the cause), quoted. */
function networkReason(error: unknown, secrets: readonly string[]): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const reason = typeof cause?.code === 'string' ? cause.code : cause?.message;
  return typeof reason === 'string' && reason !== ''
    ? quotedText(reason, secrets)
    : quotedMessage(error, secrets);
}

/**
 * A raw call to a toolkit's API with the user's account (`session.proxyExecute`): the account comes
 * from the precedence rules (or `connectedAccountId`, an account the session may use), its credentials are applied as the scheme says,
 * redirects are not followed (so credentials never travel to another host), and credential values are
 * masked in what comes back.
 */
export async function proxyExecute(
  auth: AuthService,
  fetch: typeof globalThis.fetch,
  call: {
    toolkit: Toolkit;
    userId: string;
    selection: AccountSelection | undefined;
    request: ProxyExecuteRequest;
    /** The ToolMux's `proxyMaxResponseBytes`: the most a call reads, and what it reads by default. */
    maxResponseBytes: number;
  },
): Promise<ProxyExecuteResponse> {
  const { toolkit, request } = call;
  const maxResponseBytes = responseLimit(request.maxResponseBytes, call.maxResponseBytes);
  const hasBody = request.body !== undefined && request.body !== null;
  if (request.method !== undefined && typeof request.method !== 'string') {
    throw invalid(`method must be one of ${[...METHODS].join(', ')}; got ${shownValue(request.method)}.`);
  }
  const method = (request.method ?? 'GET').toUpperCase();
  if (!METHODS.has(method))
    throw invalid(`method must be one of ${[...METHODS].join(', ')}; got ${shownValue(request.method)}.`);
  if (hasBody && (method === 'GET' || method === 'HEAD')) {
    throw invalid(
      request.method === undefined
        ? 'The request has a body but no method, and the default method GET cannot carry a body: pass method "POST" (or PUT, PATCH, DELETE) with it.'
        : `A ${method} request cannot carry a body: pass method "POST" (or PUT, PATCH, DELETE), or leave the body out.`,
    );
  }
  const url = targetUrl(toolkit, request.endpoint);
  const headers = new Headers();
  for (const parameter of request.parameters ?? []) {
    if (parameter.in === 'header') {
      const value = String(parameter.value);
      if (typeof parameter.name !== 'string' || !HEADER_NAME.test(parameter.name)) {
        throw invalid(`header name ${shownValue(parameter.name)} is not a valid HTTP header name.`);
      }
      if (!HEADER_VALUE.test(value)) {
        throw invalid(
          `header ${parameter.name} has the value ${shownValue(value)}, which an HTTP header cannot carry: use Latin-1 text without control characters (percent-encode anything else).`,
        );
      }
      headers.set(parameter.name, value);
    } else if (parameter.in === 'query') url.searchParams.append(parameter.name, String(parameter.value));
    else throw invalid(`parameter ${JSON.stringify(parameter.name)} must be "in": "header" or "query".`);
  }
  let secrets: string[] = [];
  if (!toolkit.noAuth) {
    // `connectedAccountId` names one of the accounts the session may use, as a call's `account` does
    // (id or alias; ACCOUNT_NOT_IN_SESSION otherwise): a session pinned to one account, or its agent's
    // workbench code, must not reach the user's other accounts through the proxy
    const account = await auth.selectAccount({
      toolkit,
      userId: call.userId,
      selection: call.selection,
      account: request.connectedAccountId,
      proxy: true,
    });
    const credentials = await auth.credentials.load(account, { signal: request.signal });
    secrets = credentialSecrets(credentials);
    applyCredentials(await auth.schemeOfAccount(account, toolkit), credentials, url, headers, account.id);
    const authorization = headers.get('authorization');
    if (authorization) secrets.push(authorization.replace(/^\S+\s+/, '')); // e.g. Basic's base64
  }
  let body: string | undefined;
  if (request.body !== undefined && request.body !== null) {
    if (typeof request.body === 'string') body = request.body;
    else {
      body = JSON.stringify(request.body);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
  }
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body, redirect: 'manual', signal: request.signal });
  } catch (error) {
    if (request.signal?.aborted) throw error;
    throw proxyFailed(
      `Could not reach ${toolkit.slug}'s API at ${url.origin} (${networkReason(error, secrets)}): check the toolkit's baseUrl and the network, then retry.`,
    );
  }
  let text = '';
  if (method !== 'HEAD') {
    const read = await responseTextUpTo(response, maxResponseBytes);
    if (read.cut) {
      const raise =
        maxResponseBytes < call.maxResponseBytes
          ? `, or pass a larger ${apiRef('maxResponseBytes')} (up to ${call.maxResponseBytes})`
          : '';
      throw new ToolMuxError({
        code: 'PROXY_RESPONSE_TOO_LARGE',
        message: `${toolkit.slug}'s API answered ${method} ${url.pathname} with more than ${byteSize(maxResponseBytes)}, more than ${raise ? 'this' : 'a'} proxy call reads: ask for less (a filter, a smaller page or a narrower range)${raise}.`,
      });
    }
    text = read.text;
  }
  let data: unknown = text === '' ? null : text;
  if (text !== '' && /\bjson\b/i.test(response.headers.get('content-type') ?? '')) {
    try {
      const parsed: unknown = JSON.parse(text);
      // nested deeper than any value toolmux hands on (the API's to choose): kept as the text it
      // came as, which the masking below and every surface's serialisation walk without recursing
      if (!jsonDepthExceeds(parsed, MAX_JSON_DEPTH)) data = parsed;
    } catch {
      // not JSON after all: keep the text
    }
  }
  const responseHeaders: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    setOwn(responseHeaders, name, value); // a header named `__proto__` too
  });
  // every credential value (4 characters or more) in the strings and keys of the answer, as a tool's
  // result has them masked (one that overlaps another, a Basic pair and the pair with an empty
  // password, masked whole); a slice at a time, copying only the way to a masked string
  const slice = new WorkSlice();
  return {
    status: response.status,
    headers: (await maskedResult(responseHeaders, secrets, slice)) as Record<string, string>,
    data: await maskedResult(data, secrets, slice),
  };
}
