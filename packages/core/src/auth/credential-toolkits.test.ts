import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useHostedConnectPage } from '../internal.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { databaseBackends, databasePerTest, quiet } from '../test/auth-fixtures.js';
import { octoToolkit, startTestOAuthServer, type TestOAuthServer } from '../test/oauth-server.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/**
 * Precedence step 4 for toolkits whose auth is only credentials (api_key, bearer, basic): toolmux
 * makes its own auth config, so connecting needs no setup by the developer.
 */

const secretKey = Buffer.alloc(32, 9).toString('base64');
const baseUrl = 'https://tools.example.com';
let oauthServer: TestOAuthServer;
beforeAll(async () => {
  oauthServer = await startTestOAuthServer({ redirectUris: ['http://127.0.0.1:9/auth/callback'] });
});
afterAll(() => oauthServer.close());

const backends = await databaseBackends();

describe.each(backends)('credential toolkits without setup on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'api', () => {
    const { database, opened } = databasePerTest(open);

    function setup() {
      const sample = createSampleToolkits();
      const mux = new ToolMux({
        toolkits: [...sample.toolkits, octoToolkit(oauthServer).toolkit],
        store: database.spec,
        secretKey,
        baseUrl,
        logger: quiet,
      });
      useHostedConnectPage(mux);
      opened.push(mux);
      return { ...sample, mux };
    }

    it('authorize() and TOOLMUX_MANAGE_CONNECTIONS hand out a hosted form link through one toolmux config', async () => {
      const { mux, calls } = setup();
      const other = setup().mux;
      expect((await mux.authConfigs.list()).items).toEqual([]);
      const session = await mux.create('user_1', { toolkits: ['mail'] });

      // two instances connecting at once still make one config
      const [first, second] = await Promise.all([
        session.authorize('mail'),
        (await other.use(session.sessionId)).authorize('mail'),
      ]);
      expect(first.redirectUrl).toBe(`${baseUrl}/connect/${first.id}`);
      const configs = (await mux.authConfigs.list({ toolkit: 'mail' })).items;
      expect(configs).toEqual([
        expect.objectContaining({
          toolkit: 'mail',
          type: 'api_key',
          createdBy: 'toolmux',
          hasClientSecret: false,
        }),
      ]);
      for (const request of [first, second]) {
        expect((await mux.connectionRequests.get(request.id)).authConfigId).toBe(configs[0]!.id);
      }

      const managed = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['mail'] });
      const [entry] = (managed.data as { results: Array<Record<string, unknown>> }).results;
      expect(entry).toMatchObject({ toolkit: 'mail', connected: false });
      expect(entry!.redirect_url).toBe(`${baseUrl}/connect/${entry!.connection_request_id}`);

      const account = await mux.connectionRequests.complete(entry!.connection_request_id as string, {
        apiKey: 'sk_no_setup',
      });
      expect(account).toMatchObject({ authConfigId: configs[0]!.id, status: 'ACTIVE' });
      const sent = await session.execute('MAIL_SEND_EMAIL', { to: 'a@b.c', subject: 's', body: 'b' });
      expect(sent.successful).toBe(true);
      expect(calls.at(-1)!.context.credentials).toEqual({ apiKey: 'sk_no_setup' });
      expect(await session.ensureConnected('mail')).toEqual({
        status: 'CONNECTED',
        account: { id: account.id, status: 'ACTIVE', toolkit: 'mail' },
      });
      expect((await mux.authConfigs.list({ toolkit: 'mail' })).items).toHaveLength(1);
    });

    it('an OAuth toolkit still needs an OAuth app: no config is made for it', async () => {
      const { mux } = setup();
      const session = await mux.create('user_1', { toolkits: ['octo'] });
      const managed = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['octo'] });
      const [entry] = (managed.data as { results: Array<Record<string, unknown>> }).results;
      expect(entry).not.toHaveProperty('redirect_url');
      expect(entry!.message).toContain('no OAuth app configured');
      expect((await mux.authConfigs.list()).items).toEqual([]);
    });

    it("a developer's own config in the session still wins over toolmux's", async () => {
      const { mux } = setup();
      const mine = await mux.authConfigs.create('mail', { type: 'api_key' });
      const session = await mux.create('user_1', { toolkits: ['mail'], authConfigs: { mail: mine.id } });
      const request = await session.authorize('mail');
      expect((await mux.connectionRequests.get(request.id)).authConfigId).toBe(mine.id);
      expect((await mux.authConfigs.list({ toolkit: 'mail' })).items).toEqual([
        expect.objectContaining({ id: mine.id, createdBy: 'user' }),
      ]);
    });
  });
});
