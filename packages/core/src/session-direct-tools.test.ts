import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SessionPreset } from './config/session-config.js';
import { ComposioMetaToolSlug, MetaToolSlug } from './meta-tools/meta-tools.js';
import type { Session } from './session.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

const quiet = { debug() {}, warn() {}, error() {} };
const secretKey = Buffer.alloc(32, 7).toString('base64');
const dirs: string[] = [];
const muxes: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(muxes.splice(0).map((mux) => mux.close()));
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A SQLite file, and ToolMux instances on it (another instance reads what the first stored). */
function storeFile() {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-direct-'));
  dirs.push(dir);
  const file = join(dir, 'toolmux.db');
  const instance = () => {
    const mux = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: file,
      secretKey,
      logger: quiet,
    });
    muxes.push(mux);
    return mux;
  };
  return { file, instance };
}

const slugsOf = async (session: Session) =>
  ((await session.tools()) as Array<{ name: string }>).map((tool) => tool.name);
const metaOf = (slugs: string[]) => slugs.filter((slug) => /^(TOOLMUX|COMPOSIO)_/.test(slug)).sort();
const MAIL = { to: 'a@example.com', subject: 'Hi', body: 'Hello' };

describe('DIRECT_TOOLS sessions', () => {
  it('by default: only the plain tools, and no message points to a meta-tool the session lacks', async () => {
    const mux = storeFile().instance();
    const session = await mux.create('user_1', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      toolkits: ['mail', 'tasks'],
      preload: { tools: ['TASKS_CREATE_TASK'] }, // accepted: every tool is direct anyway
    });
    const slugs = await slugsOf(session);
    expect(metaOf(slugs)).toEqual([]);
    expect(slugs).toContain('MAIL_SEND_EMAIL');

    const unconnected = await session.execute('MAIL_SEND_EMAIL', MAIL);
    expect(unconnected.code).toBe('CONNECTION_REQUIRED');
    expect(unconnected.error).not.toMatch(/TOOLMUX_|COMPOSIO_/);
    expect(unconnected.error).toContain('session.authorize("mail")');

    const meta = await session.execute(MetaToolSlug.SEARCH_TOOLS, { queries: [{ use_case: 'send mail' }] });
    expect(meta.code).toBe('TOOL_NOT_IN_SESSION');
    expect(meta.error).toMatch(/^TOOLMUX_SEARCH_TOOLS is not a tool of this session/);
    expect(meta.error?.replace(/^TOOLMUX_SEARCH_TOOLS/, '')).not.toMatch(/TOOLMUX_|COMPOSIO_/);
    const unknown = await session.execute('MAIL_SEND_EMAILS', MAIL);
    expect(unknown.code).toBe('TOOL_NOT_FOUND');
    expect(unknown.error).toContain('MAIL_SEND_EMAIL');
    expect(unknown.error).not.toMatch(/TOOLMUX_|COMPOSIO_/);
    const filtered = await session.execute('NOTES_SEARCH_NOTES', { query: 'x' });
    expect(filtered.code).toBe('TOOL_NOT_IN_SESSION');
    expect(filtered.error).not.toMatch(/TOOLMUX_|COMPOSIO_/);
  });

  it('with manageConnections, waitForConnections and the workbench asked for: those meta-tools beside the tools, also after a restart and an update', async () => {
    const store = storeFile();
    const created = await store.instance().create('user_1', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      toolkits: ['mail', 'tasks'],
      manageConnections: { waitForConnections: true },
      workbench: { enable: true },
    });
    // another instance on the same file: what the config asked for is stored
    const mux = store.instance();
    const session = await mux.use(created.sessionId);
    const slugs = await slugsOf(session);
    expect(metaOf(slugs)).toEqual([
      MetaToolSlug.MANAGE_CONNECTIONS,
      MetaToolSlug.WAIT_FOR_CONNECTIONS,
      MetaToolSlug.WORKBENCH,
    ]);
    expect(slugs).toEqual(expect.arrayContaining(['MAIL_SEND_EMAIL', 'TASKS_CREATE_TASK']));

    const unconnected = await session.execute('MAIL_SEND_EMAIL', MAIL);
    expect(unconnected.code).toBe('CONNECTION_REQUIRED');
    expect(unconnected.error).toContain('TOOLMUX_MANAGE_CONNECTIONS gives a link to open');
    const manage = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['mail'] });
    expect(manage.successful).toBe(true);
    expect(manage.data).toMatchObject({ results: [{ toolkit: 'mail', connected: false }] });

    // the workbench describes the tools the session gave, and runs them
    const tools = (await session.tools()) as Array<{ name: string; description: string }>;
    const workbench = tools.find((tool) => tool.name === MetaToolSlug.WORKBENCH)!;
    expect(workbench.description).not.toMatch(/TOOLMUX_(SEARCH_TOOLS|MULTI_EXECUTE_TOOL|GET_TOOL_SCHEMAS)/);
    const cell = await session.execute(MetaToolSlug.WORKBENCH, {
      code: 'return (await toolmux.execute("TASKS_CREATE_TASK", { title: "From a cell" })).successful;',
    });
    expect(cell.data).toMatchObject({ result: true });

    // an update of something else keeps what was asked for
    await session.update({ metadata: { team: 'a' } });
    expect(metaOf(await slugsOf(session))).toEqual([
      MetaToolSlug.MANAGE_CONNECTIONS,
      MetaToolSlug.WAIT_FOR_CONNECTIONS,
      MetaToolSlug.WORKBENCH,
    ]);
    // so does an update of an option's settings alone: they change nothing about on or off (the
    // stored option was replaced by the settings, without its enable: true, and the meta-tool went)
    await session.update({ workbench: { timeoutMs: 5_000 } });
    await session.update({ manageConnections: { callbackUrl: 'http://localhost:3000/done' } });
    expect(metaOf(await slugsOf(session))).toEqual([MetaToolSlug.MANAGE_CONNECTIONS, MetaToolSlug.WORKBENCH]);
    expect(session.config.workbench).toMatchObject({ enable: true, timeoutMs: 5_000 });
    // turning one off is said so
    await session.update({ workbench: { enable: false } });
    expect(metaOf(await slugsOf(session))).toEqual([MetaToolSlug.MANAGE_CONNECTIONS]);
    // turning the preset to DIRECT_TOOLS keeps what a META_TOOLS session only had by default out
    const meta = await mux.create('user_1', { toolkits: ['mail'] });
    expect(metaOf(await slugsOf(meta))).toContain(MetaToolSlug.SEARCH_TOOLS);
    await meta.update({ sessionPreset: SessionPreset.DIRECT_TOOLS });
    expect(metaOf(await slugsOf(meta))).toEqual([]);
    expect((await meta.execute('MAIL_SEND_EMAIL', MAIL)).error).not.toMatch(/TOOLMUX_/);
  });

  it("with Composio's names: the meta-tool the message names is the one the session has", async () => {
    const mux = storeFile().instance();
    const session = await mux.create('user_1', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      toolkits: ['mail'],
      manageConnections: true,
      metaToolNames: 'composio',
    });
    expect(metaOf(await slugsOf(session))).toEqual([ComposioMetaToolSlug.MANAGE_CONNECTIONS]);
    const unconnected = await session.execute('MAIL_SEND_EMAIL', MAIL);
    expect(unconnected.error).toContain('COMPOSIO_MANAGE_CONNECTIONS gives a link to open');
    expect(unconnected.error).not.toContain('TOOLMUX_');
  });
});

describe('messages without the meta-tool they would name', () => {
  it('META_TOOLS with manageConnections: false points to session.authorize, for a missing and an expired account', async () => {
    const store = storeFile();
    const mux = store.instance();
    const session = await mux.create('user_1', { toolkits: ['mail'], manageConnections: false });
    expect(metaOf(await slugsOf(session))).not.toContain(MetaToolSlug.MANAGE_CONNECTIONS);
    const missing = await session.execute('MAIL_SEND_EMAIL', MAIL);
    expect(missing.code).toBe('CONNECTION_REQUIRED');
    expect(missing.error).not.toContain('MANAGE_CONNECTIONS');
    expect(missing.error).toContain('session.authorize("mail")');

    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-1' });
    const database = new DatabaseSync(store.file);
    database
      .prepare(
        "UPDATE toolmux_connected_accounts SET status = 'EXPIRED', status_reason = 'revoked' WHERE id = ?",
      )
      .run(account.id);
    database.close();
    const fresh = store.instance(); // no cached account
    const without = await fresh.create('user_1', {
      toolkits: ['mail'],
      authConfigs: { mail: config.id },
      manageConnections: false,
    });
    const expired = await without.execute('MAIL_SEND_EMAIL', MAIL);
    expect(expired.code).toBe('CONNECTION_EXPIRED');
    expect(expired.error).not.toContain('MANAGE_CONNECTIONS');
    expect(expired.error).toContain('session.authorize("mail")');
    // with the meta-tool, the same account's message names it
    const withManage = await fresh.create('user_1', { toolkits: ['mail'], authConfigs: { mail: config.id } });
    const named = await withManage.execute('MAIL_SEND_EMAIL', MAIL);
    expect(named.code).toBe('CONNECTION_EXPIRED');
    expect(named.error).toContain('TOOLMUX_MANAGE_CONNECTIONS with reinitiate: true gives a new link');
  });

  it('ACCOUNT_SELECTION_REQUIRED in a DIRECT_TOOLS session says where the application names the account', async () => {
    const mux = storeFile().instance();
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-work' }, { alias: 'work' });
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-home' }, { alias: 'home' });
    const session = await mux.create('user_1', {
      sessionPreset: SessionPreset.DIRECT_TOOLS,
      toolkits: ['mail'],
      authConfigs: { mail: config.id },
      multiAccount: { enable: true, requireExplicitSelection: true },
    });
    const result = await session.execute('MAIL_SEND_EMAIL', MAIL);
    expect(result.code).toBe('ACCOUNT_SELECTION_REQUIRED');
    expect(result.error).not.toContain('TOOLMUX_');
    expect(result.error).toContain('session.execute(slug, args, { account })');
    expect((await session.execute('MAIL_SEND_EMAIL', MAIL, { account: 'work' })).successful).toBe(true);
  });

  it('a call without a session (tools.execute) names what the application can do', async () => {
    const mux = storeFile().instance();
    const result = await mux.tools.execute('MAIL_SEND_EMAIL', { userId: 'user_1', arguments: MAIL });
    expect(result.code).toBe('CONNECTION_REQUIRED');
    expect(result.error).not.toMatch(/TOOLMUX_|session\.authorize/);
    expect(result.error).toContain('connectedAccounts.link(');
    expect(result.error).toContain('connectedAccountId');
  });
});
