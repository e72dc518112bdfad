import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * A session's `authConfigs` and `connectedAccounts` name records that may be deleted after they were
 * set. `update()` checks the references its changes name, not the stored ones: a change of metadata
 * alone was AUTH_CONFIG_NOT_FOUND (or CONNECTED_ACCOUNT_NOT_FOUND) until the caller replaced the
 * deleted reference, while the calls that need it say what is missing either way.
 */
const quiet = { debug() {}, warn() {}, error() {} };
const sample = createSampleToolkits();
const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
afterAll(() => mux.close());
const send = { to: 'a@example.com', subject: 's', body: 'b' };

describe('session.update() after a referenced auth config or account is deleted', () => {
  it('takes changes that do not name them; refuses changes that name a deleted one', async () => {
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-1' });
    const pinned = await mux.create('user_1', { toolkits: ['mail'], authConfigs: { mail: config.id } });
    expect(await pinned.execute('MAIL_SEND_EMAIL', send)).toMatchObject({ successful: true });

    await mux.authConfigs.delete(config.id);
    // a call that needs it fails (no account of the config is left)
    expect(await pinned.execute('MAIL_SEND_EMAIL', send)).toMatchObject({ successful: false });
    // an update that does not name it is taken
    await expect(pinned.update({ metadata: { team: 'a' } })).resolves.toBeTypeOf('number');
    expect((await mux.use(pinned.sessionId)).metadata).toEqual({ team: 'a' });
    // one that names it again is refused, as at create()
    await expect(pinned.update({ authConfigs: { mail: config.id } })).rejects.toMatchObject({
      code: 'AUTH_CONFIG_NOT_FOUND',
    });
    // replacing it is taken
    const fresh = await mux.authConfigs.create('mail', { type: 'api_key' });
    await mux.connectedAccounts.create('user_1', fresh.id, { apiKey: 'key-2' });
    await pinned.update({ authConfigs: { mail: fresh.id } });
    expect(await pinned.execute('MAIL_SEND_EMAIL', send)).toMatchObject({ successful: true });
  });

  it('the same for a deleted connected account', async () => {
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_2', config.id, { apiKey: 'key-3' });
    const pinned = await mux.create('user_2', {
      toolkits: ['mail'],
      connectedAccounts: { mail: account.id },
    });
    await mux.connectedAccounts.delete(account.id);
    await expect(pinned.update({ metadata: { team: 'b' } })).resolves.toBeTypeOf('number');
    await expect(pinned.update({ connectedAccounts: { mail: account.id } })).rejects.toMatchObject({
      code: 'CONNECTED_ACCOUNT_NOT_FOUND',
    });
  });
});

/**
 * Two instances on one store whose catalogs differ (a rolling deploy, a toolkit removed from one):
 * the stored config names toolkits and tools the other instance lacks. `update()` there checks the
 * toolkits and tools its changes name; a change of tags or metadata was TOOLKIT_NOT_FOUND, naming a
 * field the caller never sent.
 */
describe('session.update() on an instance whose catalog lacks a toolkit the stored config names', () => {
  it('takes changes that do not name it, keeps the stored names, and refuses changes that do', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'toolmux-update-catalog-'));
    const store = join(directory, 'toolmux.db');
    const full = new ToolMux({ toolkits: createSampleToolkits().toolkits, store, logger: quiet });
    const withoutMail = new ToolMux({
      toolkits: createSampleToolkits().toolkits.filter((toolkit) => toolkit.slug !== 'mail'),
      store,
      logger: quiet,
    });
    try {
      const config = await full.authConfigs.create('mail', { type: 'api_key' });
      const created = await full.create('user_3', {
        toolkits: ['tasks', 'mail'],
        tools: { mail: ['MAIL_SEND_EMAIL'] },
        authConfigs: { mail: config.id },
        preload: { tools: ['MAIL_SEND_EMAIL'] },
      });
      const there = await withoutMail.use(created.sessionId);
      await expect(there.update({ metadata: { team: 'c' } })).resolves.toBeTypeOf('number');
      await expect(there.update({ tags: { disable: ['destructiveHint'] } })).resolves.toBeTypeOf('number');
      await expect(there.update({ workbench: { enable: false } })).resolves.toBeTypeOf('number');
      expect(await there.execute('TASKS_LIST_TASKS', {})).toMatchObject({ successful: true });
      // what the other instance set is kept whole, and it still runs there
      const back = await full.use(created.sessionId);
      expect(back.metadata).toEqual({ team: 'c' });
      expect(await back.execute('MAIL_SEND_EMAIL', send)).toMatchObject({
        successful: false,
        error: expect.stringContaining('connect'),
      });
      expect(back.config).toMatchObject({
        toolkits: { mode: 'enable', slugs: ['tasks', 'mail'] },
        tools: { mail: { mode: 'enable', slugs: ['MAIL_SEND_EMAIL'] } },
        authConfigs: { mail: config.id },
        preload: { tools: ['MAIL_SEND_EMAIL'] },
      });
      // a change that names the missing toolkit or tool is refused there, naming it
      for (const change of [
        { toolkits: ['tasks', 'mail'] },
        { tools: { mail: ['MAIL_SEND_EMAIL'] } },
        { authConfigs: { mail: config.id } },
        { preload: { tools: ['MAIL_SEND_EMAIL'] } },
      ]) {
        await expect(there.update(change), JSON.stringify(change)).rejects.toMatchObject({
          message: expect.stringMatching(/unknown (toolkit "mail"|tool "MAIL_SEND_EMAIL")/),
        });
      }
    } finally {
      await withoutMail.close();
      await full.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
