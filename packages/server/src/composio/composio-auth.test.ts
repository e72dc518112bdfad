import { ToolMux } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from '../server.js';
import { recordingLogger, TEST_API_KEY } from '../test-helpers.js';

/** Where the Composio-compatible API takes the project API key: where its docs say, nowhere else. */
describe("the Composio-compatible API's credential", () => {
  const sample = createSampleToolkits();
  const mux = new ToolMux({ toolkits: sample.toolkits, store: ':memory:', logger: recordingLogger() });
  const server = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger: recordingLogger() });
  afterAll(() => mux.close());

  const create = (headers: Record<string, string>) =>
    server.fetch(
      new Request('http://localhost/api/v3.1/tool_router/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ user_id: 'user_composio_key', toolkits: ['tasks'] }),
      }),
    );

  it('is the project API key in x-api-key, or after "Bearer " in Authorization, and nowhere else', async () => {
    expect((await create({ 'x-api-key': TEST_API_KEY })).status).toBe(201);
    expect((await create({ authorization: `Bearer ${TEST_API_KEY}` })).status).toBe(201);
    // the scheme in any case, then one or more spaces (RFC 9110, 11.4), as /api/v1 and MCP read it
    for (const authorization of [`bearer ${TEST_API_KEY}`, `Bearer   ${TEST_API_KEY}`]) {
      expect((await create({ authorization })).status, authorization).toBe(201);
    }
    expect((await create({ authorization: `Bearer\t${TEST_API_KEY}` })).status).toBe(401);
    // a bare key in Authorization is no scheme the docs describe
    expect((await create({ authorization: TEST_API_KEY })).status).toBe(401);
    const inQuery = await server.fetch(
      new Request(`http://localhost/api/v3.1/tool_router/session?api_key=${TEST_API_KEY}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: 'user_composio_key', toolkits: ['tasks'] }),
      }),
    );
    expect(inQuery.status).toBe(401);
  });
});
