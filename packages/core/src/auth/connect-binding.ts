import { ToolMuxError } from '../errors.js';
import type { Vault } from '../vault/vault.js';

/**
 * Ties an OAuth connection that goes through the hosted connect page to the browser that opened the
 * page (connection fixation: see docs/security.md). Two cookies, both HttpOnly, signed with the secret
 * key (an HMAC of the request id, so any instance on the same key checks them, with nothing stored):
 *
 * - the page's cookie, `SameSite=Strict`, set when the page is shown: "Continue" (a POST of the page)
 *   is taken only with it, so another site cannot send a browser through "Continue" without the user
 *   seeing the page;
 * - the binding cookie, `SameSite=Lax` (it comes back on the provider's top-level redirect), set by
 *   "Continue" just before the browser leaves for the provider: the callback of a request made for the
 *   page takes the code only with it.
 */

const PAGE_PURPOSE = 'toolmux.connect-page';
const BINDING_PURPOSE = 'toolmux.connect-binding';
const PAGE_COOKIE = 'toolmux_page_';
const BINDING_COOKIE = 'toolmux_connect_';

/** The value of cookie `name` in a `Cookie` header, if there. */
function cookieValue(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

/** A request id as a cookie name's tail (ids are `cr_` and base-32-like text; anything else is dropped). */
function nameOf(prefix: string, requestId: string): string {
  return prefix + requestId.replace(/[^A-Za-z0-9_-]/g, '');
}

/** The longest directory both paths are in (`/` at least). */
function commonDirectory(a: string, b: string): string {
  const left = a.split('/');
  const right = b.split('/');
  const common: string[] = [];
  // the last segment of each is a file name (or empty after a trailing slash), not a directory
  for (let index = 0; index < Math.min(left.length, right.length) - 1; index++) {
    if (left[index] !== right[index]) break;
    common.push(left[index]!);
  }
  return `${common.join('/')}/`;
}

/** Where the hosted connect page of `requestId` is served: `<baseUrl>/connect/<request id>`. */
export function connectPageUrlOf(baseUrl: string, requestId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/connect/${encodeURIComponent(requestId)}`;
}

/** The directory of every connect page (`<baseUrl's path>/connect/`): the cookies' `Path`. */
function connectPageDirectory(baseUrl: string): string {
  const page = new URL(connectPageUrlOf(baseUrl, 'page')).pathname;
  return page.slice(0, page.lastIndexOf('/') + 1);
}

function setCookie(
  name: string,
  value: string,
  options: { path: string; expiresAt: Date; secure: boolean; sameSite: 'Strict' | 'Lax' },
): string {
  const maxAge = Math.max(1, Math.ceil((options.expiresAt.getTime() - Date.now()) / 1000));
  return `${name}=${value}; Path=${options.path}; Max-Age=${maxAge}; HttpOnly; SameSite=${options.sameSite}${options.secure ? '; Secure' : ''}`;
}

/**
 * Whether a cookie set by the connect page (on `baseUrl`'s host) reaches the OAuth callback
 * (`redirectUri`): the same host, and not a Secure cookie to plain http. Only then is a request made
 * for the page bound to the browser.
 */
export function bindingReachesCallback(baseUrl: string, redirectUri: string): boolean {
  const page = new URL(baseUrl);
  const callback = new URL(redirectUri);
  if (page.hostname !== callback.hostname) return false;
  return !(page.protocol === 'https:' && callback.protocol !== 'https:');
}

/** The `Set-Cookie` of the connect page of `requestId` (checked by "Continue"). */
export function connectPageCookie(vault: Vault, baseUrl: string, requestId: string, expiresAt: Date): string {
  const base = new URL(baseUrl);
  return setCookie(nameOf(PAGE_COOKIE, requestId), vault.mac(PAGE_PURPOSE, requestId), {
    path: connectPageDirectory(baseUrl),
    expiresAt,
    secure: base.protocol === 'https:',
    sameSite: 'Strict',
  });
}

/** Whether the browser's `Cookie` header holds the connect page's cookie of `requestId`. */
export function connectPageCookieMatches(vault: Vault, requestId: string, cookies: string | null): boolean {
  return vault.macMatches(PAGE_PURPOSE, requestId, cookieValue(cookies, nameOf(PAGE_COOKIE, requestId)));
}

/** The `Set-Cookie` "Continue" sends with the redirect to the provider (checked by the callback). */
export function connectBindingCookie(
  vault: Vault,
  baseUrl: string,
  redirectUri: string,
  requestId: string,
  expiresAt: Date,
): string {
  const base = new URL(baseUrl);
  return setCookie(nameOf(BINDING_COOKIE, requestId), vault.mac(BINDING_PURPOSE, requestId), {
    path: commonDirectory(connectPageDirectory(baseUrl), new URL(redirectUri).pathname),
    expiresAt,
    secure: base.protocol === 'https:',
    sameSite: 'Lax',
  });
}

/** Whether the callback's `Cookie` header holds the binding cookie of `requestId`. */
export function connectBindingCookieMatches(
  vault: Vault,
  requestId: string,
  cookies: string | null,
): boolean {
  return vault.macMatches(
    BINDING_PURPOSE,
    requestId,
    cookieValue(cookies, nameOf(BINDING_COOKIE, requestId)),
  );
}

/** CONNECTION_BROWSER_MISMATCH: `step` is what the browser did without the connect page's cookie. */
export function browserMismatch(requestId: string, step: 'callback' | 'continue'): ToolMuxError {
  const what =
    step === 'callback'
      ? `This sign-in came back for connection request ${requestId} in a browser that did not open its connect page: the sign-in link was opened from a copy, possibly sent by someone else to connect your account to theirs. Nothing was connected.`
      : `This browser did not send back the cookie the connect page of connection request ${requestId} set: the page's form was sent from elsewhere, or cookies are blocked for this site.`;
  return new ToolMuxError({
    code: 'CONNECTION_BROWSER_MISMATCH',
    message: `${what} Open the connect link the application gave you, in this browser, and continue from that page (allow cookies for this site).`,
    details: { connectionRequestId: requestId },
  });
}
