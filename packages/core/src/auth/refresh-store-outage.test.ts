import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  linkOcto,
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import {
  createTestPostgresUrl,
  type PostgresProxy,
  postgresSkipReason,
  startPostgresProxy,
} from '../test/postgres.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ToolMux } from '../toolmux.js';

/**
 * A provider that rotates refresh tokens (oidc-provider here, as many real ones) answers a refresh
 * with a new refresh token and spends the old one. If the database does not take the write of the
 * new tokens at that moment (a failover, a network blip of a second), the new refresh token existed
 * only in this process: the next refresh sends the spent one, the provider refuses it (and revokes
 * the grant, having seen a refresh token used twice), and the account is EXPIRED: the user must
 * connect again because the database was away for a second.
 */

const skipReason = await postgresSkipReason();

let oauthServer: TestOAuthServerWithCallback;
let proxy: PostgresProxy;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
  proxy = await startPostgresProxy();
});
afterAll(async () => {
  await oauthServer?.close();
  await proxy?.close();
});

describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'token refresh', () => {
  it('the new tokens of a refresh are stored once the database answers again, when it was away as the provider answered: the rotated refresh token is not lost', async () => {
    const database = await createTestPostgresUrl();
    const logger = recordingLogger();
    /** Set while the next refresh token request should find the database gone until it comes back. */
    let outage: { back: Promise<void> } | undefined;
    const mux = new ToolMux({
      toolkits: [octoToolkit(oauthServer).toolkit],
      // a silent database fails a statement after 600 ms, a new connection after 400 ms
      store: `${proxy.url(database.schema)}&connect_timeout=0.4&query_timeout=600`,
      secretKey: Buffer.alloc(32, 21).toString('base64'),
      logger,
      accountCacheTtlMs: 0,
      // a short refresh lease (this timeout and 15 s), so that the code before ends this test sooner
      oauthRequestTimeoutMs: 1_000,
      oauthRedirectUri: oauthServer.redirectUri,
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        const refreshing =
          url === oauthServer.tokenUrl && String(init?.body).includes('grant_type=refresh_token');
        const response = await fetch(input, init);
        if (refreshing && outage) {
          // the provider has answered (the old refresh token is spent): now the database is away,
          // for about two statement timeouts
          proxy.blackHole(true);
          let done!: () => void;
          outage.back = new Promise<void>((resolve) => (done = resolve));
          setTimeout(() => {
            proxy.blackHole(false);
            done();
          }, 1_500);
          outage = undefined;
        }
        return response;
      },
    });
    try {
      oauthServer.current = mux;
      const { accountId, authConfigId } = await linkOcto(mux, oauthServer, 'user_outage');

      const during = { back: Promise.resolve() };
      outage = during;
      const refreshed = await mux.connectedAccounts.refresh(accountId).then(
        (account) => ({ account }),
        (error: unknown) => ({ error }),
      );
      await during.back;
      // the refresh waited for the database and stored what the provider gave
      expect(refreshed).toMatchObject({ account: { id: accountId, status: 'ACTIVE' } });

      // the next refresh sends the rotated refresh token, which the provider accepts
      const before = oauthServer.tokenRequests.refresh_token;
      await expect(mux.connectedAccounts.refresh(accountId)).resolves.toMatchObject({ status: 'ACTIVE' });
      expect(oauthServer.tokenRequests.refresh_token - before).toBe(1);
      const session = await mux.create('user_outage', {
        toolkits: ['octo'],
        authConfigs: { octo: authConfigId },
      });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      expect(await mux.connectedAccounts.get(accountId)).toMatchObject({ status: 'ACTIVE' });
      // each failed write is told in the log, without a token
      expect(logger.warnings.join('\n')).toContain(accountId);
    } finally {
      proxy.blackHole(false);
      await mux.close();
      await database.cleanup();
    }
  }, 60_000);

  it('an OAuth callback stores the tokens it traded the code for once the database answers again, when it was away as the provider answered: the user is connected, not sent back failed', async () => {
    const database = await createTestPostgresUrl();
    const logger = recordingLogger();
    let outage = false;
    const mux = new ToolMux({
      toolkits: [octoToolkit(oauthServer).toolkit],
      store: `${proxy.url(database.schema)}&connect_timeout=0.4&query_timeout=600`,
      secretKey: Buffer.alloc(32, 22).toString('base64'),
      logger,
      accountCacheTtlMs: 0,
      oauthRedirectUri: oauthServer.redirectUri,
      fetch: async (input, init) => {
        const url = String(input instanceof Request ? input.url : input);
        const trading =
          url === oauthServer.tokenUrl && String(init?.body).includes('grant_type=authorization_code');
        const response = await fetch(input, init);
        if (trading && outage) {
          // the provider has issued the tokens: now the database is away for about 1.5 s
          outage = false;
          proxy.blackHole(true);
          setTimeout(() => proxy.blackHole(false), 1_500);
        }
        return response;
      },
    });
    try {
      const config = await mux.authConfigs.create('octo', {
        type: 'oauth2',
        clientId: oauthServer.clientId,
        clientSecret: oauthServer.clientSecret,
      });
      const request = await mux.connectedAccounts.link('user_callback_outage', config.id);
      const callbackUrl = await oauthServer.signIn(request.redirectUrl);
      outage = true;
      // the callback as the application's route hands it over
      const answer = await mux.auth.handleCallback(new Request(callbackUrl)).then(
        (response) => ({ status: response.status, location: response.headers.get('location') }),
        (error: unknown) => ({ error }),
      );
      expect(answer).toMatchObject({ status: 302 });
      const back = new URL((answer as { location: string }).location);
      expect(back.searchParams.get('status')).toBe('success');
      expect(await mux.connectedAccounts.get(request.connectedAccountId!)).toMatchObject({
        status: 'ACTIVE',
      });
      const session = await mux.create('user_callback_outage', {
        toolkits: ['octo'],
        authConfigs: { octo: config.id },
      });
      expect(await session.execute('OCTO_WHOAMI', {})).toMatchObject({ successful: true });
      expect(logger.warnings.join('\n')).toContain(request.connectedAccountId!);
    } finally {
      proxy.blackHole(false);
      await mux.close();
      await database.cleanup();
    }
  }, 60_000);
});
