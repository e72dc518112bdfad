/**
 * The fuzz suite at length (issue "Hardening", proof 2): many more seeded cases than CI runs
 * (packages/server/src/server.fuzz.test.ts), against a server in this process on loopback, on SQLite
 * and PostgreSQL. Reports responses by status, every 5xx, unexpected server errors, changes to the
 * victims' data and calls that ran with another user's key; exits 1 on any of them.
 *
 *   pnpm --filter @toolmux/server build && node packages/server/bench/fuzz.bench.ts
 *   (TOOLMUX_FUZZ_CASES=50000 TOOLMUX_FUZZ_SEED=7 for another run)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPostgresUrl, postgresAvailable } from '@toolmux/core/test';
// not part of @toolmux/server/test: by path
import { type FuzzReport, runFuzz } from '../dist/testing/fuzz.js';

const cases = Number(process.env.TOOLMUX_FUZZ_CASES ?? 20_000);
const seed = Number(process.env.TOOLMUX_FUZZ_SEED ?? 1);

function print(name: string, report: FuzzReport, seconds: number): boolean {
  const statuses = Object.entries(report.statuses)
    .map(([status, count]) => `${status}×${count}`)
    .join(' ');
  console.log(
    `\n## fuzz, ${name}: ${report.cases} requests in ${seconds.toFixed(1)} s (${Math.round(report.cases / seconds)}/s)`,
  );
  console.log(`statuses: ${statuses}`);
  console.log(
    `of which the Composio-compatible API: ${Object.entries(report.composioStatuses)
      .map(([status, count]) => `${status}×${count}`)
      .join(' ')}`,
  );
  // coverage: the operations the run never got past refusals on (each a reach to extend)
  const refusedOnly = Object.entries(report.routes)
    .filter(
      ([route, byStatus]) =>
        !/^(PUT|OPTIONS|HEAD) /.test(route) && // the wrong methods the fuzzer sends now and then
        !Object.keys(byStatus).some((status) => Number(status) < 400),
    )
    .map(([route, byStatus]) => `${route} (${Object.keys(byStatus).join(',')})`);
  console.log(
    `operations: ${Object.keys(report.routes).length}; never answered 2xx or 3xx: ${refusedOnly.join('; ') || 'none'}`,
  );
  console.log(
    `5xx or no response: ${report.failures.length}; server errors logged: ${report.serverErrors.length}; victims' data changed: ${report.changed.length}; calls with another user's key: ${report.crossed.length}; still answering: ${report.alive}`,
  );
  for (const failure of report.failures.slice(0, 20))
    console.log(`  ${failure.status} ${failure.method} ${failure.path} — ${failure.body}`);
  for (const line of [...report.serverErrors, ...report.changed, ...report.crossed].slice(0, 20))
    console.log(`  ${line.slice(0, 300)}`);
  return (
    report.failures.length === 0 &&
    report.serverErrors.length === 0 &&
    report.changed.length === 0 &&
    report.crossed.length === 0 &&
    report.alive
  );
}

let clean = true;
const dir = mkdtempSync(join(tmpdir(), 'toolmux-fuzz-bench-'));
try {
  const started = performance.now();
  const report = await runFuzz({ store: join(dir, 'toolmux.db'), cases, seed });
  clean = print('sqlite (file)', report, (performance.now() - started) / 1000) && clean;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (await postgresAvailable()) {
  const database = await createTestPostgresUrl();
  try {
    const started = performance.now();
    const report = await runFuzz({ store: database.url, cases, seed: seed + 1 });
    clean = print('postgres', report, (performance.now() - started) / 1000) && clean;
  } finally {
    await database.cleanup();
  }
} else {
  console.log('PostgreSQL unreachable: set TOOLMUX_TEST_POSTGRES_URL to include it.');
}
if (!clean) process.exitCode = 1;
