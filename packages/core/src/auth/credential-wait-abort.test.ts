import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { Session } from '../session.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/types.js';
import { databaseBackends, databasePerTest, pastTime, quiet } from '../test/auth-fixtures.js';
import {
  type OctoCall,
  octoToolkit,
  signInToSuccess,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { ToolMux } from '../toolmux.js';

/**
 * A call that waits for its account's credentials (a token refresh another process holds the lease
 * of, or its own) ends when its caller aborts it, when `close()` stops it, or at its tool's timeout:
 * it answers at once and reads the store no more for it; a refresh other calls share, and a token
 * request under way, go on.
 */

const secretKey = Buffer.alloc(32, 13).toString('base64');
const appCallback = 'http://localhost:3000/connected';
/** A few of the loader's lease polls (100 ms each): long enough for a poll that was still due to show. */
const AFTER_END_MS = 500;

let server: TestOAuthServerWithCallback;

beforeAll(async () => {
  server = await startTestOAuthServerWithCallback();
});
afterAll(() => server.close());

const backends = await databaseBackends();

/** Resolves once `condition` holds (looked at every 10 ms). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}

/**
 * A place where a step of the ToolMux under test stops (`hook`, set as one of the hooks below):
 * `reached` resolves once the step got there, and it goes on at `release()`.
 */
function holdPoint(): { hook: () => Promise<void>; reached: Promise<void>; release: () => void } {
  const reached = Promise.withResolvers<void>();
  const released = Promise.withResolvers<void>();
  return {
    hook: async () => {
      reached.resolve();
      await released.promise;
    },
    reached: reached.promise,
    release: () => released.resolve(),
  };
}

describe.each(backends)('a call waiting for credentials on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'aborts', () => {
    const stores: Store[] = [];
    const { database, opened } = databasePerTest(open, {
      afterClose: async () => {
        await Promise.all(stores.splice(0).map((store) => store.close()));
        server.current = undefined;
      },
    });
    /** getConnectedAccount reads by the ToolMux under test. */
    let reads: number;
    /** Every store method the ToolMux under test called, in order. */
    let storeCalls: string[];
    /** Runs (once) before the next getConnectedAccount read of the ToolMux under test. */
    let beforeRead: (() => Promise<void>) | undefined;
    /** What the octo tools saw. */
    let octoCalls: OctoCall[];
    /** Runs (once) before a refresh_token request goes out to the token endpoint. */
    let beforeRefresh: (() => Promise<void>) | undefined;
    /** Runs (once) after the token endpoint answered a refresh_token request, before toolmux reads it. */
    let afterRefresh: (() => Promise<void>) | undefined;
    /** Runs (once) before a request to the provider's userinfo endpoint (what OCTO_WHOAMI calls). */
    let beforeUserinfo: (() => Promise<void>) | undefined;
    /** The access tokens refresh_token requests got. */
    let refreshed: string[];

    beforeEach(() => {
      reads = 0;
      storeCalls = [];
      beforeRead = undefined;
      beforeRefresh = afterRefresh = beforeUserinfo = undefined;
      refreshed = [];
    });

    const hookedFetch: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const isRefresh = url.endsWith('/token') && String(init?.body).includes('grant_type=refresh_token');
      if (isRefresh) {
        const hook = beforeRefresh;
        beforeRefresh = undefined;
        await hook?.();
      }
      if (url === server.userinfoUrl) {
        const hook = beforeUserinfo;
        beforeUserinfo = undefined;
        await hook?.();
      }
      const response = await fetch(input, init);
      if (isRefresh) {
        const body = (await response.clone().json()) as { access_token?: string };
        if (body.access_token) refreshed.push(body.access_token);
        const hook = afterRefresh;
        afterRefresh = undefined;
        await hook?.();
      }
      return response;
    };

    /** The real store, its calls recorded and its getConnectedAccount reads counted. */
    async function countingStore(): Promise<Store> {
      const real = await openStore(database.spec);
      stores.push(real);
      return new Proxy(real, {
        get(target, property) {
          const value = Reflect.get(target, property, target);
          if (typeof value !== 'function') return value;
          const method = value as (...args: unknown[]) => Promise<unknown>;
          if (property !== 'getConnectedAccount') {
            return (...args: unknown[]) => {
              storeCalls.push(String(property));
              return method.call(target, ...args);
            };
          }
          return async (...args: unknown[]) => {
            storeCalls.push(property);
            reads++;
            const hook = beforeRead;
            beforeRead = undefined;
            await hook?.();
            return method.call(target, ...args);
          };
        },
      });
    }

    /** Another process on the same database: a store of its own. */
    async function anotherProcess(): Promise<Store> {
      const other = await openStore(database.spec);
      stores.push(other);
      return other;
    }

    async function setup(options: { quickTimeoutMs?: number } = {}): Promise<ToolMux> {
      const octo = octoToolkit(server);
      octoCalls = octo.calls;
      // OCTO_QUICK: the same provider, under a short timeout
      const quick = defineTool({
        slug: 'OCTO_QUICK',
        description: 'Answers at once.',
        inputSchema: z.object({}),
        timeoutMs: options.quickTimeoutMs ?? 60_000,
        execute: async (_input, context) => ({ token: Boolean(context.credentials?.accessToken) }),
      });
      const toolkit = defineToolkit({
        slug: 'octo',
        name: 'Octo',
        description: 'The test OAuth provider.',
        baseUrl: octo.toolkit.baseUrl,
        tools: [...octo.toolkit.tools, quick],
        auth: [...octo.toolkit.auth],
      });
      const mux = new ToolMux({
        toolkits: [toolkit],
        store: await countingStore(),
        secretKey,
        logger: quiet,
        fetch: hookedFetch,
        accountCacheTtlMs: 0,
        oauthRedirectUri: server.redirectUri,
        managedAuth: { octo: { clientId: server.clientId, clientSecret: server.clientSecret } },
      });
      opened.push(mux);
      server.current = mux;
      return mux;
    }

    /** Ada's session and her connected octo account. */
    async function connect(mux: ToolMux) {
      const session = await mux.create('ada', { toolkits: ['octo'] });
      const request = await session.authorize('octo', { callbackUrl: appCallback });
      return { session, id: await signInToSuccess(server, request) };
    }

    /** Makes the account's access token expired, so that the next call refreshes it. */
    async function expire(id: string): Promise<void> {
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, 1000)} WHERE id = '${id}'`,
      );
    }

    /** Takes the account's refresh lease (for 45 s) as another process would, through its own store. */
    async function holdLease(other: Store, id: string): Promise<void> {
      const account = await other.getConnectedAccount(id);
      const now = new Date();
      const leased = await other.acquireRefreshLease(
        id,
        account!.version,
        new Date(now.getTime() + 45_000),
        now,
      );
      expect(leased).toBeDefined();
    }

    /** The call answered, then a few lease polls' time passed without one more read of the account. */
    async function expectNoReadsAfter(): Promise<void> {
      const atEnd = reads;
      await sleep(AFTER_END_MS);
      expect(reads).toBe(atEnd);
    }

    /**
     * A refresh whose caller aborted during its token request stored the new tokens and let go of its
     * lease; the next call uses them, without another refresh.
     */
    async function expectTokensKept(session: Session, id: string): Promise<void> {
      await until(() => refreshed.length === 1);
      for (;;) {
        const [row] = await database.rows(
          `SELECT refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${id}'`,
        );
        if (row?.refresh_lease_until === null) break;
        await sleep(10);
      }
      const result = await session.execute('OCTO_WHOAMI', {});
      expect(result.successful).toBe(true);
      expect(octoCalls.at(-1)!.credentials!.accessToken).toBe(refreshed[0]);
      expect(refreshed).toHaveLength(1);
    }

    /** The error code of a call's execution log entry. */
    async function loggedCode(logId: string): Promise<unknown> {
      const [row] = await database.rows(
        `SELECT error_code FROM toolmux_execution_logs WHERE id = '${logId}'`,
      );
      return row?.error_code;
    }

    it("a call waiting for another process's refresh answers TOOL_ABORTED when its caller aborts, and stops reading the account", async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      await expire(id);
      await holdLease(await anotherProcess(), id);
      const controller = new AbortController();
      const before = reads;
      const call = session.execute('OCTO_WHOAMI', {}, { signal: controller.signal });
      // it polls the lease holder's progress: abort it then (after about 100 ms)
      await until(() => reads >= before + 2);
      controller.abort();
      const result = await call;
      expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
      expect(result.error).toContain('OCTO_WHOAMI');
      expect(result.error).toContain('aborted by the caller while it waited for');
      expect(result.error).toContain('so it did not run.');
      expect(octoCalls).toHaveLength(0);
      await expectNoReadsAfter();
      expect(await loggedCode(result.logId)).toBe('TOOL_ABORTED');
    });

    it("proxyExecute waiting for another process's refresh ends when its signal aborts, and stops reading the account", async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      await expire(id);
      await holdLease(await anotherProcess(), id);
      const controller = new AbortController();
      const before = reads;
      const proxied = session.proxyExecute({ toolkit: 'octo', endpoint: '/me', signal: controller.signal });
      await until(() => reads >= before + 2);
      controller.abort(new Error('the user left'));
      await expect(proxied).rejects.toThrow('the user left');
      await expectNoReadsAfter();
    });

    it('a call aborted before it looks for credentials does not read the account', async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      await expire(id);
      const controller = new AbortController();
      controller.abort();
      const before = reads;
      const result = await session.execute('OCTO_WHOAMI', {}, { signal: controller.signal });
      expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
      expect(result.error).toContain('OCTO_WHOAMI was aborted before it started');
      expect(reads).toBe(before);
      expect(refreshed).toHaveLength(0);
    });

    it('a renewal (the provider refused the token) waiting for another process answers TOOL_ABORTED when its caller aborts', async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      // the provider signs the token out: the next call is refused and renews while the lease is held
      await server.revokeAccessToken(octoCalls.at(-1)!.credentials!.accessToken!);
      await holdLease(await anotherProcess(), id);
      const controller = new AbortController();
      const call = session.execute('OCTO_WHOAMI', {}, { signal: controller.signal });
      await until(() => octoCalls.length === 2);
      const before = reads;
      await until(() => reads >= before + 2);
      controller.abort();
      const result = await call;
      expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
      expect(result.error).toContain('OCTO_WHOAMI');
      expect(result.error).toContain('aborted by the caller while it waited for');
      expect(result.error).toContain('so it did not run again.');
      expect(octoCalls).toHaveLength(2); // not run once more
      await expectNoReadsAfter();
    });

    it("a final renewal waiting for another process's refresh to settle answers TOOL_ABORTED when its caller aborts", async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      expect((await session.execute('OCTO_WHOAMI', {})).successful).toBe(true);
      await server.revokeAccessToken(octoCalls.at(-1)!.credentials!.accessToken!);
      const other = await anotherProcess();
      // the call's own refresh gets a token the provider refuses too; as the call runs with it, another
      // process takes the lease, so the final renewal waits for that refresh to settle
      afterRefresh = async () => {
        await server.revokeAccessToken(refreshed.at(-1)!);
        beforeUserinfo = () => holdLease(other, id);
      };
      const controller = new AbortController();
      const call = session.execute('OCTO_WHOAMI', {}, { signal: controller.signal });
      await until(() => octoCalls.length === 3);
      const before = reads;
      await until(() => reads >= before + 2);
      controller.abort();
      const result = await call;
      expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
      expect(result.error).toContain('aborted by the caller');
      expect(refreshed).toHaveLength(1);
      await expectNoReadsAfter();
      // not marked EXPIRED: the call ended before it knew what the other refresh did
      expect((await mux.connectedAccounts.get(id)).status).toBe('ACTIVE');
    });

    it('one caller of a shared refresh aborting ends only its own wait; the other gets the token the lease holder stored', async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      await expire(id);
      const other = await anotherProcess();
      await holdLease(other, id);
      const controller = new AbortController();
      const before = reads;
      const aborted = session.execute('OCTO_WHOAMI', {}, { signal: controller.signal });
      const waiting = session.execute('OCTO_WHOAMI', {});
      await until(() => reads >= before + 3);
      controller.abort();
      expect(await aborted).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
      // the other caller still waits: its refresh keeps looking at the store
      const atAbort = reads;
      await until(() => reads >= atAbort + 2);
      // the lease holder is done: the token is good for an hour (the provider's one still works)
      const account = await other.getConnectedAccount(id);
      await other.updateConnectedAccount(
        id,
        { refreshLeaseUntil: null, expiresAt: new Date(Date.now() + 3600_000) },
        account!.version,
      );
      const result = await waiting;
      expect(result.error).toBeNull();
      expect(result.successful).toBe(true);
      expect(refreshed).toHaveLength(0);
    });

    it('a caller aborting during its own token request answers at once; the refresh goes on and its tokens are kept', async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      await expire(id);
      const hold = holdPoint();
      beforeRefresh = hold.hook;
      const controller = new AbortController();
      const call = session.execute('OCTO_WHOAMI', {}, { signal: controller.signal });
      await hold.reached;
      controller.abort();
      // answered while its token request is still held
      expect(await call).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
      hold.release();
      await expectTokensKept(session, id);
    });

    it("close() stops a call waiting for another process's refresh past its timeout: TOOL_ABORTED, no more reads", async () => {
      const mux = await setup();
      const { session, id } = await connect(mux);
      await expire(id);
      await holdLease(await anotherProcess(), id);
      const before = reads;
      const call = session.execute('OCTO_WHOAMI', {});
      await until(() => reads >= before + 2);
      await mux.close({ timeoutMs: 50 });
      const result = await call;
      expect(result).toMatchObject({ successful: false, code: 'TOOL_ABORTED' });
      expect(result.error).toContain('OCTO_WHOAMI was stopped: its ToolMux was closed');
      await expectNoReadsAfter();
    });

    it("the wait for another process's refresh counts against the tool's timeout", async () => {
      const mux = await setup({ quickTimeoutMs: 300 });
      const { session, id } = await connect(mux);
      await expire(id);
      await holdLease(await anotherProcess(), id);
      const result = await session.execute('OCTO_QUICK', {});
      expect(result).toMatchObject({ successful: false, code: 'TOOL_TIMEOUT' });
      expect(result.error).toContain('OCTO_QUICK');
      expect(result.error).toContain('300 ms');
      await expectNoReadsAfter();
    });

    describe('connectedAccounts.refresh({ signal })', () => {
      it("waiting for another process's refresh rejects with the signal's reason when it aborts, and stops reading the account", async () => {
        const mux = await setup();
        const { id } = await connect(mux);
        await holdLease(await anotherProcess(), id);
        const controller = new AbortController();
        const before = reads;
        const refreshing = mux.connectedAccounts.refresh(id, { signal: controller.signal });
        // it polls the lease holder's progress: abort it then
        await until(() => reads >= before + 3);
        const reason = new Error('the operator left');
        controller.abort(reason);
        await expect(refreshing).rejects.toBe(reason);
        await expectNoReadsAfter();
        expect(refreshed).toHaveLength(0);
      });

      it('aborted already: rejects with its reason and reads nothing', async () => {
        const mux = await setup();
        const { id } = await connect(mux);
        const before = storeCalls.length;
        await expect(mux.connectedAccounts.refresh(id, { signal: AbortSignal.abort('gone') })).rejects.toBe(
          'gone',
        );
        expect(storeCalls.slice(before)).toEqual([]);
        expect(refreshed).toHaveLength(0);
      });

      it('aborted while it reads the account: rejects at once, and reads nothing more once that read is done', async () => {
        const mux = await setup();
        const { id } = await connect(mux);
        const hold = holdPoint();
        beforeRead = hold.hook;
        const controller = new AbortController();
        const before = storeCalls.length;
        const refreshing = mux.connectedAccounts.refresh(id, { signal: controller.signal });
        await hold.reached;
        controller.abort();
        // answered while the read is still held
        await expect(refreshing).rejects.toMatchObject({ name: 'AbortError' });
        hold.release();
        await sleep(AFTER_END_MS);
        expect(storeCalls.slice(before)).toEqual(['getConnectedAccount']);
        expect(refreshed).toHaveLength(0);
      });

      it('aborted during its token request: rejects at once; the refresh goes on and its tokens are stored', async () => {
        const mux = await setup();
        const { session, id } = await connect(mux);
        const hold = holdPoint();
        beforeRefresh = hold.hook;
        const controller = new AbortController();
        const refreshing = mux.connectedAccounts.refresh(id, { signal: controller.signal });
        await hold.reached;
        controller.abort();
        // answered while its token request is still held
        await expect(refreshing).rejects.toMatchObject({ name: 'AbortError' });
        hold.release();
        await expectTokensKept(session, id);
      });

      it('one of two callers aborting ends only its own wait: the other gets the account the lease holder refreshed', async () => {
        const mux = await setup();
        const { id } = await connect(mux);
        const other = await anotherProcess();
        await holdLease(other, id);
        const first = new AbortController();
        const second = new AbortController();
        const before = reads;
        const aborted = mux.connectedAccounts.refresh(id, { signal: first.signal });
        const waiting = mux.connectedAccounts.refresh(id, { signal: second.signal });
        await until(() => reads >= before + 3);
        first.abort();
        await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
        // the other caller still waits: the shared refresh keeps looking at the store
        const atAbort = reads;
        await until(() => reads >= atAbort + 2);
        const expiresAt = new Date(Date.now() + 3600_000);
        const account = await other.getConnectedAccount(id);
        await other.updateConnectedAccount(id, { refreshLeaseUntil: null, expiresAt }, account!.version);
        const result = await waiting;
        expect(result).toMatchObject({ id, status: 'ACTIVE' });
        expect(result.expiresAt?.getTime()).toBe(expiresAt.getTime());
        expect(refreshed).toHaveLength(0);
      });
    });
  });
});
