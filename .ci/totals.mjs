// Sums the vitest JSON reports of every package into one line: "N passed, N failed".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

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
  const lines = execFileSync(process.execPath, [import.meta.filename, fixtures], { encoding: 'utf8' })
    .trim()
    .split('\n');
  rmSync(fixtures, { recursive: true, force: true });
  const line = lines.at(-1);
  // the failing test, the hook, the file that did not load, the report that is not JSON
  const expected = '2 passed, 4 failed';
  // each of them named on a line of its own above the totals
  const named = lines.slice(0, -1).filter((l) => l.startsWith('FAILED ')).length;
  if (line !== expected || named !== 4) {
    console.error(
      `totals self-test: got "${line}" after ${named} FAILED lines, expected "${expected}" after 4`,
    );
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
// what failed, named above the totals: the end of a long CI log is often all that is kept of it
const named = [];
const firstLine = (text) =>
  String(text ?? '')
    .split('\n')
    .find((line) => line.trim() !== '') ?? '';
if (existsSync(dir)) {
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.json'))) {
    try {
      const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      passed += report.numPassedTests ?? 0;
      failed += report.numFailedTests ?? 0;
      for (const suite of report.testResults ?? []) {
        const where = `${file}: ${relative(process.cwd(), suite.name ?? '?')}`;
        const tests = suite.assertionResults ?? [];
        for (const test of tests.filter((t) => t.status === 'failed'))
          named.push(
            `${where} > ${test.fullName ?? test.title ?? '?'}: ${firstLine(test.failureMessages?.[0])}`,
          );
        // a file that failed outside its tests must count: one that failed to load (a syntax error, a
        // missing module) has no tests, one whose beforeAll hook threw has its tests skipped
        if (suite.status === 'failed' && !tests.some((test) => test.status === 'failed')) {
          failed += 1;
          named.push(`${where} (outside its tests): ${firstLine(suite.message)}`);
        }
      }
    } catch (error) {
      failed += 1;
      named.push(`${file}: not a vitest JSON report (${firstLine(error?.message)})`);
    }
  }
}
for (const line of named) console.log(`FAILED ${line.length > 400 ? `${line.slice(0, 400)}…` : line}`);
// a run that failed outside any test (an unhandled error, a crashed worker) must not read as green
if ((option('--status') ?? 0) !== 0 && failed === 0) {
  failed = 1;
  console.log(
    `FAILED outside any test: a step exited with status ${option('--status')} (its output is above)`,
  );
}
console.log(`${passed} passed, ${failed} failed`);
