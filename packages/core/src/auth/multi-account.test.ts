import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useHostedConnectPage } from '../internal.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { databaseBackends, type OpenedDatabase, quiet, rejection } from '../test/auth-fixtures.js';
import { createGmailLikeToolkit } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

/**
 * Several accounts per toolkit (docs/sessions.md): aliases, `execute(…, { account })`,
 * `tools[].account` of TOOLMUX_MULTI_EXECUTE_TOOL, the accounts TOOLMUX_SEARCH_TOOLS and
 * `toolkits()` list, required selection, the account limit, and accounts a session may not use.
 */

const MAILBOXES = {
  'key-work': 'ada@work.example',
  'key-personal': 'ada@home.example',
  'key-other-user': 'bob@example.com',
};
const mail = { to: 'grace@example.com', subject: 'Hello', body: 'Hi Grace' };

const backends = await databaseBackends();

describe.each(backends)('several accounts per toolkit on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'sdk', () => {
    let database: OpenedDatabase;
    let mux: ToolMux;
    let gmail: ReturnType<typeof createGmailLikeToolkit>;
    let configId: string;

    beforeEach(async () => {
      database = await open();
      gmail = createGmailLikeToolkit(MAILBOXES);
      mux = new ToolMux({
        toolkits: [gmail.toolkit],
        store: database.spec,
        logger: quiet,
        secretKey: Buffer.alloc(32, 7).toString('base64'),
      });
      configId = (await mux.authConfigs.create('gmail', { type: 'api_key' })).id;
    });
    afterEach(async () => {
      await mux.close();
      await database.cleanup();
    });

    /** Ada's two Gmail accounts, `work` connected first, `personal` last. */
    async function twoAccounts() {
      const work = await mux.connectedAccounts.create(
        'ada',
        configId,
        { apiKey: 'key-work' },
        { alias: 'work' },
      );
      const personal = await mux.connectedAccounts.create(
        'ada',
        configId,
        { apiKey: 'key-personal' },
        { alias: 'personal' },
      );
      return { work, personal };
    }

    it('a session with multiAccount off (turned off, or created off) takes later updates of other fields', async () => {
      // the stored config holds the defaults of a session that is off (maxAccountsPerToolkit 5);
      // update() merged them back in as if given, and refused every later update with CONFIG_CONFLICT
      const turnedOff = await mux.create('ada', { multiAccount: { enable: true, maxAccountsPerToolkit: 3 } });
      await turnedOff.update({ multiAccount: { enable: false } });
      const createdOff = await mux.create('ada', { multiAccount: { enable: false } });
      for (const session of [turnedOff, createdOff]) {
        await session.update({ metadata: { step: 'one' } });
        await (await mux.use(session.sessionId)).update({ metadata: { step: 'two' } });
        const stored = await mux.use(session.sessionId);
        expect(stored.metadata).toEqual({ step: 'two' });
        expect(stored.config.multiAccount).toEqual({
          enable: false,
          maxAccountsPerToolkit: 5,
          requireExplicitSelection: false,
        });
      }
      // turned on again, the count comes back from the update, not from before
      await (await mux.use(turnedOff.sessionId)).update({ multiAccount: { enable: true } });
      expect((await mux.use(turnedOff.sessionId)).config.multiAccount?.maxAccountsPerToolkit).toBe(5);
    });

    it('runs a call with the account named by alias or id; without one, the most recently connected', async () => {
      const { work, personal } = await twoAccounts();
      expect(work.alias).toBe('work');
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true },
      });
      const byAlias = await session.execute('GMAIL_SEND_EMAIL', mail, { account: 'work' });
      expect(byAlias).toMatchObject({ successful: true, data: { from: 'ada@work.example' } });
      const byId = await session.execute('GMAIL_SEND_EMAIL', mail, { account: personal.id });
      expect(byId.data).toMatchObject({ from: 'ada@home.example' });
      const byDefault = await session.execute('GMAIL_SEND_EMAIL', mail);
      expect(byDefault.data).toMatchObject({ from: 'ada@home.example' });
      expect((await session.logs()).items.map((entry) => entry.connectedAccountId)).toEqual([
        personal.id,
        personal.id,
        work.id,
      ]);

      // TOOLMUX_MULTI_EXECUTE_TOOL: tools[].account, each call with its own account
      const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [
          { tool_slug: 'GMAIL_GET_PROFILE', arguments: {}, account: 'work' },
          { tool_slug: 'GMAIL_GET_PROFILE', arguments: {}, account: 'personal' },
          { tool_slug: 'GMAIL_GET_PROFILE', arguments: {} },
        ],
      });
      expect(multi.successful).toBe(true);
      const results = (multi.data as { results: Array<{ data: { emailAddress: string } }> }).results;
      expect(results.map((result) => result.data.emailAddress)).toEqual([
        'ada@work.example',
        'ada@home.example',
        'ada@home.example',
      ]);
    });

    it('lists each toolkit’s usable accounts in TOOLMUX_SEARCH_TOOLS and toolkits()', async () => {
      const { work, personal } = await twoAccounts();
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true },
      });
      const search = await session.execute(MetaToolSlug.SEARCH_TOOLS, {
        queries: [{ use_case: 'send an email' }],
      });
      const data = search.data as {
        toolkit_connections: Array<Record<string, unknown>>;
        next_steps: string;
      };
      expect(data.toolkit_connections).toEqual([
        {
          toolkit: 'gmail',
          connected: true,
          connected_account_id: personal.id,
          accounts: [
            { id: personal.id, alias: 'personal', is_default: true },
            { id: work.id, alias: 'work', is_default: false },
          ],
          account_selection_required: false,
        },
      ]);
      expect(data.next_steps).toContain('several accounts of gmail');
      const { items } = await session.toolkits();
      expect(items[0]!.connection).toMatchObject({
        isActive: true,
        accounts: [
          { id: personal.id, alias: 'personal', isDefault: true },
          { id: work.id, alias: 'work', isDefault: false },
        ],
        accountSelectionRequired: false,
      });
      // a disabled account is not usable, so not listed
      await mux.connectedAccounts.disable(work.id);
      const after = await session.toolkits();
      expect(after.items[0]!.connection.accounts?.map((account) => account.alias)).toEqual(['personal']);
    });

    it('with requireExplicitSelection, refuses a call without account and names the aliases', async () => {
      await twoAccounts();
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true, requireExplicitSelection: true },
      });
      const refused = await session.execute('GMAIL_SEND_EMAIL', mail);
      expect(refused).toMatchObject({ successful: false, code: 'ACCOUNT_SELECTION_REQUIRED' });
      expect(refused.error).toContain('"work"');
      expect(refused.error).toContain('"personal"');
      expect(gmail.sent).toEqual([]);
      const search = (
        await session.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'send an email' }] })
      ).data as { toolkit_connections: Array<Record<string, unknown>>; next_steps: string };
      // the user is connected: the agent must only say which account
      expect(search.toolkit_connections[0]).toMatchObject({
        connected: true,
        account_selection_required: true,
      });
      expect(search.next_steps).not.toContain('not connected');
      expect((await session.toolkits()).items[0]!.connection.isActive).toBe(true);
      const manage = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['gmail'] });
      expect((manage.data as { results: Array<{ connected: boolean }> }).results[0]!.connected).toBe(true);
      expect(
        (search.toolkit_connections[0]!.accounts as Array<{ is_default: boolean }>).some(
          (account) => account.is_default,
        ),
      ).toBe(false);
      expect(search.next_steps).toContain('you must choose');
      // connected, yet no account is the one the calls use: ensureConnected and the waits say a
      // call must name one (before: CONNECTED with the newest account, "its tools are ready to use")
      const ensured = await session.ensureConnected('gmail');
      expect(ensured).toMatchObject({ status: 'CONNECTED', account: null, accountSelectionRequired: true });
      const aliases = (accounts: Array<{ alias: string | null }> | undefined) =>
        (accounts ?? []).map((account) => account.alias).sort();
      expect(aliases(ensured.status === 'CONNECTED' ? ensured.accounts : undefined)).toEqual([
        'personal',
        'work',
      ]);
      const waited = (await session.waitForConnections(['gmail'], { timeoutMs: 0 })).toolkits.gmail!;
      expect(waited).toMatchObject({ status: 'CONNECTED', account: null, accountSelectionRequired: true });
      expect(aliases(waited.accounts)).toEqual(['personal', 'work']);
      expect(waited.message).toContain('session.execute(slug, args, { account })');
      expect(waited.message).not.toContain('ready to use');
      const waiting = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true, requireExplicitSelection: true },
        manageConnections: { waitForConnections: true },
      });
      const viaTool = (
        (
          await waiting.execute(MetaToolSlug.WAIT_FOR_CONNECTIONS, {
            toolkits: ['gmail'],
            timeout_seconds: 0,
          })
        ).data as { toolkits: Record<string, Record<string, unknown>> }
      ).toolkits.gmail!;
      expect(viaTool).toMatchObject({ status: 'CONNECTED', account_selection_required: true });
      expect(viaTool).not.toHaveProperty('connected_account_id');
      expect(aliases(viaTool.accounts as Array<{ alias: string | null }>)).toEqual(['personal', 'work']);
      expect(viaTool.message).toContain(MetaToolSlug.MULTI_EXECUTE_TOOL);
      expect(viaTool.message).not.toContain('ready to use');
      // TOOLMUX_MANAGE_CONNECTIONS says the same: connected, and each call names an account
      const managed = (
        (await waiting.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['gmail'] })).data as {
          results: Array<Record<string, unknown>>;
        }
      ).results[0]!;
      expect(managed).toMatchObject({ connected: true, account_selection_required: true });
      expect(managed).not.toHaveProperty('connected_account_id');
      expect(aliases(managed.accounts as Array<{ alias: string | null }>)).toEqual(['personal', 'work']);
      expect(managed.message).toContain("this session's calls must name one");
      // a session without the multi-execute reads where its application names the account, in
      // words (the entry's text held the references' raw markers)
      const direct = await mux.create('ada', {
        sessionPreset: 'DIRECT_TOOLS',
        authConfigs: { gmail: configId },
        multiAccount: { enable: true, requireExplicitSelection: true },
        manageConnections: true,
      });
      const directEntry = (
        (await direct.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['gmail'] })).data as {
          results: Array<{ message: string }>;
        }
      ).results[0]!;
      expect(directEntry.message).toContain('session.execute(slug, args, { account })');
      expect(directEntry.message).not.toMatch(/[\u2063⟦⟧]/);
      expect((await session.execute('GMAIL_SEND_EMAIL', mail, { account: 'work' })).data).toMatchObject({
        from: 'ada@work.example',
      });
      // one ACTIVE account left: nothing to choose
      await mux.connectedAccounts.disable((await session.toolkits()).items[0]!.connection.accounts![0]!.id);
      expect((await session.execute('GMAIL_SEND_EMAIL', mail)).successful).toBe(true);
    });

    it('keeps aliases unique per user and toolkit (ALIAS_TAKEN), renames, and checks them', async () => {
      const { work, personal } = await twoAccounts();
      const taken = await rejection(
        mux.connectedAccounts.create('ada', configId, { apiKey: 'key-x' }, { alias: 'work' }),
        'ALIAS_TAKEN',
      );
      expect(taken.message).toContain('"work"');
      await rejection(mux.connectedAccounts.update(personal.id, { alias: 'work' }), 'ALIAS_TAKEN');
      // another user may have the same alias
      const bob = await mux.connectedAccounts.create(
        'bob',
        configId,
        { apiKey: 'key-other-user' },
        { alias: 'work' },
      );
      expect(bob.alias).toBe('work');
      // rename, then the old alias is free again
      expect((await mux.connectedAccounts.update(work.id, { alias: 'office' })).alias).toBe('office');
      expect((await mux.connectedAccounts.get(work.id)).alias).toBe('office');
      expect((await mux.connectedAccounts.update(personal.id, { alias: 'work' })).alias).toBe('work');
      expect((await mux.connectedAccounts.update(personal.id, { alias: null })).alias).toBeNull();
      for (const bad of ['', '   ', 'ca_123', 'tab\there', 'x'.repeat(65)]) {
        await rejection(mux.connectedAccounts.update(work.id, { alias: bad }), 'INVALID_REQUEST');
      }
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true },
      });
      await rejection(session.authorize('gmail', { alias: 'office' }), 'ALIAS_TAKEN');
    });

    it('refuses another user’s account, and one outside the session’s connectedAccounts (ACCOUNT_NOT_IN_SESSION)', async () => {
      const { work, personal } = await twoAccounts();
      const bob = await mux.connectedAccounts.create(
        'bob',
        configId,
        { apiKey: 'key-other-user' },
        { alias: 'bobs' },
      );
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true },
      });
      for (const account of [bob.id, 'bobs', 'nobody']) {
        const refused = await session.execute('GMAIL_SEND_EMAIL', mail, { account });
        expect(refused, account).toMatchObject({ successful: false, code: 'ACCOUNT_NOT_IN_SESSION' });
        expect(refused.error).toContain('"work"');
      }
      const pinned = await mux.create('ada', {
        connectedAccounts: { gmail: [work.id] },
        multiAccount: { enable: true },
      });
      const outside = await pinned.execute('GMAIL_SEND_EMAIL', mail, { account: 'personal' });
      expect(outside).toMatchObject({ successful: false, code: 'ACCOUNT_NOT_IN_SESSION' });
      expect((await pinned.execute('GMAIL_SEND_EMAIL', mail, { account: 'work' })).successful).toBe(true);
      // without multiAccount, `account` still names one of the accounts the session may use
      const plain = await mux.create('ada', { authConfigs: { gmail: configId } });
      expect((await plain.execute('GMAIL_SEND_EMAIL', mail, { account: 'work' })).data).toMatchObject({
        from: 'ada@work.example',
      });
      expect(await plain.execute('GMAIL_SEND_EMAIL', mail, { account: bob.id })).toMatchObject({
        code: 'ACCOUNT_NOT_IN_SESSION',
      });
      expect(gmail.sent.map((entry) => entry.from)).not.toContain('bob@example.com');
      void personal;
    });

    it('connects a new account under an alias (authorize, ensureConnected) up to maxAccountsPerToolkit', async () => {
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true, maxAccountsPerToolkit: 2 },
      });
      const needs = await session.ensureConnected('gmail', { alias: 'work' });
      expect(needs.status).toBe('NEEDS_USER');
      if (needs.status !== 'NEEDS_USER') return;
      const work = await mux.connectionRequests.complete(needs.request.id, { apiKey: 'key-work' });
      expect(work.alias).toBe('work');
      expect(await session.ensureConnected('gmail', { alias: 'work' })).toEqual({
        status: 'CONNECTED',
        account: { id: work.id, status: 'ACTIVE', toolkit: 'gmail' },
      });
      const request = await session.authorize('gmail', { alias: 'personal' });
      const personal = await mux.connectionRequests.complete(request.id, { apiKey: 'key-personal' });
      expect(personal.alias).toBe('personal');
      expect((await session.execute('GMAIL_GET_PROFILE', {}, { account: 'work' })).data).toEqual({
        emailAddress: 'ada@work.example',
      });
      const full = await rejection(session.authorize('gmail', { alias: 'third' }), 'ACCOUNT_LIMIT_REACHED');
      expect(full.message).toContain('maxAccountsPerToolkit (2)');
      await mux.connectedAccounts.delete(work.id);
      await session.authorize('gmail', { alias: 'third' });
    });

    it('connects an account again under the alias of one that expired (ensureConnected, TOOLMUX_MANAGE_CONNECTIONS); a disabled one keeps its alias', async () => {
      useHostedConnectPage(mux);
      const { work, personal } = await twoAccounts();
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true },
        manageConnections: true,
      });
      // the provider refused work's key: EXPIRED, "the user must connect again"
      await database.exec(
        `UPDATE toolmux_connected_accounts SET status = 'EXPIRED', status_reason = 'refused' WHERE id = '${work.id}'`,
      );
      const expired = await session.execute('GMAIL_GET_PROFILE', {}, { account: 'work' });
      expect(expired.code).toBe('CONNECTION_EXPIRED');
      // the way out keeps the alias: a new connection of "work", not an unnamed one beside it
      expect(expired.error).toContain('TOOLMUX_MANAGE_CONNECTIONS with alias: "work"');

      // the agent asks for a link for "work" (it was ALIAS_TAKEN, naming the expired account)
      const manage = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
        toolkits: ['gmail'],
        alias: 'work',
      });
      expect(manage.successful, manage.error ?? '').toBe(true);
      const linked = (manage.data as { results: Array<Record<string, unknown>> }).results[0]!;
      expect(linked).toMatchObject({ connected: false, redirect_url: expect.any(String) });

      // the application does the same with ensureConnected(); the last request connects "work" again
      const needs = await session.ensureConnected('gmail', { alias: 'work' });
      expect(needs.status).toBe('NEEDS_USER');
      if (needs.status !== 'NEEDS_USER') return;
      const again = await mux.connectionRequests.complete(needs.request.id, { apiKey: 'key-work' });
      expect(again).toMatchObject({ alias: 'work', status: 'ACTIVE' });
      expect(await mux.connectedAccounts.get(work.id)).toMatchObject({ alias: null, status: 'EXPIRED' });
      expect(await session.execute('GMAIL_GET_PROFILE', {}, { account: 'work' })).toMatchObject({
        successful: true,
        data: { emailAddress: 'ada@work.example' },
      });
      expect(await session.ensureConnected('gmail', { alias: 'work' })).toEqual({
        status: 'CONNECTED',
        account: { id: again.id, status: 'ACTIVE', toolkit: 'gmail' },
      });

      // a disabled account is kept as it is, alias included: the developer disabled it
      await mux.connectedAccounts.disable(personal.id);
      await rejection(session.ensureConnected('gmail', { alias: 'personal' }), 'ALIAS_TAKEN');
    });

    it('TOOLMUX_MANAGE_CONNECTIONS with alias: a link for a new account under it, then that account is connected', async () => {
      useHostedConnectPage(mux);
      const session = await mux.create('ada', {
        authConfigs: { gmail: configId },
        multiAccount: { enable: true, maxAccountsPerToolkit: 3 },
        manageConnections: true,
      });
      const { work } = await twoAccounts();
      const manage = async (input: Record<string, unknown>) => {
        const result = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
          toolkits: ['gmail'],
          ...input,
        });
        expect(result.successful).toBe(true);
        return (result.data as { results: Array<Record<string, unknown>> }).results[0]!;
      };
      // an alias the user has: connected, with that account (not the default one)
      expect(await manage({ alias: 'work' })).toMatchObject({
        connected: true,
        connected_account_id: work.id,
      });
      // without alias: the default account is connected, no link
      expect((await manage({})).redirect_url).toBeUndefined();
      // an alias the user does not have: a link that connects a new account under it
      const linked = await manage({ alias: 'travel' });
      expect(linked.connected).toBe(false);
      expect(linked.redirect_url).toEqual(expect.any(String));
      const travel = await mux.connectionRequests.complete(String(linked.connection_request_id), {
        apiKey: 'key-personal',
      });
      expect(travel.alias).toBe('travel');
      expect(await manage({ alias: 'travel' })).toMatchObject({
        connected: true,
        connected_account_id: travel.id,
      });
      // a bad alias is a readable error naming the field
      const bad = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, {
        toolkits: ['gmail'],
        alias: 'ca_123',
      });
      expect(bad.successful).toBe(false);
      expect(bad.code).toBe('INVALID_REQUEST');
      expect(bad.error).toContain('alias');
      // the schema the model sees describes it
      const [spec] = (await session.tools()).filter((tool) => tool.name === MetaToolSlug.MANAGE_CONNECTIONS);
      expect(JSON.stringify(spec?.inputSchema)).toContain('alias');
    });

    it('validates multiAccount', async () => {
      for (const maxAccountsPerToolkit of [1, 11, 2.5]) {
        const error = await rejection(
          mux.create('ada', { multiAccount: { enable: true, maxAccountsPerToolkit } }),
          'CONFIG_INVALID',
        );
        expect(error.message).toContain('multiAccount.maxAccountsPerToolkit');
      }
      await rejection(
        mux.create('ada', { multiAccount: { requireExplicitSelection: true } }),
        'CONFIG_CONFLICT',
      );
      await rejection(mux.create('ada', { multiAccount: { enable: 'yes' } as never }), 'CONFIG_INVALID');
      const session = await mux.create('ada', { multiAccount: { enable: true } });
      expect(session.config.multiAccount).toEqual({
        enable: true,
        maxAccountsPerToolkit: 5,
        requireExplicitSelection: false,
      });
    });
  });
});
