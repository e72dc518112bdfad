import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composioClientOf } from '../test-composio.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Composio's multi-account sessions on toolmux's `multiAccount`: `authorize()` with an alias adds an
 * account, `execute()` with `account` picks one, search lists them.
 */

let server: TestServer;
let sample: ReturnType<typeof createSampleToolkits>;

beforeAll(async () => {
  sample = createSampleToolkits();
  server = await startTestServer({ toolkits: sample.toolkits });
});
afterAll(() => server.close());

/** Sends the hosted connect page's credentials form, as the user's browser would. */
async function submitConnectForm(redirectUrl: string, fields: Record<string, string>) {
  const html = await (await fetch(redirectUrl)).text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  expect(action).toBeDefined();
  const response = await fetch(new URL(action!, redirectUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  expect(response.status).toBe(303);
}

describe('multiAccount of @composio/core', () => {
  it('connects two accounts by alias and runs each call with the one it names', async () => {
    const composio = composioClientOf(server);
    const session = await composio.create('user_accounts', {
      toolkits: ['mail'],
      multiAccount: { enable: true, maxAccountsPerToolkit: 3, requireExplicitSelection: true },
    });
    expect(session.config).toMatchObject({
      multi_account: { enable: true, max_accounts_per_toolkit: 3, require_explicit_selection: true },
    });

    const ids: Record<string, string> = {};
    for (const [alias, key] of [
      ['work', 'sk_work'],
      ['home', 'sk_home'],
    ] as const) {
      const request = await session.authorize('mail', { alias });
      const waiting = request.waitForConnection(20_000);
      await submitConnectForm(request.redirectUrl!, { apiKey: key });
      const account = await waiting;
      // the account answers with the alias it was connected under (Composio's `alias`)
      expect(account).toMatchObject({ status: 'ACTIVE', alias });
      ids[alias] = account.id;
    }
    expect((await composio.connectedAccounts.get(ids.work!)).alias).toBe('work');

    const search = await session.search({ query: 'send an email' });
    expect(search.toolkitConnectionStatuses.map((entry) => entry.toolkit)).toContain('mail');
    const raw = await (
      await fetch(`${server.url}/api/v3.1/tool_router/session/${session.sessionId}/search`, {
        method: 'POST',
        headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ queries: [{ use_case: 'send an email' }] }),
      })
    ).json();
    const status = raw.toolkit_connection_statuses.find(
      (entry: { toolkit: string }) => entry.toolkit === 'mail',
    );
    expect(status).toMatchObject({ account_selection: 'required' });
    expect(status.accounts.map((account: { alias: string }) => account.alias).sort()).toEqual([
      'home',
      'work',
    ]);

    const args = { to: 'a@example.com', subject: 'Hi', body: 'Hello' };
    // several accounts and explicit selection: a call without one is refused, readably
    const unnamed = await session.execute('MAIL_SEND_EMAIL', args);
    expect(unnamed.error).toMatch(/account/i);
    const byAlias = await session.execute('MAIL_SEND_EMAIL', args, { account: 'home' });
    expect(byAlias.error).toBeNull();
    expect(sample.calls.at(-1)?.context.credentials).toMatchObject({ apiKey: 'sk_home' });
    const byId = await session.execute('MAIL_SEND_EMAIL', args, { account: ids.work! });
    expect(byId.error).toBeNull();
    expect(sample.calls.at(-1)?.context.credentials).toMatchObject({ apiKey: 'sk_work' });
  });
});

describe('GET /api/v3.1/connected_accounts/cr_… (what waitForConnection() polls)', () => {
  it('answers when the request was made, and the same auth config, before and after it is connected', async () => {
    const composio = composioClientOf(server);
    const session = await composio.create('user_request_times', { toolkits: ['mail'] });
    const before = Date.now();
    const request = await session.authorize('mail');
    const after = Date.now();
    expect(request.id).toMatch(/^cr_/);
    const get = async () =>
      (
        await fetch(`${server.url}/api/v3.1/connected_accounts/${request.id}`, {
          headers: { 'x-api-key': server.apiKey },
        })
      ).json();

    const pending = await get();
    expect(pending.status).toBe('INITIATED');
    // the time the request was made (it was its expiry, 10 minutes ahead)
    for (const field of ['created_at', 'updated_at']) {
      const time = Date.parse(pending[field]);
      expect(time, field).toBeGreaterThanOrEqual(before - 1000);
      expect(time, field).toBeLessThanOrEqual(after + 1000);
    }

    const waiting = request.waitForConnection(20_000);
    await submitConnectForm(request.redirectUrl!, { apiKey: 'sk_times' });
    await waiting;
    const active = await get();
    expect(active.status).toBe('ACTIVE');
    // one auth config, described alike while INITIATED and once ACTIVE
    expect(pending.auth_config).toEqual(active.auth_config);
  });
});
