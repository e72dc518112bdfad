import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MetaToolSlug, ToolMuxError } from '@toolmux/core';
import { createGmailLikeToolkit, createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';
import { ConnectedAccountSchema, EnsureConnectedSchema } from './auth-schemas.js';
import { WaitForConnectionsResultSchema } from './connection-wait-routes.js';
import { SearchResultSchema, SessionToolkitListSchema } from './schemas.js';

/**
 * Several accounts per toolkit through the server: the REST routes (aliases, rename, execute with
 * `account`), remote mode (the SDK over REST) and MCP (TOOLMUX_MULTI_EXECUTE_TOOL's tools[].account),
 * on SQLite and PostgreSQL.
 */

const MAILBOXES = {
  'key-work': 'ada@work.example',
  'key-personal': 'ada@home.example',
  'key-bob': 'bob@example.com',
};
const mail = { to: 'grace@example.com', subject: 'Hello', body: 'Hi Grace' };

// A PostgreSQL store needs a secret key that every instance shares.
process.env.TOOLMUX_SECRET_KEY ??= Buffer.alloc(32, 9).toString('base64');

const backends: Array<{
  name: string;
  skipReason: string | undefined;
  open(): Promise<{ spec: string; cleanup(): Promise<void> }>;
}> = [
  {
    name: 'sqlite',
    skipReason: undefined,
    async open() {
      const directory = mkdtempSync(join(tmpdir(), 'toolmux-multi-account-'));
      return {
        spec: `sqlite:${join(directory, 'toolmux.db')}`,
        cleanup: async () => rmSync(directory, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    skipReason: await postgresSkipReason(),
    async open() {
      const { url, cleanup } = await createTestPostgresUrl();
      return { spec: url, cleanup };
    },
  },
];

describe.each(backends)('several accounts per toolkit over the server on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'server', () => {
    let server: TestServer;
    let cleanup: () => Promise<void>;
    let configId: string;
    const gmail = createGmailLikeToolkit(MAILBOXES);

    async function call(method: string, path: string, body?: unknown) {
      const response = await fetch(`${server.url}/api/v1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${server.apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, json: text ? JSON.parse(text) : undefined };
    }

    beforeAll(async () => {
      const database = await open();
      cleanup = database.cleanup;
      server = await startTestServer({ toolkits: [gmail.toolkit], store: database.spec });
      const created = await call('POST', '/auth-configs', { toolkit: 'gmail', type: 'api_key' });
      expect(created.status).toBe(201);
      configId = created.json.id;
    });
    afterAll(async () => {
      await server.close();
      await cleanup();
    });

    it('REST: aliases on create, ALIAS_TAKEN, rename; execute by alias; required selection; other users refused', async () => {
      const create = (user: string, apiKey: string, alias: string) =>
        call('POST', '/connected-accounts', {
          user_id: user,
          auth_config_id: configId,
          credentials: { apiKey },
          alias,
        });
      const work = await create('rest_ada', 'key-work', 'work');
      expect(work.status).toBe(201);
      expect(ConnectedAccountSchema.parse(work.json).alias).toBe('work');
      expect((await create('rest_ada', 'key-personal', 'personal')).status).toBe(201);
      const bob = await create('rest_bob', 'key-bob', 'work');
      expect(bob.status).toBe(201);

      const taken = await create('rest_ada', 'key-x', 'work');
      expect(taken.status).toBe(409);
      expect(taken.json.error.code).toBe('ALIAS_TAKEN');
      expect(taken.json.error.message).toContain('"work"');
      const renamed = await call('PATCH', `/connected-accounts/${work.json.id}`, { alias: 'office' });
      expect(renamed.status).toBe(200);
      expect(renamed.json.alias).toBe('office');
      const clash = await call('PATCH', `/connected-accounts/${work.json.id}`, { alias: 'personal' });
      expect([clash.status, clash.json.error.code]).toEqual([409, 'ALIAS_TAKEN']);
      const bad = await call('PATCH', `/connected-accounts/${work.json.id}`, { alias: 'ca_1' });
      expect([bad.status, bad.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
      expect((await call('PATCH', `/connected-accounts/${work.json.id}`, { alias: 'work' })).status).toBe(
        200,
      );

      const session = await call('POST', '/sessions', {
        user_id: 'rest_ada',
        config: {
          authConfigs: { gmail: configId },
          multiAccount: { enable: true, requireExplicitSelection: true },
        },
      });
      expect(session.status).toBe(201);
      const id = session.json.session_id;
      const refused = await call('POST', `/sessions/${id}/execute`, {
        tool_slug: 'GMAIL_SEND_EMAIL',
        arguments: mail,
      });
      expect(refused.json).toMatchObject({ successful: false, code: 'ACCOUNT_SELECTION_REQUIRED' });
      expect(refused.json.error).toContain('"work"');
      expect(refused.json.error).toContain('"personal"');
      const sent = await call('POST', `/sessions/${id}/execute`, {
        tool_slug: 'GMAIL_SEND_EMAIL',
        arguments: mail,
        account: 'work',
      });
      expect(sent.json).toMatchObject({ successful: true, data: { from: 'ada@work.example' } });
      const other = await call('POST', `/sessions/${id}/execute`, {
        tool_slug: 'GMAIL_SEND_EMAIL',
        arguments: mail,
        account: bob.json.id,
      });
      expect(other.json).toMatchObject({ successful: false, code: 'ACCOUNT_NOT_IN_SESSION' });

      const toolkits = SessionToolkitListSchema.parse((await call('GET', `/sessions/${id}/toolkits`)).json);
      expect(toolkits.items[0]!.connection).toMatchObject({
        is_active: true,
        account_selection_required: true,
        accounts: [
          { alias: 'personal', is_default: false },
          { id: work.json.id, alias: 'work', is_default: false },
        ],
      });
      // connected, and no call runs without naming an account: no account is the calls' own
      const ensured = EnsureConnectedSchema.parse(
        (await call('POST', `/sessions/${id}/ensure-connected`, { toolkit: 'gmail' })).json,
      );
      expect(ensured).toMatchObject({ status: 'CONNECTED', account: null, account_selection_required: true });
      const waited = WaitForConnectionsResultSchema.parse(
        (
          await call('POST', `/sessions/${id}/wait-for-connections`, {
            toolkits: ['gmail'],
            timeout_seconds: 0,
          })
        ).json,
      ).toolkits.gmail!;
      expect(waited).toMatchObject({ status: 'CONNECTED', account_selection_required: true });
      expect(waited.connected_account_id).toBeUndefined();
      for (const accounts of [ensured.status === 'CONNECTED' ? ensured.accounts : undefined, waited.accounts])
        expect((accounts ?? []).map((account) => account.alias).sort()).toEqual(['personal', 'work']);
      expect(waited.message).toContain('POST /api/v1/sessions/:sessionId/execute');
      const search = SearchResultSchema.parse(
        (await call('POST', `/sessions/${id}/search`, { query: 'send an email' })).json,
      );
      expect(search.toolkit_connections[0]).toMatchObject({
        toolkit: 'gmail',
        account_selection_required: true,
      });
      expect(search.toolkit_connections[0]!.accounts!.map((account) => account.alias).sort()).toEqual([
        'personal',
        'work',
      ]);

      const authorize = await call('POST', `/sessions/${id}/authorize`, { toolkit: 'gmail', alias: 'work' });
      expect([authorize.status, authorize.json.error.code]).toEqual([409, 'ALIAS_TAKEN']);
      const invalid = await call('POST', '/sessions', {
        user_id: 'rest_ada',
        config: { multiAccount: { enable: true, maxAccountsPerToolkit: 11 } },
      });
      expect([invalid.status, invalid.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
      expect(invalid.json.error.message).toContain('multiAccount.maxAccountsPerToolkit');
    });

    it('remote mode: aliases, execute and multi-execute with account, errors with their codes', async () => {
      const remote = server.remote();
      const work = await remote.connectedAccounts.create(
        'remote_ada',
        configId,
        { apiKey: 'key-work' },
        { alias: 'work' },
      );
      expect(work.alias).toBe('work');
      const session = await remote.create('remote_ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true, requireExplicitSelection: true, maxAccountsPerToolkit: 2 },
      });
      const request = await session.authorize('gmail', { alias: 'personal' });
      const personal = await remote.connectionRequests.complete(request.id, { apiKey: 'key-personal' });
      expect(personal.alias).toBe('personal');
      const taken = await remote.connectedAccounts.update(personal.id, { alias: 'work' }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(ToolMuxError.isInstance(taken) && taken.code).toBe('ALIAS_TAKEN');
      const full = await session.authorize('gmail', { alias: 'third' }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(ToolMuxError.isInstance(full) && full.code).toBe('ACCOUNT_LIMIT_REACHED');

      expect(await session.execute('GMAIL_GET_PROFILE', {})).toMatchObject({
        successful: false,
        code: 'ACCOUNT_SELECTION_REQUIRED',
      });
      expect((await session.execute('GMAIL_GET_PROFILE', {}, { account: 'personal' })).data).toEqual({
        emailAddress: 'ada@home.example',
      });
      const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [
          { tool_slug: 'GMAIL_GET_PROFILE', arguments: {}, account: 'work' },
          { tool_slug: 'GMAIL_GET_PROFILE', arguments: {}, account: personal.id },
          { tool_slug: 'GMAIL_GET_PROFILE', arguments: {} },
        ],
      });
      const results = (multi.data as { results: Array<{ data: unknown; error: string | null }> }).results;
      expect(results.map((result) => result.data)).toEqual([
        { emailAddress: 'ada@work.example' },
        { emailAddress: 'ada@home.example' },
        null,
      ]);
      expect(results[2]!.error).toContain('"work"');
      const { items } = await session.toolkits();
      expect(items[0]!.connection.accountSelectionRequired).toBe(true);
      expect(items[0]!.connection.accounts!.map((account) => account.alias).sort()).toEqual([
        'personal',
        'work',
      ]);
      const other = await remote.connectedAccounts.create('remote_bob', configId, { apiKey: 'key-bob' });
      expect(await session.execute('GMAIL_GET_PROFILE', {}, { account: other.id })).toMatchObject({
        code: 'ACCOUNT_NOT_IN_SESSION',
      });
      const ensured = await session.ensureConnected('gmail', { alias: 'work' });
      expect(ensured).toEqual({
        status: 'CONNECTED',
        account: { id: work.id, status: 'ACTIVE', toolkit: 'gmail' },
      });
      // without an alias: connected, and each call must name one of the accounts
      const choosing = await session.ensureConnected('gmail');
      expect(choosing).toMatchObject({ status: 'CONNECTED', account: null, accountSelectionRequired: true });
      const waited = (await session.waitForConnections(['gmail'], { timeoutMs: 0 })).toolkits.gmail!;
      expect(waited).toMatchObject({ status: 'CONNECTED', account: null, accountSelectionRequired: true });
      for (const accounts of [
        choosing.status === 'CONNECTED' ? choosing.accounts : undefined,
        waited.accounts,
      ])
        expect((accounts ?? []).map((account) => account.alias).sort()).toEqual(['personal', 'work']);
      expect(waited.message).toContain('session.execute(slug, args, { account })');
    });

    it('MCP: the search result names the accounts, and multi-execute runs with tools[].account', async () => {
      const embedded = server.embedded;
      await embedded.connectedAccounts.create('mcp_ada', configId, { apiKey: 'key-work' }, { alias: 'work' });
      await embedded.connectedAccounts.create(
        'mcp_ada',
        configId,
        { apiKey: 'key-personal' },
        { alias: 'personal' },
      );
      const bob = await embedded.connectedAccounts.create('mcp_bob', configId, { apiKey: 'key-bob' });
      const session = await embedded.create('mcp_ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true, requireExplicitSelection: true },
      });
      const client = new Client({ name: 'toolmux-test', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(
          new URL(session.mcp.url.replace('http://localhost:8787', server.url)),
          {
            requestInit: { headers: session.mcp.headers },
          },
        ),
      );
      try {
        const json = (result: unknown) => {
          const [first] = (result as CallToolResult).content;
          return JSON.parse(first?.type === 'text' ? first.text : 'null');
        };
        const search = json(
          await client.callTool({
            name: MetaToolSlug.SEARCH_TOOLS,
            arguments: { queries: [{ use_case: 'send an email' }] },
          }),
        );
        const connection = (search.data ?? search).toolkit_connections[0];
        expect(connection).toMatchObject({ toolkit: 'gmail', account_selection_required: true });
        expect(connection.accounts.map((account: { alias: string }) => account.alias).sort()).toEqual([
          'personal',
          'work',
        ]);
        const ran = json(
          await client.callTool({
            name: MetaToolSlug.MULTI_EXECUTE_TOOL,
            arguments: {
              tools: [
                { tool_slug: 'GMAIL_SEND_EMAIL', arguments: mail, account: 'personal' },
                { tool_slug: 'GMAIL_SEND_EMAIL', arguments: mail },
                { tool_slug: 'GMAIL_SEND_EMAIL', arguments: mail, account: bob.id },
              ],
            },
          }),
        );
        const results = (ran.data ?? ran).results;
        expect(results[0]).toMatchObject({ successful: true, data: { from: 'ada@home.example' } });
        expect(results[1].successful).toBe(false);
        expect(results[1].error).toContain('"personal"');
        expect(results[2].successful).toBe(false);
        expect(results[2].error).toContain('is not a Gmail (gmail) account this session may use');
        expect(gmail.sent.filter((entry) => entry.from === 'bob@example.com')).toEqual([]);
      } finally {
        await client.close();
      }
    });
  });
});
