import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import type { Credentials, Toolkit } from '../catalog/types.js';
import { createTestPostgresUrl, postgresSkipReason } from './postgres.js';

/**
 * Shared fixtures of the auth tests (not a test file itself): the store backends they run on, and a
 * toolkit whose OAuth scheme points at the test authorization server.
 */

export const quiet = { debug() {}, warn() {}, error() {} };

/** A database the tests can open several stores on and read raw rows from. */
export interface OpenedDatabase {
  /** A store spec for `new ToolMux({ store })` (also usable by another process). */
  spec: string;
  /** Rows of a SQL query, read past toolmux. */
  rows(sql: string): Promise<Array<Record<string, unknown>>>;
  /** Runs SQL past toolmux (to move times into the past). */
  exec(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

export interface DatabaseBackend {
  name: string;
  skipReason: string | undefined;
  open(): Promise<OpenedDatabase>;
}

/** SQLite file and PostgreSQL (skipped with the reason when the test server is not reachable). */
export async function databaseBackends(): Promise<DatabaseBackend[]> {
  const skipPostgres = await postgresSkipReason();
  return [
    {
      name: 'sqlite file',
      skipReason: undefined,
      async open() {
        const directory = mkdtempSync(join(tmpdir(), 'toolmux-auth-'));
        const path = join(directory, 'toolmux.db');
        const withDatabase = <T>(work: (database: DatabaseSync) => T): T => {
          const database = new DatabaseSync(path);
          try {
            database.exec('PRAGMA busy_timeout = 5000');
            return work(database);
          } finally {
            database.close();
          }
        };
        return {
          spec: `sqlite:${path}`,
          rows: async (sql) =>
            withDatabase((database) => database.prepare(sql).all() as Array<Record<string, unknown>>),
          exec: async (sql) => withDatabase((database) => database.exec(sql)),
          cleanup: async () => rmSync(directory, { recursive: true, force: true }),
        };
      },
    },
    {
      name: 'postgres',
      skipReason: skipPostgres,
      async open() {
        const { url, cleanup } = await createTestPostgresUrl();
        const { Client } = await import('pg');
        const query = async (sql: string) => {
          const client = new Client({ connectionString: url });
          await client.connect();
          try {
            return (await client.query(sql)).rows as Array<Record<string, unknown>>;
          } finally {
            await client.end();
          }
        };
        return {
          spec: url,
          rows: query,
          exec: async (sql) => {
            await query(sql);
          },
          cleanup,
        };
      },
    },
  ];
}

/** SQL for "this many milliseconds ago", per store spec. */
export function pastTime(spec: string, agoMs: number): string {
  const at = Date.now() - agoMs;
  return spec.startsWith('sqlite:') ? String(at) : `to_timestamp(${at / 1000})`;
}

/** What the `octo` toolkit's handler saw. */
export interface OctoCall {
  credentials: Credentials | undefined;
  userinfo: unknown;
}

/**
 * `octo`: an OAuth toolkit against the test authorization server. OCTO_WHOAMI calls the userinfo
 * endpoint with the access token it was given (proving the token works) and records the credentials.
 */
export function octoToolkit(server: {
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  userinfoUrl: string;
}): {
  toolkit: Toolkit;
  calls: OctoCall[];
} {
  const calls: OctoCall[] = [];
  const whoami = defineTool({
    slug: 'OCTO_WHOAMI',
    description: 'Who is the connected Octo user.',
    inputSchema: z.object({}),
    execute: async (_input, context) => {
      const response = await context.fetch(server.userinfoUrl, {
        headers: { authorization: `Bearer ${context.credentials?.accessToken}` },
      });
      const userinfo = response.ok ? await response.json() : { status: response.status };
      calls.push({ credentials: context.credentials, userinfo });
      if (!response.ok) throw new Error(`userinfo answered ${response.status}`);
      return userinfo;
    },
  });
  return {
    calls,
    toolkit: defineToolkit({
      slug: 'octo',
      name: 'Octo',
      description: 'The test OAuth provider.',
      baseUrl: server.issuer,
      tools: [whoami],
      auth: {
        type: 'oauth2',
        authorizationUrl: server.authorizationUrl,
        tokenUrl: server.tokenUrl,
        scopes: ['openid', 'repo'],
      },
    }),
  };
}
