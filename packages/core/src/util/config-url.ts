import { ToolMuxError } from '../errors.js';
import { shownValue } from './stored-text.js';

/**
 * A private-use URI scheme (RFC 8252, 7.1): a reverse domain name, so it holds a period
 * (`com.example.app:`), as `URL.protocol` writes it (lower case, with the colon).
 */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/;

/**
 * Whether a URL of `protocol` (as `URL.protocol` writes it) may be followed or handed on: http(s), and
 * with `appScheme` an app's own scheme. The one rule for options (below) and for links a server answers
 * (remote/wire.ts).
 */
export function allowedUrlScheme(protocol: string, appScheme: boolean): boolean {
  return protocol === 'http:' || protocol === 'https:' || (appScheme && PRIVATE_USE_SCHEME.test(protocol));
}

/**
 * Checks a URL option of a ToolMux (`baseUrl`, `defaultCallbackUrl`, `oauthRedirectUri`, an
 * `allowedCallbackUrls` entry) where it is given, so that a typo is CONFIG_INVALID naming the option,
 * the value and the fix, at construction: not a TypeError of `new URL()` at the first request, nor a
 * `javascript:` or `data:` address a user's browser is later sent to. An absolute http(s) URL with no
 * user name or password (which would end up in links and logs); with `appScheme`, also an app's own
 * scheme (`com.example.app:/done`, where a mobile or desktop app takes the user back). Answers the
 * URL as given.
 */
export function checkOptionUrl(
  value: unknown,
  option: string,
  {
    appScheme = false,
    base = false,
    fragment = true,
  }: {
    appScheme?: boolean;
    /** A base URL, which paths are appended to (`${baseUrl}/mcp/…`): no query, no fragment. */
    base?: boolean;
    /** Whether a fragment may follow (not in an OAuth redirect URI: RFC 6749, 3.1.2). */
    fragment?: boolean;
  } = {},
): string {
  const wanted = appScheme
    ? 'an absolute http(s) URL, or one of an app\'s own scheme (a reverse domain name: "com.example.app:/done")'
    : 'an absolute http(s) URL (e.g. "https://tools.example.com")';
  const refuse = (why: string): never => {
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `${option} ${why}; it must be ${wanted}.`,
      details: { option },
    });
  };
  if (typeof value !== 'string') return refuse(`is ${shownValue(value)}, not a string`);
  if (!URL.canParse(value)) return refuse(`${shownValue(value)} is not a URL`);
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') {
    // not shown: it holds a password
    return refuse(
      'holds a user name or password (https://user:password@host), which would be shown in links and logs',
    );
  }
  if (!allowedUrlScheme(url.protocol, appScheme)) {
    return refuse(`${shownValue(value)} is a ${shownValue(url.protocol)} URL`);
  }
  // the text is used as written: `${baseUrl}/mcp/…` after a query or fragment is no path at all
  // (http://host?x=1/mcp/ses_…)
  const query = base ? /\?[^#]*/.exec(value)?.[0] : undefined;
  if (query !== undefined) {
    return refuse(
      `${shownValue(value)} has a query (${shownValue(query)}): paths are added to it, so it must end with the host or a path; leave the query out`,
    );
  }
  if ((base || !fragment) && value.includes('#')) {
    return refuse(
      `${shownValue(value)} has a fragment (${shownValue(value.slice(value.indexOf('#')))})${base ? ': paths are added to it' : ', which a redirect URI may not have (RFC 6749, 3.1.2)'}; leave it out`,
    );
  }
  return value;
}
