import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredTool } from './catalog/declarations.js';
import { defineTool } from './catalog/define.js';
import { ToolMuxError } from './errors.js';
import { MetaToolSlug } from './meta-tools/meta-tools.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { quiet } from './test/auth-fixtures.js';
import { createTestPostgresUrl, postgresSkipReason } from './test/postgres.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';
import { textProblem } from './util/stored-text.js';

/**
 * Bad input at every entry point of the embedded SDK: ids, user ids, labels and metadata the store
 * cannot keep (NUL, lone surrogates, control characters, too long), and JSON nested deep enough to
 * overflow the stack. Each is a 4xx ToolMuxError naming the value — never STORE_ERROR (PostgreSQL
 * refuses NUL), never a RangeError — and leaves the stored data as it was.
 */

const skipPostgres = await postgresSkipReason();

/** Values no id, user id or label may be. */
const UNSTORABLE = ['u\u0000', '\ud800v1', '\udc00v1', 'a\u001bb', 'x'.repeat(5000)];

async function refusal(promise: Promise<unknown>): Promise<ToolMuxError> {
  const error = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  expect(ToolMuxError.isInstance(error), `expected a ToolMuxError, got ${String(error)}`).toBe(true);
  const { status, code } = error as ToolMuxError;
  expect(status, `${code}: ${(error as Error).message}`).toBeGreaterThanOrEqual(400);
  expect(status, `${code}: ${(error as Error).message}`).toBeLessThan(500);
  return error as ToolMuxError;
}

function nested(depth: number, leaf: unknown = {}): unknown {
  let value = leaf;
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

function deepSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < depth; i++) schema = { type: 'object', properties: { a: schema } };
  return schema;
}

function inputSuite(name: string, openStore: () => Promise<{ url: string; cleanup(): Promise<void> }>) {
  describe(`bad input at the SDK's entry points (${name})`, () => {
    let mux: ToolMux;
    let cleanup: () => Promise<void>;
    let calls: ReturnType<typeof createSampleToolkits>['calls'];
    let authConfigId: string;
    let sessionId: string;

    beforeAll(async () => {
      const store = await openStore();
      const sample = createSampleToolkits();
      calls = sample.calls;
      mux = new ToolMux({
        toolkits: sample.toolkits,
        store: store.url,
        secretKey: randomBytes(32).toString('base64'),
        logger: quiet,
      });
      authConfigId = (await mux.authConfigs.create('mail', { type: 'api_key' })).id;
      await mux.connectedAccounts.create('user_1', authConfigId, { apiKey: 'key-user-1' });
      sessionId = (await mux.create('user_1', { authConfigs: { mail: authConfigId } })).sessionId;
      cleanup = async () => {
        await mux.close();
        await store.cleanup();
      };
    });
    afterAll(() => cleanup());

    /** What is stored, to compare before and after. */
    const snapshot = async () => ({
      sessions: (await mux.sessions.list({ limit: 1000 })).items.map((s) => [
        s.sessionId,
        s.userId,
        s.metadata,
      ]),
      accounts: (await mux.connectedAccounts.list({ limit: 1000 })).items.map((a) => [
        a.id,
        a.userId,
        a.status,
      ]),
      configs: (await mux.authConfigs.list({ limit: 1000 })).items.map((c) => [c.id, c.name]),
      logs: (await (await mux.use(sessionId)).logs({ limit: 1000 })).items.length,
    });

    it('refuses unstorable user ids with USER_ID_INVALID everywhere a user id enters', async () => {
      const before = await snapshot();
      for (const userId of [...UNSTORABLE, '', ' ']) {
        for (const call of [
          () => mux.create(userId),
          () => mux.connectedAccounts.create(userId, authConfigId, { apiKey: 'k' }),
          () => mux.connectedAccounts.link(userId, authConfigId),
          () => mux.connectedAccounts.list({ userIds: [userId] }),
          () => mux.sessions.list({ userId }),
          () => mux.tools.execute('MAIL_SEND_EMAIL', { userId, arguments: {} }),
          () => mux.tools.get(userId, {}),
        ]) {
          const error = await refusal(call());
          expect(error.code).toBe('USER_ID_INVALID');
          expect(error.message).toMatch(/^userId(s\[\])? /);
        }
      }
      expect(await snapshot()).toEqual(before);
    });

    it('refuses unstorable ids, labels and metadata with a 4xx naming the value, not STORE_ERROR', async () => {
      const before = await snapshot();
      const session = await mux.use(sessionId);
      for (const bad of UNSTORABLE) {
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['use', () => mux.use(bad)],
          ['use ses_', () => mux.use(`ses_${bad}`)],
          ['authConfigs.get', () => mux.authConfigs.get(`ac_${bad}`)],
          ['authConfigs.delete', () => mux.authConfigs.delete(`ac_${bad}`)],
          ['authConfigs.list', () => mux.authConfigs.list({ toolkit: bad })],
          ['authConfigs.create name', () => mux.authConfigs.create('mail', { type: 'api_key', name: bad })],
          [
            'authConfigs.create clientId',
            () => mux.authConfigs.create('mail', { type: 'oauth2', clientId: bad } as never),
          ],
          ['connectedAccounts.get', () => mux.connectedAccounts.get(`ca_${bad}`)],
          ['connectedAccounts.delete', () => mux.connectedAccounts.delete(`ca_${bad}`)],
          ['connectedAccounts.disable', () => mux.connectedAccounts.disable(`ca_${bad}`)],
          ['connectedAccounts.refresh', () => mux.connectedAccounts.refresh(`ca_${bad}`)],
          [
            'connectedAccounts.create',
            () => mux.connectedAccounts.create('user_1', `ac_${bad}`, { apiKey: 'k' }),
          ],
          ['connectedAccounts.list', () => mux.connectedAccounts.list({ authConfigIds: [`ac_${bad}`] })],
          ['connectedAccounts.list toolkits', () => mux.connectedAccounts.list({ toolkits: [bad] })],
          ['connectionRequests.get', () => mux.connectionRequests.get(`cr_${bad}`)],
          [
            'connectionRequests.complete',
            () => mux.connectionRequests.complete(`cr_${bad}`, { apiKey: 'k' }),
          ],
          ['create metadata value', () => mux.create('user_1', { metadata: { label: bad } })],
          ['create metadata key', () => mux.create('user_1', { metadata: { [bad]: 'v' } })],
          ['create authConfigs', () => mux.create('user_1', { authConfigs: { mail: `ac_${bad}` } })],
          [
            'create connectedAccounts',
            () => mux.create('user_1', { connectedAccounts: { mail: `ca_${bad}` } }),
          ],
          ['create toolkits', () => mux.create('user_1', { toolkits: [bad] })],
          ['update metadata', () => session.update({ metadata: { label: bad } })],
          ['execute callId', () => session.execute('TASKS_LIST_TASKS', {}, { callId: bad })],
          [
            'tools.execute callId',
            () => mux.tools.execute('TASKS_LIST_TASKS', { userId: 'user_1', arguments: {}, callId: bad }),
          ],
          [
            'tools.execute account',
            () =>
              mux.tools.execute('MAIL_SEND_EMAIL', {
                userId: 'user_1',
                arguments: {},
                connectedAccountId: `ca_${bad}`,
              }),
          ],
          ['sessions.list cursor', () => mux.sessions.list({ cursor: `ses_${bad}` })],
          ['logs cursor', () => session.logs({ cursor: `log_${bad}` })],
          [
            'proxy account',
            () => session.proxyExecute({ toolkit: 'mail', endpoint: '/', connectedAccountId: `ca_${bad}` }),
          ],
        ];
        for (const [label, call] of calls) {
          const error = await refusal(call()).catch((failure: Error) => {
            throw new Error(`${label} with ${JSON.stringify(bad.slice(0, 20))}: ${failure.message}`);
          });
          expect(error.code, label).not.toBe('STORE_ERROR');
          // the message names the value escaped: printable, storable
          expect(textProblem(error.message, { maxLength: 10_000, freeText: true }), label).toBeUndefined();
        }
      }
      expect(await snapshot()).toEqual(before);
    });

    it('answers a tool slug no tool can have with TOOL_NOT_FOUND, logged escaped', async () => {
      const session = await mux.use(sessionId);
      for (const bad of UNSTORABLE) {
        const result = await session.execute(bad, {});
        expect(result).toMatchObject({ successful: false, code: 'TOOL_NOT_FOUND' });
        const direct = await mux.tools.execute(bad, { userId: 'user_1', arguments: {} });
        expect(direct).toMatchObject({ successful: false, code: 'TOOL_NOT_FOUND' });
      }
      const logs = (await session.logs({ limit: 50 })).items.filter(
        (log) => log.errorCode === 'TOOL_NOT_FOUND',
      );
      expect(logs.length).toBeGreaterThanOrEqual(UNSTORABLE.length);
      for (const log of logs) expect(textProblem(log.toolSlug, { maxLength: 200 })).toBeUndefined();
    });

    it('refuses arguments nested past the limit as TOOL_ARGUMENTS_INVALID without running the tool', async () => {
      const session = await mux.use(sessionId);
      const before = calls.length;
      for (const depth of [200, 5_000, 100_000]) {
        const args = { title: 'deep', labels: [nested(depth, 'x')] };
        const result = await session.execute('TASKS_CREATE_TASK', args);
        expect(result).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
        expect(result.error).toContain('more than 128 levels deep');
        const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
          tools: [{ tool_slug: 'TASKS_CREATE_TASK', arguments: args }],
        });
        expect(multi.successful).toBe(false);
        expect(JSON.stringify(multi)).not.toContain('Maximum call stack');
      }
      expect(calls.length).toBe(before);
      // arguments as deep as a schema may need still run
      const ok = await session.execute('TASKS_CREATE_TASK', { title: 't', labels: ['a'] });
      expect(ok.successful, ok.error ?? '').toBe(true);
    });

    it('refuses custom tool schemas nested past the limit, and declarations with unstorable text', async () => {
      for (const depth of [100, 2_500, 5_000]) {
        const define = () =>
          defineTool({
            slug: 'DEEP_TOOL',
            description: 'Deep.',
            inputSchema: { type: 'object', properties: { a: deepSchema(depth) } },
            execute: () => null,
          });
        expect(define).toThrow(expect.objectContaining({ code: 'TOOL_DEFINITION_INVALID' }));
        expect(() =>
          declaredTool({
            slug: 'DEEP_TOOL',
            name: 'Deep',
            description: 'Deep.',
            toolkit: '',
            inputSchema: { type: 'object', properties: { a: deepSchema(depth) } },
            annotations: {},
            tags: [],
          }),
        ).toThrow(expect.objectContaining({ code: 'TOOL_DEFINITION_INVALID' }));
      }
      const declaration = {
        slug: 'CUSTOM_TOOL',
        name: 'Custom',
        description: 'Custom.',
        toolkit: '',
        inputSchema: { type: 'object', properties: { a: { type: 'string' } } },
        annotations: {},
        tags: [],
      };
      for (const bad of ['u\u0000', '\ud800']) {
        for (const variant of [
          { ...declaration, description: bad },
          { ...declaration, tags: [bad] },
          { ...declaration, inputSchema: { type: 'object', properties: { [bad]: { type: 'string' } } } },
          { ...declaration, inputSchema: { type: 'object', properties: { a: { enum: [bad] } } } },
        ]) {
          expect(() => declaredTool(variant)).toThrow(
            expect.objectContaining({ code: 'TOOL_DEFINITION_INVALID' }),
          );
        }
      }
      // a schema as deep as real APIs' is fine
      expect(
        declaredTool({ ...declaration, inputSchema: { type: 'object', properties: { a: deepSchema(40) } } })
          .slug,
      ).toBe('CUSTOM_TOOL');
    });

    it("checks the account a lookup returns against the session's user before decrypting it", async () => {
      // A store whose account lookup ignores the user (as a database that folds ill-formed text
      // into one user would): the engine must still refuse the other user's account.
      const sample = createSampleToolkits();
      const inner = new SqliteStore({ path: ':memory:' });
      const folding = new Proxy(inner, {
        get(target, property, receiver) {
          if (property === 'listRecentConnectedAccounts') {
            return async (query: Parameters<Store['listRecentConnectedAccounts']>[0]) => {
              const all = await target.listConnectedAccounts({
                authConfigIds: [query.authConfigId],
                limit: 100,
              });
              return all.items.filter((account) => query.statuses.includes(account.status));
            };
          }
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const errors: string[] = [];
      const folded = new ToolMux({
        toolkits: sample.toolkits,
        store: folding,
        secretKey: randomBytes(32).toString('base64'),
        logger: { ...quiet, error: (message: string) => errors.push(message) },
      });
      try {
        const config = await folded.authConfigs.create('mail', { type: 'api_key' });
        await folded.connectedAccounts.create('alice', config.id, { apiKey: 'key-of-alice' });
        const session = await folded.create('bob', { authConfigs: { mail: config.id } });
        const result = await session.execute('MAIL_SEND_EMAIL', {
          to: 'a@example.com',
          subject: 's',
          body: 'b',
        });
        expect(result).toMatchObject({ successful: false, code: 'CONNECTED_ACCOUNT_MISMATCH' });
        expect(sample.calls).toEqual([]);
        expect(errors.join('\n')).toContain('returned an account of another user');
        expect(errors.join('\n')).not.toContain('key-of-alice');
      } finally {
        await folded.close();
      }
    });
  });
}

inputSuite('sqlite', async () => ({ url: ':memory:', cleanup: async () => {} }));

describe.skipIf(skipPostgres !== undefined)(`postgres ${skipPostgres ?? ''}`, () => {
  inputSuite('postgres', () => createTestPostgresUrl());
});
