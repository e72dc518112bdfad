import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { ToolMuxError } from '../errors.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

const quiet = { debug() {}, warn() {}, error() {} };
const opened: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close()));
});

async function rejection(promise: Promise<unknown>): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!ToolMuxError.isInstance(error)) throw new Error(`expected a ToolMuxError, got ${String(error)}`);
  return error;
}

describe('disabling and enabling a connected account (INACTIVE)', () => {
  it('a disabled account keeps its credentials but no call uses it, until it is enabled again', async () => {
    const sample = createSampleToolkits();
    const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: quiet });
    opened.push(mux);
    const config = await mux.authConfigs.create('mail', { type: 'api_key' });
    const older = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-older' });
    const newer = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-newer' });
    const session = await mux.create('user_1', { toolkits: ['mail'], authConfigs: { mail: config.id } });
    const send = () => session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' });
    const keyOfLastCall = () => sample.calls.at(-1)!.context.credentials?.apiKey;

    await send();
    expect(keyOfLastCall()).toBe('key-newer'); // the most recently connected one

    const disabled = await mux.connectedAccounts.disable(newer.id);
    expect(disabled).toMatchObject({ id: newer.id, status: 'INACTIVE', statusReason: 'disabled' });
    expect(await mux.connectedAccounts.disable(newer.id)).toMatchObject({ status: 'INACTIVE' }); // idempotent
    await send();
    expect(keyOfLastCall()).toBe('key-older'); // passed over

    await mux.connectedAccounts.disable(older.id);
    const none = await send();
    expect(none).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });
    expect((await session.toolkits()).items[0]!.connection.isActive).toBe(false);

    expect(await mux.connectedAccounts.enable(newer.id)).toMatchObject({
      status: 'ACTIVE',
      statusReason: null,
    });
    expect((await send()).successful).toBe(true);
    expect(keyOfLastCall()).toBe('key-newer');
    expect(
      (await mux.connectedAccounts.list({ statuses: ['INACTIVE'] })).items.map((item) => item.id),
    ).toEqual([older.id]);
  });

  it('an EXPIRED account cannot be enabled or disabled, and the error says to connect it again', async () => {
    const refusing = defineToolkit({
      slug: 'vendor',
      description: 'Refuses every key',
      auth: { type: 'api_key', fields: [{ name: 'apiKey' }] },
      tools: [
        defineTool({
          slug: 'VENDOR_PING',
          description: 'Ping',
          inputSchema: z.object({}),
          execute: () => {
            throw new ToolMuxError({ code: 'CREDENTIALS_REJECTED', message: '401' });
          },
        }),
      ],
    });
    const mux = new ToolMux({ toolkits: [refusing], store: ':memory:', logger: quiet });
    opened.push(mux);
    expect((await rejection(mux.connectedAccounts.disable('ca_missing'))).code).toBe(
      'CONNECTED_ACCOUNT_NOT_FOUND',
    );
    const config = await mux.authConfigs.create('vendor', { type: 'api_key' });
    const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'k' });
    expect((await mux.connectedAccounts.enable(account.id)).status).toBe('ACTIVE'); // already: nothing to do
    const session = await mux.create('user_1', { authConfigs: { vendor: config.id } });
    expect((await session.execute('VENDOR_PING', {})).code).toBe('CONNECTION_EXPIRED');
    for (const toggle of [mux.connectedAccounts.enable, mux.connectedAccounts.disable]) {
      const error = await rejection(toggle(account.id));
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.message).toContain(`${account.id} is EXPIRED`);
      expect(error.message).toContain('Connect it again');
    }
    expect((await mux.connectedAccounts.get(account.id)).status).toBe('EXPIRED');
  });
});

describe('the account cache (accountCacheTtlMs)', () => {
  it('another instance’s change shows after at most the TTL; this instance’s own change at once', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'toolmux-account-cache-'));
    const store = `sqlite:${join(directory, 'toolmux.db')}`;
    const secretKey = Buffer.alloc(32, 7).toString('base64');
    const sample = createSampleToolkits();
    const a = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey,
      logger: quiet,
      accountCacheTtlMs: 1500,
    });
    const b = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey,
      logger: quiet,
      accountCacheTtlMs: 1500,
    });
    opened.push(a, b);
    try {
      const config = await a.authConfigs.create('mail', { type: 'api_key' });
      const account = await a.connectedAccounts.create('user_1', config.id, { apiKey: 'key-1' });
      const session = await a.create('user_1', { toolkits: ['mail'], authConfigs: { mail: config.id } });
      const send = () => session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' });
      expect((await send()).successful).toBe(true);

      await b.connectedAccounts.disable(account.id); // another instance
      const soon = await send();
      expect(soon.successful).toBe(true); // still within the TTL of a's cache
      await new Promise((resolve) => setTimeout(resolve, 1600));
      expect(await send()).toMatchObject({ successful: false, code: 'CONNECTION_REQUIRED' });

      await a.connectedAccounts.enable(account.id);
      expect((await send()).successful).toBe(true);
      await a.connectedAccounts.disable(account.id); // this instance: no wait
      expect((await send()).code).toBe('CONNECTION_REQUIRED');
    } finally {
      await Promise.all(opened.splice(0).map((mux) => mux.close()));
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('0 turns it off: every call reads the store', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'toolmux-account-cache-'));
    const store = `sqlite:${join(directory, 'toolmux.db')}`;
    const secretKey = Buffer.alloc(32, 7).toString('base64');
    const sample = createSampleToolkits();
    const a = new ToolMux({
      toolkits: sample.toolkits,
      store,
      secretKey,
      logger: quiet,
      accountCacheTtlMs: 0,
    });
    const b = new ToolMux({ toolkits: sample.toolkits, store, secretKey, logger: quiet });
    opened.push(a, b);
    try {
      const config = await a.authConfigs.create('mail', { type: 'api_key' });
      const account = await a.connectedAccounts.create('user_1', config.id, { apiKey: 'key-1' });
      const session = await a.create('user_1', { toolkits: ['mail'], authConfigs: { mail: config.id } });
      const send = () => session.execute('MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' });
      expect((await send()).successful).toBe(true);
      await b.connectedAccounts.disable(account.id);
      expect((await send()).code).toBe('CONNECTION_REQUIRED');
    } finally {
      await Promise.all(opened.splice(0).map((mux) => mux.close()));
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
