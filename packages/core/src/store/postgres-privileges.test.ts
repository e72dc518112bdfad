import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildPostgresSchemaAt,
  createTestPostgresStore,
  postgresSkipReason,
  testPostgresUrl,
} from '../test/postgres.js';
import { PostgresStore } from './postgres.js';

const skip = await postgresSkipReason();

describe.skipIf(skip !== undefined)(`PostgreSQL: a store role short of a privilege ${skip ?? ''}`, () => {
  it("that holds CREATE on the schema but does not own toolmux's tables is told to own them, not to get CREATE", async () => {
    const database = await createTestPostgresStore();
    const role = `toolmux_test_role_${randomBytes(6).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    try {
      // an earlier release migrated as another role (an administrator), before migration 21
      await buildPostgresSchemaAt(database.schema, 20);
      await database.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      await database.query(`GRANT USAGE, CREATE ON SCHEMA "${database.schema}" TO ${role}`);
      await database.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${database.schema}" TO ${role}`,
      );
      const url = new URL(testPostgresUrl());
      url.username = role;
      url.password = password;
      const store = await PostgresStore.create({ connectionString: url.toString(), schema: database.schema });
      try {
        const error = await store.migrate().then(
          () => undefined,
          (failure: unknown) => failure as Error & { details?: { fix?: string } },
        );
        expect(error).toMatchObject({ code: 'STORE_ERROR' });
        expect(error!.message).toContain('must be owner of table toolmux_execution_logs');
        // what it already holds is not what it lacks
        expect(error!.message).not.toContain('GRANT CREATE');
        expect(error!.message).toContain(
          `make this role their owner (ALTER TABLE ${database.schema}.toolmux_execution_logs OWNER TO <role>`,
        );
        expect(error!.details?.fix).toContain("Connect as the role that owns toolmux's tables");
        expect(error!.message).not.toContain(password);
      } finally {
        await store.close();
      }
      // what it says works
      await database.withClient(async (client) => {
        const { rows } = await client.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'toolmux\\_%'",
          [database.schema],
        );
        for (const { name } of rows)
          await client.query(`ALTER TABLE "${database.schema}".${name} OWNER TO ${role}`);
      });
      const owner = await PostgresStore.create({ connectionString: url.toString(), schema: database.schema });
      try {
        await expect(owner.migrate()).resolves.toBeUndefined();
      } finally {
        await owner.close();
      }
    } finally {
      await database.cleanup();
      await createTestPostgresStore().then(async (admin) => {
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
        await admin.cleanup();
      });
    }
  });
});
