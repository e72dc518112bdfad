import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { ToolMuxError } from '../errors.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import type { Session } from '../session.js';
import { ToolMux } from '../toolmux.js';

/**
 * The cross-user property of toolmux, as a model-based test: random sequences of sessions, connected
 * accounts, calls and changes across users whose ids include ill-formed Unicode, NUL, very long and
 * near-duplicate ones. Invariant: a call only ever runs with an account of its own session's user.
 * Every API key is unique and the tool handler records the one it got, so any crossing shows.
 *
 * Used by `account-isolation.test.ts` (bounded, on SQLite and PostgreSQL) and by
 * `bench/account-isolation.bench.ts` (10,000 steps and more). Not part of `@toolmux/core/test`: it
 * needs fast-check, a dev dependency.
 */

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** User ids that differ only where a database or a careless comparison could fold them. */
export const TRICKY_USER_IDS: readonly string[] = [
  'alice',
  'alice ',
  'Alice',
  'alice\u200b',
  '\ud800v1',
  '\udc00v1',
  '\ufffdv1',
  'v1\ud800',
  'v1\udbff\udfff',
  '\u00e9',
  'e\u0301',
  'u\u00001',
  'u\u0000',
  'u\u00011',
  'u\u007f',
  'u\u0085',
  'line\nbreak',
  ' ',
  '',
  'x'.repeat(256),
  'x'.repeat(257),
  'y'.repeat(10_000),
  '👩‍💻',
  '__proto__',
  'constructor',
];

/** Whether toolmux must accept `userId`; written out here, independent of the code under test. */
export function isAcceptableUserId(userId: string): boolean {
  if (userId.trim() === '' || userId.length > 256) return false;
  for (let index = 0; index < userId.length; index++) {
    const unit = userId.charCodeAt(index);
    if (unit < 0x20 || (unit >= 0x7f && unit <= 0x9f)) return false;
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = userId.charCodeAt(index + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      index++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return false;
  }
  return true;
}

/** Any UTF-16 code units, lone surrogates and controls included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const userIdArbitrary = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...TRICKY_USER_IDS) },
  { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) },
);

export type Pick = 'precedence' | 'authConfig' | 'accounts';

/**
 * Aliases a step may give an account: few, so that users (near-duplicates above all) share them, and
 * near-duplicates themselves (case, composed and decomposed é) that a store must not fold.
 */
export const ALIASES = ['work', 'Work', '\u00e9', 'e\u0301'] as const;

export type Step =
  | { kind: 'connect'; user: number; config: number; alias?: number | null }
  | { kind: 'create'; user: number; pick: Pick; config: number; accounts: number[]; multi?: boolean }
  | { kind: 'execute'; session: number }
  | { kind: 'executeWith'; session: number; account: number; by: 'id' | 'alias' }
  | { kind: 'multiExecute'; session: number; count: number }
  | { kind: 'direct'; user: number; account: number | null }
  | { kind: 'update'; session: number; pick: Pick; config: number; accounts: number[] }
  | { kind: 'resume'; session: number }
  | { kind: 'deleteAccount'; account: number }
  | { kind: 'disableAccount'; account: number; enable: boolean };

const index = fc.nat({ max: 1000 });
const pick = fc.constantFrom<Pick>('precedence', 'authConfig', 'authConfig', 'accounts', 'accounts');
const accounts = fc.array(index, { minLength: 1, maxLength: 3 });

export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('connect' as const),
      user: index,
      config: index,
      alias: fc.option(fc.nat({ max: ALIASES.length - 1 }), { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      user: index,
      pick,
      config: index,
      accounts,
      multi: fc.boolean(),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('execute' as const), session: index }) },
  {
    // a call that names its account: any account's id or alias, other users' included
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('executeWith' as const),
      session: index,
      account: index,
      by: fc.constantFrom('id' as const, 'alias' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('multiExecute' as const),
      session: index,
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('direct' as const),
      user: index,
      account: fc.option(index, { nil: null }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      session: index,
      pick,
      config: index,
      accounts,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('resume' as const), session: index }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteAccount' as const), account: index }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('disableAccount' as const),
      account: index,
      enable: fc.boolean(),
    }),
  },
);

/** One run: the users it plays with (a few of them tricky) and its steps. */
export interface Scenario {
  users: string[];
  steps: Step[];
}

/** Valid ids that differ only in case, spacing, invisible or combining characters. */
const nearDuplicate = fc.constantFrom(...TRICKY_USER_IDS.filter(isAcceptableUserId));

export function scenarioArbitrary(maxSteps: number): fc.Arbitrary<Scenario> {
  return fc.record({
    // two valid near-duplicates (so that calls run), then anything
    users: fc
      .tuple(nearDuplicate, nearDuplicate, fc.array(userIdArbitrary, { maxLength: 4 }))
      .map(([first, second, rest]) => [first, second, ...rest]),
    steps: fc.array(stepArbitrary, { minLength: 1, maxLength: maxSteps, size: 'max' }),
  });
}

/** What the handler of `KEYED_WHOAMI` saw. */
interface SeenCall {
  userId: string;
  sessionId: string | undefined;
  apiKey: string | undefined;
}

/**
 * A world to run scenarios in: one ToolMux on `store` with a toolkit whose only tool records the API
 * key it ran with. Scenarios share the world (and its database); each uses its own user ids (a run
 * suffix keeps the tricky parts) and its own auth configs.
 */
export class IsolationWorld {
  readonly mux: ToolMux;
  readonly #seen: SeenCall[] = [];
  #runs = 0;
  /** Steps run so far, over every scenario. */
  steps = 0;
  /** Calls that ran with an account, over every scenario. */
  callsWithAccount = 0;
  /** How calls ended, by code (`ok` for a success), over every scenario. */
  readonly outcomes = new Map<string, number>();

  constructor(store: string) {
    const whoami = defineTool({
      slug: 'KEYED_WHOAMI',
      description: 'Says which API key it ran with.',
      inputSchema: { type: 'object', properties: {} },
      execute: (_input, context) => {
        this.#seen.push({
          userId: context.userId,
          sessionId: context.sessionId,
          apiKey: context.credentials?.apiKey,
        });
        return { ok: true };
      },
    });
    this.mux = new ToolMux({
      toolkits: [
        defineToolkit({
          slug: 'keyed',
          description: 'A toolkit with API keys.',
          tools: [whoami],
          auth: { type: 'api_key', fields: [{ name: 'apiKey', label: 'API key', secret: true }] },
        }),
      ],
      store,
      secretKey: randomBytes(32).toString('base64'),
      logger: quiet,
    });
  }

  close(): Promise<void> {
    return this.mux.close();
  }

  /** Runs one scenario; throws (an assertion error naming the step) when the invariant breaks. */
  async run(scenario: Scenario): Promise<void> {
    const run = ++this.#runs;
    const suffix = `#${process.pid}.${run}`;
    // the suffix keeps a lone surrogate lone and a NUL a NUL; a long id stays too long, one of
    // the longest allowed length keeps that length
    const users = scenario.users.map((user) => {
      if (user === '') return '';
      if (user.length <= 256 && user.length + suffix.length > 256) {
        return `${user.slice(0, 256 - suffix.length)}${suffix}`;
      }
      return `${user}${suffix}`;
    });
    const configs = [
      (await this.mux.authConfigs.create('keyed', { type: 'api_key', name: `a${suffix}` })).id,
      (await this.mux.authConfigs.create('keyed', { type: 'api_key', name: `b${suffix}` })).id,
    ];
    /** Key → the user whose account holds it (exact string). Deleted accounts' keys are removed. */
    const keyOwner = new Map<string, string>();
    const accountList: Array<{ id: string; user: string; key: string; alias?: string; deleted?: boolean }> =
      [];
    const sessionList: Array<Session<unknown>> = [];
    let keyCount = 0;

    const at = <T>(list: readonly T[], i: number): T | undefined =>
      list.length === 0 ? undefined : list[i % list.length];
    const selection = (step: { pick: Pick; config: number; accounts: number[]; multi?: boolean }) => {
      const multi = step.multi ? { multiAccount: { enable: true } } : {};
      if (step.pick === 'authConfig') return { authConfigs: { keyed: at(configs, step.config)! }, ...multi };
      if (step.pick === 'accounts' && accountList.length > 0) {
        const ids = step.accounts.map((i) => at(accountList, i)!.id);
        return { connectedAccounts: { keyed: [...new Set(ids)] }, ...multi };
      }
      return multi;
    };
    const fail = (step: Step, message: string): never => {
      throw new Error(`step ${JSON.stringify(step)}: ${message}`);
    };
    /** Every call the handler saw since `from` must hold a key of `user`, and say `user`. */
    const checkCalls = (step: Step, from: number, user: string, sessionId: string | undefined) => {
      for (const call of this.#seen.slice(from)) {
        this.callsWithAccount++;
        if (call.apiKey === undefined) fail(step, 'a call ran without credentials');
        const owner = keyOwner.get(call.apiKey!);
        if (owner !== user) {
          fail(
            step,
            `a call of user ${JSON.stringify(user)} ran with the key of ${owner === undefined ? 'a deleted account' : JSON.stringify(owner)}`,
          );
        }
        if (call.userId !== user) fail(step, `the handler was told user ${JSON.stringify(call.userId)}`);
        if (call.sessionId !== sessionId) fail(step, 'the handler was told another session');
      }
    };
    /** A refusal must be a ToolMuxError of one of `codes`, never a crash or a store failure. */
    const refused = (step: Step, error: unknown, codes: readonly string[]) => {
      if (!ToolMuxError.isInstance(error)) fail(step, `threw ${String(error)}`);
      const { code } = error as ToolMuxError;
      if (!codes.includes(code)) fail(step, `failed with ${code}: ${(error as Error).message}`);
    };
    const SELECTION_REFUSALS = ['CONNECTED_ACCOUNT_MISMATCH', 'CONNECTED_ACCOUNT_NOT_FOUND'];
    const CALL_REFUSALS = ['CONNECTION_REQUIRED', 'CONNECTION_EXPIRED', 'CONNECTED_ACCOUNT_MISMATCH'];
    /** A call that names its account may also find it not the session's, or gone. */
    const NAMED_REFUSALS = [...CALL_REFUSALS, 'ACCOUNT_NOT_IN_SESSION', 'CONNECTED_ACCOUNT_NOT_FOUND'];

    // a prelude, so that calls have accounts to run with: the first two users connect on both auth
    // configs and open a session each (config 0, config 1, by precedence)
    const prelude: Step[] = [
      { kind: 'connect', user: 0, config: 0 },
      { kind: 'connect', user: 1, config: 0 },
      { kind: 'connect', user: 0, config: 1 },
      { kind: 'connect', user: 1, config: 1 },
      { kind: 'create', user: 0, pick: 'authConfig', config: 0, accounts: [] },
      { kind: 'create', user: 1, pick: 'authConfig', config: 1, accounts: [] },
    ];
    for (const step of [...prelude, ...scenario.steps]) {
      this.steps++;
      const from = this.#seen.length;
      switch (step.kind) {
        case 'connect': {
          const user = at(users, step.user)!;
          const key = `key-${run}-${++keyCount}`;
          const alias = step.alias === undefined || step.alias === null ? undefined : ALIASES[step.alias];
          // an alias is unique per user (exactly this user id) and toolkit, among accounts not deleted
          const holder =
            alias === undefined
              ? undefined
              : accountList.find((entry) => !entry.deleted && entry.user === user && entry.alias === alias);
          try {
            const account = await this.mux.connectedAccounts.create(
              user,
              at(configs, step.config)!,
              { apiKey: key },
              alias === undefined ? {} : { alias },
            );
            if (!isAcceptableUserId(user)) fail(step, `user id ${JSON.stringify(user)} was accepted`);
            if (account.userId !== user) fail(step, `stored as user ${JSON.stringify(account.userId)}`);
            if (holder)
              fail(step, `alias ${JSON.stringify(alias)} was given twice to user ${JSON.stringify(user)}`);
            if ((account.alias ?? undefined) !== alias)
              fail(step, `stored with alias ${JSON.stringify(account.alias)}`);
            keyOwner.set(key, user);
            accountList.push({ id: account.id, user, key, ...(alias === undefined ? {} : { alias }) });
          } catch (error) {
            if (!isAcceptableUserId(user)) refused(step, error, ['USER_ID_INVALID']);
            else if (holder) refused(step, error, ['ALIAS_TAKEN']);
            else throw error;
          }
          break;
        }
        case 'create': {
          const user = at(users, step.user)!;
          try {
            const session = await this.mux.create(user, selection(step));
            if (!isAcceptableUserId(user)) fail(step, `user id ${JSON.stringify(user)} was accepted`);
            if (session.userId !== user) fail(step, `session of user ${JSON.stringify(session.userId)}`);
            sessionList.push(session as Session<unknown>);
          } catch (error) {
            refused(step, error, isAcceptableUserId(user) ? SELECTION_REFUSALS : ['USER_ID_INVALID']);
          }
          break;
        }
        case 'execute':
        case 'multiExecute':
        case 'resume': {
          let session = at(sessionList, step.session);
          if (!session) break;
          if (step.kind === 'resume') session = (await this.mux.use(session.sessionId)) as Session<unknown>;
          const result =
            step.kind === 'multiExecute'
              ? await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
                  tools: Array.from({ length: step.count }, () => ({
                    tool_slug: 'KEYED_WHOAMI',
                    arguments: {},
                  })),
                })
              : await session.execute('KEYED_WHOAMI', {});
          const outcome = result.successful ? 'ok' : result.code!;
          this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
          if (step.kind !== 'multiExecute' && !result.successful && !CALL_REFUSALS.includes(result.code!)) {
            fail(step, `failed with ${result.code}: ${result.error}`);
          }
          checkCalls(step, from, session.userId, session.sessionId);
          break;
        }
        case 'executeWith': {
          const session = at(sessionList, step.session);
          const account = at(accountList, step.account);
          if (!session || !account) break;
          if (step.by === 'alias' && account.alias === undefined) break;
          const named = step.by === 'alias' ? account.alias! : account.id;
          const result = await session.execute('KEYED_WHOAMI', {}, { account: named });
          const outcome = result.successful ? 'ok' : result.code!;
          this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
          if (!result.successful && !NAMED_REFUSALS.includes(result.code!)) {
            fail(step, `failed with ${result.code}: ${result.error}`);
          }
          // by id: only that account, and only when it is the session user's
          if (result.successful && step.by === 'id' && (account.user !== session.userId || account.deleted)) {
            fail(step, `ran with account ${account.id} of user ${JSON.stringify(account.user)}`);
          }
          checkCalls(step, from, session.userId, session.sessionId);
          break;
        }
        case 'direct': {
          const user = at(users, step.user)!;
          const account = step.account === null ? undefined : at(accountList, step.account);
          try {
            const result = await this.mux.tools.execute('KEYED_WHOAMI', {
              userId: user,
              arguments: {},
              ...(account ? { connectedAccountId: account.id } : {}),
            });
            if (!isAcceptableUserId(user)) fail(step, `user id ${JSON.stringify(user)} was accepted`);
            if (
              !result.successful &&
              ![...CALL_REFUSALS, 'CONNECTED_ACCOUNT_NOT_FOUND'].includes(result.code!)
            ) {
              fail(step, `failed with ${result.code}: ${result.error}`);
            }
          } catch (error) {
            if (isAcceptableUserId(user)) throw error;
            refused(step, error, ['USER_ID_INVALID']);
          }
          checkCalls(step, from, user, undefined);
          break;
        }
        case 'update': {
          const session = at(sessionList, step.session);
          if (!session) break;
          try {
            await session.update(selection(step));
          } catch (error) {
            refused(step, error, [...SELECTION_REFUSALS, 'SESSION_VERSION_CONFLICT']);
          }
          break;
        }
        case 'deleteAccount': {
          const account = at(accountList, step.account);
          if (!account) break;
          try {
            await this.mux.connectedAccounts.delete(account.id);
          } catch (error) {
            refused(step, error, ['CONNECTED_ACCOUNT_NOT_FOUND']);
          }
          keyOwner.delete(account.key);
          account.deleted = true;
          break;
        }
        case 'disableAccount': {
          const account = at(accountList, step.account);
          if (!account) break;
          try {
            if (step.enable) await this.mux.connectedAccounts.enable(account.id);
            else await this.mux.connectedAccounts.disable(account.id);
          } catch (error) {
            refused(step, error, [
              'CONNECTED_ACCOUNT_NOT_FOUND',
              'CONNECTED_ACCOUNT_INVALID',
              'INVALID_REQUEST',
            ]);
          }
          break;
        }
      }
    }
  }
}

/**
 * Checks the property over `numRuns` random scenarios of up to `maxSteps` steps in `world` (seeded:
 * the same seed replays the same scenarios); throws with the shrunk counterexample when it breaks.
 */
export async function checkIsolation(
  world: IsolationWorld,
  options: { numRuns: number; seed: number; maxSteps?: number },
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(scenarioArbitrary(options.maxSteps ?? 40), (scenario) => world.run(scenario)),
    { numRuns: options.numRuns, seed: options.seed, endOnFailure: true },
  );
}
