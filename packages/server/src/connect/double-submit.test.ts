import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { createServer } from '../server.js';
import { recordingLogger, TEST_API_KEY, testStoreBackends } from '../test-helpers.js';

/**
 * A double click on the hosted credentials form: the browser sends the same form twice at once, to one
 * instance or (behind a load balancer) to two on the same store. One submission connects the account;
 * the other must say so too, with the way back to the application, never "Link already used".
 */

const APP_CALLBACK = 'http://localhost:3000/connected';
const backends = await testStoreBackends(mkdtempSync(join(tmpdir(), 'toolmux-double-submit-')));

describe.each(backends)('the credentials form sent twice at once on $name', ({ skip, store }) => {
  it.skipIf(skip !== undefined)(
    'connects one account, and both answers say it is connected',
    async () => {
      const database = await store();
      const secretKey = randomBytes(32).toString('base64');
      const instances = await Promise.all(
        [0, 1].map(async () => {
          const mux = new ToolMux({
            toolkits: createSampleToolkits().toolkits,
            store: database.spec,
            secretKey,
            baseUrl: 'http://localhost:8787',
            logger: recordingLogger(),
          });
          const running = await createServer({
            toolmux: mux,
            apiKey: TEST_API_KEY,
            logger: recordingLogger(),
          }).serve({
            port: 0,
          });
          return { mux, running };
        }),
      );
      const [first, second] = instances as [(typeof instances)[0], (typeof instances)[0]];
      try {
        const configId = (await first.mux.authConfigs.create('mail', { type: 'api_key' })).id;
        for (let round = 0; round < 30; round++) {
          const userId = `user_double_click_${round}`;
          const request = await first.mux.connectedAccounts.link(userId, configId, {
            callbackUrl: APP_CALLBACK,
          });
          // even rounds: both clicks reach one instance; odd rounds: one each
          const targets = round % 2 === 0 ? [first, first] : [first, second];
          const answers = await Promise.all(
            targets.map(({ running }) =>
              fetch(`${running.url}/connect/${request.id}`, {
                method: 'POST',
                headers: { 'content-type': 'application/x-www-form-urlencoded' },
                body: 'apiKey=sk_double_click',
                redirect: 'manual',
              }),
            ),
          );
          const accounts = (await first.mux.connectedAccounts.list({ userIds: [userId] })).items;
          expect(accounts, `round ${round}`).toHaveLength(1);
          const accountId = accounts[0]!.id;
          const redirected = answers.filter((answer) => answer.status === 303);
          expect(redirected, `round ${round}`).toHaveLength(1);
          expect(
            new URL(redirected[0]!.headers.get('location')!).searchParams.get('connected_account_id'),
          ).toBe(accountId);
          // the other one: the account is connected, with the way back (it was "Link already used")
          const shown = answers.find((answer) => answer.status !== 303)!;
          const html = await shown.text();
          expect({ round, status: shown.status, title: /<h1>(.*)<\/h1>/.exec(html)?.[1] }).toEqual({
            round,
            status: 200,
            title: 'Mail is connected',
          });
          expect(html).toContain(`connected_account_id=${accountId}`);
          expect(html).toContain('what was sent again was not used');
        }
      } finally {
        for (const { mux, running } of instances) {
          await running.close();
          await mux.close();
        }
        await database.cleanup();
      }
    },
    120_000,
  );
});
