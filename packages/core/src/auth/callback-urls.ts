import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { checkOptionUrl } from '../util/config-url.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Which `callbackUrl`s a connection may send the user back to. An entry is an origin
 * (`https://app.example.com`: any path there) or a URL (`https://app.example.com/oauth/`: that path
 * and below). Without a list: the origin of `baseUrl`, plus `http(s)://localhost`, `127.0.0.1` and
 * `[::1]` on any port unless `NODE_ENV` is `production`.
 */
export class CallbackUrlPolicy {
  readonly #entries: Array<{ origin: string; path: string }>;
  readonly #loopback: boolean;
  readonly #defaultCallbackUrl: string | undefined;

  constructor(options: {
    allowed: readonly string[] | undefined;
    baseUrl: string;
    production: boolean;
    /** The operator's own `defaultCallbackUrl`: always allowed. */
    defaultCallbackUrl?: string;
  }) {
    this.#defaultCallbackUrl = options.defaultCallbackUrl;
    const allowed = options.allowed ?? [new URL(options.baseUrl).origin];
    this.#entries = allowed.map((entry, index) => {
      // an origin ("https://app.example.com") or a URL prefix
      const url = new URL(checkOptionUrl(entry, `allowedCallbackUrls[${index}]`));
      return { origin: url.origin, path: url.pathname };
    });
    this.#loopback = options.allowed === undefined && !options.production;
  }

  /**
   * Returns the URL, normalized, or throws CALLBACK_URL_NOT_ALLOWED naming it and the fix: a URL that
   * is no absolute http(s) URL (or holds a user name or password) is told what a callback URL must
   * be, one the allowlist does not take how to allow it. `field` names it in the message (a call's
   * `callbackUrl`, `callback_url` over REST, by default); `details` go with the error.
   */
  check(
    callbackUrl: string,
    field: string = apiRef('callbackUrl'),
    details?: Record<string, unknown>,
  ): string {
    if (callbackUrl === this.#defaultCallbackUrl) return callbackUrl;
    let url: URL | undefined;
    try {
      url = new URL(callbackUrl);
    } catch {
      url = undefined;
    }
    const given = `${field} ${JSON.stringify(String(callbackUrl).slice(0, 300))}`;
    // the code of every refused callback URL (callers and the remote mode go by it), with words for
    // what is wrong: a malformed one has no origin to add to the allowlist
    const refuse = (message: string) =>
      new ToolMuxError({ code: 'CALLBACK_URL_NOT_ALLOWED', message, ...(details ? { details } : {}) });
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw refuse(
        `${given} is not an absolute http(s) URL. Give the whole URL the user is sent back to after connecting, with its scheme and host (https://app.example.com/connected), or leave it out for the server's default.`,
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw refuse(`${given} holds a user name or password; a callback URL may not. Send it without them.`);
    }
    const allowed =
      (this.#loopback && LOOPBACK_HOSTS.has(url.hostname)) ||
      this.#entries.some(
        (entry) =>
          entry.origin === url.origin &&
          (entry.path === '/' ||
            url.pathname === entry.path ||
            url.pathname.startsWith(entry.path.endsWith('/') ? entry.path : `${entry.path}/`)),
      );
    if (!allowed) {
      throw refuse(
        `${given} is not allowed. Add its origin to the allowedCallbackUrls option of ToolMux (in toolmux.config for \`toolmux serve\`; allowed now: ${this.describe()}).`,
      );
    }
    return url.toString();
  }

  describe(): string {
    const entries = this.#entries.map((entry) =>
      entry.path === '/' ? entry.origin : entry.origin + entry.path,
    );
    if (this.#loopback) entries.push('localhost / 127.0.0.1 on any port');
    return entries.join(', ');
  }
}
