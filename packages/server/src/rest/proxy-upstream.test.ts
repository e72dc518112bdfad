import { ToolMux } from '@toolmux/core';
import { unreachableApiToolkit } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ToolMuxServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';

describe('POST /sessions/:id/proxy when the toolkit’s API is not there', () => {
  let mux: ToolMux;
  let server: ToolMuxServer;
  /** Where the toolkit's API would be: nothing listens there. */
  let origin: string;
  const logger = recordingLogger();

  beforeAll(async () => {
    const gone = await unreachableApiToolkit();
    origin = gone.origin;
    mux = new ToolMux({
      toolkits: [gone.toolkit],
      store: ':memory:',
      logger,
    });
    server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger });
  });
  afterAll(() => mux.close());

  async function call(path: string, body: unknown) {
    const response = await server.fetch(
      new Request(`http://localhost${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );
    return { status: response.status, json: (await response.json()) as any };
  }

  it('answers 502 PROXY_FAILED naming the origin and the reason, not a 500', async () => {
    const session = await call('/api/v1/sessions', { user_id: 'user_1', config: { toolkits: ['gone'] } });
    expect(session.status).toBe(201);
    const proxied = await call(`/api/v1/sessions/${session.json.session_id}/proxy`, {
      toolkit: 'gone',
      endpoint: '/items',
    });
    expect(proxied.status).toBe(502);
    expect(proxied.json.error).toMatchObject({
      code: 'PROXY_FAILED',
      message: `Could not reach gone's API at ${origin} (ECONNREFUSED): check the toolkit's baseUrl and the network, then retry.`,
    });
  });
});
