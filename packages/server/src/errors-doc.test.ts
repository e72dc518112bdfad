import { readFileSync } from 'node:fs';
import { TOOLMUX_ERROR_CODES } from '@toolmux/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from './server.js';
import { createTestServer } from './test-helpers.js';

/**
 * docs/errors.md is the reference of every error code: each code of TOOLMUX_ERROR_CODES, and each
 * code the MCP endpoint puts in a JSON-RPC error's `data.code` outside that map, has one row there
 * with its HTTP status. These tests keep the page and the code from drifting apart.
 */

const DOC = new URL('../../../docs/errors.md', import.meta.url);
const MCP_SECTION = 'MCP endpoint only';

interface Row {
  code: string;
  status: number;
  section: string;
}

/** The table rows of docs/errors.md that start with a `CODE` and an HTTP status, with their section. */
function documentedRows(): Row[] {
  const rows: Row[] = [];
  let section = '';
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) section = heading[1]!.trim();
    const row = /^\| `([A-Z][A-Z0-9_]*)` \| (\d{3}) \|/.exec(line);
    if (row) rows.push({ code: row[1]!, status: Number(row[2]), section });
  }
  return rows;
}

/** The upper-case string literals of the MCP endpoint's source that are not ToolMuxError codes. */
function mcpOnlyCodesInSource(): string[] {
  const source = readFileSync(new URL('./mcp/mcp-endpoint.ts', import.meta.url), 'utf8');
  const literals = new Set(
    [...source.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)].map((match) => match[1]!),
  );
  return [...literals].filter((code) => !(code in TOOLMUX_ERROR_CODES)).sort();
}

describe('docs/errors.md', () => {
  const rows = documentedRows();

  it('has one row for every code of TOOLMUX_ERROR_CODES, with the HTTP status of the map', () => {
    const codes = Object.keys(TOOLMUX_ERROR_CODES) as (keyof typeof TOOLMUX_ERROR_CODES)[];
    expect(codes.length).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const code of codes) {
      const found = rows.filter((row) => row.code === code);
      if (found.length !== 1) problems.push(`${code}: ${found.length} rows`);
      else if (found[0]!.status !== TOOLMUX_ERROR_CODES[code])
        problems.push(`${code}: documented ${found[0]!.status}, the map says ${TOOLMUX_ERROR_CODES[code]}`);
      else if (found[0]!.section === MCP_SECTION) problems.push(`${code}: listed as MCP-only`);
    }
    expect(problems).toEqual([]);
  });

  it('documents no code that does not exist', () => {
    const known = new Set([...Object.keys(TOOLMUX_ERROR_CODES), ...mcpOnlyCodesInSource()]);
    expect(rows.filter((row) => !known.has(row.code)).map((row) => row.code)).toEqual([]);
  });

  it('lists, under "MCP endpoint only", exactly the data codes of the MCP endpoint outside the map', () => {
    const inSource = mcpOnlyCodesInSource();
    expect(inSource).toEqual(['ORIGIN_NOT_ALLOWED', 'RESPONSE_TOO_LARGE']);
    expect(
      rows
        .filter((row) => row.section === MCP_SECTION)
        .map((row) => row.code)
        .sort(),
    ).toEqual(inSource);
  });

  describe('the MCP-only codes, as a real server answers them', () => {
    const { mux, server } = createTestServer({ mcp: { maxBatchResponseBytes: 4000 } });
    let running: RunningServer;
    let url: string;
    let headers: Record<string, string>;

    beforeAll(async () => {
      running = await server.serve({ port: 0 });
      const session = await mux.create('user_errors_doc', {
        toolkits: ['tasks'],
        sessionPreset: 'DIRECT_TOOLS',
      });
      url = `${running.url}/mcp/${session.sessionId}`;
      headers = session.mcp.headers;
    });
    afterAll(async () => {
      await running.close();
      await mux.close();
    });

    async function post(body: unknown, extra: Record<string, string> = {}) {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
          ...extra,
        },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as any };
    }

    const documented = (code: string) => rows.find((row) => row.code === code && row.section === MCP_SECTION);

    it('ORIGIN_NOT_ALLOWED: the HTTP status of the refusal is the documented one', async () => {
      const answer = await post(
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { origin: 'http://other.example' },
      );
      expect(answer.body.error.data.code).toBe('ORIGIN_NOT_ALLOWED');
      expect(documented('ORIGIN_NOT_ALLOWED')?.status).toBe(answer.status);
    });

    it('RESPONSE_TOO_LARGE: the HTTP status of the batch answer is the documented one', async () => {
      const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list' });
      const answer = await post(Array.from({ length: 8 }, (_, index) => list(index)));
      const codes = (answer.body as { error?: { data?: { code?: string } } }[]).map(
        (message) => message.error?.data?.code,
      );
      expect(codes).toContain('RESPONSE_TOO_LARGE');
      expect(documented('RESPONSE_TOO_LARGE')?.status).toBe(answer.status);
    });
  });
});
