import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTool, defineToolkit, ToolMux, ToolMuxError } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A list filter that names a toolkit the catalog does not have (`toolkits=mial`) answered an empty
 * page, which reads as "no accounts" where the slug is a typo, while session configs and
 * /tools/list refuse an unknown toolkit with "did you mean". Such a filter of connected accounts,
 * auth configs and a session's toolkits is now a 400 naming the slug, the closest known one and
 * where toolkits are listed. A toolkit removed from the catalog whose accounts or auth configs are
 * still stored stays listable. A log filter by tool slug still answers an empty page: the log keeps
 * the calls of tools removed since and of the custom tools of sessions, which the catalog never had.
 */

/** A toolkit that a first server has and the one after it no longer does. */
const legacy = defineToolkit({
  slug: 'legacy',
  description: 'A toolkit removed since.',
  auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
  tools: [
    defineTool({
      slug: 'LEGACY_PING',
      description: 'Ping.',
      inputSchema: { type: 'object', properties: {} },
      execute: () => 'pong',
    }),
  ],
});

const directory = mkdtempSync(join(tmpdir(), 'toolmux-filters-'));
const store = `sqlite:${join(directory, 'toolmux.db')}`;
const secretKey = randomBytes(32).toString('base64');
let server: TestServer;
let sessionId: string;
let legacyAccountId: string;
let legacyConfigId: string;

beforeAll(async () => {
  // what the store holds of `legacy`, made while the catalog had it
  const before = new ToolMux({
    toolkits: [legacy],
    store,
    secretKey,
    logger: { debug() {}, warn() {}, error() {} },
  });
  const config = await before.authConfigs.create('legacy', { type: 'api_key' });
  legacyConfigId = config.id;
  legacyAccountId = (await before.connectedAccounts.create('filter_user', config.id, { apiKey: 'k' })).id;
  await before.close();
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits, store, secretKey });
  sessionId = (await server.embedded.create('filter_user', { toolkits: ['tasks', 'mail'] })).sessionId;
});
afterAll(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

async function get(path: string) {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    headers: { authorization: `Bearer ${server.apiKey}` },
  });
  return { status: response.status, json: (await response.json()) as any };
}

describe('a list filter naming a toolkit the catalog does not have', () => {
  it('is a 400 naming the slug, the closest known one and GET /api/v1/toolkits, on each list', async () => {
    for (const [path, field] of [
      ['/connected-accounts?toolkits=mial', 'toolkits'],
      ['/connected-accounts?toolkits=tasks,mial', 'toolkits'],
      ['/auth-configs?toolkit=mial', 'toolkit'],
    ] as const) {
      const answer = await get(path);
      expect([path, answer.status, answer.json.error]).toEqual([
        path,
        400,
        {
          code: 'INVALID_REQUEST',
          message: `${field} names "mial", a toolkit this catalog does not have and nothing stored names. Did you mean "mail"? Known toolkits are listed by GET /api/v1/toolkits.`,
          details: { field },
        },
      ]);
    }
    const toolkits = await get(`/sessions/${sessionId}/toolkits?toolkits=tsks`);
    expect([toolkits.status, toolkits.json.error]).toEqual([
      400,
      {
        code: 'INVALID_REQUEST',
        message:
          'toolkits names "tsks", a toolkit this catalog does not have. Did you mean "tasks"? Known toolkits are listed by GET /api/v1/toolkits.',
        details: { field: 'toolkits' },
      },
    ]);
  });

  it('a known toolkit with nothing to list is an empty page, as before', async () => {
    expect((await get('/connected-accounts?toolkits=mail')).json).toEqual({ items: [], next_cursor: null });
    expect((await get('/auth-configs?toolkit=mail')).json.items).toEqual([]);
    // in the catalog, not in the session: none of the session's toolkits
    expect((await get(`/sessions/${sessionId}/toolkits?toolkits=notes`)).json.items).toEqual([]);
  });

  it('a toolkit removed from the catalog whose accounts and auth configs are stored stays listable', async () => {
    const accounts = await get('/connected-accounts?toolkits=legacy');
    expect([accounts.status, accounts.json.items.map((item: { id: string }) => item.id)]).toEqual([
      200,
      [legacyAccountId],
    ]);
    const configs = await get('/auth-configs?toolkit=legacy');
    expect([configs.status, configs.json.items.map((item: { id: string }) => item.id)]).toEqual([
      200,
      [legacyConfigId],
    ]);
  });

  it('the SDK reads the refusal in its own words, embedded and remote', async () => {
    for (const mux of [server.embedded, server.remote()]) {
      const error = await mux.connectedAccounts.list({ toolkits: ['mial'] }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(ToolMuxError.isInstance(error) && error.code).toBe('INVALID_REQUEST');
      expect((error as ToolMuxError).message).toBe(
        'toolkits names "mial", a toolkit this catalog does not have and nothing stored names. Did you mean "mail"? Known toolkits are listed by toolkits.list().',
      );
    }
  });

  it('a log filter by a tool slug nothing matches is an empty page: the log keeps tools removed since', async () => {
    expect(await get('/logs?tool_slug=LEGACY_PING')).toEqual({
      status: 200,
      json: { items: [], next_cursor: null },
    });
  });
});
