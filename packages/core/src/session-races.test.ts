import { describe, expect, it } from 'vitest';
import type { Toolkit } from './catalog/types.js';
import { MetaToolSlug } from './meta-tools/meta-tools.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { databaseBackends, databasePerTest, quiet, rejection } from './test/auth-fixtures.js';
import { gateToolkit } from './test/gate-tool.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * A session changed or deleted while calls of it are under way, on both databases, with two ToolMux
 * instances sharing one store.
 */

const secretKey = Buffer.alloc(32, 7).toString('base64');
const backends = await databaseBackends();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(backends)('session races on $name', ({ skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'races', () => {
    const { database, opened } = databasePerTest(open);

    function setup(toolkits: Toolkit[], accountCacheTtlMs?: number) {
      const mux = new ToolMux({
        toolkits,
        store: database.spec,
        secretKey,
        logger: quiet,
        baseUrl: 'https://tools.example.com',
        ...(accountCacheTtlMs !== undefined ? { accountCacheTtlMs } : {}),
      });
      opened.push(mux);
      return mux;
    }

    it('a workbench cell on another instance runs no more tools once its session was deleted', async () => {
      const sample = createSampleToolkits();
      const gate = gateToolkit();
      const toolkits = [...sample.toolkits, gate.toolkit];
      const mux = setup(toolkits);
      const other = setup(toolkits, 100);
      const session = await mux.create('user_1', {
        toolkits: ['tasks', 'gate'],
        workbench: { timeoutMs: 10_000 },
      });
      const elsewhere = await other.use(session.sessionId);
      const cell = elsewhere.execute(MetaToolSlug.WORKBENCH, {
        code: `await toolmux.execute('GATE_WAIT', {});
               const after = await toolmux.execute('TASKS_CREATE_TASK', { title: 'after the delete' });
               return after;`,
      });
      await gate.called;
      await session.delete();
      await sleep(300);
      gate.release();
      const out = (await cell).data as { result: { successful: boolean; error: string } | null };
      // on the old code the cell's call ran, for a session deleted 300 ms before
      expect(sample.calls.filter((call) => call.slug === 'TASKS_CREATE_TASK')).toHaveLength(0);
      expect(out.result?.successful).toBe(false);
      expect(out.result?.error).toContain(`Session "${session.sessionId}" does not exist any more`);
    });

    it('an update reaches the session objects that had the session: in this process at once, elsewhere once accountCacheTtlMs passed', async () => {
      const sample = createSampleToolkits();
      const mux = setup(sample.toolkits);
      const other = setup(sample.toolkits, 100);
      const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'] });
      const sameProcess = await mux.use(session.sessionId);
      const elsewhere = await other.use(session.sessionId);
      for (const held of [sameProcess, elsewhere]) {
        expect((await held.execute('NOTES_CREATE_NOTE', { text: 'before' })).successful).toBe(true);
      }

      expect(await session.update({ toolkits: ['tasks'] })).toBe(2);
      const refused = await sameProcess.execute('NOTES_CREATE_NOTE', { text: 'just after the update' });
      await sleep(150);
      const refusedElsewhere = await elsewhere.execute('NOTES_CREATE_NOTE', { text: 'after the update' });

      // on the old code both ran: a session object kept the config it was made with for ever
      for (const result of [refused, refusedElsewhere]) {
        expect(result).toMatchObject({ successful: false, code: 'TOOL_NOT_IN_SESSION' });
      }
      expect(sample.calls.filter((call) => call.slug === 'NOTES_CREATE_NOTE')).toHaveLength(2);
      for (const held of [sameProcess, elsewhere]) {
        expect(held.configVersion).toBe(2);
        expect(held.config.toolkits).toEqual({ mode: 'enable', slugs: ['tasks'] });
        expect((await held.execute('TASKS_CREATE_TASK', { title: 'still allowed' })).successful).toBe(true);
      }
    });

    it('a workbench cell running while its session is updated runs no tool the update took away', async () => {
      const sample = createSampleToolkits();
      const gate = gateToolkit();
      const mux = setup([...sample.toolkits, gate.toolkit]);
      const session = await mux.create('user_1', {
        toolkits: ['tasks', 'notes', 'gate'],
        workbench: { timeoutMs: 10_000 },
      });
      // the object a server's MCP endpoint holds, while its REST API updates the session through another
      const serving = await mux.use(session.sessionId);
      const cell = serving.execute(MetaToolSlug.WORKBENCH, {
        code: `await toolmux.execute('GATE_WAIT', {});
               return await toolmux.execute('NOTES_CREATE_NOTE', { text: 'after the update' });`,
      });
      await gate.called;
      await session.update({ toolkits: ['tasks', 'gate'] });
      gate.release();
      const out = (await cell).data as { result: { successful: boolean; error: string } | null };
      expect(sample.calls.filter((call) => call.slug === 'NOTES_CREATE_NOTE')).toHaveLength(0);
      expect(out.result?.successful).toBe(false);
      expect(out.result?.error).toContain('NOTES_CREATE_NOTE');
    });

    it('a call of a session object made before an update uses the account the update pinned, not the one it replaced', async () => {
      const sample = createSampleToolkits();
      const mux = setup(sample.toolkits);
      const other = setup(sample.toolkits, 100);
      const config = await mux.authConfigs.create('mail', { type: 'api_key' });
      const first = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-first' });
      const second = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-second' });
      const session = await mux.create('user_1', {
        toolkits: ['mail'],
        connectedAccounts: { mail: first.id },
      });
      const sameProcess = await mux.use(session.sessionId);
      const elsewhere = await other.use(session.sessionId);
      const send = { to: 'a@example.com', subject: 'hi', body: 'hello' };
      for (const held of [sameProcess, elsewhere])
        expect((await held.execute('MAIL_SEND_EMAIL', send)).successful).toBe(true);

      await session.update({ connectedAccounts: { mail: second.id } });
      await sameProcess.execute('MAIL_SEND_EMAIL', send);
      await sleep(150);
      await elsewhere.execute('MAIL_SEND_EMAIL', send);

      // on the old code both went on with the account the update replaced
      const keys = sample.calls
        .filter((call) => call.slug === 'MAIL_SEND_EMAIL')
        .map((call) => call.context.credentials?.apiKey);
      expect(keys).toEqual(['key-first', 'key-first', 'key-second', 'key-second']);
    });
  });
});

/**
 * A ToolMux on an in-memory store whose account reads (update()'s check of the account it pins) wait
 * while `hold()` holds them, until `release()` (`hold()` resolves once one waits); with a session of
 * `user_1` that pins a mail account.
 */
async function heldAccountChecks() {
  const inner = new SqliteStore({ path: ':memory:' });
  let held: Promise<void> | undefined;
  let releaseHeld = () => {};
  let arrived = () => {};
  const store = new Proxy(inner, {
    get: (target, property, receiver) => {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== 'getConnectedAccount') return value.bind(target);
      return async (...args: unknown[]) => {
        if (held) {
          arrived();
          await held;
        }
        return value.apply(target, args);
      };
    },
  }) as Store;
  const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store, secretKey, logger: quiet });
  const config = await mux.authConfigs.create('mail', { type: 'api_key' });
  const account = await mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key' });
  const session = await mux.create('user_1', {
    toolkits: ['tasks', 'mail'],
    connectedAccounts: { mail: account.id },
  });
  return {
    mux,
    session,
    account,
    hold: (): Promise<void> => {
      held = new Promise<void>((resolve) => {
        releaseHeld = resolve;
      });
      return new Promise<void>((resolve) => {
        arrived = resolve;
      });
    },
    release: () => {
      held = undefined;
      releaseHeld();
    },
  };
}

describe('an update through a session object that took up another update meanwhile', () => {
  it('is refused with SESSION_VERSION_CONFLICT: the config it was made from is not written over the newer one', async () => {
    const { mux, session, account, hold, release } = await heldAccountChecks();
    try {
      const other = await mux.use(session.sessionId);
      await other.update({ metadata: { by: 'other' } });
      hold();
      // made from version 1; its check of the account it pins waits
      const updating = session.update({ toolkits: ['mail'], connectedAccounts: { mail: account.id } });
      // meanwhile the object takes up version 2 before a call
      expect((await session.execute('TASKS_LIST_TASKS', {})).successful).toBe(true);
      expect(session.configVersion).toBe(2);
      release();
      // on the old code the update wrote version 3 from version 1, dropping the other update's metadata
      await rejection(updating, 'SESSION_VERSION_CONFLICT');
      const stored = await mux.use(session.sessionId);
      expect(stored.configVersion).toBe(2);
      expect(stored.metadata).toEqual({ by: 'other' });
    } finally {
      await mux.close();
    }
  });
});

describe('an update with an expectedVersion that another update lands on between its check and its write', () => {
  it('is refused naming the expectedVersion given, as the check before names it', async () => {
    const { mux, session, account, hold, release } = await heldAccountChecks();
    try {
      const waiting = hold();
      // version 1 is stored when it is checked; the check of the account it pins then waits
      const updating = session.update(
        { connectedAccounts: { mail: account.id }, metadata: { by: 'first' } },
        { expectedVersion: 1 },
      );
      await waiting;
      await (await mux.use(session.sessionId)).update({ metadata: { by: 'other' } });
      release();
      const refused = await rejection(updating, 'SESSION_VERSION_CONFLICT');
      expect(refused.details).toMatchObject({ expectedVersion: 1, currentVersion: 2 });
      expect(refused.message).toContain(
        'the expectedVersion given, 1, is not its config version any more (it is 2)',
      );
      expect((await mux.use(session.sessionId)).metadata).toEqual({ by: 'other' });
    } finally {
      await mux.close();
    }
  });
});

describe('a call whose session check is under way when close() begins', () => {
  it('runs: close() waits for it from its check on, as for any call in flight', async () => {
    const sample = createSampleToolkits();
    // accountCacheTtlMs 0: every call reads its session's row first
    const mux = new ToolMux({
      toolkits: sample.toolkits,
      store: ':memory:',
      logger: quiet,
      accountCacheTtlMs: 0,
    });
    const session = await mux.create('user_1', { toolkits: ['tasks'] });
    const call = session.execute('TASKS_CREATE_TASK', { title: 'before close' });
    await mux.close();
    expect(await call).toMatchObject({ successful: true });
    expect(sample.calls.map((each) => each.slug)).toEqual(['TASKS_CREATE_TASK']);
  });
});
