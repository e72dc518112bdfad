import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseBackends, pastTime } from '../test/auth-fixtures.js';
import {
  connectOcto,
  databasePerOAuthTest,
  type OctoCall,
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { ToolMux } from '../toolmux.js';
import { REFRESH_PATIENCE_MS } from './credentials.js';

/**
 * A token within a minute of its end is refreshed before a call uses it. A call whose token was still
 * valid waited for that refresh as long as it took: with a token endpoint that did not answer, every
 * call in the token's last minute took the whole OAuth request timeout (30 s by default), a tool
 * with a shorter timeout failed TOOL_TIMEOUT "still waiting for its connected account's credentials"
 * with a token valid for 50 s more, and a second instance, which waited for the first one's lease
 * and then made its own request, took both. Such a call now waits at most REFRESH_PATIENCE_MS after
 * the refresh started (and half its own time), then runs with the current token.
 */

const secretKey = Buffer.alloc(32, 12).toString('base64');

let oauthServer: TestOAuthServerWithCallback;
beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

/** A token endpoint held until the test lets it go (`release`), or answered at once while open. */
function tokenGate() {
  let release = () => {};
  let held: Promise<void> = Promise.resolve();
  let requests = 0;
  const fetchThrough: typeof fetch = async (input, init) => {
    if (String(input instanceof Request ? input.url : input) === oauthServer.tokenUrl) {
      requests++;
      await held;
    }
    return fetch(input, init);
  };
  return {
    fetch: fetchThrough,
    get requests() {
      return requests;
    },
    /** Token requests from now on wait until `release()`. */
    hold() {
      held = new Promise((done) => {
        release = done;
      });
    },
    release: () => release(),
  };
}

const backends = await databaseBackends();

describe.each(backends)('token refresh patience on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'refresh', () => {
    const { database, opened } = databasePerOAuthTest(open, () => oauthServer);

    /** A ToolMux whose octo tool has `timeoutMs`, with its token requests through `gate`. */
    function muxWith(gate: ReturnType<typeof tokenGate>, timeoutMs?: number) {
      const octo = octoToolkit(oauthServer);
      const toolkit = {
        ...octo.toolkit,
        tools: octo.toolkit.tools.map((tool) => ({ ...tool, ...(timeoutMs ? { timeoutMs } : {}) })),
      };
      const warnings: string[] = [];
      const mux = new ToolMux({
        toolkits: [toolkit],
        store: database.spec,
        secretKey,
        logger: { debug() {}, warn: (message: string) => void warnings.push(message), error() {} },
        oauthRedirectUri: oauthServer.redirectUri,
        managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
        fetch: gate.fetch,
        accountCacheTtlMs: 0,
      });
      opened.push(mux);
      oauthServer.current ??= mux;
      return { mux, calls: octo.calls as OctoCall[], warnings };
    }

    /** A session with a connected octo account whose token ends in `endsInMs`. */
    async function connectedWith(gate: ReturnType<typeof tokenGate>, endsInMs: number, timeoutMs?: number) {
      const made = muxWith(gate, timeoutMs);
      const session = await made.mux.create('user_1', { toolkits: ['octo'] });
      const accountId = await connectOcto(session, oauthServer);
      await database.exec(
        `UPDATE toolmux_connected_accounts SET expires_at = ${pastTime(database.spec, -endsInMs)} WHERE id = '${accountId}'`,
      );
      return { ...made, session, accountId };
    }

    async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
      const started = performance.now();
      const value = await run();
      return { value, ms: performance.now() - started };
    }

    it('a call with a valid token waits for a refresh that does not come back at most the patience, runs with its token, and the refresh ends without it', async () => {
      const gate = tokenGate();
      const { session, calls, mux, accountId, warnings } = await connectedWith(gate, 45_000);
      const before = gate.requests;
      const first = (await mux.connectedAccounts.get(accountId)).expiresAt!.getTime();
      gate.hold();
      const held = setTimeout(() => gate.release(), 10_000); // the code before waited for this
      try {
        const patient = await timed(() => session.execute('OCTO_WHOAMI', {}));
        expect(patient.value.successful, patient.value.error ?? '').toBe(true);
        expect(patient.ms).toBeGreaterThanOrEqual(REFRESH_PATIENCE_MS - 50);
        expect(patient.ms).toBeLessThan(REFRESH_PATIENCE_MS + 3_000);
        // a call while that refresh is still under way, past its patience, does not wait at all
        const next = await timed(() => session.execute('OCTO_WHOAMI', {}));
        expect(next.value.successful, next.value.error ?? '').toBe(true);
        expect(next.ms).toBeLessThan(REFRESH_PATIENCE_MS);
        expect(gate.requests - before).toBe(1);
        const oldToken = calls[0]!.credentials!.accessToken;
        expect(calls.map((call) => call.credentials!.accessToken)).toEqual([oldToken, oldToken]);
      } finally {
        clearTimeout(held);
        gate.release();
      }
      // the refresh finishes on its own and stores the new token, which the next call uses
      for (
        let waited = 0;
        (await mux.connectedAccounts.get(accountId)).expiresAt!.getTime() === first;
        waited++
      ) {
        if (waited > 100) throw new Error('the refresh did not store its token');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const after = await session.execute('OCTO_WHOAMI', {});
      expect(after.successful, after.error ?? '').toBe(true);
      expect(calls.at(-1)!.credentials!.accessToken).not.toBe(calls[0]!.credentials!.accessToken);
      expect(gate.requests - before).toBe(1);
      expect(warnings).toEqual([]);
    }, 30_000);

    it('a tool with a 1 s timeout runs with its valid token while the refresh hangs (it failed TOOL_TIMEOUT)', async () => {
      const gate = tokenGate();
      const { session } = await connectedWith(gate, 45_000, 1_000);
      gate.hold();
      try {
        const result = await timed(() => session.execute('OCTO_WHOAMI', {}));
        expect(result.value.successful, `${result.value.code}: ${result.value.error}`).toBe(true);
        // half the call's time at most
        expect(result.ms).toBeLessThan(1_000);
      } finally {
        gate.release();
      }
    });

    it("a second instance does not wait out the first one's hanging refresh and then make its own", async () => {
      const gate = tokenGate();
      const { session, calls, accountId } = await connectedWith(gate, 45_000);
      const other = muxWith(gate);
      const otherSession = await other.mux.use(session.sessionId);
      gate.hold();
      try {
        // the first instance takes the lease, and its token request hangs
        const first = session.execute('OCTO_WHOAMI', {});
        for (let waited = 0; ; waited++) {
          const rows = await database.rows(
            `SELECT refresh_lease_until FROM toolmux_connected_accounts WHERE id = '${accountId}'`,
          );
          if (rows[0]?.refresh_lease_until != null) break;
          if (waited > 200) throw new Error('the first instance took no lease');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const second = await timed(() => otherSession.execute('OCTO_WHOAMI', {}));
        expect(second.value.successful, second.value.error ?? '').toBe(true);
        expect(second.ms).toBeLessThan(REFRESH_PATIENCE_MS + 3_000);
        expect((await first).successful).toBe(true);
        // both ran with the token the account had
        expect(other.calls[0]!.credentials!.accessToken).toBe(calls[0]!.credentials!.accessToken);
      } finally {
        gate.release();
      }
    }, 30_000);

    it('a call whose token ends within the last quarter of the window waits for the refresh and runs with the new token', async () => {
      const gate = tokenGate();
      const { session, calls, mux, accountId } = await connectedWith(gate, 10_000);
      const first = (await mux.connectedAccounts.get(accountId)).expiresAt!.getTime();
      gate.hold();
      const released = setTimeout(() => gate.release(), REFRESH_PATIENCE_MS + 1_000);
      try {
        const result = await timed(() => session.execute('OCTO_WHOAMI', {}));
        expect(result.value.successful, result.value.error ?? '').toBe(true);
        expect(result.ms).toBeGreaterThanOrEqual(REFRESH_PATIENCE_MS + 900);
        expect((await mux.connectedAccounts.get(accountId)).expiresAt!.getTime()).toBeGreaterThan(first);
        expect(calls).toHaveLength(1);
      } finally {
        clearTimeout(released);
        gate.release();
      }
    }, 30_000);
  });
});
