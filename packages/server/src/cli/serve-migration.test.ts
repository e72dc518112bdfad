import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildPostgresSchemaAt,
  createTestPostgresUrl,
  type OpenLogReader,
  openLogReader,
  postgresSkipReason,
} from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { API_KEY, forStarts, SECRET_KEY, serveTestHooks, startServe, tempDirectory } from '../test-serve.js';

/**
 * `toolmux serve` upgrading a PostgreSQL database whose migration outlasts `startupTimeoutMs` (an
 * index of a large execution log): the deadline is for a database that does not answer, and one
 * that applies migrations has answered, so the start waits for them and says which it applies.
 * Before, serve exited 1 at the deadline ("did not answer within … ms"), which rolled the migration
 * back (or left its concurrent index build invalid): every restart began it again and gave up again.
 */
const skip = await postgresSkipReason();
serveTestHooks();

describe.skipIf(skip !== undefined)(`toolmux serve and a long migration ${skip ?? ''}`, () => {
  it(
    'waits for migrations that run past startupTimeoutMs, logging each, and then serves',
    forStarts(3),
    async () => {
      const database = await createTestPostgresUrl();
      let reader: OpenLogReader | undefined;
      try {
        // the log of a release before migration 20, large enough for its indexes to be built CONCURRENTLY
        await buildPostgresSchemaAt(database.schema, 19, 60_000);
        // another instance's transaction keeps a snapshot: the index build waits for its end, past the deadline
        reader = await openLogReader(database.schema);
        const cwd = tempDirectory();
        writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ startupTimeoutMs: 1000 }));
        const starting = startServe(['--store', database.url, '--port', '0'], {
          cwd,
          env: { TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY },
        });
        // twice the deadline, then the other instance's transaction ends
        const ended = new Promise((done) => setTimeout(done, 2_000)).then(() => reader!.commit());
        const served = await starting;
        await ended;
        try {
          const applying = served
            .lines()
            .filter((line) => String(line.msg).startsWith('toolmux: applying migration'));
          expect(applying.map((line) => [line.migration, line.concurrently])).toEqual([
            [20, true],
            [21, true],
            [22, false],
          ]);
          expect(String(applying[0]!.msg)).toContain('CONCURRENTLY');
          const ready = await fetch(`${served.url}/readyz`);
          expect(ready.status).toBe(200);
        } finally {
          expect(await served.stop()).toBe(0);
        }
      } finally {
        await reader?.end().catch(() => {});
        await database.cleanup();
      }
    },
  );
});
