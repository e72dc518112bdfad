import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Session, WORKBENCH_FILES_QUOTA_BYTES } from '@toolmux/core';
import { createSampleToolkits } from '@toolmux/core/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testStoreBackends } from '../test-helpers.js';
import { startTestServer, type TestServer } from '../testing/index.js';

/**
 * `POST /sessions/:id/workbench/offload` takes bodies up to the workbench files quota (64 MB, whatever
 * the server's `bodyLimit`): deep, wide, odd and oversized bodies are answered 4xx and store nothing,
 * odd values that are JSON are stored and read back as sent. Over HTTP on loopback, on both stores.
 */
const backends = await testStoreBackends(mkdtempSync(join(tmpdir(), 'toolmux-offload-edges-')));

/** JSON text nested `depth` levels, written out (JSON.stringify of such a value overflows). */
const nested = (depth: number, open: string, close: string) => `${open.repeat(depth)}1${close.repeat(depth)}`;

/** JSON text of an object of `keys` keys. */
const wide = (keys: number) => `{${Array.from({ length: keys }, (_, i) => `"k${i}":${i}`).join(',')}}`;

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(
    `the offload route with deep, wide, odd and oversized bodies (${backend.name})`,
    () => {
      let server: TestServer;
      let session: Session;
      let cleanup: () => Promise<void>;
      let ids = 0;
      const logId = () => `log_${String(++ids).padStart(38, '0')}`;

      beforeAll(async () => {
        const store = await backend.store();
        const secretKey = randomBytes(32).toString('base64');
        server = await startTestServer({
          toolkits: createSampleToolkits().toolkits,
          store: store.spec,
          secretKey,
        });
        session = await server.embedded.create('user_offload_edges', { toolkits: ['tasks'] });
        cleanup = async () => {
          await server.close();
          await store.cleanup();
        };
      });
      afterAll(() => cleanup());

      async function post(
        body: BodyInit,
        headers: Record<string, string> = { 'content-type': 'application/json' },
        sessionId = session.sessionId,
      ) {
        const response = await fetch(`${server.url}/api/v1/sessions/${sessionId}/workbench/offload`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.apiKey}`, ...headers },
          body,
          ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit);
        const text = await response.text();
        return { status: response.status, json: JSON.parse(text) };
      }

      /** The session's workbench files, as the workbench lists them. */
      async function files(): Promise<string[]> {
        const listed = await session.execute('TOOLMUX_WORKBENCH', {
          code: 'return (await toolmux.files.list()).map((file) => file.path)',
        });
        return (listed.data as { result: string[] }).result;
      }

      /** Each body is refused with `status` and a message holding `says`, and stores nothing. */
      async function refused(
        bodies: Array<[BodyInit, Record<string, string>?]>,
        status: number,
        says: string,
      ) {
        const before = await files();
        for (const [body, headers] of bodies) {
          const answer = await post(body, headers);
          expect(answer.status).toBe(status);
          expect(answer.json.error.message).toContain(says);
        }
        expect(await files()).toEqual(before);
      }

      it('refuses a result nested 200, 5,000 or 100,000 levels, in a small body and in a large one', async () => {
        const bodies: Array<[string]> = [];
        for (const depth of [200, 5_000, 100_000]) {
          for (const [open, close] of [
            ['[', ']'],
            ['{"a":', '}'],
          ]) {
            const result = nested(depth, open!, close!);
            bodies.push([`{"log_id":"${logId()}","always":true,"result":${result}}`]);
            // past the size parsed a slice at a time
            bodies.push([
              `{"log_id":"${logId()}","always":true,"result":["${'x'.repeat(100_000)}",${result}]}`,
            ]);
          }
        }
        await refused(bodies, 400, 'levels deep');
      });

      it('refuses an object of more than 100,000 keys while it parses the body, and stores one of 100,000', async () => {
        // before, the result's million keys were listed whole to write the file (a second of one
        // turn) and stored; a million unknown keys beside the fields were listed twice to refuse them
        await refused(
          [
            [`{"log_id":"${logId()}","always":true,"result":${wide(1_000_000)}}`],
            [`{"log_id":"${logId()}","always":true,"result":[1,{"a":${wide(100_001)}}]}`],
            [`{"log_id":"${logId()}","always":true,"result":1,${wide(200_000).slice(1)}`],
          ],
          400,
          'an object of more than 100000 keys',
        );
        const id = logId();
        const stored = await post(`{"log_id":"${id}","always":true,"result":${wide(100_000)}}`);
        expect(stored.status).toBe(200);
        expect(stored.json.offloaded.path).toBe(`offloaded/${id}.json`);
        const read = await session.execute('TOOLMUX_WORKBENCH', {
          code: `const r = await toolmux.files.read("offloaded/${id}.json"); return [Object.keys(r).length, r.k99999]`,
        });
        expect((read.data as { result: unknown }).result).toEqual([100_000, 99_999]);
      });

      it('refuses NUL and lone surrogates in the log id (the path) and the session id; stores them as sent in the result', async () => {
        await refused(
          [
            [`{"log_id":"log_${'0'.repeat(37)}\\u0000","always":true,"result":1}`],
            [`{"log_id":"log_${'0'.repeat(37)}\\ud800","always":true,"result":1}`],
            [`{"log_id":"log_${'0'.repeat(36)}\\udc00a","always":true,"result":1}`],
          ],
          400,
          'body.log_id',
        );
        for (const sessionId of [`${session.sessionId}%00`, '%00', `${session.sessionId}%0A`]) {
          const answer = await post(`{"log_id":"${logId()}","always":true,"result":1}`, undefined, sessionId);
          expect(answer.status).toBe(400);
          expect(answer.json.error.message).toContain('control character');
        }
        // a lone surrogate encoded in the URL is not UTF-8: no such session
        const encoded = await post(
          `{"log_id":"${logId()}","always":true,"result":1}`,
          undefined,
          'ses_%ED%A0%80',
        );
        expect(encoded.status).toBe(404);
        const id = logId();
        const text = `{"log_id":"${id}","always":true,"result":{"a\\u0000b":"c\\u0000\\ud800","\\udc00":["\\ud800x","😀"],"__proto__":"own key"}}`;
        expect((await post(text)).status).toBe(200);
        const read = await session.execute('TOOLMUX_WORKBENCH', {
          code: `const r = await toolmux.files.read("offloaded/${id}.json"); return [JSON.stringify(r), Object.getPrototypeOf(r) === Object.prototype]`,
        });
        const [json, plain] = (read.data as { result: [string, boolean] }).result;
        expect(json).toBe(text.slice(text.indexOf('"result":') + 9, -1));
        expect(plain).toBe(true);
      });

      it('answers a body at the limit, refuses one past it (with Content-Length or chunked) with 413', async () => {
        const limit = WORKBENCH_FILES_QUOTA_BYTES + 64 * 1024;
        const body = (bytes: number) => {
          const head = `{"log_id":"${logId()}","always":true,"result":"`;
          return Buffer.from(`${head}${'x'.repeat(bytes - head.length - 2)}"}`);
        };
        // at the limit: read and parsed, but over the files quota: nothing stored, and the model is
        // to get its start and how to make room (not the whole of it)
        const before = await files();
        const at = await post(body(limit));
        expect(at).toMatchObject({
          status: 200,
          json: { offloaded: null, not_offloaded: { size: expect.any(Number) } },
        });
        expect(at.json.not_offloaded.reason).toContain('WORKBENCH_FILES_QUOTA');
        expect(at.json.not_offloaded.preview).toHaveLength(1_000);
        expect(await files()).toEqual(before);
        const chunked = (bytes: Buffer) =>
          new ReadableStream({
            start(controller) {
              for (let start = 0; start < bytes.length; start += 1 << 20)
                controller.enqueue(bytes.subarray(start, start + (1 << 20)));
              controller.close();
            },
          });
        await refused(
          [[body(limit + 1)], [chunked(body(limit + 1)), { 'content-type': 'application/json' }]],
          413,
          `larger than ${limit} bytes`,
        );
      }, 60_000);

      it('refuses a body that is not sent as JSON with 415, however large', async () => {
        const json = `{"log_id":"${logId()}","always":true,"result":{"a":1}}`;
        await refused(
          [
            [json, { 'content-type': 'text/plain' }],
            [json, {}],
            [json, { 'content-type': 'application/x-www-form-urlencoded' }],
            [json, { 'content-type': 'multipart/form-data; boundary=x' }],
            [
              `{"log_id":"${logId()}","always":true,"result":"${'x'.repeat(5_000_000)}"}`,
              { 'content-type': 'text/plain' },
            ],
          ],
          415,
          'Content-Type: application/json',
        );
      });
    },
  );
}
