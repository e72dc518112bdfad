import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseBackends, databasePerTest, quiet } from '../test/auth-fixtures.js';
import { octoToolkit, startTestOAuthServer, type TestOAuthServer } from '../test/oauth-server.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/** A toolkit listed more than once in TOOLMUX_MANAGE_CONNECTIONS is handled once, on a real store. */

const redirectUri = 'http://127.0.0.1:9/auth/callback'; // never opened
let oauthServer: TestOAuthServer;

beforeAll(async () => {
  oauthServer = await startTestOAuthServer({ redirectUris: [redirectUri] });
});
afterAll(() => oauthServer.close());

const backends = await databaseBackends();

describe.each(backends)(
  'TOOLMUX_MANAGE_CONNECTIONS with a repeated toolkit on $name',
  ({ skipReason, open }) => {
    describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'meta-tool', () => {
      const { database, opened } = databasePerTest(open);

      async function setup(metaToolNames: 'toolmux' | 'composio') {
        const mux = new ToolMux({
          toolkits: [...createSampleToolkits().toolkits, octoToolkit(oauthServer).toolkit],
          store: database.spec,
          secretKey: Buffer.alloc(32, 1).toString('base64'),
          logger: quiet,
          oauthRedirectUri: redirectUri,
          managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
        });
        opened.push(mux);
        return mux.create('user_1', { toolkits: ['octo', 'tasks'], metaToolNames });
      }
      const requests = async () =>
        (await database.rows('SELECT id FROM toolmux_connection_requests')).map((row) => row.id);

      it('starts one connection request for it, with reinitiate and without, and answers it once', async () => {
        const session = await setup('toolmux');
        for (const reinitiate of [false, true]) {
          const before = (await requests()).length;
          const result = await session.execute('TOOLMUX_MANAGE_CONNECTIONS', {
            toolkits: ['octo', 'tasks', 'octo', 'octo', 'tasks'],
            reinitiate,
          });
          const data = result.data as { results: Array<{ toolkit: string; connection_request_id?: string }> };
          // three connection requests before: one per repetition
          expect((await requests()).length - before).toBe(1);
          expect(data.results.map((entry) => entry.toolkit)).toEqual(['octo', 'tasks']);
          expect(await requests()).toContain(data.results[0]!.connection_request_id);
        }
      });

      it('in Composio names: one request, and the summary counts the toolkit once', async () => {
        const session = await setup('composio');
        const result = await session.execute('COMPOSIO_MANAGE_CONNECTIONS', {
          toolkits: ['octo', 'octo', 'tasks'],
          reinitiate_all: true,
        });
        const data = result.data as { summary: Record<string, number> };
        expect(data.summary).toEqual({
          total_toolkits: 2,
          active_connections: 1,
          initiated_connections: 1,
          failed_connections: 0,
        });
        expect(await requests()).toHaveLength(1);
      });
    });
  },
);
