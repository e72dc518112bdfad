import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolMuxError } from './errors.js';
import type { Session } from './session.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

/**
 * Every options object of the public list and search methods (and of those that take tool modifiers
 * or a tool call) is checked before anything is read or sent, in both modes: a key it does not take
 * is INVALID_REQUEST naming it and the closest known one (the REST API refused it while the SDK ignored
 * it), a value of the wrong kind is INVALID_REQUEST naming the field (it was a TypeError: `search: 123`,
 * `cursor: 5`), and a value is shown cut short (a cursor of 1 MB came back whole).
 */

const quiet = { debug() {}, warn() {}, error() {} };

/** A value of the wrong kind for each kind of field. */
const WRONG = {
  string: 123,
  strings: 'mail',
  boolean: 'true',
  limit: '5',
  cursor: 5,
  function: 'x',
  list: 'SHOP_LOOKUP_STOCK',
  version: '1',
} as const;

type Kind = keyof typeof WRONG;

interface Method {
  name: string;
  call: (options: unknown) => Promise<unknown>;
  /** What a valid call needs besides the field under test. */
  base?: Record<string, unknown>;
  fields: Record<string, Kind>;
  /** A misspelt key and the field it should suggest. */
  typo: [string, string];
}

function methods(mux: ToolMux, session: () => Session): Method[] {
  const page = { limit: 'limit', cursor: 'cursor' } as const;
  const modifiers = {
    modifySchema: 'function',
    beforeExecute: 'function',
    afterExecute: 'function',
  } as const;
  return [
    {
      name: 'mux.toolkits.list()',
      call: (options) => mux.toolkits.list(options as never),
      fields: { search: 'string', ...page },
      typo: ['serach', 'search'],
    },
    {
      name: 'mux.sessions.list()',
      call: (options) => mux.sessions.list(options as never),
      fields: { userId: 'string', ...page },
      typo: ['userID', 'userId'],
    },
    {
      name: 'mux.logs.list()',
      call: (options) => mux.logs.list(options as never),
      fields: { sessionId: 'string', userId: 'string', toolSlug: 'string', parentId: 'string', ...page },
      typo: ['toolslug', 'toolSlug'],
    },
    {
      name: 'mux.authConfigs.list()',
      call: (options) => mux.authConfigs.list(options as never),
      fields: { toolkit: 'string', ...page },
      typo: ['toolkits', 'toolkit'],
    },
    {
      name: 'mux.connectedAccounts.list()',
      call: (options) => mux.connectedAccounts.list(options as never),
      fields: {
        userIds: 'strings',
        toolkits: 'strings',
        statuses: 'strings',
        authConfigIds: 'strings',
        ...page,
      },
      typo: ['userId', 'userIds'],
    },
    {
      // customTools: 'x' was a TypeError in both modes
      name: 'mux.use()',
      call: (options) => mux.use(session().sessionId, options as never),
      fields: { customTools: 'list', customToolkits: 'list' },
      typo: ['tools', 'customTools'],
    },
    {
      name: 'mux.tools.get()',
      call: (options) => mux.tools.get('user_1', { toolkits: ['tasks'] }, options as never),
      fields: modifiers,
      typo: ['beforeExecut', 'beforeExecute'],
    },
    {
      name: 'mux.tools.execute()',
      call: (options) => mux.tools.execute('TASKS_LIST_TASKS', options as never),
      base: { userId: 'user_1' },
      fields: {},
      // given as `args`, the arguments were dropped and the tool ran with none
      typo: ['argument', 'arguments'],
    },
    {
      name: 'session.toolkits()',
      call: (options) => session().toolkits(options as never),
      fields: { toolkits: 'strings', search: 'string', connected: 'boolean', ...page },
      typo: ['connect', 'connected'],
    },
    {
      name: 'session.search()',
      call: (options) => session().search(options as never),
      base: { query: 'create a task' },
      fields: { limit: 'limit' },
      typo: ['knownField', 'knownFields'],
    },
    {
      name: 'session.logs()',
      call: (options) => session().logs(options as never),
      fields: { parentId: 'string', ...page },
      typo: ['parent', 'parentId'],
    },
    {
      // { expectedVersion } was ignored: the update was applied whatever version was asked for
      name: 'session.update()',
      call: (options) => session().update({}, options as never),
      fields: { expectedVersion: 'version' },
      typo: ['expected_version', 'expectedVersion'],
    },
    {
      name: 'session.tools()',
      call: (options) => session().tools(options as never),
      fields: modifiers,
      typo: ['modifyschema', 'modifySchema'],
    },
    // the options these take are checked where they are used; a misspelt key was ignored: the call
    // ran with the default account, the wait took 60 s, the user was sent back to the default page
    {
      name: 'session.execute()',
      call: (options) => session().execute('TASKS_LIST_TASKS', {}, options as never),
      fields: {},
      typo: ['acount', 'account'],
    },
    {
      name: 'session.authorize()',
      call: (options) => mailSession().authorize('mail', options as never),
      fields: {},
      typo: ['callbackURL', 'callbackUrl'],
    },
    {
      name: 'session.ensureConnected()',
      call: (options) => mailSession().ensureConnected('mail', options as never),
      fields: {},
      typo: ['aliass', 'alias'],
    },
    {
      name: 'session.waitForConnections()',
      call: (options) => mailSession().waitForConnections(['mail'], { timeoutMs: 0, ...(options as object) }),
      fields: {},
      typo: ['timeout', 'timeoutMs'],
    },
    {
      name: 'mux.connectedAccounts.link()',
      call: async (options) =>
        mux.connectedAccounts.link('user_1', (await mailConfig()).id, options as never),
      fields: {},
      typo: ['callbackURL', 'callbackUrl'],
    },
    {
      name: 'mux.connectedAccounts.create()',
      call: async (options) =>
        mux.connectedAccounts.create(
          'user_1',
          (await mailConfig()).id,
          { apiKey: 'key-0123456789' },
          options as never,
        ),
      fields: {},
      typo: ['aliass', 'alias'],
    },
    {
      name: 'mux.connectedAccounts.update()',
      call: async (options) => mux.connectedAccounts.update((await mailAccount()).id, options as never),
      base: { alias: null },
      fields: {},
      // { alias, status } changed the alias and left the status as it was
      typo: ['aliass', 'alias'],
    },
    {
      name: 'mux.vault.rotate()',
      call: (options) => mux.vault.rotate(options as never),
      fields: {},
      typo: ['batchsize', 'batchSize'],
    },
  ];
}

let mailSessionMade: Session | undefined;
let mailConfigMade: Promise<{ id: string }> | undefined;
/** A session of the sample `mail` toolkit, which connects with an API key. */
const mailSession = () => mailSessionMade!;
/** An auth config of `mail` (made once). */
const mailConfig = () => (mailConfigMade ??= mux.authConfigs.create('mail', { type: 'api_key' }));
let mailAccountMade: Promise<{ id: string }> | undefined;
/** An account of `mail` (made once, embedded). */
const mailAccount = () =>
  (mailAccountMade ??= mailConfig().then((config) =>
    mux.connectedAccounts.create('user_1', config.id, { apiKey: 'key-0123456789' }),
  ));

async function refusal(promise: Promise<unknown>): Promise<ToolMuxError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!ToolMuxError.isInstance(outcome)) {
    throw new Error(
      `expected a ToolMuxError, got ${outcome instanceof Error ? outcome.stack : String(outcome)}`,
    );
  }
  return outcome;
}

const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: ':memory:', logger: quiet });
let session: Session;
beforeAll(async () => {
  session = await mux.create('user_1', { toolkits: ['tasks'] });
  mailSessionMade = await mux.create('user_1', { toolkits: ['mail'] });
});
afterAll(() => mux.close());

describe.each(methods(mux, () => session))(
  '$name',
  ({ name, call, base = {}, fields, typo: [typo, meant] }) => {
    it('takes its options as they are documented', async () => {
      await expect(call({ ...base })).resolves.toBeDefined();
    });

    it('refuses a key it does not take, naming the closest one', async () => {
      const error = await refusal(call({ ...base, [typo]: 'x' }));
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.message).toContain(`${name} has no option "${typo}". Did you mean "${meant}"?`);
      const huge = await refusal(call({ ...base, ['k'.repeat(1_000_000)]: 1 }));
      expect(huge.message.length).toBeLessThan(500);
    });

    it.each(Object.entries(fields))(
      'refuses %s of another kind (and null), naming it',
      async (field, kind) => {
        for (const wrong of [WRONG[kind], null]) {
          const error = await refusal(call({ ...base, [field]: wrong }));
          expect(error.code).toBe('INVALID_REQUEST');
          expect(error.message).toMatch(new RegExp(`^${name.replace(/[.()]/g, '\\$&')}: ${field} must be`));
        }
        // a megabyte is no value of any field: refused (an id by its own check, USER_ID_INVALID for a
        // user id), and shown cut short
        const big = await refusal(call({ ...base, [field]: 'x'.repeat(1_000_000) }));
        expect(big.message.length).toBeLessThan(500);
      },
    );
  },
);

describe('mux.tools.get() filters', () => {
  it('takes toolkits, tools and tags only', async () => {
    const error = await refusal(
      mux.tools.get('user_1', { toolkits: ['tasks'], preload: { tools: [] } } as never),
    );
    expect(error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(error.message).toContain('"preload" is none of them');
    const typo = await refusal(mux.tools.get('user_1', { toolkit: ['tasks'] } as never));
    expect(typo.message).toContain('Did you mean "toolkits"?');
  });
});

describe('remote mode checks the same before sending', () => {
  // nothing listens there (a port fetch does not refuse): a request sent would be SERVER_UNREACHABLE
  const remote = new ToolMux({ baseUrl: 'http://127.0.0.1:47999', apiKey: 'k'.repeat(40), logger: quiet });
  afterAll(() => remote.close());

  it.each(
    methods(remote, () => session).filter(
      // the vault is the embedded store's
      (method) => method.name.startsWith('mux.') && method.name !== 'mux.vault.rotate()',
    ),
  )('$name', async ({ name, call, base = {}, fields, typo: [typo] }) => {
    expect(await refusal(call({ ...base, [typo]: 'x' }))).toMatchObject({
      code: 'INVALID_REQUEST',
      message: expect.stringContaining(`${name} has no option "${typo}"`),
    });
    for (const [field, kind] of Object.entries(fields)) {
      expect(await refusal(call({ ...base, [field]: WRONG[kind] }))).toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining(`${name}: ${field} must be`),
      });
    }
  });
});

describe('the options of methods that fail for other reasons here', () => {
  it('mux.connectedAccounts.refresh(), session.handleToolCalls() and mux.close() refuse a misspelt key first', async () => {
    const account = await mailAccount();
    // an API key has no token to refresh, the plain provider runs no tool calls: both checked after
    for (const [name, call] of [
      [
        'mux.connectedAccounts.refresh()',
        () => mux.connectedAccounts.refresh(account.id, { signl: 1 } as never),
      ],
      ['session.handleToolCalls()', () => session.handleToolCalls({} as never, { signl: 1 } as never)],
    ] as const) {
      expect(await refusal(call())).toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining(`${name} has no option "signl". Did you mean "signal"?`),
      });
    }
    const other = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: ':memory:',
      logger: quiet,
    });
    expect(await refusal(other.close({ timeout: 5 } as never))).toMatchObject({
      message: expect.stringContaining('mux.close() has no option "timeout". Did you mean "timeoutMs"?'),
    });
    await other.close();
  });
});
