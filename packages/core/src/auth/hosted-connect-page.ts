import type { Provider } from '../provider.js';
import { embeddedEngineOf, type ToolMux } from '../toolmux.js';

/**
 * What @toolmux/server's hosted connect page needs from the ToolMux it serves, beyond the public API
 * (exported from `@toolmux/core/internal`).
 */

/**
 * From now on the ToolMux's OAuth links open the hosted connect page, `${baseUrl}/connect/${id}`,
 * instead of the provider (`ToolMuxOptions.hostedConnectPage`). `createServer()` calls it.
 */
export function useHostedConnectPage(mux: ToolMux<Provider<unknown>>): void {
  embeddedEngineOf(mux, 'The hosted connect page').useHostedConnectPage();
}

/**
 * The provider's authorization URL of an open (PENDING, unused, unexpired) OAuth connection request:
 * where the page's "Continue" link goes. It carries the OAuth state, so it is never part of
 * `connectionRequests.get()`. CONNECTION_REQUEST_NOT_FOUND / _EXPIRED / _INVALID (used) otherwise.
 */
export async function connectionRequestAuthorizationUrl(
  mux: ToolMux<Provider<unknown>>,
  id: string,
): Promise<string> {
  return embeddedEngineOf(mux, 'The hosted connect page').connectionRequestAuthorizationUrl(id);
}

/**
 * The hosted connect page's "Continue" (`POST /connect/:id/continue`): the provider's authorization URL
 * of an open OAuth request and the `Set-Cookie` that binds the callback to this browser, given the
 * request's `Cookie` header, which must hold the page's own cookie (see {@link connectPageCookie});
 * CONNECTION_BROWSER_MISMATCH otherwise, and the errors of {@link connectionRequestAuthorizationUrl}.
 */
export async function continueConnectionRequest(
  mux: ToolMux<Provider<unknown>>,
  id: string,
  cookies: string | null,
): Promise<{ authorizationUrl: string; setCookie: string }> {
  return embeddedEngineOf(mux, 'The hosted connect page').continueConnectionRequest(id, cookies);
}

/** The `Set-Cookie` the hosted connect page of a request sends with the page ("Continue" checks it). */
export async function connectPageCookie(
  mux: ToolMux<Provider<unknown>>,
  id: string,
  expiresAt: Date,
): Promise<string> {
  return embeddedEngineOf(mux, 'The hosted connect page').connectPageCookie(id, expiresAt);
}
