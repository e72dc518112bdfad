import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPostgresUrl, postgresSkipReason } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { type FuzzReport, runFuzz } from './testing/fuzz.js';

/**
 * Fuzzes every REST operation of the served OpenAPI document, the Composio-compatible API, the MCP
 * endpoint and tool arguments
 * (see testing/fuzz.ts) against a server on loopback: 0 responses ≥ 500, no unexpected error logged,
 * the server still answering, the victims' data unchanged and no call with another user's key. CI
 * runs a fixed, seeded number of cases; TOOLMUX_FUZZ_CASES and TOOLMUX_FUZZ_SEED change that
 * (bench/fuzz.bench.ts runs a longer one).
 */
const cases = Number(process.env.TOOLMUX_FUZZ_CASES ?? 600);
const seed = Number(process.env.TOOLMUX_FUZZ_SEED ?? 20261202);
const skipPostgres = await postgresSkipReason();

function expectClean(report: FuzzReport): void {
  expect(report.failures, JSON.stringify(report.failures.slice(0, 10), null, 1)).toEqual([]);
  expect(report.serverErrors.slice(0, 5)).toEqual([]);
  expect(report.changed).toEqual([]);
  expect(report.crossed).toEqual([]);
  expect(report.alive).toBe(true);
  // the fuzzer reached past validation too: some requests succeeded, most were refused
  const statuses = Object.keys(report.statuses).map(Number);
  expect(statuses.some((status) => status >= 200 && status < 300)).toBe(true);
  expect(statuses.some((status) => status === 400)).toBe(true);
  // and the Composio-compatible API's routes alike
  const composio = Object.keys(report.composioStatuses).map(Number);
  expect(composio.some((status) => status >= 200 && status < 300)).toBe(true);
  expect(composio.some((status) => status === 400)).toBe(true);
  // and past their lookups: about half of the ~70 operations answer 2xx in 600 cases (the routes that
  // change things get the fodder user's ids); fewer means the generator stopped reaching them
  const answered = Object.entries(report.routes).filter(([, byStatus]) =>
    Object.keys(byStatus).some((status) => Number(status) >= 200 && Number(status) < 300),
  );
  expect(answered.length, JSON.stringify(Object.keys(report.routes))).toBeGreaterThanOrEqual(
    Math.min(25, Math.floor(cases / 24)),
  );
  expect(report.cases).toBeGreaterThanOrEqual(cases);
}

describe('fuzzing the server', () => {
  it(`answers ${cases} malformed requests without a 5xx and leaves other users' data alone (sqlite)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-fuzz-'));
    try {
      expectClean(await runFuzz({ store: join(dir, 'toolmux.db'), cases, seed }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.skipIf(skipPostgres !== undefined)(
    `answers ${cases} malformed requests without a 5xx and leaves other users' data alone (postgres) ${skipPostgres ?? ''}`,
    async () => {
      const database = await createTestPostgresUrl();
      try {
        expectClean(await runFuzz({ store: database.url, cases, seed: seed + 1 }));
      } finally {
        await database.cleanup();
      }
    },
    180_000,
  );
});
