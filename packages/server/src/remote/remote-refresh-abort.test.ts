import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Store, ToolMux } from '@toolmux/core';
import { openStore, openToolMuxStore } from '@toolmux/core/internal';
import {
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '@toolmux/core/test/oauth-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type RunningServer } from '../server.js';
import { recordingLogger, TEST_API_KEY, testStoreBackends } from '../test-helpers.js';

/**
 * `connectedAccounts.refresh(id, { signal })` in remote mode: the signal aborts the HTTP request, and
 * the server, whose client went away, stops waiting for the refresh (another instance's lease) and
 * reads the account no more for it.
 */

const directory = mkdtempSync(join(tmpdir(), 'toolmux-remote-refresh-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** A few of the server's lease polls (100 ms each): long enough for a poll that was still due to show. */
const AFTER_END_MS = 500;

describe.each(await testStoreBackends(directory))('remote connectedAccounts.refresh on $name', (backend) => {
  let oauth: TestOAuthServerWithCallback;
  let mux: ToolMux;
  let running: RunningServer;
  let remote: ToolMux;
  let other: Store;
  let cleanup: () => Promise<void> = async () => {};
  /** Ada's connected octo account. */
  let id: string;
  /** getConnectedAccount reads of the server's store. */
  let reads = 0;

  beforeAll(async () => {
    if (backend.skip) return;
    oauth = await startTestOAuthServerWithCallback();
    const store = await backend.store();
    cleanup = store.cleanup;
    mux = new ToolMux({
      toolkits: [octoToolkit(oauth).toolkit],
      store: store.spec,
      secretKey: randomBytes(32).toString('base64'),
      logger: recordingLogger(),
      accountCacheTtlMs: 0,
      oauthRedirectUri: oauth.redirectUri,
      managedAuth: { octo: { clientId: oauth.clientId, clientSecret: oauth.clientSecret } },
    });
    oauth.current = mux;
    const served = await openToolMuxStore(mux);
    const read = served.getConnectedAccount.bind(served);
    served.getConnectedAccount = (id) => {
      reads++;
      return read(id);
    };
    // ada's octo account, connected before the server serves the ToolMux (its links then lead to the
    // hosted connect page)
    const session = await mux.create('ada', { toolkits: ['octo'] });
    const request = await session.authorize('octo', { callbackUrl: 'http://localhost:3000/connected' });
    const callback = await fetch(await oauth.signIn(request.redirectUrl), { redirect: 'manual' });
    expect(new URL(callback.headers.get('location')!).searchParams.get('status')).toBe('success');
    id = request.connectedAccountId!;
    running = await createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger: recordingLogger() }).serve({
      port: 0,
    });
    remote = new ToolMux({ baseUrl: running.url, apiKey: TEST_API_KEY });
    other = await openStore(store.spec);
  });

  afterAll(async () => {
    if (backend.skip) return;
    await remote.close();
    await running.close();
    await mux.close();
    await other.close();
    await oauth.close();
    await cleanup();
  });

  it.skipIf(backend.skip !== undefined)(
    "aborting its signal aborts the request: it rejects with the signal's reason, and the server stops waiting for another instance's refresh",
    async () => {
      // another instance holds the account's refresh lease (for 45 s)
      const account = await other.getConnectedAccount(id);
      const now = new Date();
      expect(
        await other.acquireRefreshLease(id, account!.version, new Date(now.getTime() + 45_000), now),
      ).toBeDefined();

      const controller = new AbortController();
      const before = reads;
      const refreshing = remote.connectedAccounts.refresh(id, { signal: controller.signal });
      // the server polls the lease holder's progress: abort then
      while (reads < before + 3) await sleep(10);
      const reason = new Error('the operator left');
      controller.abort(reason);
      await expect(refreshing).rejects.toBe(reason);
      // the server sees the connection close a moment later, and from then on reads no more: the
      // count stands still for a few polls' time (it would grow every 100 ms while the server waits)
      let stoodStill = false;
      for (let look = 0; look < 20 && !stoodStill; look++) {
        const seen = reads;
        await sleep(AFTER_END_MS);
        stoodStill = reads === seen;
      }
      expect(stoodStill).toBe(true);
      expect(oauth.tokenRequests.refresh_token).toBe(0);
    },
  );
});
