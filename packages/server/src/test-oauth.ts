import type { Toolkit } from '@toolmux/core';
import {
  type TestOAuthServer as AuthorizationServer,
  octoToolkit,
  startTestOAuthServer as startAuthorizationServer,
} from '@toolmux/core/test/oauth-server';

/**
 * The server tests' OAuth provider: core's test authorization server (`oidc-provider` on loopback,
 * one confidential PKCE client) plus the `octo` toolkit whose OAuth scheme points at it
 * (OCTO_WHOAMI calls userinfo with the access token).
 */
export interface TestOAuthServer extends AuthorizationServer {
  toolkit: Toolkit;
}

export async function startTestOAuthServer(options: { redirectUris: string[] }): Promise<TestOAuthServer> {
  const server = await startAuthorizationServer(options);
  return { ...server, toolkit: octoToolkit(server).toolkit };
}

export { freePort } from '@toolmux/core/test';

/** The cookies a browser keeps (name=value; the attributes are the browser tests' concern). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Keeps the cookies `response` sets. */
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const index = pair!.indexOf('=');
      this.#cookies.set(pair!.slice(0, index).trim(), pair!.slice(index + 1).trim());
    }
  }

  /** The `Cookie` header a request sends. */
  get header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/**
 * What a browser does on the hosted connect page of an OAuth request: opens it and presses
 * "Continue" (the page's POST to `…/continue`), which sets the cookie the callback checks and
 * redirects to the provider. Returns the provider's authorization URL and the browser's cookies,
 * which the callback must be fetched with (`headers: { cookie: jar.header }`).
 */
export async function continueThroughPage(
  pageUrl: string,
  jar = new CookieJar(),
): Promise<{ authorizationUrl: string; jar: CookieJar }> {
  const shown = await fetch(pageUrl, { headers: { cookie: jar.header } });
  const html = await shown.text();
  if (shown.status !== 200) throw new Error(`the connect page answered ${shown.status}: ${html}`);
  jar.take(shown);
  const action = /<form method="post" action="([^"]+\/continue)">/.exec(html)?.[1];
  if (!action) throw new Error(`no "Continue" form in ${html}`);
  const continued = await fetch(new URL(action.replaceAll('&#38;', '&'), pageUrl), {
    method: 'POST',
    headers: { cookie: jar.header },
    redirect: 'manual',
  });
  if (continued.status !== 303) {
    throw new Error(`"Continue" answered ${continued.status}: ${await continued.text()}`);
  }
  jar.take(continued);
  return { authorizationUrl: continued.headers.get('location')!, jar };
}
