import { errorMessage, TOOLMUX_ERROR_CODES, ToolMuxError, type ToolMuxErrorCode } from '../errors.js';
import { checkText, checkUserId } from '../util/stored-text.js';

type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RemoteCall {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

function isErrorCode(code: unknown): code is ToolMuxErrorCode {
  return typeof code === 'string' && Object.hasOwn(TOOLMUX_ERROR_CODES, code);
}

/**
 * The REST API of a toolmux server (`/api/v1`), authenticated with the project API key. Every error
 * the server answers becomes the ToolMuxError it was there (same code, same message); a server that
 * cannot be reached, or answers something that is not the toolmux API, is `SERVER_UNREACHABLE`.
 */
export class RemoteApi {
  readonly #base: string;
  readonly #authorization: string;
  readonly #fetch: typeof globalThis.fetch;

  constructor(options: { baseUrl: string; apiKey: string; fetch: typeof globalThis.fetch }) {
    this.#base = `${options.baseUrl}/api/v1`;
    this.#authorization = `Bearer ${options.apiKey}`;
    this.#fetch = options.fetch;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.call('GET', path, { query });
  }

  post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.call('POST', path, { body, signal });
  }

  async call<T>(method: string, path: string, { query, body, signal }: RemoteCall = {}): Promise<T> {
    const url = new URL(this.#base + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      // a URL turns a lone surrogate into U+FFFD, which would name another user: refuse it here
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item !== 'string') continue;
        if (key === 'user_id' || key === 'user_ids')
          checkUserId(item, key === 'user_id' ? 'userId' : 'userIds[]');
        else checkText(item, { field: key, code: 'INVALID_REQUEST', maxLength: 8192, allowEmpty: true });
      }
      url.searchParams.set(key, Array.isArray(value) ? value.join(',') : String(value));
    }
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
      });
    let response: Response;
    try {
      // A read is retried once when the connection fails (a keep-alive socket the server just
      // closed, a restarting instance); a write is not, since it may have reached the server.
      response = await send().catch((error: unknown) => {
        if (method !== 'GET' || signal?.aborted) throw error;
        return send();
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ToolMuxError({
        code: 'SERVER_UNREACHABLE',
        message: `Could not reach the toolmux server at ${url.origin} (${method} ${url.pathname}): ${errorMessage(error)}. Check baseUrl and that the server runs (\`toolmux serve\`).`,
        cause: error,
      });
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok && json !== undefined) return json as T;
    const error = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)
      ?.error;
    if (error && isErrorCode(error.code) && typeof error.message === 'string') {
      throw new ToolMuxError({
        code: error.code,
        message: error.message,
        ...(error.details && typeof error.details === 'object'
          ? { details: error.details as Record<string, unknown> }
          : {}),
      });
    }
    throw new ToolMuxError({
      code: 'SERVER_UNREACHABLE',
      message: `${url.origin} answered ${method} ${url.pathname} with HTTP ${response.status} and ${json === undefined ? 'no JSON' : 'JSON that is not a toolmux error'}: is baseUrl a toolmux server (the REST API is under /api/v1)?`,
      details: { status: response.status },
    });
  }
}

/** A request body already written as JSON text (a large value the caller serialised a slice at a time). */
export class JsonBodyText {
  constructor(readonly text: string) {}
}
