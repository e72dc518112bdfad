import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * Read, modify, write: the config `GET /api/v1/sessions/:id` answers (normalized, as stored) goes
 * back to `PATCH /api/v1/sessions/:id` as it is, or changed.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

type Config = Record<string, unknown>;
type SessionAnswer = { session_id: string; config_version: number; config: Config };

async function rest<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as T };
}

async function created(config: Config): Promise<SessionAnswer> {
  const { status, json } = await rest<SessionAnswer>('POST', '/sessions', {
    user_id: 'user_round_trip',
    config,
  });
  expect(status).toBe(201);
  return (await rest<SessionAnswer>('GET', `/sessions/${json.session_id}`)).json;
}

async function toolSlugs(sessionId: string): Promise<string[]> {
  const { json } = await rest<{ items: Array<{ slug: string }> }>('GET', `/sessions/${sessionId}/tools`);
  return json.items.map((tool) => tool.slug).sort();
}

describe('PATCH /api/v1/sessions/:id takes the config GET answered', () => {
  it('sends back a config with every option set, unchanged: no change, with and without expected_version', async () => {
    const authConfig = await server.embedded.authConfigs.create('mail', { type: 'api_key' });
    const account = await server.embedded.connectedAccounts.create('user_round_trip', authConfig.id, {
      apiKey: 'sk_round_trip',
    });
    const read = await created({
      toolkits: ['tasks', 'mail'],
      tools: { tasks: { disable: ['TASKS_DELETE_TASK'] }, mail: { tags: { enable: ['openWorldHint'] } } },
      tags: { disable: ['destructiveHint'] },
      authConfigs: { mail: authConfig.id },
      connectedAccounts: { mail: [account.id] },
      preload: { tools: ['TASKS_LIST_TASKS'] },
      manageConnections: {
        enable: true,
        callbackUrl: 'http://localhost:3000/back',
        waitForConnections: true,
      },
      multiAccount: { enable: true, maxAccountsPerToolkit: 3, requireExplicitSelection: false },
      workbench: { enable: true, timeoutMs: 5000, memoryMb: 64, autoOffloadThreshold: 5000 },
      metaToolNames: 'composio',
      metadata: { team: 'support' },
    });
    const tools = await toolSlugs(read.session_id);
    for (const body of [
      { config: read.config },
      { config: read.config, expected_version: read.config_version },
    ]) {
      const written = await rest<SessionAnswer>('PATCH', `/sessions/${read.session_id}`, body);
      expect(written.status).toBe(200);
      expect(written.json.config).toEqual(read.config);
      expect(written.json.config_version).toBe(read.config_version);
    }
    expect(await toolSlugs(read.session_id)).toEqual(tools);
  });

  it('takes changes made to the config GET answered: normalized filters, the fields of manageConnections', async () => {
    const read = await created({
      toolkits: ['tasks'],
      tools: { tasks: { disable: ['TASKS_DELETE_TASK'] } },
      manageConnections: { callbackUrl: 'http://localhost:3000/back' },
    });
    const config = {
      ...read.config,
      toolkits: { mode: 'enable', slugs: ['tasks', 'notes'] },
      tools: { tasks: { mode: 'enable', slugs: ['TASKS_LIST_TASKS'] } },
      connectionCallbackUrl: 'http://localhost:3000/elsewhere',
      waitForConnections: true,
    };
    const written = await rest<SessionAnswer>('PATCH', `/sessions/${read.session_id}`, { config });
    expect(written.status).toBe(200);
    expect(written.json.config).toMatchObject({
      toolkits: { mode: 'enable', slugs: ['tasks', 'notes'] },
      tools: { tasks: { mode: 'enable', slugs: ['TASKS_LIST_TASKS'] } },
      manageConnections: true,
      connectionCallbackUrl: 'http://localhost:3000/elsewhere',
      waitForConnections: true,
    });
    // back to every toolkit, as GET shows it
    const opened = await rest<SessionAnswer>('PATCH', `/sessions/${read.session_id}`, {
      config: { ...written.json.config, toolkits: { mode: 'all' }, tools: {} },
    });
    expect(opened.status).toBe(200);
    const toolkits = await rest<{ items: Array<{ slug: string }> }>(
      'GET',
      `/sessions/${read.session_id}/toolkits`,
    );
    expect(toolkits.json.items.map((toolkit) => toolkit.slug)).toContain('mail');
  });

  it('keeps a DIRECT_TOOLS session without the meta-tools that are on by default when a setting changes', async () => {
    const read = await created({ sessionPreset: 'DIRECT_TOOLS', toolkits: ['notes'] });
    const tools = await toolSlugs(read.session_id);
    expect(tools).toEqual(['NOTES_CREATE_NOTE', 'NOTES_SEARCH_NOTES']);
    const workbench = { ...(read.config.workbench as object), timeoutMs: 5000 };
    const written = await rest<SessionAnswer>('PATCH', `/sessions/${read.session_id}`, {
      config: { ...read.config, workbench },
    });
    expect(written.status).toBe(200);
    expect(written.json.config.workbench).toMatchObject({ timeoutMs: 5000 });
    expect(await toolSlugs(read.session_id)).toEqual(tools);
  });

  it('refuses a change of a key no update sets, naming it', async () => {
    const read = await created({ toolkits: ['tasks'] });
    const refused = await rest<{ error: { code: string; message: string } }>(
      'PATCH',
      `/sessions/${read.session_id}`,
      { config: { ...read.config, customTools: ['LOCAL_NEW_TOOL'] } },
    );
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('CONFIG_INVALID');
    expect(refused.json.error.message).toContain('config.customTools');
  });
});
