// Sums the vitest JSON reports of every package into one line: "N passed, N failed".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// usage: totals.mjs <dir> [--extra-failed N] [--status <exit status of the test command>]
//        totals.mjs --self-test   (sums made-up reports of each kind of failure; exits 1 when wrong)
if (process.argv[2] === '--self-test') {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { execFileSync } = await import('node:child_process');
  const fixtures = mkdtempSync(join(tmpdir(), 'totals-'));
  const test = (status) => ({ status });
  const reports = {
    // two passing tests and one failing
    tests: {
      numPassedTests: 2,
      numFailedTests: 1,
      testResults: [{ status: 'failed', assertionResults: [test('passed'), test('passed'), test('failed')] }],
    },
    // a beforeAll hook threw: its tests are skipped, none failed
    hook: {
      numPassedTests: 0,
      numFailedTests: 0,
      testResults: [{ status: 'failed', assertionResults: [test('skipped'), test('skipped')] }],
    },
    // a file that failed to load: no tests at all
    load: { numPassedTests: 0, numFailedTests: 0, testResults: [{ status: 'failed', assertionResults: [] }] },
  };
  for (const [name, report] of Object.entries(reports))
    writeFileSync(join(fixtures, `${name}.json`), JSON.stringify(report));
  writeFileSync(join(fixtures, 'broken.json'), '{');
  const line = execFileSync(process.execPath, [import.meta.filename, fixtures], { encoding: 'utf8' }).trim();
  rmSync(fixtures, { recursive: true, force: true });
  // the failing test, the hook, the file that did not load, the report that is not JSON
  const expected = '2 passed, 4 failed';
  if (line !== expected) {
    console.error(`totals self-test: got "${line}", expected "${expected}"`);
    process.exit(1);
  }
  process.exit(0);
}
const [dir, ...flags] = process.argv.slice(2);
const option = (name) => {
  const index = flags.indexOf(name);
  return index === -1 ? undefined : Number(flags[index + 1]);
};
let passed = 0;
let failed = option('--extra-failed') ?? 0;
if (existsSync(dir)) {
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json'))) {
    try {
      const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      passed += report.numPassedTests ?? 0;
      failed += report.numFailedTests ?? 0;
      // a file that failed outside its tests must count: one that failed to load (a syntax error, a
      // missing module) has no tests, one whose beforeAll hook threw has its tests skipped
      failed += (report.testResults ?? []).filter(
        (suite) =>
          suite.status === 'failed' &&
          !(suite.assertionResults ?? []).some((test) => test.status === 'failed'),
      ).length;
    } catch {
      failed += 1;
    }
  }
}
// a run that failed outside any test (an unhandled error, a crashed worker) must not read as green
if ((option('--status') ?? 0) !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
