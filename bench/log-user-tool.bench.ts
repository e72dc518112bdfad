/**
 * A page of the SQLite execution log filtered by user AND tool (`GET /logs?user_id=…&tool_slug=…`,
 * `mux.logs.list({ userId, toolSlug })`), at 10,000 and at 200,000 entries: what it costs must not
 * grow with the table. The store walked the tool's index, `(tool_slug, id)`, and checked each entry's
 * user: a user who calls a common tool rarely (or never) had the page read all that tool's entries.
 * Migration 22's `(user_id, tool_slug, id)` reads the user's entries of the tool alone, newest first.
 *
 * Entry g is user_(g % 10)'s; user_2 calls OTHER_TOOL only, user_3 RARE_TOOL once in a thousand
 * calls, everyone else ECHO_ECHO. Prints each query's `EXPLAIN QUERY PLAN` and its time per page.
 * Before migration 22, on a 2-core machine: 22 ms and 694 ms a page for the common tool user_2 never
 * calls (31.5×); after it, 0.2 ms and 0.05 ms (flat, within noise).
 *
 * Run: `node --experimental-strip-types bench/log-user-tool.bench.ts` (after `pnpm build`).
 * BENCH_ITERATIONS=50 (pages per round).
 */
import { generatedLogInsert, withSqliteLogFile } from '../packages/core/dist/test/log-records.js';
import { formatNs, type Measurement, measure } from './harness.ts';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 50);
const SIZES = [10_000, 200_000];
const TOOL_SLUG =
  "CASE WHEN g % 10 = 2 THEN 'OTHER_TOOL' WHEN g % 10 = 3 AND g % 10000 = 3 THEN 'RARE_TOOL' ELSE 'ECHO_ECHO' END";
const QUERIES = [
  { name: 'a user and a common tool it never calls', userId: 'user_2', toolSlug: 'ECHO_ECHO' },
  { name: 'a user and a tool it rarely calls', userId: 'user_3', toolSlug: 'RARE_TOOL' },
  { name: 'a user and a common tool it calls', userId: 'user_4', toolSlug: 'ECHO_ECHO' },
];

const results = new Map<string, Measurement[]>();
for (const rows of SIZES) {
  await withSqliteLogFile(async ({ store, database, sent, plan }) => {
    database.exec(generatedLogInsert('sqlite', { rows, sessions: 100, users: 10, toolSlug: TOOL_SLUG }));
    console.log(`\n## ${rows} entries`);
    for (const { name, userId, toolSlug } of QUERIES) {
      sent.length = 0;
      await store.listLogs({ userId, toolSlug, limit: 50 });
      if (rows === SIZES[0]) {
        for (const text of new Set(sent)) {
          const details = plan(text, ...(text.match(/\?/g) ?? []).map(() => userId));
          console.log(`${name}: ${text}\n  ${details.join('\n  ')}`);
        }
      }
      const measured = await measure(name, () => store.listLogs({ userId, toolSlug, limit: 50 }), {
        iterations: ITERATIONS,
        rounds: 5,
        warmup: 5,
      });
      console.log(`${name.padEnd(48)} ${formatNs(measured.nsPerOp).padStart(10)}/page`);
      results.set(name, [...(results.get(name) ?? []), measured]);
    }
  });
}
console.log(`\n## ${SIZES[1]} entries against ${SIZES[0]} (flat: about 1×)`);
for (const [name, [small, large]] of results) {
  console.log(`${name.padEnd(48)} ${(large!.nsPerOp / small!.nsPerOp).toFixed(1)}×`);
}
