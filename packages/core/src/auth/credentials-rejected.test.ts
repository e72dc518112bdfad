import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { ToolMuxError } from '../errors.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { ToolMux } from '../toolmux.js';

const quiet = { debug() {}, warn() {}, error() {} };

/** `vendor` (API key): VENDOR_PING refuses the key "revoked" as the vendor's API would, with a 401. */
function vendorToolkit() {
  const seen: string[] = [];
  const ping = defineTool({
    slug: 'VENDOR_PING',
    description: 'Ping the vendor API',
    inputSchema: z.object({}),
    execute: async (_input, context) => {
      const apiKey = context.credentials?.apiKey ?? '';
      seen.push(apiKey);
      if (apiKey === 'revoked') {
        throw new ToolMuxError({
          code: 'CREDENTIALS_REJECTED',
          message: 'Vendor answered 401: invalid API key.',
        });
      }
      return { pong: true };
    },
  });
  const local = defineTool({
    slug: 'LOCAL_PING',
    description: 'A tool without an account that reports a 401 of its own',
    inputSchema: z.object({}),
    execute: async () => {
      throw new ToolMuxError({ code: 'CREDENTIALS_REJECTED', message: 'The intranet answered 401.' });
    },
  });
  return {
    seen,
    toolkits: [
      defineToolkit({
        slug: 'vendor',
        description: 'A vendor API',
        tools: [ping],
        auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key' }] },
      }),
      defineToolkit({ slug: 'local', description: 'No account', tools: [local] }),
    ],
  };
}

const opened: ToolMux[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((mux) => mux.close()));
});

async function setup(apiKey: string) {
  const vendor = vendorToolkit();
  const mux = new ToolMux({ toolkits: vendor.toolkits, store: ':memory:', logger: quiet });
  opened.push(mux);
  const config = await mux.authConfigs.create('vendor', { type: 'api_key' });
  const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey });
  const session = await mux.create('user_1', { authConfigs: { vendor: config.id } });
  return { mux, session, account, seen: vendor.seen };
}

describe('a provider that refuses the credentials (CREDENTIALS_REJECTED)', () => {
  it('marks an API-key account EXPIRED at once (nothing to refresh) and answers CONNECTION_EXPIRED', async () => {
    const { mux, session, account, seen } = await setup('revoked');
    const result = await session.execute('VENDOR_PING', {}, { callId: 'call_1' });
    expect(result).toMatchObject({ successful: false, code: 'CONNECTION_EXPIRED', data: null });
    expect(result.error).toContain(account.id);
    expect(result.error).toMatch(/reconnect/i);
    expect(result.error).not.toContain('revoked');
    expect(seen).toEqual(['revoked']); // not run again with the same key

    expect(await mux.connectedAccounts.get(account.id)).toMatchObject({
      status: 'EXPIRED',
      statusReason: expect.stringContaining('refused the credentials'),
    });
    expect((await session.toolkits()).items.find((item) => item.slug === 'vendor')!.connection).toEqual({
      isActive: false,
      connectedAccount: { id: account.id, status: 'EXPIRED' },
      authConfig: { id: account.authConfigId, type: 'api_key', managed: false },
    });
    const [log] = (await session.logs()).items;
    expect(log).toMatchObject({
      callId: 'call_1',
      errorCode: 'CONNECTION_EXPIRED',
      connectedAccountId: account.id,
    });

    // later calls do not reach the vendor, and the agent is told how to fix it
    expect((await session.execute('VENDOR_PING', {})).code).toBe('CONNECTION_EXPIRED');
    expect(seen).toHaveLength(1);
    const manage = await session.execute(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['vendor'] });
    expect(JSON.stringify(manage.data)).toMatch(/expired/);
  });

  it('leaves a working account alone, and a call without an account keeps its own error', async () => {
    const { mux, session, account } = await setup('good-key');
    expect(await session.execute('VENDOR_PING', {})).toMatchObject({
      successful: true,
      data: { pong: true },
    });
    expect((await mux.connectedAccounts.get(account.id)).status).toBe('ACTIVE');
    const local = await session.execute('LOCAL_PING', {});
    expect(local).toMatchObject({
      successful: false,
      code: 'CREDENTIALS_REJECTED',
      error: 'The intranet answered 401.',
    });
  });

  it('once the user connects a new key, calls run with it again', async () => {
    const { mux, session, account, seen } = await setup('revoked');
    expect((await session.execute('VENDOR_PING', {})).code).toBe('CONNECTION_EXPIRED');
    const config = (await mux.authConfigs.list({ toolkit: 'vendor' })).items[0]!;
    const fresh = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'new-key' });
    expect(fresh.id).not.toBe(account.id);
    expect(await session.execute('VENDOR_PING', {})).toMatchObject({ successful: true });
    expect(seen).toEqual(['revoked', 'new-key']);
    expect((await session.toolkits()).items.find((item) => item.slug === 'vendor')!.connection).toEqual({
      isActive: true,
      connectedAccount: { id: fresh.id, status: 'ACTIVE' },
      authConfig: { id: fresh.authConfigId, type: 'api_key', managed: false },
    });
  });
});
