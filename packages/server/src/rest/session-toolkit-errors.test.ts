import { ToolMuxError } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

// A toolkit named to a session route that the session does not have: the answer says which
// toolkits the session has and how to allow one (an update of its config), not only that it is not one.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

async function post(path: string, body: unknown) {
  const response = await fetch(`${server.url}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as any };
}

/** The session routes that name one toolkit, or several, of the session. */
const ROUTES: [string, (toolkit: string) => unknown][] = [
  ['authorize', (toolkit) => ({ toolkit })],
  ['ensure-connected', (toolkit) => ({ toolkit })],
  ['wait-for-connections', (toolkit) => ({ toolkits: [toolkit], timeout_seconds: 0 })],
  ['proxy', (toolkit) => ({ toolkit, endpoint: '/x' })],
];

describe('a toolkit the session does not have', () => {
  it('of the catalog: 403 TOOL_NOT_IN_SESSION naming the session’s toolkits and the PATCH that allows it', async () => {
    const created = await post('/sessions', {
      user_id: 'user_toolkit_errors',
      config: { toolkits: ['tasks'] },
    });
    const sessionId = created.json.session_id as string;
    for (const [route, body] of ROUTES) {
      const answer = await post(`/sessions/${sessionId}/${route}`, body('mail'));
      expect([answer.status, answer.json.error.code], route).toEqual([403, 'TOOL_NOT_IN_SESSION']);
      const { message } = answer.json.error as { message: string };
      expect(message, route).toMatch(/^"mail" is not a toolkit of this session\./);
      expect(message, route).toContain("The session's toolkits: tasks.");
      expect(message, route).toContain(
        'PATCH /api/v1/sessions/:sessionId with { "config": { "toolkits": ["mail", …] } }',
      );
      expect(message, route).not.toContain('session.update');
    }
    // what the message says works: the toolkit allowed, the same request goes through
    const patched = await fetch(`${server.url}/api/v1/sessions/${sessionId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ config: { toolkits: ['tasks', 'mail'] } }),
    });
    expect(patched.status).toBe(200);
    const authorized = await post(`/sessions/${sessionId}/authorize`, { toolkit: 'mail' });
    expect(authorized.status).toBe(201);
  });

  it('of no catalog: 404 TOOLKIT_NOT_FOUND, the closest of the session and where toolkits are listed', async () => {
    const created = await post('/sessions', {
      user_id: 'user_toolkit_errors',
      config: { toolkits: ['tasks', 'mail'] },
    });
    for (const [route, body] of ROUTES) {
      const answer = await post(`/sessions/${created.json.session_id}/${route}`, body('mial'));
      expect([answer.status, answer.json.error.code], route).toEqual([404, 'TOOLKIT_NOT_FOUND']);
      const { message } = answer.json.error as { message: string };
      expect(message, route).toContain('"mial" is not a toolkit of this session. Did you mean "mail"?');
      expect(message, route).toContain("The session's toolkits: mail, tasks.");
      expect(message, route).toContain('listed by GET /api/v1/toolkits');
    }
  });

  it('a remote-mode SDK reads the same in its own words', async () => {
    const remote = server.remote();
    const session = await remote.create('user_toolkit_errors', { toolkits: ['tasks'] });
    const error = await session.authorize('mail').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(ToolMuxError.isInstance(error)).toBe(true);
    expect((error as ToolMuxError).code).toBe('TOOL_NOT_IN_SESSION');
    expect((error as ToolMuxError).message).toContain('session.update({ toolkits: ["mail", …] })');
    expect((error as ToolMuxError).message).not.toContain('/api/v1');
    const unknown = await session.waitForConnections(['mial'], { timeoutMs: 0 }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    // close to none of the session's toolkits: the catalog's close one, which an update would allow
    expect((unknown as ToolMuxError).message).toContain(
      'The catalog has no toolkit of that slug either (it has "mail")',
    );
    expect((unknown as ToolMuxError).message).toContain('listed by toolkits.list()');
  });
});
