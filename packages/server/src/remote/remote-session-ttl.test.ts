import type { PlainTool } from '@toolmux/core';
import { createSampleToolkits, stockLookupTool } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A remote session object reads its session again before a custom-tool call (which runs in the
 * client, so the server cannot refuse it) once its last read is `accountCacheTtlMs` old, as an
 * embedded session object does: a shorter TTL makes a session deleted or updated through another
 * object take effect sooner; 0 reads it before every such call. (It was 2 s, whatever was set:
 * remote mode refused the option.)
 */

let server: TestServer;
/** A client with the default (2000 ms) and one with 100 ms. */
let slow: ReturnType<TestServer['remote']>;
let fast: ReturnType<TestServer['remote']>;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
  slow = server.remote();
  fast = server.remote(undefined, { accountCacheTtlMs: 100 });
});
afterAll(() => server?.close());

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('remote session objects follow accountCacheTtlMs', () => {
  it('a session deleted elsewhere refuses custom-tool calls once the TTL passed, not 2 s later', async () => {
    const { tool: lookup, ran } = stockLookupTool();
    const created = await slow.create('user_ttl', {
      toolkits: ['shop'],
      experimental: { customTools: [lookup] },
    });
    const onFast = await fast.use(created.sessionId, { customTools: [lookup] });
    const onSlow = await slow.use(created.sessionId, { customTools: [lookup] });
    const read = Date.now();
    await server.embedded.sessions.delete(created.sessionId);
    await pause(300);
    expect(await onFast.execute('SHOP_LOOKUP_STOCK', { sku: 'F-1' })).toMatchObject({
      successful: false,
      code: 'SESSION_NOT_FOUND',
    });
    // the default still trusts its read (2 s), as documented
    const stale = await onSlow.execute('SHOP_LOOKUP_STOCK', { sku: 'S-1' });
    expect(Date.now() - read).toBeLessThan(2000);
    expect(stale.successful).toBe(true);
    expect(ran.map((call) => call.sku)).toEqual(['S-1']);
  });

  it('a session updated elsewhere is taken up once the TTL passed', async () => {
    const { tool: lookup, ran } = stockLookupTool();
    const created = await slow.create('user_ttl', {
      toolkits: ['tasks', 'shop'],
      experimental: { customTools: [lookup] },
    });
    const onFast = await fast.use(created.sessionId, { customTools: [lookup] });
    expect((await onFast.execute('SHOP_LOOKUP_STOCK', { sku: 'F-2' })).successful).toBe(true);
    // `shop` is the session's own toolkit: an enable list would leave it in
    await (await server.embedded.use(created.sessionId)).update({ toolkits: { disable: ['shop'] } });
    await pause(300);
    expect(await onFast.execute('SHOP_LOOKUP_STOCK', { sku: 'F-3' })).toMatchObject({
      code: 'TOOL_NOT_IN_SESSION',
    });
    expect(onFast.configVersion).toBe(2);
    expect(ran.map((call) => call.sku)).toEqual(['F-2']);
  });

  it('tools() hands out the tools of an update made elsewhere, and is SESSION_NOT_FOUND once the session was deleted, as embedded', async () => {
    const always = server.remote(undefined, { accountCacheTtlMs: 0 });
    const embedded = server.embedded;
    const slugsOf = async (tools: Promise<unknown>) =>
      ((await tools) as PlainTool[]).map((tool) => tool.name).filter((name) => !name.startsWith('TOOLMUX_'));
    for (const [mode, mux] of [
      ['remote', always],
      ['embedded', embedded],
    ] as const) {
      const session = await mux.create('user_ttl_tools', { toolkits: ['tasks'], preload: { tools: 'all' } });
      const tasks = await slugsOf(session.tools());
      expect(tasks.length, mode).toBeGreaterThan(0);
      expect(
        tasks.every((slug) => slug.startsWith('TASKS_')),
        mode,
      ).toBe(true);
      // through another object of the same ToolMux (the embedded one reads its store after this one's
      // change at once; the remote one after accountCacheTtlMs, 0 here)
      await (await mux.use(session.sessionId)).update({ toolkits: ['notes'] });
      for (const modifiers of [
        undefined,
        { beforeExecute: ({ args }: { args: Record<string, unknown> }) => args },
      ]) {
        const notes = await slugsOf(session.tools(modifiers));
        expect(notes.length, mode).toBeGreaterThan(0);
        expect(
          notes.every((slug) => slug.startsWith('NOTES_')),
          `${mode}: ${notes.join(', ')}`,
        ).toBe(true);
      }
      expect(session.configVersion, mode).toBe(2);
      await mux.sessions.delete(session.sessionId);
      for (const modifiers of [
        undefined,
        { beforeExecute: ({ args }: { args: Record<string, unknown> }) => args },
      ]) {
        await expect(session.tools(modifiers), mode).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
      }
    }
  });

  it('0 reads the session before every custom-tool call; a value that is not a number of ms is refused', async () => {
    const { tool: lookup } = stockLookupTool();
    const always = server.remote(undefined, { accountCacheTtlMs: 0 });
    const created = await always.create('user_ttl', {
      toolkits: ['shop'],
      experimental: { customTools: [lookup] },
    });
    const held = await always.use(created.sessionId, { customTools: [lookup] });
    await server.embedded.sessions.delete(created.sessionId);
    expect(await held.execute('SHOP_LOOKUP_STOCK', { sku: 'Z-1' })).toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    for (const value of [-1, 1.5, Number.NaN, '100']) {
      expect(() => server.remote(undefined, { accountCacheTtlMs: value as number })).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          message: expect.stringContaining('accountCacheTtlMs'),
        }),
      );
    }
  });
});
