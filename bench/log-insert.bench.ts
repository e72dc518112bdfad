/**
 * Issue 15, item 4: what one execution log batch costs PostgreSQL. `PostgresStore.insertLogs` sends a
 * batch as one JSON parameter and takes it apart in SQL. Until this bench it did so with
 * `json_array_elements($1::json)`, whose every `e->>N` parses the element's text again (fifteen
 * columns: fifteen parses per row); it now uses `jsonb_array_elements($1::jsonb)`, which parses the
 * batch once. The two contenders, taking turns round by round on one database:
 *
 * - `json (before)`: the statement as it was, sent by a `pg` client set up as the log pool's
 *   connections are (`synchronous_commit = off`);
 * - `store.insertLogs`: the store's own method, on its log pool.
 *
 * For batches of 1, 8 (the store's `logBatchSize`) and 32 entries of the size a tool call writes:
 * wall time per batch (what a durable call waits for), the event loop's CPU, and the CPU of every
 * `postgres` process on this machine (from /proc, clock ticks of 10 ms: the database shares the
 * cores, so work it does is not free). Compare ratios only (shared machines).
 *
 * Run: `node --experimental-strip-types bench/log-insert.bench.ts` (after `pnpm build`), with
 * TOOLMUX_TEST_POSTGRES_URL. BENCH_BATCHES=300 (per turn), BENCH_ROUNDS=5.
 */
import { loadavg } from 'node:os';
import type { ExecutionLogRecord } from '@toolmux/core';
import { createTestPostgresUrl, postgresProcessesCpu } from '@toolmux/core/test';
import pg from 'pg';
import { PostgresStore } from '../packages/core/dist/store/postgres.js';
import { newId } from '../packages/core/dist/util/ids.js';
import { issueArgs } from './issue-toolkit.ts';

const BATCHES = Number(process.env.BENCH_BATCHES ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const COLUMNS =
  'id, session_id, user_id, tool_slug, toolkit, connected_account_id, call_id, status, error_code, ' +
  'error_message, duration_ms, input, output, created_at, parent_id';
/** The statement `insertLogs` used before (`json`, each `->>` parsing the row's text again). */
const JSON_INSERT =
  `INSERT INTO toolmux_execution_logs (${COLUMNS}) SELECT ` +
  'e->>0, e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, ' +
  '(e->>10)::double precision, e->>11, e->>12, (e->>13)::timestamptz, e->>14 ' +
  'FROM json_array_elements($1::json) AS e';

const entry = (): ExecutionLogRecord => ({
  id: newId('log'),
  sessionId: 'ses_bench',
  userId: 'bench_user',
  toolSlug: 'BENCH_CREATE_ISSUE',
  toolkit: 'bench',
  connectedAccountId: null,
  callId: null,
  status: 'success',
  errorCode: null,
  errorMessage: null,
  durationMs: 0.12,
  input: JSON.stringify(issueArgs),
  output: JSON.stringify({ number: 1, url: 'https://example.test/issues/1', ...issueArgs }),
  createdAt: new Date(),
  parentId: null,
});

/** The row `insertLogs` sends for `record` (its columns in `COLUMNS` order). */
const row = (record: ExecutionLogRecord) => [
  record.id,
  record.sessionId,
  record.userId,
  record.toolSlug,
  record.toolkit,
  record.connectedAccountId,
  record.callId,
  record.status,
  record.errorCode,
  record.errorMessage,
  record.durationMs,
  record.input,
  record.output,
  record.createdAt.toISOString(),
  record.parentId ?? null,
];

const { url, cleanup } = await createTestPostgresUrl();
const store = await PostgresStore.create({ connectionString: url });
await store.migrate();
const before = new pg.Client({ connectionString: url });
await before.connect();
await before.query('SET synchronous_commit = off');

type Contender = 'json (before)' | 'store.insertLogs';
const insert: Record<Contender, (records: ExecutionLogRecord[]) => Promise<unknown>> = {
  'json (before)': (records) =>
    before.query({
      name: 'bench_json_insert',
      text: JSON_INSERT,
      values: [JSON.stringify(records.map(row))],
    }),
  'store.insertLogs': (records) => store.insertLogs(records),
};

interface Turn {
  wallUs: number;
  nodeUs: number;
  databaseUs: number;
}
const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

console.log(
  `## one execution log batch on PostgreSQL (${BATCHES} batches a turn, median of ${ROUNDS} rounds)`,
);
for (const size of [1, 8, 32]) {
  const turns: Record<Contender, Turn[]> = { 'json (before)': [], 'store.insertLogs': [] };
  const order = Object.keys(insert) as Contender[];
  for (let round = -1; round < ROUNDS; round++) {
    // both orders: round by round, the other contender goes first
    for (const name of round % 2 === 0 ? order : order.toReversed()) {
      const batches = Array.from({ length: BATCHES }, () => Array.from({ length: size }, entry));
      const cpu = process.threadCpuUsage();
      const database = postgresProcessesCpu();
      const start = performance.now();
      for (const batch of batches) await insert[name](batch);
      const wallUs = ((performance.now() - start) * 1000) / BATCHES;
      const used = process.threadCpuUsage(cpu);
      // round -1 warms up (statements prepared, caches filled)
      if (round >= 0) {
        turns[name].push({
          wallUs,
          nodeUs: (used.user + used.system) / BATCHES,
          databaseUs: (postgresProcessesCpu() - database) / BATCHES,
        });
      }
    }
  }
  const line = (name: Contender) => {
    const of = (key: keyof Turn) => median(turns[name].map((turn) => turn[key]));
    return { wall: of('wallUs'), node: of('nodeUs'), database: of('databaseUs') };
  };
  const old = line('json (before)');
  const now = line('store.insertLogs');
  for (const [name, figures] of [
    ['json (before)', old],
    ['store.insertLogs', now],
  ] as const) {
    console.log(
      `${String(size).padStart(2)} entries  ${name.padEnd(17)} wall ${figures.wall.toFixed(0).padStart(5)} µs  event loop ${figures.node.toFixed(0).padStart(4)} µs  postgres ${figures.database.toFixed(0).padStart(5)} µs per batch`,
    );
  }
  console.log(
    `${String(size).padStart(2)} entries  store.insertLogs / json (before): wall ${(now.wall / old.wall).toFixed(2)}×, postgres CPU ${(now.database / old.database).toFixed(2)}×, event loop ${(now.node / old.node).toFixed(2)}×  (load average ${loadavg()[0]!.toFixed(1)})`,
  );
}

await before.end();
await store.close();
await cleanup();
