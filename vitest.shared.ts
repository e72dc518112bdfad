import { defineConfig } from 'vitest/config';

/**
 * The vitest config every package uses: the default reporter for people, plus a JSON report per
 * package under `.test-results/` that `.ci/run` sums into one totals line.
 */
export function packageTestConfig(
  name: string,
  overrides: { testTimeout?: number; typecheck?: boolean } = {},
) {
  return defineConfig({
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 60_000,
      reporters: ['default', ['json', { outputFile: `../../.test-results/${name}.json` }]],
      typecheck: overrides.typecheck
        ? {
            enabled: true,
            include: ['src/**/*.test-d.ts', 'test/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          }
        : undefined,
    },
  });
}
