import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkIsolation, IsolationWorld, isAcceptableUserId, TRICKY_USER_IDS } from './account-isolation.js';
import { createTestPostgresUrl, postgresSkipReason } from './postgres.js';

/**
 * The cross-user property (see account-isolation.ts) on both stores. CI runs a bounded, seeded number
 * of scenarios; TOOLMUX_PROPERTY_RUNS scales it up (bench/account-isolation.bench.ts runs 10,000+
 * steps), TOOLMUX_PROPERTY_SEED replays a failure.
 */
const runs = Number(process.env.TOOLMUX_PROPERTY_RUNS ?? 30);
const seed = process.env.TOOLMUX_PROPERTY_SEED ? Number(process.env.TOOLMUX_PROPERTY_SEED) : 1515;
const skipPostgres = await postgresSkipReason();

function isolationSuite(name: string, openStore: () => Promise<{ url: string; cleanup(): Promise<void> }>) {
  describe(`a call runs only with an account of its own session's user (${name})`, () => {
    let world: IsolationWorld;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      const store = await openStore();
      world = new IsolationWorld(store.url);
      cleanup = async () => {
        await world.close();
        await store.cleanup();
      };
    });
    afterAll(() => cleanup());

    it('holds for lone surrogates that a database folds into one user', async () => {
      // The reported case: "\ud800v1" and "\udc00v1" were stored as "\ufffdv1", one user.
      await world.run({
        users: ['\ud800v1', '\udc00v1', '\ufffdv1'],
        steps: [
          { kind: 'connect', user: 0, config: 0 },
          { kind: 'connect', user: 2, config: 0 },
          { kind: 'create', user: 1, pick: 'authConfig', config: 0, accounts: [0] },
          { kind: 'create', user: 2, pick: 'authConfig', config: 0, accounts: [0] },
          { kind: 'execute', session: 0 },
          { kind: 'multiExecute', session: 0, count: 2 },
          { kind: 'direct', user: 1, account: null },
        ],
      });
      expect(world.callsWithAccount).toBeGreaterThan(0);
    });

    it('holds for random sequences of sessions, accounts, calls and changes across users', async () => {
      const before = world.steps;
      await checkIsolation(world, { numRuns: runs, seed });
      expect(world.steps - before).toBeGreaterThanOrEqual(runs);
      expect(world.callsWithAccount).toBeGreaterThan(0);
    }, 120_000);
  });
}

it('the oracle refuses exactly the user ids the store cannot keep apart', () => {
  expect(TRICKY_USER_IDS.filter(isAcceptableUserId)).toEqual([
    'alice',
    'alice ',
    'Alice',
    'alice\u200b',
    '\ufffdv1',
    'v1\udbff\udfff',
    '\u00e9',
    'e\u0301',
    'x'.repeat(256),
    '👩‍💻',
    '__proto__',
    'constructor',
  ]);
});

isolationSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-isolation-'));
  return {
    url: `sqlite:${join(dir, 'toolmux.db')}`,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe.skipIf(skipPostgres !== undefined)(`postgres ${skipPostgres ?? ''}`, () => {
  isolationSuite('postgres', () => createTestPostgresUrl());
});
