import { randomBytes } from 'node:crypto';
import { type SessionConfig, type ToolMux, ToolMuxError } from '@toolmux/core';
import { createSampleToolkits, createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * A record key named `__proto__` (JSON.parse makes it an own key) is data like any other key, through
 * every front door: the SDK, REST and remote mode (the SDK's objects sent over REST) accept or refuse
 * the same input alike, and what is accepted reads back with `__proto__` an own key, never a
 * prototype. zod's records skip such a key; REST refused it with a 400 that claimed it could not be
 * stored, while the SDK stored it. On a real server, over SQLite and PostgreSQL.
 */
const skipPostgres = await postgresSkipReason();

/** JSON text of an object: `{ "__proto__": … }` in code would set the prototype instead. */
const parse = (text: string) => JSON.parse(text) as Record<string, never>;

type Outcome = string;

async function outcomeOf(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    await run();
    return 'OK';
  } catch (error) {
    if (!ToolMuxError.isInstance(error)) throw error;
    return error.code;
  }
}

function protoKeySuite(name: string, openStore: () => Promise<{ url: string; cleanup(): Promise<void> }>) {
  describe(`a "__proto__" record key through the SDK, REST and remote mode (${name})`, () => {
    let server: TestServer;
    let remote: ToolMux;
    let cleanup: () => Promise<void>;
    let authConfigId: string;

    beforeAll(async () => {
      const store = await openStore();
      server = await startTestServer({
        toolkits: createSampleToolkits().toolkits,
        store: store.url,
        secretKey: randomBytes(32).toString('base64'),
      });
      remote = server.remote();
      authConfigId = (await server.embedded.authConfigs.create('mail', { type: 'api_key' })).id;
      cleanup = async () => {
        await server.close();
        await store.cleanup();
      };
    });
    afterAll(() => cleanup());

    async function rest(method: string, path: string, body?: string) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
    }

    /** The REST answer as an outcome: 'OK' or its error code. */
    async function restOutcome(method: string, path: string, body: string): Promise<Outcome> {
      const { status, json } = await rest(method, path, body);
      return status < 300 ? 'OK' : json.error.code;
    }

    const ownProtoKey = (metadata: unknown) => ({
      keys: Object.keys(metadata as object),
      prototype: Object.getPrototypeOf(metadata) === Object.prototype,
      value: Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value,
    });

    it('stores metadata with a "__proto__" key and reads it back as an own key, SDK, REST and remote alike', async () => {
      const text = '{"__proto__":"p","a":"1"}';
      const expected = { keys: ['__proto__', 'a'], prototype: true, value: 'p' };

      const sdk = await server.embedded.create('proto_sdk', { metadata: parse(text) });
      const created = await rest(
        'POST',
        '/api/v1/sessions',
        `{"user_id":"proto_rest","config":{"metadata":${text}}}`,
      );
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const remoteSession = await remote.create('proto_remote', { metadata: parse(text) });

      for (const id of [sdk.sessionId, created.json.session_id as string, remoteSession.sessionId]) {
        expect(ownProtoKey((await server.embedded.use(id)).metadata)).toEqual(expected);
        expect(ownProtoKey((await remote.use(id)).metadata)).toEqual(expected);
        const read = await rest('GET', `/api/v1/sessions/${id}`);
        expect(ownProtoKey(read.json.metadata)).toEqual(expected);
      }
      expect(ownProtoKey(remoteSession.metadata)).toEqual(expected);

      // an update too
      const patched = await rest(
        'PATCH',
        `/api/v1/sessions/${created.json.session_id}`,
        '{"config":{"metadata":{"b":"2","__proto__":"q"}}}',
      );
      expect(patched.status, JSON.stringify(patched.json)).toBe(200);
      expect(ownProtoKey((await server.embedded.use(created.json.session_id)).metadata)).toEqual({
        keys: ['b', '__proto__'],
        prototype: true,
        value: 'q',
      });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('checks the value under "__proto__" as any other key\'s: a front door answers both alike', async () => {
      for (const value of [
        '5',
        'null',
        '["a"]',
        '{"x":"y"}',
        JSON.stringify('x'.repeat(1025)),
        '"a\\u0000"',
      ]) {
        const outcomes = { sdk: [] as Outcome[], rest: [] as Outcome[], remote: [] as Outcome[] };
        for (const key of ['a', '__proto__']) {
          const metadata = `{"${key}":${value}}`;
          outcomes.sdk.push(
            await outcomeOf(() => server.embedded.create('proto_bad', { metadata: parse(metadata) })),
          );
          outcomes.remote.push(
            await outcomeOf(() => remote.create('proto_bad', { metadata: parse(metadata) })),
          );
          outcomes.rest.push(
            await restOutcome(
              'POST',
              '/api/v1/sessions',
              `{"user_id":"proto_bad","config":{"metadata":${metadata}}}`,
            ),
          );
        }
        for (const [door, [ordinary, proto]] of Object.entries(outcomes)) {
          expect(proto, `${door}: metadata.__proto__ = ${value.slice(0, 20)}`).toBe(ordinary);
          expect(proto, `${door}: metadata.__proto__ = ${value.slice(0, 20)}`).not.toBe('OK');
        }
      }
      // the message names the key's path, as for any other key
      const refused = await rest(
        'POST',
        '/api/v1/sessions',
        '{"user_id":"proto_bad","config":{"metadata":{"__proto__":5}}}',
      );
      expect(refused.json.error.code).toBe('INVALID_REQUEST');
      expect(refused.json.error.message).toContain('body.config.metadata.__proto__');
      expect(refused.json.error.message).not.toContain('cannot be stored');
      expect((await server.embedded.sessions.list({ userId: 'proto_bad' })).items).toEqual([]);
    });

    it('answers other maps with a "__proto__" key alike through the SDK, REST and remote mode', async () => {
      const configs: Array<[string, string]> = [
        ['authConfigs', `{"authConfigs":{"__proto__":"${authConfigId}"}}`],
        ['tools', '{"tools":{"__proto__":["TASKS_LIST_TASKS"]}}'],
        ['connectedAccounts', '{"connectedAccounts":{"__proto__":"ca_1"}}'],
      ];
      for (const [label, config] of configs) {
        const sdk = await outcomeOf(() =>
          server.embedded.create('proto_maps', parse(config) as SessionConfig),
        );
        const viaRemote = await outcomeOf(() => remote.create('proto_maps', parse(config) as SessionConfig));
        const viaRest = await restOutcome(
          'POST',
          '/api/v1/sessions',
          `{"user_id":"proto_maps","config":${config}}`,
        );
        // no toolkit is named "__proto__" (a slug starts with a letter)
        expect({ label, sdk, rest: viaRest, remote: viaRemote }).toEqual({
          label,
          sdk: 'TOOLKIT_NOT_FOUND',
          rest: 'TOOLKIT_NOT_FOUND',
          remote: 'TOOLKIT_NOT_FOUND',
        });
      }
      const composio = await restOutcome(
        'POST',
        '/api/v3.1/tool_router/session',
        `{"user_id":"proto_maps","auth_configs":{"__proto__":"${authConfigId}"}}`,
      );
      expect(composio).not.toBe('INVALID_REQUEST');

      // credentials: a field the auth scheme does not take, whatever its name
      const credentials = '{"apiKey":"k","__proto__":"x"}';
      const sdk = await outcomeOf(() =>
        server.embedded.connectedAccounts.create('proto_maps', authConfigId, parse(credentials)),
      );
      const viaRemote = await outcomeOf(() =>
        remote.connectedAccounts.create('proto_maps', authConfigId, parse(credentials)),
      );
      const viaRest = await restOutcome(
        'POST',
        '/api/v1/connected-accounts',
        `{"user_id":"proto_maps","auth_config_id":"${authConfigId}","credentials":${credentials}}`,
      );
      expect({ sdk, rest: viaRest, remote: viaRemote }).toEqual({
        sdk: 'CONNECTED_ACCOUNT_INVALID',
        rest: 'CONNECTED_ACCOUNT_INVALID',
        remote: 'CONNECTED_ACCOUNT_INVALID',
      });
      expect((await server.embedded.sessions.list({ userId: 'proto_maps' })).items).toEqual([]);
      expect((await server.embedded.connectedAccounts.list({ userIds: ['proto_maps'] })).items).toEqual([]);
    });

    it('accepts a custom tool whose schema\'s top level has a "__proto__" key through REST, as the SDK does', async () => {
      const schema = '{"type":"object","__proto__":{"type":"string"}}';
      const created = await rest(
        'POST',
        '/api/v1/sessions',
        `{"user_id":"proto_tool","config":{"experimental":{"customTools":[{"slug":"PROTO_TOOL","name":"P","description":"d","toolkit":"","inputSchema":${schema},"annotations":{},"tags":[]}]}}}`,
      );
      expect(created.status, JSON.stringify(created.json)).toBe(201);
    });
  });
}

protoKeySuite('sqlite', async () => ({ url: ':memory:', cleanup: async () => {} }));

describe.skipIf(skipPostgres !== undefined)(`postgres ${skipPostgres ?? ''}`, () => {
  protoKeySuite('postgres', () => createTestPostgresUrl());
});
