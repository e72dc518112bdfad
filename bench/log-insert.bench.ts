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
 * Then what migration 20's index of the log by tool, `(tool_slug, id)`, costs each commit: the
 * store's `insertLogs` into a log without that index against one with it, on PostgreSQL (each on its
 * own schema) and on an SQLite file (each its own file), every log filled first with
 * BENCH_PREFILL entries of 20 tools and 100 sessions (the entries inserted spread over them too).
 *
 * Run: `node --experimental-strip-types bench/log-insert.bench.ts` (after `pnpm build`), with
 * TOOLMUX_TEST_POSTGRES_URL. BENCH_BATCHES=300 (per turn), BENCH_ROUNDS=5, BENCH_PREFILL=100000.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { ExecutionLogRecord } from '@toolmux/core';
import { createTestPostgresUrl, postgresProcessesCpu } from '@toolmux/core/test';
import pg from 'pg';
import { PostgresStore } from '../packages/core/dist/store/postgres.js';
import { SqliteStore } from '../packages/core/dist/store/sqlite.js';
import { generatedLogInsert } from '../packages/core/dist/test/log-records.js';
import { newId } from '../packages/core/dist/util/ids.js';
import { issueArgs } from './issue-toolkit.ts';

const BATCHES = Number(process.env.BENCH_BATCHES ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PREFILL = Number(process.env.BENCH_PREFILL ?? 100_000);

const COLUMNS =
  'id, session_id, user_id, tool_slug, toolkit, connected_account_id, call_id, status, error_code, ' +
  'error_message, duration_ms, input, output, created_at, parent_id';
/** The statement `insertLogs` used before (`json`, each `->>` parsing the row's text again). */
const JSON_INSERT =
  `INSERT INTO toolmux_execution_logs (${COLUMNS}) SELECT ` +
  'e->>0, e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, e->>9, ' +
  '(e->>10)::double precision, e->>11, e->>12, (e->>13)::timestamptz, e->>14 ' +
  'FROM json_array_elements($1::json) AS e';

let made = 0;
/** An entry of the size a tool call writes, of one of 20 tools and 100 sessions (in turn). */
const entry = (): ExecutionLogRecord => {
  made++;
  return {
    id: newId('log'),
    sessionId: `ses_bench_${made % 100}`,
    userId: 'bench_user',
    toolSlug: `BENCH_TOOL_${made % 20}`,
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
  };
};

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

type Insert = (records: ExecutionLogRecord[]) => Promise<unknown>;
interface Turn {
  wallUs: number;
  nodeUs: number;
  databaseUs: number;
}
const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Times the two contenders, `before` and `after`, taking turns round by round (each order in turn),
 * for batches of each size: wall time per batch, the event loop's CPU, and the CPU of every
 * `postgres` process on this machine (from /proc, clock ticks of 10 ms).
 */
async function compare(
  title: string,
  contenders: Record<string, Insert>,
  sizes: readonly number[],
): Promise<void> {
  console.log(`## ${title} (${BATCHES} batches a turn, median of ${ROUNDS} rounds)`);
  const [before, after] = Object.keys(contenders) as [string, string];
  const width = Math.max(before.length, after.length);
  for (const size of sizes) {
    const turns: Record<string, Turn[]> = { [before]: [], [after]: [] };
    for (let round = -1; round < ROUNDS; round++) {
      // both orders: round by round, the other contender goes first
      for (const name of round % 2 === 0 ? [before, after] : [after, before]) {
        const batches = Array.from({ length: BATCHES }, () => Array.from({ length: size }, entry));
        const cpu = process.threadCpuUsage();
        const database = postgresProcessesCpu();
        const start = performance.now();
        for (const batch of batches) await contenders[name]!(batch);
        const wallUs = ((performance.now() - start) * 1000) / BATCHES;
        const used = process.threadCpuUsage(cpu);
        // round -1 warms up (statements prepared, caches filled)
        if (round >= 0) {
          turns[name]!.push({
            wallUs,
            nodeUs: (used.user + used.system) / BATCHES,
            databaseUs: (postgresProcessesCpu() - database) / BATCHES,
          });
        }
      }
    }
    const line = (name: string) => {
      const of = (key: keyof Turn) => median(turns[name]!.map((turn) => turn[key]));
      return { wall: of('wallUs'), node: of('nodeUs'), database: of('databaseUs') };
    };
    const old = line(before);
    const now = line(after);
    for (const [name, figures] of [
      [before, old],
      [after, now],
    ] as const) {
      console.log(
        `${String(size).padStart(2)} entries  ${name.padEnd(width)} wall ${figures.wall.toFixed(0).padStart(5)} µs  event loop ${figures.node.toFixed(0).padStart(4)} µs  postgres ${figures.database.toFixed(0).padStart(5)} µs per batch`,
      );
    }
    console.log(
      `${String(size).padStart(2)} entries  ${after} / ${before}: wall ${(now.wall / old.wall).toFixed(2)}×, postgres CPU ${old.database > 0 ? `${(now.database / old.database).toFixed(2)}×` : '(none)'}, event loop ${(now.node / old.node).toFixed(2)}×  (load average ${loadavg()[0]!.toFixed(1)})`,
    );
  }
}

const { url, cleanup } = await createTestPostgresUrl();
const store = await PostgresStore.create({ connectionString: url });
await store.migrate();
const jsonClient = new pg.Client({ connectionString: url });
await jsonClient.connect();
await jsonClient.query('SET synchronous_commit = off');
await compare(
  'one execution log batch on PostgreSQL',
  {
    'json (before)': (records) =>
      jsonClient.query({
        name: 'bench_json_insert',
        text: JSON_INSERT,
        values: [JSON.stringify(records.map(row))],
      }),
    'store.insertLogs': (records) => store.insertLogs(records),
  },
  [1, 8, 32],
);
await jsonClient.end();
await store.close();
await cleanup();

/** What the tool index's migration adds; dropped again for the log without it. */
const TOOL_INDEX = 'toolmux_execution_logs_tool_slug_id';
const prefill = (dialect: 'sqlite' | 'postgres') =>
  generatedLogInsert(dialect, { rows: PREFILL, sessions: 100, toolSlug: "'BENCH_TOOL_' || (g % 20)" });

/** Batches into `without` (a log without the tool index) against `withIndex`. */
const compareToolIndex = (where: string, [without, withIndex]: Array<{ insertLogs: Insert }>) =>
  compare(
    `one execution log batch on ${where}, without and with the index by tool`,
    {
      'without the tool index': (records) => without!.insertLogs(records),
      'with the tool index': (records) => withIndex!.insertLogs(records),
    },
    [1, 8],
  );

const schemas = [await createTestPostgresUrl(), await createTestPostgresUrl()];
const postgresStores = await Promise.all(
  schemas.map(async ({ url }, index) => {
    const logStore = await PostgresStore.create({ connectionString: url });
    await logStore.migrate();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    if (index === 0) await client.query(`DROP INDEX ${TOOL_INDEX}`);
    await client.query(prefill('postgres'));
    await client.query('VACUUM ANALYZE toolmux_execution_logs');
    await client.end();
    return logStore;
  }),
);
await compareToolIndex('PostgreSQL', postgresStores);
// what the load of the machine does not change: the WAL one entry's insert writes
for (const [index, { url }] of schemas.entries()) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const [record] = [entry()].map(row);
  const { rows } = await client.query(
    `EXPLAIN (ANALYZE, WAL, FORMAT JSON) INSERT INTO toolmux_execution_logs (${COLUMNS}) ` +
      `VALUES (${record!.map((_, at) => `$${at + 1}`).join(', ')})`,
    record,
  );
  const plan = rows[0]['QUERY PLAN'][0].Plan;
  console.log(
    `one entry's insert, ${index === 0 ? 'without' : 'with'} the tool index: ${plan['WAL Records']} WAL records, ${plan['WAL Bytes']} bytes`,
  );
  await client.end();
}
for (const logStore of postgresStores) await logStore.close();
for (const schema of schemas) await schema.cleanup();

const dir = mkdtempSync(join(tmpdir(), 'toolmux-log-insert-'));
const sqliteStores = await Promise.all(
  ['without', 'with'].map(async (name) => {
    const path = join(dir, `${name}.db`);
    const logStore = new SqliteStore({ path });
    await logStore.migrate();
    const database = new DatabaseSync(path);
    if (name === 'without') database.exec(`DROP INDEX ${TOOL_INDEX}`);
    database.exec(prefill('sqlite'));
    database.close();
    return logStore;
  }),
);
await compareToolIndex('an SQLite file', sqliteStores);
for (const logStore of sqliteStores) await logStore.close();
rmSync(dir, { recursive: true, force: true });
