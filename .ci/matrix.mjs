// The framework-version matrix: runs a provider's tests against each older major of its framework
// that its peer range declares (the workspace itself installs the newest, which `pnpm test` covers),
// and against an older version that a user's install picks by default (see the LlamaIndex entry).
// Each entry installs the framework from the npm registry into a temporary directory and runs the
// package's own vitest suite with the framework's import specifiers pointed there; everything else
// (the workspace packages, vitest, zod) is the workspace's. Each run writes a vitest JSON report to
// .test-results/, so .ci/totals.mjs counts it.
//
// usage: node .ci/matrix.mjs [name…]     (no names: every entry)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import semver from 'semver';

const root = resolve(import.meta.dirname, '..');

/**
 * One run per older major. `packages`: what to install (name@range); `specifiers`: the npm package
 * names whose imports (and subpath imports) in the package's sources go to that install.
 */
const MATRIX = [
  // with the @ai-sdk/openai major of each ai major (the OpenAI model class the wire tests use)
  {
    name: 'vercel-ai5',
    dir: 'packages/vercel',
    packages: ['ai@^5.0.62', '@ai-sdk/openai@^2.0.0'],
    specifiers: ['ai', '@ai-sdk/openai'],
  },
  {
    name: 'vercel-ai6',
    dir: 'packages/vercel',
    packages: ['ai@^6.0.0', '@ai-sdk/openai@^3.0.0'],
    specifiers: ['ai', '@ai-sdk/openai'],
  },
  // not an older major: LlamaIndex marked the last release of each of its packages deprecated, npm
  // skips a deprecated version when an older one matches, and so `npm install @llamaindex/core
  // @llamaindex/workflow @llamaindex/openai` gets these (the workspace, installed by pnpm, the last)
  {
    name: 'llamaindex-core-0.6.22',
    dir: 'packages/llamaindex',
    packages: [
      '@llamaindex/core@0.6.22',
      '@llamaindex/env@0.1.30',
      '@llamaindex/workflow@1.1.24',
      '@llamaindex/openai@0.4.22',
    ],
    specifiers: ['@llamaindex/core', '@llamaindex/env', '@llamaindex/workflow', '@llamaindex/openai'],
  },
];

/** Every `from '…'` / `import('…')` specifier in a package's sources that belongs to `names`. */
function importedSpecifiers(dir, names) {
  const found = new Set();
  const walk = (folder) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/(?:from |import\()'([^']+)'/g)) {
          const specifier = match[1];
          if (names.some((name) => specifier === name || specifier.startsWith(`${name}/`)))
            found.add(specifier);
        }
      }
    }
  };
  walk(join(dir, 'src'));
  return [...found];
}

const reportOf = (entry) => join(root, '.test-results', `matrix-${entry.name}.json`);

function run(entry) {
  const work = join(tmpdir(), `toolmux-matrix-${entry.name}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  // the framework's own peers (zod, …) come along with npm's default peer installation
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...entry.packages], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const packageDir = join(root, entry.dir);
  const specifiers = importedSpecifiers(packageDir, entry.specifiers);
  const resolver = `for (const s of ${JSON.stringify(specifiers)}) console.log(JSON.stringify([s, import.meta.resolve(s)]));`;
  const resolved = execFileSync(process.execPath, ['--input-type=module', '-e', resolver], {
    cwd: work,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const installed = entry.packages.map((spec) => {
    const name = spec.slice(0, spec.lastIndexOf('@'));
    return `${name}@${JSON.parse(readFileSync(join(work, 'node_modules', name, 'package.json'), 'utf8')).version}`;
  });
  console.log(`matrix ${entry.name}: ${entry.dir} against ${installed.join(', ')}`);
  // a version the package's peer range refuses is one no user gets to run it with: the entry or the
  // range is wrong
  const { name: packageName, peerDependencies = {} } = JSON.parse(
    readFileSync(join(packageDir, 'package.json'), 'utf8'),
  );
  for (const spec of installed) {
    const name = spec.slice(0, spec.lastIndexOf('@'));
    const version = spec.slice(name.length + 1);
    const range = peerDependencies[name];
    if (range !== undefined && !semver.satisfies(version, range)) {
      console.error(
        `matrix ${entry.name}: ${spec} is outside the peer range "${range}" of ${packageName} (${entry.dir}/package.json): widen the range to the versions users get, or drop the entry`,
      );
      rmSync(work, { recursive: true, force: true });
      return 1;
    }
  }
  const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const aliases = resolved
    .map(
      ([specifier, url]) =>
        `{ find: /^${escapeRegExp(specifier)}$/, replacement: ${JSON.stringify(new URL(url).pathname)} }`,
    )
    .join(',\n    ');
  const config = join(work, 'vitest.config.mjs');
  writeFileSync(
    config,
    `export default {
  resolve: { alias: [
    ${aliases}
  ] },
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 20000,
    hookTimeout: 60000,
    reporters: ['default', ['json', { outputFile: ${JSON.stringify(reportOf(entry))} }]],
  },
};
`,
  );
  const result = spawnSync('pnpm', ['exec', 'vitest', 'run', '--config', config], {
    cwd: packageDir,
    stdio: 'inherit',
  });
  rmSync(work, { recursive: true, force: true });
  return result.status ?? 1;
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !MATRIX.some((entry) => entry.name === name));
if (unknown.length > 0) {
  console.error(
    `matrix: unknown entry ${unknown.join(', ')}; entries: ${MATRIX.map((entry) => entry.name).join(', ')}`,
  );
  process.exit(2);
}
let failed = 0;
for (const entry of MATRIX.filter((candidate) => wanted.length === 0 || wanted.includes(candidate.name))) {
  rmSync(reportOf(entry), { force: true });
  let status;
  try {
    status = run(entry);
  } catch (error) {
    console.error(`matrix ${entry.name}: ${error instanceof Error ? error.message : error}`);
    status = 1;
  }
  if (status !== 0) failed += 1;
  // a run that never got to report (install failed, vitest crashed) counts as one failed test
  if (status !== 0 && !existsSync(reportOf(entry))) {
    mkdirSync(join(root, '.test-results'), { recursive: true });
    writeFileSync(reportOf(entry), JSON.stringify({ numPassedTests: 0, numFailedTests: 1, testResults: [] }));
  }
}
process.exit(failed === 0 ? 0 : 1);
