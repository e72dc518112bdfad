import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { databaseBackends, type OpenedDatabase, quiet } from '../test/auth-fixtures.js';
import {
  octoToolkit,
  startTestOAuthServerWithCallback,
  type TestOAuthServerWithCallback,
} from '../test/oauth-server.js';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';
import { LATEST_MIGRATION_VERSION, MIGRATIONS, MIGRATIONS_TABLE_SQL } from './migrations.js';
import type { ExecutionLogRecord } from './types.js';

/**
 * Upgrading in place with data: a database built at an earlier migration, holding rows in that
 * version's shape, opens under the current code (three instances at once) with everything readable
 * and usable. The rows are those the current code writes, projected on the columns and tables that
 * existed at that version (and only the kinds of rows that version could hold: no workbench before
 * migration 5, no credential requests before 3), then the database is put back at that version by
 * applying MIGRATIONS.slice(0, k) by hand.
 */

const secretKey = Buffer.alloc(32, 23).toString('base64');
const ALL_VERSIONS = MIGRATIONS.map((migration) => migration.version);
/**
 * The schema versions the upgrade starts from: before any auth (1), OAuth requests before they had
 * kinds (2), sessions before token versions (4), files without aliases (5 → 6 adds them), aliases
 * without log parents (6), the last one before the partial index of workbench cells (9), and the
 * last one before the log's index by tool (19), whose files are kept in pieces.
 */
const STARTING_VERSIONS = [1, 2, 4, 5, 6, 9, 19];
/** Tables in the order they are copied, with the migration that created each. */
const TABLES: Array<[table: string, since: number]> = [
  ['toolmux_sessions', 1],
  ['toolmux_execution_logs', 1],
  ['toolmux_auth_configs', 2],
  ['toolmux_connected_accounts', 2],
  ['toolmux_connection_requests', 2],
  ['toolmux_workbench_files', 5],
  ['toolmux_workbench_file_pieces', 12],
];

type Dialect = 'sqlite' | 'postgres';
const dialectOf = (database: OpenedDatabase): Dialect =>
  database.spec.startsWith('sqlite:') ? 'sqlite' : 'postgres';

/** A SQL literal of a value read past the store (pg gives jsonb as objects and timestamptz as Dates). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text =
    value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.replaceAll("'", "''")}'`;
}

async function columnsOf(database: OpenedDatabase, table: string): Promise<string[]> {
  const rows =
    dialectOf(database) === 'sqlite'
      ? await database.rows(`SELECT name FROM pragma_table_info('${table}')`)
      : await database.rows(
          `SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '${table}'`,
        );
  return rows.map((row) => row.name as string);
}

/** Builds `toolmux_migrations` and the schema of migrations 1..version by hand, as that release did. */
async function buildAt(database: OpenedDatabase, version: number): Promise<void> {
  const dialect = dialectOf(database);
  await database.exec(MIGRATIONS_TABLE_SQL[dialect]);
  for (const migration of MIGRATIONS.slice(0, version)) {
    await database.exec(migration.sql[dialect]);
    await database.exec(
      `INSERT INTO toolmux_migrations (version, name, applied_at) VALUES (${migration.version}, '${migration.name}', ${dialect === 'sqlite' ? '0' : 'now()'})`,
    );
  }
}

/** What the current code wrote, read back through it before the copy. */
interface Source {
  database: OpenedDatabase;
  /** Raw rows per table. */
  rows: Map<string, Array<Record<string, unknown>>>;
  /** user_1: tasks, mail (API key, alias `work`) and octo (OAuth, connected). */
  agent: { sessionId: string; logs: ExecutionLogRecord[]; multiExecuteId: string; mailAccountId: string };
  /** user_2: a pending OAuth request of octo (`redirectUrl` opens it). */
  pending: { sessionId: string; requestId: string; redirectUrl: string };
  /** user_3: the workbench (migration 5 on): a cell that wrote a file and called a tool. */
  workbench: { sessionId: string; logs: ExecutionLogRecord[]; cellId: string };
}

let oauthServer: TestOAuthServerWithCallback;

beforeAll(async () => {
  oauthServer = await startTestOAuthServerWithCallback();
});
afterAll(() => oauthServer.close());

function muxFor(spec: string) {
  const sample = createSampleToolkits();
  const octo = octoToolkit(oauthServer);
  const mux = new ToolMux({
    toolkits: [...sample.toolkits, octo.toolkit],
    store: spec,
    secretKey,
    logger: quiet,
    oauthRedirectUri: oauthServer.redirectUri,
    managedAuth: { octo: { clientId: oauthServer.clientId, clientSecret: oauthServer.clientSecret } },
  });
  return { mux, mailCalls: sample.calls, octoCalls: octo.calls };
}

/** Signs in at `redirectUrl` and lets the callback land on `mux`. */
async function connectThrough(mux: ToolMux, redirectUrl: string, login: string): Promise<void> {
  oauthServer.current = mux;
  const callbackUrl = await oauthServer.signIn(redirectUrl, { login });
  const response = await fetch(callbackUrl, { redirect: 'manual' });
  expect(response.status).toBeLessThan(400);
}

async function allLogs(
  session: {
    logs(options: {
      limit?: number;
      cursor?: string;
    }): Promise<{ items: ExecutionLogRecord[]; nextCursor: string | undefined }>;
  },
  limit: number,
): Promise<ExecutionLogRecord[]> {
  const items: ExecutionLogRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await session.logs({ limit, ...(cursor === undefined ? {} : { cursor }) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return items;
}

/** The data, written by the current code on a database of its own. */
async function writeSource(database: OpenedDatabase): Promise<Source> {
  const { mux } = muxFor(database.spec);
  try {
    const agent = await mux.create('user_1', { toolkits: ['tasks', 'mail', 'octo'] });
    // on the auth config toolmux makes for a credentials toolkit, through a (completed) form request
    const mailRequest = await agent.authorize('mail', { alias: 'work' });
    const mail = await mux.connectionRequests.complete(mailRequest.id, {
      apiKey: 'key-written-before-the-upgrade',
    });
    const octoRequest = await agent.authorize('octo');
    await connectThrough(mux, octoRequest.redirectUrl!, 'octo-user-1');
    expect((await mux.connectionRequests.get(octoRequest.id)).status).toBe('COMPLETED');
    for (const [slug, args] of [
      ['TASKS_CREATE_TASK', { title: 'before the upgrade' }],
      ['MAIL_SEND_EMAIL', { to: 'a@example.com', subject: 's', body: 'b' }],
      ['OCTO_WHOAMI', {}],
    ] as const) {
      const result = await agent.execute(slug, args);
      expect(result.successful, JSON.stringify(result.error)).toBe(true);
    }
    const failed = await agent.execute('TASKS_SYNC_CALENDAR', { calendarId: 'cal_1' });
    expect(failed.successful).toBe(false);
    await agent.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
      tools: [
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'one of two' } },
        { tool_slug: 'TASKS_CREATE_TASK', arguments: { title: 'two of two' } },
      ],
    });
    const agentLogs = await allLogs(agent, 50);
    const multiExecute = agentLogs.find((entry) => entry.toolSlug === MetaToolSlug.MULTI_EXECUTE_TOOL)!;
    expect(agentLogs.filter((entry) => entry.parentId === multiExecute.id)).toHaveLength(2);

    const waiting = await mux.create('user_2', { toolkits: ['octo'] });
    const pending = await waiting.authorize('octo');

    const bench = await mux.create('user_3', { toolkits: ['tasks'], workbench: {} });
    const cell = await bench.execute(MetaToolSlug.WORKBENCH, {
      code: `await toolmux.files.write('notes/upgrade.txt', 'written before the upgrade');
             await toolmux.execute('TASKS_CREATE_TASK', { title: 'from a cell' });
             return 'done'`,
    });
    expect((cell.data as { error?: unknown }).error).toBeUndefined();
    const benchLogs = await allLogs(bench, 50);
    const cellEntry = benchLogs.find((entry) => entry.toolSlug === MetaToolSlug.WORKBENCH)!;
    expect(benchLogs.filter((entry) => entry.parentId === cellEntry.id)).toHaveLength(1);

    const rows = new Map<string, Array<Record<string, unknown>>>();
    for (const [table] of TABLES) rows.set(table, await database.rows(`SELECT * FROM ${table}`));
    // a file as the versions before workbench_file_pieces kept it: its content in its row
    for (const file of rows.get('toolmux_workbench_files')!) {
      if (file.generation === null || file.generation === undefined) continue;
      const pieces = await database.rows(
        `SELECT content FROM toolmux_workbench_file_pieces WHERE session_id = ${literal(file.session_id)} AND generation = ${literal(file.generation)} ORDER BY piece`,
      );
      file.content = pieces.map((piece) => piece.content).join('');
    }
    return {
      database,
      rows,
      agent: {
        sessionId: agent.sessionId,
        logs: agentLogs,
        multiExecuteId: multiExecute.id,
        mailAccountId: mail.id,
      },
      pending: { sessionId: waiting.sessionId, requestId: pending.id, redirectUrl: pending.redirectUrl! },
      workbench: { sessionId: bench.sessionId, logs: benchLogs, cellId: cellEntry.id },
    };
  } finally {
    await mux.close();
  }
}

/**
 * Copies the rows `version` could hold into `target` (built at `version`), on the columns that
 * existed then.
 */
async function copyAt(source: Source, target: OpenedDatabase, version: number): Promise<void> {
  for (const [table, since] of TABLES) {
    if (version < since) continue;
    const columns = await columnsOf(target, table);
    for (const row of source.rows.get(table)!) {
      // no workbench (its session, entries, files) before migration 5, no credential requests before 3
      if (version < 5 && (row.session_id ?? row.id) === source.workbench.sessionId) continue;
      if (version < 3 && table === 'toolmux_connection_requests' && row.kind !== 'oauth2') continue;
      const kept = columns.filter((column) => column in row);
      await target.exec(
        `INSERT INTO ${table} (${kept.join(', ')}) VALUES (${kept.map((column) => literal(row[column])).join(', ')})`,
      );
    }
  }
}

/** The entries as the upgraded database has them: no parents before migration 7. */
function asAt(logs: ExecutionLogRecord[], version: number): ExecutionLogRecord[] {
  return version < 7 ? logs.map((entry) => ({ ...entry, parentId: null })) : logs;
}

const backends = await databaseBackends();

describe.each(backends)('upgrading a database with data on $name', ({ name, skipReason, open }) => {
  describe.skipIf(skipReason !== undefined)(skipReason ? `skipped: ${skipReason}` : 'in place', () => {
    let source: Source;
    beforeAll(async () => {
      source = await writeSource(await open());
    }, 60_000);
    afterAll(async () => {
      await source?.database.cleanup();
    });

    it.each(STARTING_VERSIONS)(
      `from migration %i: three instances open it at once, each migration is applied once, and sessions, accounts, requests, logs and files work (${name})`,
      async (version) => {
        const target = await open();
        const instances = [muxFor(target.spec), muxFor(target.spec), muxFor(target.spec)];
        try {
          await buildAt(target, version);
          await copyAt(source, target, version);

          const [first] = instances;
          const { mux } = first!;
          const agents = await Promise.all(instances.map((each) => each.mux.use(source.agent.sessionId)));
          const versions = await target.rows('SELECT version FROM toolmux_migrations ORDER BY version');
          expect(versions.map((row) => Number(row.version))).toEqual(ALL_VERSIONS);

          // the session resumes, on every instance, with its log: every page and cursor
          const agent = agents[0]!;
          expect(agent.userId).toBe('user_1');
          const expected = asAt(source.agent.logs, version);
          expect(await allLogs(agent, 2)).toEqual(expected);
          expect(await allLogs(agents[2]!, 3)).toEqual(expected);
          const children = await agent.logs({ parentId: source.agent.multiExecuteId });
          expect(children.items.map((entry) => entry.toolSlug)).toEqual(
            version < 7 ? [] : ['TASKS_CREATE_TASK', 'TASKS_CREATE_TASK'],
          );
          // the project's log by tool (migration 20's index) holds the entries written before
          const byTool = await mux.logs.list({ toolSlug: 'TASKS_CREATE_TASK', limit: 1000 });
          const written = [...expected, ...(version >= 5 ? asAt(source.workbench.logs, version) : [])];
          expect(byTool.items).toEqual(
            written
              .filter((entry) => entry.toolSlug === 'TASKS_CREATE_TASK')
              .sort((a, b) => (a.id < b.id ? 1 : -1)),
          );
          expect(byTool.items.length).toBeGreaterThan(0);
          const byUserAndTool = await mux.logs.list({
            userId: 'user_1',
            toolSlug: 'TASKS_CREATE_TASK',
            limit: 1,
          });
          expect(byUserAndTool.items).toEqual(
            byTool.items.filter((entry) => entry.userId === 'user_1').slice(0, 1),
          );

          // and new calls go on it
          const created = await agent.execute('TASKS_CREATE_TASK', { title: 'after the upgrade' });
          expect(created.successful).toBe(true);
          const newest = await agent.logs({ limit: 1 });
          expect(newest.items[0]!.toolSlug).toBe('TASKS_CREATE_TASK');
          expect(newest.items[0]!.id > expected[0]!.id).toBe(true);
          expect((await agent.logs({ limit: 2, cursor: newest.nextCursor })).items).toEqual(
            expected.slice(0, 2),
          );

          if (version >= 2) {
            // the API key account decrypts, under its alias where aliases existed
            const mail = await mux.connectedAccounts.get(source.agent.mailAccountId);
            expect(mail).toMatchObject({ status: 'ACTIVE', alias: version >= 6 ? 'work' : null });
            const sent = await agent.execute(
              'MAIL_SEND_EMAIL',
              { to: 'b@example.com', subject: 's', body: 'b' },
              version >= 6 ? { account: 'work' } : {},
            );
            expect(sent.successful, JSON.stringify(sent.error)).toBe(true);
            expect(first!.mailCalls.at(-1)!.context.credentials).toEqual({
              apiKey: 'key-written-before-the-upgrade',
            });
            // the OAuth account's tokens decrypt and work at the provider
            const whoami = await agent.execute('OCTO_WHOAMI', {});
            expect(whoami.successful, JSON.stringify(whoami.error)).toBe(true);
            expect(first!.octoCalls.at(-1)!.userinfo).toMatchObject({ sub: 'octo-user-1' });

            // the OAuth request made before the upgrade is still pending, and completes
            const request = await mux.connectionRequests.get(source.pending.requestId);
            expect(request).toMatchObject({ status: 'PENDING' });
            await connectThrough(mux, source.pending.redirectUrl, 'octo-user-2');
            expect((await mux.connectionRequests.get(source.pending.requestId)).status).toBe('COMPLETED');
            const waiting = await instances[1]!.mux.use(source.pending.sessionId);
            const theirs = await waiting.execute('OCTO_WHOAMI', {});
            expect(theirs.successful, JSON.stringify(theirs.error)).toBe(true);
            expect(instances[1]!.octoCalls.at(-1)!.userinfo).toMatchObject({ sub: 'octo-user-2' });
          }

          if (version >= 5) {
            // the workbench: its file is there, and the session is known to have run cells
            const bench = await mux.use(source.workbench.sessionId);
            expect(await allLogs(bench, 1)).toEqual(asAt(source.workbench.logs, version));
            const cell = await bench.execute(MetaToolSlug.WORKBENCH, {
              code: `return await toolmux.files.read('notes/upgrade.txt')`,
            });
            const out = cell.data as { result?: unknown; notice?: string; error?: unknown };
            expect(out.error, JSON.stringify(out.error)).toBeUndefined();
            expect(out.result).toBe('written before the upgrade');
            expect(out.notice).toContain(
              "the context of this session's earlier workbench calls is not in this process",
            );
          }
        } finally {
          oauthServer.current = undefined;
          await Promise.all(instances.map((each) => each.mux.close()));
          await target.cleanup();
        }
      },
      60_000,
    );
  });
});

describe('STARTING_VERSIONS', () => {
  it('are versions of the chain, below the latest', () => {
    for (const version of STARTING_VERSIONS) {
      expect(version).toBeGreaterThanOrEqual(1);
      expect(version).toBeLessThan(LATEST_MIGRATION_VERSION);
    }
  });
});
