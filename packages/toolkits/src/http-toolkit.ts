import type { LookupFunction } from 'node:net';
import {
  type AuthScheme,
  type Credentials,
  defineTool,
  defineToolkit,
  type ToolAnnotations,
  type Toolkit,
  ToolMuxError,
  toolSlugPrefix,
} from '@toolmux/core';
import {
  checkToolkitSlug,
  everyKeyOf,
  setupOptions,
  shownValue,
  wholeNumberOf,
} from '@toolmux/core/internal';
import { z } from 'zod';
import { CREATE, DESTROY, READ, UPDATE } from './annotations.js';
import { ApiError, createApi, type HttpMethod, tokenOf } from './http.js';
import { PrivateAddressError, publicOnlyFetch, refusedHost } from './network-guard.js';
import { OptionChecks } from './option-checks.js';

export interface HttpToolkitOptions {
  /** Toolkit slug; tool slugs are `${SLUG}_GET` etc. @default 'http' */
  slug?: string;
  /** @default 'HTTP' */
  name?: string;
  description?: string;
  /**
   * Words a user says for what the toolkit handles, which search reads as words of each of its tools
   * (see `defineToolkit`'s `keywords`), e.g. `['payment', 'invoice']` for a payments API.
   * @default ['API', 'REST', 'endpoint', 'URL', 'webhook']
   */
  keywords?: string[];
  /**
   * Relative request paths resolve against it. With `auth`, requests may only go below it (or below the
   * connected account's own `baseUrl` credential field, which takes precedence).
   */
  baseUrl?: string;
  /**
   * How the connected account's credentials are sent. Omit for a toolkit without accounts that may
   * call any public URL.
   */
  auth?: 'bearer' | 'api_key' | 'basic';
  /** Header carrying the API key when `auth` is `api_key`. @default 'X-API-Key' */
  apiKeyHeader?: string;
  /**
   * Let requests reach loopback, private-network and link-local addresses (cloud metadata services
   * live there): of the toolkit without `auth`, and of a toolkit with `auth` whose connected account
   * gives its own `baseUrl` (the user who connects it chooses that address). Only for trusted agents
   * and users, or tests. @default false
   */
  allowPrivateNetwork?: boolean;
  /**
   * Resolves host names for the private-network check, which is made on the address each connection
   * actually goes to (a `dns.lookup`-compatible function, e.g. to use another DNS server). Not used
   * with `allowPrivateNetwork`, nor for requests of `auth` to the toolkit's own `baseUrl`, which go
   * through the session's `fetch`.
   * @default dns.lookup
   */
  lookup?: LookupFunction;
  /** Longest text body returned to the model: a whole number of characters, 1 or more. @default 50_000 */
  maxResponseCharacters?: number;
  /**
   * The most bytes of an answer downloaded. Past them the download stops and the model gets the
   * text read so far, cut to `maxResponseCharacters`, with `truncated: true` (a JSON answer that
   * long is not parsed): a URL that serves gigabytes, or never ends, costs no more. A whole number, 1
   * or more. @default 10 MiB
   */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_CHARACTERS = 50_000;
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const AUTH_KINDS = ['bearer', 'api_key', 'basic'] as const;

/**
 * Refuses `auth` and `allowPrivateNetwork` of the wrong kind (TOOL_DEFINITION_INVALID): both were read
 * as truthy, so `allowPrivateNetwork: 'false'` let the toolkit reach private addresses, and `auth:
 * 'Bearer'` (or `'basic '`) made an API-key toolkit that sent the token in `X-API-Key`.
 */
function checkHttpToolkitKinds(options: HttpToolkitOptions): void {
  const check = new OptionChecks('createHttpToolkit()');
  if (options.slug !== undefined) checkToolkitSlug(options.slug, 'createHttpToolkit() slug');
  check.text('name', options.name);
  check.text('description', options.description);
  check.strings('keywords', options.keywords);
  check.httpUrl('baseUrl', options.baseUrl);
  check.headerName('apiKeyHeader', options.apiKeyHeader);
  check.func('lookup', options.lookup, 'a function like dns.lookup');
  if (options.auth !== undefined && !(AUTH_KINDS as readonly unknown[]).includes(options.auth)) {
    throw check.wrong(
      'auth',
      `one of ${AUTH_KINDS.map((kind) => `"${kind}"`).join(', ')}`,
      shownValue(options.auth),
    );
  }
  if (options.allowPrivateNetwork !== undefined && typeof options.allowPrivateNetwork !== 'boolean') {
    throw check.wrong('allowPrivateNetwork', 'true or false', shownValue(options.allowPrivateNetwork));
  }
}

function refusedError(url: URL, error: PrivateAddressError, account: boolean): ApiError {
  return new ApiError(
    'HTTP',
    403,
    `Refused to call ${url.origin}: ${error.message} (a private, loopback or link-local address). ${
      account
        ? "The connected account's base URL must be a public address: ask the user to reconnect the account with the API's public URL."
        : 'This toolkit only calls public URLs.'
    }`,
  );
}

/**
 * `fetch` whose refused connection to a private address becomes the 403 the model reads. A URL whose
 * host is an address or `localhost` is refused before the request (the connection checks it again).
 */
function refusing(fetch: typeof globalThis.fetch, url: URL, account: boolean): typeof globalThis.fetch {
  return async (input, init) => {
    const refused = refusedHost(url.hostname);
    if (refused) throw refusedError(url, refused, account);
    try {
      return await fetch(input, init);
    } catch (error) {
      throw error instanceof PrivateAddressError ? refusedError(url, error, account) : error;
    }
  };
}

function authHeaders(
  auth: HttpToolkitOptions['auth'],
  credentials: Credentials | undefined,
  apiKeyHeader: string,
): Record<string, string> {
  if (!auth) return {};
  if (auth === 'basic') {
    if (!credentials?.username)
      throw new ApiError(
        'HTTP',
        401,
        'The connected account has no username: reconnect it with a username and password.',
      );
    return {
      Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`,
    };
  }
  const token = tokenOf(credentials);
  if (!token)
    throw new ApiError(
      'HTTP',
      401,
      'The connected account has no token or API key: reconnect it, then retry.',
    );
  return auth === 'bearer' ? { Authorization: `Bearer ${token}` } : { [apiKeyHeader]: token };
}

/**
 * The model's headers, each name an HTTP token and each value a string HTTP can carry (no line break
 * or other control character but tab, nothing above U+00FF), else TOOL_ARGUMENTS_INVALID naming the
 * header (its value is not shown: it may be a key). fetch refused them deep inside, and the model read
 * "Could not reach HTTP at … (Headers.append: … is an invalid header value). Check the network or the
 * toolkit's base URL", which sent it after the network instead of its own argument.
 */
function checkedHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new ToolMuxError({
        code: 'TOOL_ARGUMENTS_INVALID',
        message: `headers: ${JSON.stringify(name.slice(0, 100))} is no HTTP header name (a name is letters, digits and !#$%&'*+-.^_\`|~, without spaces or a colon, like "Accept" or "X-Request-Id"): fix it and retry.`,
      });
    }
    const bad = /[^\t\x20-\x7e\x80-\xff]/.exec(value);
    if (bad !== null) {
      const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
      throw new ToolMuxError({
        code: 'TOOL_ARGUMENTS_INVALID',
        message: `headers: the value of ${name} has U+${code} at index ${bad.index}, which an HTTP header cannot carry (a line break or another control character, or a character above U+00FF): remove it, or send such text in the body, and retry.`,
      });
    }
  }
  return headers;
}

/** The caller's headers with the account's auth headers on top (a forged one of any case is dropped). */
function withAuth(
  headers: Record<string, string> | undefined,
  auth: Record<string, string>,
): Record<string, string> {
  const reserved = new Set(Object.keys(auth).map((name) => name.toLowerCase()));
  const own = Object.entries(headers ?? {}).filter(([name]) => !reserved.has(name.toLowerCase()));
  return { Accept: '*/*', ...Object.fromEntries(own), ...auth };
}

function schemeOf(auth: NonNullable<HttpToolkitOptions['auth']>, apiKeyHeader: string): AuthScheme {
  const baseUrlField = {
    name: 'baseUrl',
    label: 'API base URL',
    description: 'Requests of this account go below this URL, e.g. https://api.example.com/v1',
    secret: false,
    required: false,
  };
  if (auth === 'basic') {
    return {
      type: 'basic',
      fields: [
        { name: 'username', label: 'Username', secret: false },
        { name: 'password', label: 'Password' },
        baseUrlField,
      ],
    };
  }
  if (auth === 'bearer')
    return { type: 'bearer', fields: [{ name: 'token', label: 'Bearer token' }, baseUrlField] };
  return {
    type: 'api_key',
    fields: [{ name: 'apiKey', label: 'API key' }, baseUrlField],
    placement: { in: 'header', name: apiKeyHeader, field: 'apiKey' },
  };
}

interface HttpInput {
  url: string;
  query?: Record<string, string> | undefined;
  headers?: Record<string, string> | undefined;
  body?: unknown;
  text?: string | undefined;
}

const METHODS: Array<{ method: HttpMethod; annotations: ToolAnnotations; verb: string; hasBody: boolean }> = [
  { method: 'GET', annotations: READ, verb: 'Fetch (read) a resource', hasBody: false },
  {
    method: 'POST',
    annotations: CREATE,
    verb: 'Send data to create a resource or trigger an action',
    hasBody: true,
  },
  {
    method: 'PUT',
    annotations: { ...UPDATE, destructiveHint: true },
    verb: 'Replace a resource',
    hasBody: true,
  },
  {
    method: 'PATCH',
    annotations: { ...UPDATE, destructiveHint: true },
    verb: 'Partially update a resource',
    hasBody: true,
  },
  { method: 'DELETE', annotations: DESTROY, verb: 'Delete a resource', hasBody: false },
];

/** The options of createHttpToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const HTTP_OPTION_NAMES = everyKeyOf<HttpToolkitOptions>()([
  'slug',
  'name',
  'description',
  'keywords',
  'baseUrl',
  'auth',
  'apiKeyHeader',
  'allowPrivateNetwork',
  'lookup',
  'maxResponseCharacters',
  'maxResponseBytes',
]);

/**
 * Generic HTTP requests. Without `auth`: any public URL, no credentials. With `auth`: requests go to the
 * connected account's base URL (or `baseUrl`) with its credentials, and nowhere else.
 *
 * @example
 * const internal = createHttpToolkit({ slug: 'acme_api', baseUrl: 'https://api.acme.com/v1', auth: 'bearer' });
 */
export function createHttpToolkit(options: HttpToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createHttpToolkit()', HTTP_OPTION_NAMES, { code: 'TOOL_DEFINITION_INVALID' });
  checkHttpToolkitKinds(options);
  const slug = options.slug ?? 'http';
  const prefix = toolSlugPrefix(slug);
  const apiKeyHeader = options.apiKeyHeader ?? 'X-API-Key';
  const maxCharacters = wholeNumberOf(options.maxResponseCharacters, {
    name: 'createHttpToolkit() maxResponseCharacters',
    code: 'TOOL_DEFINITION_INVALID',
    unit: 'characters',
    min: 1,
    purpose: 'the longest text body returned to the model',
    leaveOut: `Leave it out for ${DEFAULT_MAX_RESPONSE_CHARACTERS}.`,
    default: DEFAULT_MAX_RESPONSE_CHARACTERS,
  });
  const maxBytes = wholeNumberOf(options.maxResponseBytes, {
    name: 'createHttpToolkit() maxResponseBytes',
    code: 'TOOL_DEFINITION_INVALID',
    unit: 'bytes',
    min: 1,
    purpose: 'the most bytes of an answer downloaded',
    leaveOut: `Leave it out for ${DEFAULT_MAX_RESPONSE_BYTES} (10 MiB).`,
    default: DEFAULT_MAX_RESPONSE_BYTES,
  });
  // Without an account, every connection is checked where it is made; with one, the connections to
  // an account's own base URL are, since the user who connected the account chose it: a base URL of
  // http://169.254.169.254/latest let any user read the cloud metadata service (its credentials) with
  // HTTP_GET.
  const guardedFetch = options.allowPrivateNetwork ? undefined : publicOnlyFetch({ lookup: options.lookup });
  const toolkitOrigin = options.baseUrl === undefined ? undefined : new URL(options.baseUrl).origin;
  const api = createApi({
    service: 'HTTP',
    baseUrl: options.baseUrl ?? 'http://invalid.invalid',
    hasAccount: options.auth !== undefined,
  });

  const resolveUrl = (url: string, credentials: Credentials | undefined): URL => {
    const base = (options.auth ? (credentials?.baseUrl ?? options.baseUrl) : options.baseUrl)?.replace(
      /\/+$/,
      '',
    );
    const isAbsolute = /^https?:\/\//i.test(url);
    if (!isAbsolute && !base) {
      throw new ApiError(
        'HTTP',
        400,
        `"${url}" is not an absolute http(s) URL: give the full URL, e.g. https://example.com/path.`,
      );
    }
    const resolved = new URL(isAbsolute ? url : `${base}${url.startsWith('/') ? '' : '/'}${url}`);
    if (options.auth) {
      if (!base)
        throw new ApiError('HTTP', 400, 'The connected account has no base URL, and the toolkit sets none.');
      const root = new URL(`${base}/`);
      if (resolved.origin !== root.origin || !`${resolved.pathname}/`.startsWith(root.pathname)) {
        throw new ApiError(
          'HTTP',
          403,
          `Refused: ${resolved.origin}${resolved.pathname} is outside ${base}, and the account's credentials are only sent there. Use a path relative to it.`,
        );
      }
    }
    return resolved;
  };

  const tools = METHODS.map(({ method, annotations, verb, hasBody }) =>
    defineTool({
      slug: `${prefix}${method}`,
      description: `${verb} with an HTTP ${method} request${
        options.auth
          ? ` to the connected account's API (paths are relative to its base URL; its credentials are added)`
          : ' to any public URL (no credentials are sent)'
      }. Returns the status, main headers and the body (JSON parsed, else text). Use it for REST APIs and web pages no dedicated tool covers.`,
      inputSchema: z.object({
        url: z
          .string()
          .min(1)
          .describe(
            options.auth || options.baseUrl
              ? 'Path relative to the base URL (e.g. "/v1/items"), or a full URL below it'
              : 'Full URL, e.g. "https://api.example.com/items"',
          ),
        query: z.record(z.string(), z.string()).optional().describe('Query parameters to add to the URL'),
        headers: z
          .record(z.string(), z.string())
          .optional()
          .describe('Extra request headers, e.g. {"Accept": "text/html"}'),
        ...(hasBody
          ? {
              body: z.unknown().optional().describe('JSON request body (an object or array)'),
              text: z
                .string()
                .optional()
                .describe(
                  'Raw request body instead of JSON, e.g. form data or XML; set Content-Type in headers',
                ),
            }
          : {}),
      }),
      outputSchema: z.object({
        status: z.number(),
        headers: z.record(z.string(), z.string()),
        body: z.unknown(),
        truncated: z.boolean(),
      }),
      annotations: { ...annotations, openWorldHint: true },
      execute: async (args, context) => {
        // GET and DELETE have no body fields; one handler serves all five methods.
        const input = args as HttpInput;
        const url = resolveUrl(input.url, context.credentials);
        // the operator's baseUrl is trusted (an internal API may live on a private address)
        const guarded = guardedFetch && !(options.auth && url.origin === toolkitOrigin);
        const response = await api.send(
          guarded ? { ...context, fetch: refusing(guardedFetch, url, options.auth !== undefined) } : context,
          {
            method,
            path: url.href,
            query: input.query,
            headers: withAuth(
              checkedHeaders(input.headers),
              authHeaders(options.auth, context.credentials, apiKeyHeader),
            ),
            body: input.body,
            text: input.text,
            responseType: 'auto',
            maxResponseBytes: maxBytes,
            tooLarge: 'truncate',
            redirect: 'manual',
            resource: `${url.origin}${url.pathname}`,
          },
        );
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'location', 'etag', 'last-modified', 'link', 'retry-after']) {
          const value = response.headers.get(name);
          if (value) headers[name] = value;
        }
        let body = response.body;
        let truncated = response.truncated === true;
        if (typeof body === 'string' && (truncated || body.length > maxCharacters)) {
          body = `${body.slice(0, maxCharacters)}…`;
          truncated = true;
        }
        return { status: response.status, headers, body, truncated };
      },
    }),
  );

  return defineToolkit({
    slug,
    name: options.name ?? 'HTTP',
    description:
      options.description ??
      (options.auth
        ? `HTTP requests (GET, POST, PUT, PATCH, DELETE) to ${options.baseUrl ?? 'the connected account’s API'} with the account's credentials.`
        : 'Generic HTTP requests (GET, POST, PUT, PATCH, DELETE) to any public URL or REST API, without credentials.'),
    categories: ['developer tools', 'web'],
    keywords: options.keywords ?? ['API', 'REST', 'endpoint', 'URL', 'webhook'],
    baseUrl: options.baseUrl,
    auth: options.auth ? schemeOf(options.auth, apiKeyHeader) : undefined,
    tools,
  });
}

/** Requests to any public URL, no account. */
export const http: Toolkit = createHttpToolkit();
