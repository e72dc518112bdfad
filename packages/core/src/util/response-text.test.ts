import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredByteLength, responseTextUpTo } from './response-text.js';

/**
 * responseTextUpTo over real fetch answers of a loopback server: the bytes of each answer are sent
 * in the pieces a test chooses (characters split between them), with or without a Content-Length,
 * gzip-encoded or not.
 */

interface Answer {
  pieces: Buffer[];
  length?: 'right' | 'none';
  gzip?: boolean;
}

let answer: Answer = { pieces: [] };
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((_request, response) => {
    const body = Buffer.concat(answer.pieces);
    const sent = answer.gzip ? [gzipSync(body)] : answer.pieces;
    response.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      ...(answer.gzip ? { 'content-encoding': 'gzip' } : {}),
      ...(answer.length === 'none' ? {} : { 'content-length': String(Buffer.concat(sent).length) }),
    });
    // each piece its own write, flushed before the next: the client reads them as separate chunks
    const write = (index: number) => {
      if (index === sent.length) return void response.end();
      response.write(sent[index], () => setImmediate(() => write(index + 1)));
    };
    write(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function read(next: Answer, maxBytes: number) {
  answer = next;
  const response = await fetch(url);
  return { declared: declaredByteLength(response), ...(await responseTextUpTo(response, maxBytes)) };
}

/** `text` as UTF-8, cut into pieces at byte offsets that split its multi-byte characters. */
function splitPieces(text: string, size: number): Buffer[] {
  const bytes = Buffer.from(text);
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) pieces.push(bytes.subarray(at, at + size));
  return pieces;
}

const TEXT = `{"text":"${'é日😀a'.repeat(20_000)}"}`;

describe('responseTextUpTo', () => {
  it('reads the whole text, characters split between chunks included, with or without a Content-Length', async () => {
    for (const length of ['right', 'none'] as const) {
      for (const size of [1, 3, 7, 65_537]) {
        // small pieces of the first 400 characters (a write each), large ones of the whole text
        const expected = size < 100 ? TEXT.slice(0, 400) : TEXT;
        const result = await read({ pieces: splitPieces(expected, size), length }, 1024 * 1024);
        expect(result.cut).toBe(false);
        expect(result.text).toBe(expected);
        expect(result.declared).toBe(length === 'right' ? Buffer.byteLength(expected) : undefined);
      }
    }
  });

  it('a gzip answer: its Content-Length is of the compressed bytes, and the whole text is read', async () => {
    const result = await read({ pieces: [Buffer.from(TEXT)], gzip: true }, 1024 * 1024);
    expect(result.declared).toBeUndefined();
    expect(result.cut).toBe(false);
    expect(result.text).toBe(TEXT);
  });

  it('stops at maxBytes: cut, the text read until then, a character split by the cut left out', async () => {
    // 'é' is two bytes: 1001 bytes end in the middle of the 501st
    const text = 'é'.repeat(2000);
    for (const length of ['right', 'none'] as const) {
      const result = await read({ pieces: splitPieces(text, 333), length }, 1001);
      expect(result.cut).toBe(true);
      expect(result.text).toBe('é'.repeat(500));
    }
    const exact = await read({ pieces: [Buffer.from('abc')] }, 3);
    expect(exact).toMatchObject({ text: 'abc', cut: false });
  });

  it('drops a byte order mark and reads an empty answer as empty text', async () => {
    const withBom = await read({ pieces: [Buffer.from([0xef, 0xbb]), Buffer.from([0xbf, 0x7b, 0x7d])] }, 100);
    expect(withBom.text).toBe('{}');
    expect(await read({ pieces: [] }, 100)).toMatchObject({ text: '', cut: false });
  });

  it('works where ArrayBuffer has no transfer (the bytes are copied into a larger buffer instead)', async () => {
    const transfer = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'transfer')!;
    delete (ArrayBuffer.prototype as { transfer?: unknown }).transfer;
    try {
      const result = await read({ pieces: splitPieces(TEXT, 4099), length: 'none' }, 1024 * 1024);
      expect(result.text).toBe(TEXT);
    } finally {
      Object.defineProperty(ArrayBuffer.prototype, 'transfer', transfer);
    }
  });
});
