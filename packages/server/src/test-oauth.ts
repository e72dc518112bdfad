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
