// Sums the vitest JSON reports of every package into one line: "N passed, N failed".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, flag, extra] = process.argv.slice(2);
let passed = 0;
let failed = flag === '--extra-failed' ? Number(extra) : 0;
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
console.log(`${passed} passed, ${failed} failed`);
