import { ToolMuxError } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * An OAuth client's fields given to create an auth config of another type (`api_key`, `bearer`,
 * `basic`) were dropped: the config was made without them, over REST, embedded and in remote mode,
 * though `update()` refuses the same fields on such a config. They are refused, naming the field.
 */

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ toolkits: createSampleToolkits().toolkits });
});
afterAll(() => server.close());

async function post(body: unknown) {
  const response = await fetch(`${server.url}/api/v1/auth-configs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

async function refusal(call: Promise<unknown>): Promise<ToolMuxError> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(ToolMuxError.isInstance(error), String(error)).toBe(true);
  return error as ToolMuxError;
}

describe('creating an auth config', () => {
  it('refuses an OAuth client field on an api_key config over REST, naming it, and makes no config', async () => {
    const before = (await server.embedded.authConfigs.list()).items.length;
    for (const [field, value] of [
      ['client_secret', 's3cret-value'],
      ['client_id', 'client-1'],
      ['scopes', ['read']],
    ] as const) {
      const answer = await post({ toolkit: 'mail', type: 'api_key', [field]: value });
      expect(answer.status, field).toBe(400);
      expect(answer.json.error, field).toEqual({
        code: 'AUTH_CONFIG_INVALID',
        message: `body.${field} is for oauth2 auth configs only; an api_key auth config takes toolkit, type and name: leave ${field} out (the user's credentials come when they connect an account).`,
        details: { field: `body.${field}` },
      });
      expect(JSON.stringify(answer.json)).not.toContain('s3cret-value');
    }
    expect((await server.embedded.authConfigs.list()).items).toHaveLength(before);
    expect((await post({ toolkit: 'mail', type: 'api_key', name: 'Mail keys' })).status).toBe(201);
  });

  it('refuses them, and keys no auth config has, embedded and in remote mode alike', async () => {
    const remote = server.remote();
    for (const mux of [server.embedded, remote]) {
      const secret = await refusal(
        mux.authConfigs.create('mail', { type: 'api_key', clientSecret: 's3cret-value' } as never),
      );
      expect(secret.code).toBe('AUTH_CONFIG_INVALID');
      expect(secret.message).toBe(
        `"clientSecret" is an option of oauth2 auth configs only; an api_key auth config takes type and name: leave "clientSecret" out (the user's credentials come when they connect an account).`,
      );
      expect(secret.message).not.toContain('s3cret-value');
      const unknown = await refusal(
        mux.authConfigs.create('mail', { type: 'api_key', name: 'x', label: 'y' } as never),
      );
      expect(unknown.code).toBe('AUTH_CONFIG_INVALID');
      expect(unknown.message).toMatch(
        /^"label" is not an option of .*: give type, name \(clientId, clientSecret and scopes are for oauth2 configs\)\.$/,
      );
      // given as undefined, an option is left out
      const made = await mux.authConfigs.create('mail', {
        type: 'api_key',
        clientSecret: undefined,
      } as never);
      expect(made.type).toBe('api_key');
    }
  });
});
