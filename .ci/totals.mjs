// Sums the vitest JSON reports of every package into one line: "N passed, N failed".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// usage: totals.mjs <dir> [--extra-failed N] [--status <exit status of the test command>]
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
      // a suite that failed to load (syntax error, missing module) has no tests but must count
      failed += (report.testResults ?? []).filter(
        (suite) => suite.status === 'failed' && suite.assertionResults?.length === 0,
      ).length;
    } catch {
      failed += 1;
    }
  }
}
// a run that failed outside any test (an unhandled error, a crashed worker) must not read as green
if ((option('--status') ?? 0) !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
