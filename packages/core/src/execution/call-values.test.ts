import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineTool, defineToolkit } from '../catalog/define.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import type { Session } from '../session.js';
import { quiet } from '../test/auth-fixtures.js';
import { createTestPostgresUrl, postgresSkipReason } from '../test/postgres.js';
import { ToolMux } from '../toolmux.js';
import { MAX_LOG_PAYLOAD_BYTES } from '../util/redact.js';

/**
 * Values that made a call's work non-linear or hold the event loop, through the session API on both
 * stores. Arguments an application passes (`session.execute`, a multi-execute) holding an array
 * indexed by ids, `ids[100000000] = id`: a value of a few bytes that validation's copy, the log and a
 * remote call's request would each make 100 million nulls; refused as TOOL_ARGUMENTS_INVALID naming
 * the array and the fix, after its first holes, and logged. A result holding an object of more keys
 * than any stage can list in a short turn: refused as TOOL_RESULT_INVALID after the check's one
 * listing, so neither the log, nor a multi-execute's result, nor the answer lists it again.
 */

const skipPostgres = await postgresSkipReason();

/** The arguments each run of the tool received. */
const received: Array<{ ids: unknown[] }> = [];
/** The records each run of ECHO_RECORD received. */
const taken: object[] = [];

/** An object of `count` keys. */
function keyed(count: number): Record<string, number> {
  const byId: Record<string, number> = {};
  for (let n = 0; n < count; n++) byId[`id_${n}`] = n;
  return byId;
}

const echo = defineToolkit({
  slug: 'echo',
  description: 'Echo',
  tools: [
    defineTool({
      slug: 'ECHO_IDS',
      description: 'Takes ids',
      inputSchema: z.object({ ids: z.array(z.unknown()) }),
      execute: async (input) => {
        received.push(input);
        return { count: input.ids.length };
      },
    }),
    defineTool({
      slug: 'ECHO_RECORD',
      description: 'Takes records keyed by id',
      inputSchema: z.object({ byId: z.record(z.string(), z.number()) }),
      execute: async ({ byId }) => {
        taken.push(byId);
        return { ok: true };
      },
    }),
    defineTool({
      slug: 'ECHO_KEYED',
      description: 'Returns records keyed by id',
      inputSchema: z.object({ count: z.number() }),
      execute: async ({ count }) => {
        const byId: Record<string, number> = {};
        for (let n = 0; n < count; n++) byId[`id_${n}`] = n;
        return { byId };
      },
    }),
  ],
});

/** An array of `length` items with only its last one there. */
function sparse(length: number): unknown[] {
  const ids: unknown[] = [];
  ids[length - 1] = 'id_last';
  return ids;
}

const fix =
  'pass a dense array, or an object of the items that are there keyed by their indexes (Object.fromEntries(Object.entries(array)))';

function callValuesSuite(name: string, openStore: () => Promise<{ url: string; cleanup(): Promise<void> }>) {
  describe(`values that held a call's work unbounded (${name})`, () => {
    let mux: ToolMux;
    let session: Session;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const store = await openStore();
      mux = new ToolMux({
        toolkits: [echo],
        store: store.url,
        secretKey: randomBytes(32).toString('base64'),
        logger: quiet,
      });
      session = await mux.create('user_1', { toolkits: ['echo'] });
      cleanup = async () => {
        await mux.close();
        await store.cleanup();
      };
    });
    afterAll(() => cleanup());

    it('session.execute: TOOL_ARGUMENTS_INVALID naming the array and the fix; the tool does not run; logged', async () => {
      received.length = 0;
      const result = await session.execute('ECHO_IDS', { ids: sparse(2_000_001) });
      expect(result).toMatchObject({
        successful: false,
        code: 'TOOL_ARGUMENTS_INVALID',
        error: `The arguments of ECHO_IDS are not JSON data: arguments.ids is a sparse array of length 2000001: 1025 of its first 1025 items are holes, which JSON writes as null each: ${fix}.`,
      });
      expect(received).toEqual([]);
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry).toMatchObject({ id: result.logId, status: 'error', errorCode: 'TOOL_ARGUMENTS_INVALID' });
      expect(entry!.errorMessage).toBe(result.error);
      // the arguments are logged as the log keeps any: cut to 4 KB
      expect(Buffer.byteLength(entry!.input)).toBeLessThanOrEqual(MAX_LOG_PAYLOAD_BYTES);
    });

    it('a multi-execute: refused as a whole, naming the call and its argument', async () => {
      received.length = 0;
      const result = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [
          { tool_slug: 'ECHO_IDS', arguments: { ids: [1, 2] } },
          { tool_slug: 'ECHO_IDS', arguments: { ids: sparse(123_456_790) } },
        ],
      });
      expect(result.code).toBe('TOOL_ARGUMENTS_INVALID');
      expect(result.error).toContain(
        `The arguments of ${MetaToolSlug.MULTI_EXECUTE_TOOL} are not JSON data: arguments.tools[1].arguments.ids is a sparse array of length 123456790: 1025 of its first 1025 items are holes`,
      );
      expect(received).toEqual([]);
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry).toMatchObject({ id: result.logId, errorCode: 'TOOL_ARGUMENTS_INVALID' });
    });

    it('a result holding an object of more than 100,000 keys: TOOL_RESULT_INVALID naming it and the fix; logged', async () => {
      const result = await session.execute('ECHO_KEYED', { count: 100_001 });
      expect(result).toMatchObject({ successful: false, data: null, code: 'TOOL_RESULT_INVALID' });
      expect(result.error).toContain(
        'ECHO_KEYED returned a result that cannot be handed on as JSON: data.byId is an object of 100001 keys, more than 100000:',
      );
      expect(result.error).toContain('return its entries as an array');
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry).toMatchObject({ id: result.logId, status: 'error', errorCode: 'TOOL_RESULT_INVALID' });
      expect(entry!.output).toBe('null');

      // in a multi-execute: that call fails, the others answer
      const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [
          { tool_slug: 'ECHO_KEYED', arguments: { count: 100_001 } },
          { tool_slug: 'ECHO_KEYED', arguments: { count: 2 } },
        ],
      });
      expect(multi.successful).toBe(true);
      expect((multi.data as { results: unknown[] }).results).toMatchObject([
        {
          tool_slug: 'ECHO_KEYED',
          successful: false,
          error: expect.stringContaining('data.byId is an object of 100001 keys'),
        },
        { tool_slug: 'ECHO_KEYED', successful: true, data: { byId: { id_0: 0, id_1: 1 } } },
      ]);
      // at the limit, as before
      expect(await session.execute('ECHO_KEYED', { count: 100_000 })).toMatchObject({ successful: true });
    });

    it('arguments holding an object of more than 100,000 keys: TOOL_ARGUMENTS_INVALID naming it and the fix; the tool does not run; logged', async () => {
      taken.length = 0;
      const result = await session.execute('ECHO_RECORD', { byId: keyed(100_001) });
      expect(result).toMatchObject({ successful: false, data: null, code: 'TOOL_ARGUMENTS_INVALID' });
      expect(result.error).toContain(
        'The arguments of ECHO_RECORD cannot be taken: arguments.byId is an object of 100001 keys, more than 100000:',
      );
      expect(result.error).toContain('send its entries as an array');
      expect(taken).toEqual([]);
      const [entry] = (await session.logs({ limit: 1 })).items;
      expect(entry).toMatchObject({ id: result.logId, status: 'error', errorCode: 'TOOL_ARGUMENTS_INVALID' });

      // in a multi-execute's arguments: refused as a whole, naming the call and its argument
      const multi = await session.execute(MetaToolSlug.MULTI_EXECUTE_TOOL, {
        tools: [
          { tool_slug: 'ECHO_RECORD', arguments: { byId: keyed(2) } },
          { tool_slug: 'ECHO_RECORD', arguments: { byId: keyed(100_001) } },
        ],
      });
      expect(multi.code).toBe('TOOL_ARGUMENTS_INVALID');
      expect(multi.error).toContain('arguments.tools[1].arguments.byId is an object of 100001 keys');
      expect(taken).toEqual([]);
      // at the limit, as before
      expect(await session.execute('ECHO_RECORD', { byId: keyed(100_000) })).toMatchObject({
        successful: true,
      });
      expect(taken).toHaveLength(1);
    });

    it("a few holes, or holes that are not most of the array, are JSON's nulls as before", async () => {
      received.length = 0;
      const few: unknown[] = [1];
      few[1000] = 2;
      const third = Array.from({ length: 4000 }, (_, index) => index);
      for (let index = 0; index < 4000; index += 3) delete third[index];
      for (const ids of [few, third]) {
        const result = await session.execute('ECHO_IDS', { ids });
        expect(result).toMatchObject({ successful: true, data: { count: ids.length } });
      }
      expect(received.map((input) => input.ids.length)).toEqual([1001, 4000]);
    });
  });
}

callValuesSuite('SQLite', async () => ({ url: ':memory:', cleanup: async () => {} }));

describe.skipIf(skipPostgres !== undefined)(`PostgreSQL ${skipPostgres ?? ''}`, () => {
  callValuesSuite('PostgreSQL', createTestPostgresUrl);
});
