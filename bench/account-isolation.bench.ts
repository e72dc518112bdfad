/**
 * The cross-user property at scale (issue "Hardening", proof 1): at least 10,000 random steps of
 * sessions, connected accounts, calls, multi-calls, updates and deletions across users whose ids
 * include ill-formed Unicode, NUL, very long and near-duplicate ones, on SQLite and on PostgreSQL.
 * Invariant: a call only ever runs with an account of its own session's user. CI runs the same
 * property with a bounded number of scenarios (packages/core/src/test/account-isolation.test.ts).
 *
 * Also: what the new input checks cost per call (a user id check and an iterative depth walk of the
 * arguments) as a ratio to the JSON serialisation every call already does for its log entry.
 *
 *   pnpm build && node bench/account-isolation.bench.ts   (TOOLMUX_ISOLATION_STEPS=50000 for more)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkUserId, jsonDepthExceeds } from '@toolmux/core/internal';
import { createTestPostgresUrl, postgresAvailable } from '@toolmux/core/test';
// not part of @toolmux/core/test (it needs fast-check, a dev dependency of core): by path
import { checkIsolation, IsolationWorld } from '../packages/core/dist/test/account-isolation.js';
import { measure, printTable } from './harness.ts';

const minSteps = Number(process.env.TOOLMUX_ISOLATION_STEPS ?? 10_000);
const seed = Number(process.env.TOOLMUX_ISOLATION_SEED ?? 42);

async function steps(name: string, store: string): Promise<string[]> {
  const world = new IsolationWorld(store);
  const started = performance.now();
  try {
    for (let round = 0; world.steps < minSteps; round++) {
      await checkIsolation(world, { numRuns: 50, seed: seed + round, maxSteps: 60 });
    }
  } finally {
    await world.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const outcomes = [...world.outcomes].map(([code, count]) => `${code}×${count}`).join(' ');
  return [
    name,
    String(world.steps),
    String(world.callsWithAccount),
    '0',
    `${seconds.toFixed(1)} s`,
    outcomes,
  ];
}

const rows: string[][] = [];
const dir = mkdtempSync(join(tmpdir(), 'toolmux-isolation-bench-'));
try {
  rows.push(await steps('sqlite (file)', `sqlite:${join(dir, 'toolmux.db')}`));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (await postgresAvailable()) {
  const database = await createTestPostgresUrl();
  try {
    rows.push(await steps('postgres', database.url));
  } finally {
    await database.cleanup();
  }
} else {
  console.log('PostgreSQL unreachable: set TOOLMUX_TEST_POSTGRES_URL to include it.');
}
console.log('\n## Cross-user property (random steps; every call checked)');
console.log(['store', 'steps', 'calls with an account', 'violations', 'time', 'how calls ended'].join(' | '));
for (const row of rows) console.log(row.join(' | '));

// the per-call cost of the input checks, next to the log's JSON serialisation of the same arguments
const args = {
  owner: 'octocat',
  repo: 'hello-world',
  title: 'Found a bug',
  body: 'Steps to reproduce: …'.repeat(20),
  labels: ['bug', 'p1'],
  assignees: [{ login: 'a' }, { login: 'b' }],
};
const serialise = await measure('JSON.stringify(arguments)', () => JSON.stringify(args), {
  iterations: 100_000,
});
const checks = await measure(
  'checkUserId + jsonDepthExceeds(arguments)',
  () => {
    checkUserId('user_1234567890');
    jsonDepthExceeds(args, 128);
  },
  { iterations: 100_000 },
);
printTable(
  'Input checks per call, next to the log serialisation of the same arguments',
  [serialise, checks],
  serialise,
);
