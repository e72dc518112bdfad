import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetaToolSlug, ToolMux } from '@toolmux/core';
import { declarationOf, newId } from '@toolmux/core/internal';
import { stockLookupTool } from '@toolmux/core/test';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer } from '../server.js';
import { recordingLogger, restCaller, TEST_API_KEY, testStoreBackends } from '../test-helpers.js';

/**
 * `POST /sessions/:id/logs`: a remote-mode client's log entries. The server validates them, replaces
 * ids that are not fresh and unused, and answers once they are stored; one client's bad entries never
 * cost other users' entries.
 */
const directory = mkdtempSync(join(tmpdir(), 'toolmux-client-logs-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const stock = stockLookupTool().tool;

function item(changes: Record<string, unknown> = {}) {
  return {
    id: newId('log'),
    session_id: null,
    user_id: 'ignored',
    tool_slug: stock.slug,
    toolkit: 'shop',
    connected_account_id: null,
    call_id: 'call_1',
    status: 'success',
    error_code: null,
    error_message: null,
    duration_ms: 1,
    input: '{"sku":"A-1"}',
    output: '{"inStock":3}',
    created_at: new Date().toISOString(),
    ...changes,
  };
}

async function open(store: string) {
  const logger = recordingLogger();
  const mux = new ToolMux({ toolkits: [], store, secretKey: randomBytes(32).toString('base64'), logger });
  const app = createServer({ toolmux: mux, apiKey: TEST_API_KEY, logger }).app;
  const call = restCaller(app);
  const session = async (userId: string) =>
    (
      await call('POST', '/sessions', {
        user_id: userId,
        config: {
          experimental: {
            customTools: [declarationOf(stock)],
          },
        },
      })
    ).json.session_id as string;
  const logIds = async (sessionId: string) => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(
        'GET',
        `/sessions/${sessionId}/logs?limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      ids.push(...page.json.items.map((entry: { id: string }) => entry.id));
      cursor = page.json.next_cursor;
    } while (cursor !== null);
    return ids;
  };
  return { mux, app, call, session, logIds, logger };
}

const backends = await testStoreBackends(directory);

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`POST /sessions/:id/logs on ${backend.name}`, () => {
    it("keeps fresh client ids and replaces the others: repeated, forged and replayed ids cost no other user's entries and keep pagination working", async () => {
      const { spec, cleanup } = await backend.store();
      const { mux, call, session, logIds } = await open(spec);
      try {
        const users = await Promise.all(Array.from({ length: 8 }, (_, index) => session(`user_${index}`)));
        const forger = await session('user_forger');
        const repeated = newId('log');
        const farFuture = `log_zzzzzzzzzz${'0'.repeat(28)}`;
        const sent = users.map(() => Array.from({ length: 20 }, () => item()));
        // many users' entries and the forger's, all in one turn of the server
        const answers = await Promise.all([
          ...users.flatMap((sessionId, user) =>
            sent[user]!.map((entry) => call('POST', `/sessions/${sessionId}/logs`, { items: [entry] })),
          ),
          call('POST', `/sessions/${forger}/logs`, {
            items: [
              item({ id: repeated }),
              item({ id: repeated }),
              item({ id: 'log_ZZZ' }),
              item({ id: farFuture }),
            ],
          }),
        ]);
        expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 201));
        const forged = answers.at(-1)!.json as { added: number; ids: string[] };
        expect(forged.added).toBe(4);
        expect(forged.ids[0]).toBe(repeated);
        expect(forged.ids.slice(1)).not.toContain(repeated);
        expect(forged.ids).not.toContain('log_ZZZ');
        expect(forged.ids).not.toContain(farFuture);
        expect(new Set(forged.ids).size).toBe(4);
        for (const id of forged.ids) expect(id).toMatch(/^log_[0-9a-z]{38}$/);
        for (const [user, sessionId] of users.entries()) {
          const acknowledged = answers.slice(user * 20, user * 20 + 20).map((answer) => answer.json.ids[0]);
          // an honest client's ids are kept, so its results' logId finds the entry
          expect(acknowledged).toEqual(sent[user]!.map((entry) => entry.id));
          expect((await logIds(sessionId)).sort()).toEqual([...acknowledged].sort());
        }
        // replaying another user's stored entry id: a new id for the replay, the other entry untouched
        const victim = sent[0]![0]!.id;
        const replay = await call('POST', `/sessions/${forger}/logs`, { items: [item({ id: victim })] });
        expect(replay.status).toBe(201);
        expect(replay.json.ids[0]).not.toBe(victim);
        expect(await logIds(users[0]!)).toContain(victim);
        expect((await logIds(forger)).sort()).toEqual([...forged.ids, replay.json.ids[0]].sort());
      } finally {
        await mux.close();
        await cleanup();
      }
    });

    it('keeps one copy of an entry sent again (an upload whose answer the client did not get); another entry under a used id gets a new one', async () => {
      const { spec, cleanup } = await backend.store();
      const { mux, call, session, logIds } = await open(spec);
      try {
        const sessionId = await session('user_resend');
        const items = [
          item(),
          item({
            call_id: 'call_2',
            status: 'error',
            error_code: 'TOOL_EXECUTION_FAILED',
            error_message: 'no',
          }),
        ];
        const first = await call('POST', `/sessions/${sessionId}/logs`, { items });
        expect(first.status).toBe(201);
        // the whole upload again, then each entry alone (the client's retry after a broken connection)
        const again = await call('POST', `/sessions/${sessionId}/logs`, { items });
        const alone = await Promise.all(
          items.map((entry) => call('POST', `/sessions/${sessionId}/logs`, { items: [entry] })),
        );
        expect(again.json).toEqual({ added: 2, ids: items.map((entry) => entry.id), refused: [] });
        expect(alone.map((answer) => answer.json.ids[0])).toEqual(items.map((entry) => entry.id));
        // before, 8 entries: each copy under a new id
        expect((await logIds(sessionId)).sort()).toEqual(items.map((entry) => entry.id).sort());
        // the same id for another call of the session: not the entry sent again, stored under a new id
        const other = item({ id: items[0]!.id, call_id: 'call_3' });
        const stored = await call('POST', `/sessions/${sessionId}/logs`, { items: [other] });
        expect(stored.status).toBe(201);
        expect(stored.json.ids[0]).not.toBe(items[0]!.id);
        expect(await logIds(sessionId)).toHaveLength(3);
        // and in another session, the same entry is another session's: a new id
        const elsewhere = await session('user_resend_2');
        const copied = await call('POST', `/sessions/${elsewhere}/logs`, { items: [items[0]] });
        expect(copied.json.ids[0]).not.toBe(items[0]!.id);
      } finally {
        await mux.close();
        await cleanup();
      }
    });

    it('refuses an entry that says a server tool ran, or failed with a code the client does not refuse calls with, alone: the rest of the upload is stored', async () => {
      const { spec, cleanup } = await backend.store();
      const { mux, call, session } = await open(spec);
      try {
        const sessionId = await session('user_mixed_upload');
        const multi = newId('log');
        const claimed = newId('log');
        const items = [
          item(),
          // the client's own refusals: arguments JSON would change, a multi-execute's refused call
          item({
            tool_slug: 'TASKS_CREATE_TASK',
            toolkit: '',
            status: 'error',
            error_code: 'TOOL_ARGUMENTS_INVALID',
            error_message: 'arguments.title is NaN',
            output: 'null',
          }),
          // a server tool never runs in the client: neither a success nor another failure is taken
          item({ id: claimed, tool_slug: 'TASKS_DELETE_TASK', toolkit: 'tasks' }),
          item({
            tool_slug: 'TASKS_DELETE_TASK',
            toolkit: 'tasks',
            status: 'error',
            error_code: 'TOOL_EXECUTION_FAILED',
            error_message: 'upstream said no',
          }),
          item({ id: multi, tool_slug: MetaToolSlug.MULTI_EXECUTE_TOOL, toolkit: 'toolmux' }),
          item({
            tool_slug: 'NOT_A_TOOL',
            toolkit: '',
            status: 'error',
            error_code: 'TOOL_NOT_FOUND',
            error_message: 'no such tool',
            parent_id: multi,
          }),
          // its parent is refused: stored without it
          item({ call_id: 'call_child', parent_id: claimed }),
        ];
        const answer = await call('POST', `/sessions/${sessionId}/logs`, { items });
        // before: 400 for the whole upload, none of them stored
        expect(answer.status).toBe(201);
        expect(answer.json.added).toBe(5);
        expect(
          answer.json.refused.map((entry: { index: number; code: string }) => [entry.index, entry.code]),
        ).toEqual([
          [2, 'INVALID_REQUEST'],
          [3, 'INVALID_REQUEST'],
        ]);
        expect(answer.json.refused[0].message).toContain('TASKS_DELETE_TASK');
        const stored = (await call('GET', `/sessions/${sessionId}/logs?limit=100`)).json.items as Array<{
          id: string;
          tool_slug: string;
          status: string;
          parent_id: string | null;
        }>;
        expect(stored.map((entry) => entry.id).sort()).toEqual([...answer.json.ids].sort());
        expect(stored.map((entry) => `${entry.tool_slug} ${entry.status}`).sort()).toEqual([
          'NOT_A_TOOL error',
          `${stock.slug} success`,
          `${stock.slug} success`,
          'TASKS_CREATE_TASK error',
          `${MetaToolSlug.MULTI_EXECUTE_TOOL} success`,
        ]);
        expect(stored.find((entry) => entry.tool_slug === 'NOT_A_TOOL')?.parent_id).toBe(multi);
        expect(stored.every((entry) => entry.tool_slug !== 'TASKS_DELETE_TASK')).toBe(true);
        expect(stored.filter((entry) => entry.parent_id === claimed)).toEqual([]);

        // an upload none of whose entries is taken is refused as a whole, as before
        const none = await call('POST', `/sessions/${sessionId}/logs`, { items: [items[2]] });
        expect(none.status).toBe(400);
        expect(none.json.error.code).toBe('INVALID_REQUEST');
      } finally {
        await mux.close();
        await cleanup();
      }
    });

    it('refuses NUL, control characters, lone surrogates and over-long fields with 400 naming the field', async () => {
      const { spec, cleanup } = await backend.store();
      const { mux, call, session, logIds } = await open(spec);
      try {
        const sessionId = await session('user_1');
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ call_id: 'call_\0' }, 'items[0].call_id'],
          [{ tool_slug: `${stock.slug}\u0007` }, 'items[0].tool_slug'],
          [{ toolkit: 'shop\u001b[31m' }, 'items[0].toolkit'],
          [{ error_code: 'E\0' }, 'items[0].error_code'],
          [{ error_message: 'broken \0 here' }, 'items[0].error_message'],
          [{ input: '{"a":"\0"}' }, 'items[0].input'],
          [{ output: '\ud800' }, 'items[0].output'],
          [{ call_id: 'c'.repeat(257) }, 'items[0].call_id'],
          [{ output: 'o'.repeat(8193) }, 'items[0].output'],
        ];
        for (const [changes, field] of cases) {
          const answer = await call('POST', `/sessions/${sessionId}/logs`, { items: [item(changes)] });
          expect(answer.status, field).toBe(400);
          expect(answer.json.error.code).toBe('INVALID_REQUEST');
          expect(answer.json.error.message).toContain(`body.${field}`);
        }
        // line breaks and tabs are fine in messages and payloads
        const fine = await call('POST', `/sessions/${sessionId}/logs`, {
          items: [item({ error_message: 'line 1\n\tline 2', output: '{\n"a": 1}' })],
        });
        expect(fine.status).toBe(201);
        expect(await logIds(sessionId)).toEqual(fine.json.ids);
      } finally {
        await mux.close();
        await cleanup();
      }
    });
  });
}

describe('metrics of client log entries', () => {
  it('label calls of toolkits outside the catalog "custom": a client cannot add a series per toolkit name it sends', async () => {
    const { mux, app, call, session } = await open(':memory:');
    try {
      const sessionId = await session('user_metrics');
      const names = Array.from({ length: 40 }, (_, index) => `client_kit_${index}`);
      const answer = await call('POST', `/sessions/${sessionId}/logs`, {
        items: [
          // a call the client ran (a custom tool), and calls aborted before they were sent, which may
          // name any slug and toolkit
          item(),
          ...names.map((toolkit, index) =>
            item({
              tool_slug: `UNKNOWN_TOOL_${index}`,
              toolkit,
              status: 'error',
              error_code: 'TOOL_ABORTED',
              error_message: 'aborted',
            }),
          ),
        ],
      });
      expect(answer.status, JSON.stringify(answer.json)).toBe(201);
      // a call of a meta-tool keeps its toolkit
      const search = await call('POST', `/sessions/${sessionId}/execute`, {
        tool_slug: 'TOOLMUX_SEARCH_TOOLS',
        arguments: { queries: [{ use_case: 'stock of an item' }] },
      });
      expect(search.status).toBe(200);
      const metrics = await (
        await app.request('/metrics', { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
      ).text();
      const series = metrics.split('\n').filter((line) => line.startsWith('toolmux_tool_calls_total{'));
      expect(series.join('\n')).not.toContain('client_kit_');
      expect(series.join('\n')).not.toContain('shop');
      expect(series).toEqual(
        expect.arrayContaining([
          'toolmux_tool_calls_total{toolkit="custom",status="success"} 1',
          'toolmux_tool_calls_total{toolkit="custom",status="error"} 40',
          expect.stringMatching(/^toolmux_tool_calls_total\{toolkit="toolmux",status="success"\} 1$/),
        ]),
      );
      expect(series).toHaveLength(3);
    } finally {
      await mux.close();
    }
  });

  it('label calls that reached no tool "unknown", apart from the custom tools of sessions', async () => {
    const { mux, app, call, session } = await open(':memory:');
    try {
      const sessionId = await session('user_unknown');
      // a slug no tool has (its entry names no toolkit), and a custom tool the client ran
      for (const slug of ['NO_SUCH_TOOL', 'ANOTHER_MISSING_TOOL']) {
        const answer = await call('POST', `/sessions/${sessionId}/execute`, {
          tool_slug: slug,
          arguments: {},
        });
        expect(answer.status, JSON.stringify(answer.json)).toBe(200);
        expect(answer.json.error).toContain(slug);
      }
      const uploaded = await call('POST', `/sessions/${sessionId}/logs`, {
        items: [item()],
      });
      expect(uploaded.status, JSON.stringify(uploaded.json)).toBe(201);
      const metrics = await (
        await app.request('/metrics', { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
      ).text();
      const series = metrics.split('\n').filter((line) => line.startsWith('toolmux_tool_calls_total{'));
      // on the old code the two were counted as custom tools: toolkit="custom",status="error" 2
      expect(series.sort()).toEqual([
        'toolmux_tool_calls_total{toolkit="custom",status="success"} 1',
        'toolmux_tool_calls_total{toolkit="unknown",status="error"} 2',
      ]);
    } finally {
      await mux.close();
    }
  });
});
