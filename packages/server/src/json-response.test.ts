import { describe, expect, it } from 'vitest';
import { CHUNKED_FROM, jsonBody, smallJson } from './json-response.js';

async function bytesOf(body: string | ReadableStream<Uint8Array>): Promise<Buffer> {
  if (typeof body === 'string') return Buffer.from(body);
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('jsonBody', () => {
  it('answers a small value as text', async () => {
    const answer = await jsonBody({ successful: true, data: { id: 1 } });
    expect(answer).toEqual({ body: '{"successful":true,"data":{"id":1}}', length: -1 });
  });

  it('streams a large value in UTF-8 chunks, byte for byte the JSON, never splitting a surrogate pair', async () => {
    // an emoji (two UTF-16 units) across the first chunk boundary, then text in several scripts
    const prefix = '{"successful":true,"data":{"text":"'.length;
    const text = `${'a'.repeat(CHUNKED_FROM - prefix - 1)}😀${'é漢😀'.repeat(40_000)}`;
    const value = {
      successful: true,
      data: { text, list: Array.from({ length: 2_000 }, (_, index) => index) },
    };
    const answer = await jsonBody(value);
    expect(answer.body).toBeInstanceOf(ReadableStream);
    const bytes = await bytesOf(answer.body);
    expect(bytes.equals(Buffer.from(JSON.stringify(value)))).toBe(true);
    expect(answer.length).toBe(bytes.length);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(value);
  });

  it('writes a value marked small at once, the same answer; one larger than marked is still streamed', async () => {
    const page = {
      items: [{ id: 'log_1', input: '{"a":"\u2028 é"}', duration_ms: 0.1 + 0.2 }],
      next_cursor: null,
    };
    expect(await jsonBody(smallJson({ ...page }))).toEqual(await jsonBody(page));
    expect((await jsonBody(smallJson({ ...page }))).body).toBe(JSON.stringify(page));
    const large = { text: 'é'.repeat(CHUNKED_FROM) };
    const answer = await jsonBody(smallJson(large));
    expect(answer.body).toBeInstanceOf(ReadableStream);
    const bytes = await bytesOf(answer.body);
    expect(bytes.equals(Buffer.from(JSON.stringify(large)))).toBe(true);
    expect(answer.length).toBe(bytes.length);
  });
});
