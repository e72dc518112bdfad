import { execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { get } from 'node:http';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinToolkits } from '@toolmux/toolkits';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The packages as a user installs them from npm: each public package under `packages/` packed by
 * `pnpm pack` (what `pnpm publish` uploads), then installed from those tarballs into a fresh project
 * outside the repository, where no workspace link or hoisted dependency can stand in for a missing
 * one. The install is pnpm's, with hoisting off, from the store the workspace's install filled (offline;
 * the registry only for what the store lacks), so a package finds exactly what its package.json
 * declares. Checked:
 * - the tarball: every `exports` and `bin` target, README and LICENSE, the package.json fields a
 *   registry page shows, no `workspace:` left, no tests or fixtures, source maps and `.d.ts` files whose
 *   relative references are all in the tarball, a size no corpus or node_modules slipped into;
 * - the import graph: every bare specifier of the shipped JavaScript and `.d.ts` files is a Node.js
 *   built-in, the package itself, or one of its `dependencies` / `peerDependencies`;
 * - installed: every `exports` subpath imports, the README's quickstart runs with each provider, the
 *   `toolmux` bin prints its version, lists the built-in toolkits and serves `/healthz`;
 * - types: a strict consumer (`skipLibCheck: false`) compiles against the installed `.d.ts` files under
 *   `moduleResolution` `nodenext` and `bundler`, and the tools each provider hands over are not `any`.
 *
 * The peers installed beside them are every package's `peerDependencies` (optional ones too), at the
 * version the workspace resolved for that package, so that the store has them.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A package that grows past this has shipped something it should not (a corpus, node_modules). */
const MAX_UNPACKED_BYTES = 12 * 1024 * 1024;

/** Files no published package ships: tests, fixtures, test and build configs. */
const NOT_SHIPPED =
  /(\.test\.|\.test-d\.|\.bench\.|(^|\/)test-[^/]*\.ts$|(^|\/)fixtures?[-/]|(^|\/)__tests__\/|(^|\/)vitest\.config\.|(^|\/)tsconfig[^/]*\.json$|(^|\/)node_modules\/|(^|\/)\.turbo\/)/;

type Json = Record<string, unknown>;

const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;

function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path, base) : [relative(base, path)];
  });
}

/** Every file a conditional `exports` value points at (strings at any depth). */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(exportTargets);
  if (value && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

/** The npm package a bare specifier names (`@scope/name/sub` → `@scope/name`), or undefined. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('#')) return;
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0] ?? '')) return;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The specifiers a JavaScript or declaration file imports: static, dynamic, require, createRequire. */
function specifiersOf(text: string): string[] {
  const info = ts.preProcessFile(text, true, true);
  const found = info.importedFiles.map((file) => file.fileName);
  // createRequire(import.meta.url)('x') and createRequire(…).resolve('x/wasm')
  for (const match of text.matchAll(/createRequire\([^)]*\)(?:\.resolve)?\(\s*['"]([^'"]+)['"]/g))
    found.push(match[1]!);
  return found;
}

/**
 * What is wrong with one unpacked tarball (`dir` is its `package/`): one line per problem, naming the
 * file and the fix.
 */
function problemsOfPacked(dir: string): string[] {
  const problems: string[] = [];
  const manifest = readJson(join(dir, 'package.json'));
  const name = String(manifest.name);
  const files = filesUnder(dir);
  const has = (path: string) => existsSync(join(dir, path));

  for (const field of ['name', 'version', 'description', 'license', 'type', 'exports'])
    if (manifest[field] === undefined) problems.push(`${name}: package.json has no "${field}"`);
  if (manifest.type !== 'module') problems.push(`${name}: package.json "type" is not "module"`);
  if (typeof (manifest.engines as Json | undefined)?.node !== 'string')
    problems.push(`${name}: package.json has no engines.node`);
  if (JSON.stringify(manifest).includes('workspace:'))
    problems.push(`${name}: package.json still holds a workspace: specifier (pack with pnpm)`);
  for (const file of ['README.md', 'LICENSE']) if (!has(file)) problems.push(`${name}: ships no ${file}`);

  for (const [subpath, value] of Object.entries((manifest.exports as Json | undefined) ?? {})) {
    if (value && typeof value === 'object' && 'types' in value && Object.keys(value)[0] !== 'types')
      problems.push(`${name}: exports["${subpath}"] lists "types" after another condition`);
    for (const target of exportTargets(value))
      if (!has(target))
        problems.push(
          `${name}: exports["${subpath}"] points at ${target}, which the tarball lacks (not built, or not in "files")`,
        );
  }
  const bins = typeof manifest.bin === 'string' ? { [name]: manifest.bin } : ((manifest.bin ?? {}) as Json);
  for (const [command, target] of Object.entries(bins)) {
    const path = join(dir, String(target));
    if (!existsSync(path)) {
      problems.push(`${name}: bin ${command} points at ${target}, which the tarball lacks`);
      continue;
    }
    if (!readFileSync(path, 'utf8').startsWith('#!/usr/bin/env node\n'))
      problems.push(`${name}: bin ${command} (${target}) does not start with #!/usr/bin/env node`);
    if ((statSync(path).mode & 0o111) === 0)
      problems.push(`${name}: bin ${command} (${target}) is not executable`);
  }

  let bytes = 0;
  const declared = new Set([
    name,
    ...Object.keys((manifest.dependencies as Json | undefined) ?? {}),
    ...Object.keys((manifest.peerDependencies as Json | undefined) ?? {}),
    ...Object.keys((manifest.optionalDependencies as Json | undefined) ?? {}),
  ]);
  const undeclared = new Map<string, string[]>();
  for (const file of files) {
    bytes += statSync(join(dir, file)).size;
    if (NOT_SHIPPED.test(file)) problems.push(`${name}: ships ${file} (a test, fixture or config)`);
    if (file.endsWith('.map')) {
      const map = readJson(join(dir, file)) as { sources?: string[]; sourceRoot?: string };
      for (const source of map.sources ?? [])
        if (!existsSync(resolve(dir, dirname(file), map.sourceRoot ?? '', source)))
          problems.push(`${name}: ${file} maps to ${source}, which the tarball lacks`);
      continue;
    }
    if (!/\.(m?js|cjs|d\.ts)$/.test(file) && !file.startsWith('bin/')) continue;
    const text = readFileSync(join(dir, file), 'utf8');
    const mapUrl = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
    if (mapUrl && !mapUrl.startsWith('data:') && !existsSync(resolve(dir, dirname(file), mapUrl)))
      problems.push(`${name}: ${file} names the source map ${mapUrl}, which the tarball lacks`);
    for (const specifier of specifiersOf(text)) {
      if (specifier.startsWith('.')) {
        const target = resolve(dir, dirname(file), specifier);
        const candidates = file.endsWith('.d.ts')
          ? [target.replace(/\.js$/, '.d.ts'), `${target}.d.ts`, join(target, 'index.d.ts')]
          : [target];
        if (!candidates.some((candidate) => existsSync(candidate)))
          problems.push(`${name}: ${file} imports ${specifier}, which the tarball lacks`);
        continue;
      }
      const dependency = packageOf(specifier);
      if (dependency === undefined || declared.has(dependency)) continue;
      undeclared.set(dependency, [...(undeclared.get(dependency) ?? []), file]);
    }
  }
  for (const [dependency, where] of undeclared)
    problems.push(
      `${name}: ${where.slice(0, 3).join(', ')}${where.length > 3 ? ` (and ${where.length - 3} more)` : ''} import ${dependency}, which is in neither dependencies nor peerDependencies (an optional peer if only some entry points need it)`,
    );
  if (bytes > MAX_UNPACKED_BYTES)
    problems.push(
      `${name}: ${(bytes / 1024 / 1024).toFixed(1)} MB unpacked, over the ${MAX_UNPACKED_BYTES / 1024 / 1024} MB budget`,
    );
  return problems;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a child that acts in the user's shell: without what `pnpm run` (npm_*, pnpm_*,
 * PNPM_*), vitest (VITEST*, NODE_ENV=test, TEST) and CI (TOOLMUX_*) set for this test.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|PNPM_|VITEST|TOOLMUX_)|^(NODE_OPTIONS|INIT_CWD|TEST)$/.test(key)) continue;
    if (key === 'NODE_ENV' && value === 'test') continue;
    env[key] = value;
  }
  return env;
}

/**
 * Runs `command`; killed after `timeout` ms, or after `stallMs` ms in which it printed nothing (a
 * request that hangs: pnpm prints its progress as it resolves and downloads).
 */
function run(
  command: string,
  args: string[],
  cwd: string,
  timeout = 120_000,
  stallMs = Number.POSITIVE_INFINITY,
): Promise<Run> {
  return new Promise((done) => {
    let stalled = false;
    let stallTimer: NodeJS.Timeout | undefined;
    const child = execFile(
      command,
      args,
      { cwd, timeout, env: userEnv(), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        clearTimeout(stallTimer);
        done({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout,
          // a child that did not end by itself: say so, not only "exited with 1"
          stderr: error?.killed
            ? `${stderr}\n(killed by ${error.signal ?? 'a signal'} ${stalled ? `after ${stallMs} ms without output: stalled` : `after ${timeout} ms: timed out`})`
            : stderr,
        });
      },
    );
    if (stallMs === Number.POSITIVE_INFINITY) return;
    const watch = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        stalled = true;
        child.kill('SIGKILL');
      }, stallMs);
    };
    watch();
    child.stdout?.on('data', watch);
    child.stderr?.on('data', watch);
  });
}

function mustRun(command: string, args: string[], cwd: string, timeout?: number): Promise<Run> {
  return run(command, args, cwd, timeout).then((result) => {
    if (result.code !== 0)
      throw new Error(
        `${command} ${args.join(' ')} (in ${cwd}) exited with ${result.code}:\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`,
      );
    return result;
  });
}

/** Packs every package of `workspace` matched by `filter` into `destination`; their unpacked dirs. */
async function packAll(workspace: string, filter: string, destination: string): Promise<Map<string, string>> {
  mkdirSync(destination, { recursive: true });
  await mustRun('pnpm', ['-r', '--filter', filter, 'pack', '--pack-destination', destination], workspace);
  const tarballs = readdirSync(destination).filter((file) => file.endsWith('.tgz'));
  return new Map(
    await Promise.all(
      tarballs.map(async (tarball) => {
        const into = join(destination, tarball.replace(/\.tgz$/, ''));
        mkdirSync(into, { recursive: true });
        await mustRun('tar', ['-xzf', join(destination, tarball), '-C', into], destination);
        return [tarball, join(into, 'package')] as const;
      }),
    ),
  );
}

const work = mkdtempSync(join(tmpdir(), 'toolmux-packed-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the checks of a packed package', () => {
  it('find a package that ships without its dist, and one that imports what it does not declare', async () => {
    const fixtures = join(work, 'fixtures');
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(fixtures, path)), { recursive: true });
      writeFileSync(join(fixtures, path), text);
    };
    write('pnpm-workspace.yaml', 'packages:\n  - "*"\n');
    write('package.json', JSON.stringify({ name: 'fixtures', private: true }));
    const manifest = (name: string, extra: Json) =>
      JSON.stringify({
        name,
        version: '1.0.0',
        description: 'a fixture',
        license: 'MIT',
        type: 'module',
        engines: { node: '>=22.13' },
        exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
        files: ['dist'],
        ...extra,
      });
    for (const name of ['no-dist', 'undeclared']) {
      write(`${name}/README.md`, '# fixture\n');
      write(`${name}/LICENSE`, 'MIT\n');
      write(`${name}/dist/index.d.ts`, 'export declare const x: number;\n');
    }
    write('no-dist/package.json', manifest('no-dist', { files: ['lib'] }));
    write('no-dist/dist/index.js', 'export const x = 1;\n');
    write(
      'undeclared/package.json',
      manifest('undeclared', { dependencies: { zod: '^4.2.0' }, devDependencies: { 'left-pad': '^1.3.0' } }),
    );
    write(
      'undeclared/dist/index.js',
      "import { z } from 'zod';\nexport const x = 1;\nexport const pad = async () => (await import('left-pad')).default;\nexport { z };\n",
    );
    const unpacked = await packAll(fixtures, './*', join(work, 'fixture-tarballs'));
    const problems = [...unpacked.values()].flatMap(problemsOfPacked);
    expect(problems).toEqual([
      'no-dist: exports["."] points at ./dist/index.d.ts, which the tarball lacks (not built, or not in "files")',
      'no-dist: exports["."] points at ./dist/index.js, which the tarball lacks (not built, or not in "files")',
      'undeclared: dist/index.js import left-pad, which is in neither dependencies nor peerDependencies (an optional peer if only some entry points need it)',
    ]);
  });
});

describe('the packages as npm ships them', () => {
  /** tarball file name → its unpacked `package/` directory */
  let packed: Map<string, string>;
  /** package name → workspace directory */
  const workspaceDirs = new Map<string, string>();

  beforeAll(async () => {
    for (const entry of readdirSync(join(root, 'packages'))) {
      const dir = join(root, 'packages', entry);
      if (!existsSync(join(dir, 'package.json'))) continue;
      const manifest = readJson(join(dir, 'package.json'));
      if (manifest.private !== true) workspaceDirs.set(String(manifest.name), dir);
    }
    packed = await packAll(root, './packages/*', join(work, 'tarballs'));
  }, 300_000);

  it('packs every public package', () => {
    const names = [...packed.values()].map((dir) => String(readJson(join(dir, 'package.json')).name));
    expect(names.sort()).toEqual([...workspaceDirs.keys()].sort());
  });

  it('ship their entry points, bin, README and LICENSE, import only what they declare, and no tests', () => {
    expect([...packed.values()].flatMap(problemsOfPacked)).toEqual([]);
  });

  describe('installed from the tarballs into a fresh project', () => {
    const app = join(work, 'app');
    /** package name → its `exports` subpaths as import specifiers */
    const entryPoints = new Map<string, string[]>();

    /** The version the workspace resolved for `dependency` from package `dir`. */
    function workspaceVersion(dir: string, dependency: string): string {
      for (const base of [dir, root]) {
        const path = join(base, 'node_modules', dependency, 'package.json');
        if (existsSync(path)) return String(readJson(realpathSync(path)).version);
      }
      throw new Error(`${dependency} is not installed in the workspace (for ${dir}); run pnpm install`);
    }

    async function install(): Promise<void> {
      const dependencies: Record<string, string> = {};
      const overrides: Record<string, string> = {};
      for (const [tarball, dir] of packed) {
        const manifest = readJson(join(dir, 'package.json'));
        const name = String(manifest.name);
        const spec = `file:${join(work, 'tarballs', tarball)}`;
        dependencies[name] = spec;
        overrides[name] = spec;
        entryPoints.set(
          name,
          Object.keys(manifest.exports as Json).map((subpath) => name + subpath.slice(1)),
        );
        for (const peer of Object.keys((manifest.peerDependencies as Json | undefined) ?? {}))
          if (!peer.startsWith('@toolmux/'))
            dependencies[peer] ??= workspaceVersion(workspaceDirs.get(name)!, peer);
      }
      // what the README installs beside @toolmux/core, and the Node.js types of a TypeScript project
      // (the compiler is the workspace's, run in this process)
      dependencies.zod ??= workspaceVersion(workspaceDirs.get('@toolmux/core')!, 'zod');
      dependencies['@types/node'] = workspaceVersion(root, '@types/node');
      // a node_modules above the project would lend it what it lacks
      for (let dir = dirname(app); dir !== dirname(dir); dir = dirname(dir))
        if (existsSync(join(dir, 'node_modules')))
          throw new Error(`${join(dir, 'node_modules')} is above the fresh project: set TMPDIR elsewhere`);
      mkdirSync(app, { recursive: true });
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'app', private: true, type: 'module', dependencies, pnpm: { overrides } }),
      );
      // no hoisting: a package resolves only what it declares, as under npm without the luck of a
      // dependency some other package brought along (the peers of third-party packages, such as
      // vitest's vite, come along as npm's and pnpm's default installs them)
      const flags = [
        'install',
        '--config.hoist=false',
        '--config.public-hoist-pattern=',
        '--config.lockfile=false',
        '--ignore-scripts',
        '--reporter=append-only',
      ];
      const offline = await run('pnpm', [...flags, '--offline'], app, 180_000);
      if (offline.code !== 0) {
        console.log(
          `packed: the offline install missed something (${/ERR_PNPM_\w+.*/.exec(offline.stdout + offline.stderr)?.[0] ?? `exit ${offline.code}`}); installing with --prefer-offline`,
        );
        // what the store lacks (metadata of a package the workspace's frozen install never resolved),
        // from the registry: a request that hangs there (seen under CI's load: no progress for 400 s,
        // where the whole install takes 20 s) is given up after a minute without progress and the
        // install made again, keeping the metadata fetched meanwhile
        let last: Run | undefined;
        for (let attempt = 1; attempt <= 3 && last?.code !== 0; attempt++) {
          rmSync(join(app, 'node_modules'), { recursive: true, force: true });
          last = await run('pnpm', [...flags, '--prefer-offline'], app, 180_000, 60_000);
          if (last.code !== 0)
            console.log(`packed: install attempt ${attempt} failed: ${last.stderr.slice(-300)}`);
        }
        if (last?.code !== 0)
          throw new Error(
            `pnpm ${flags.join(' ')} --prefer-offline (in ${app}) failed 3 times:\n${last?.stdout.slice(-3000)}\n${last?.stderr.slice(-3000)}`,
          );
      }
    }
    // the install resolves every dependency range (no lockfile): offline from pnpm's metadata cache
    // when it has them, else from the registry, which on a fresh, loaded machine takes minutes; it is
    // the hook's, not the first test's, timeout that bounds it
    beforeAll(install, 600_000);

    it('imports every entry point, and runs the README quickstart with each provider', async () => {
      const specifiers = [...entryPoints.values()].flat();
      writeFileSync(
        join(app, 'run.mjs'),
        `
const entries = {};
for (const specifier of ${JSON.stringify(specifiers)}) {
  try {
    entries[specifier] = Object.keys(await import(specifier)).length > 0 ? 'ok' : 'exports nothing';
  } catch (error) {
    entries[specifier] = \`\${error.code ?? error.name}: \${error.message.split('\\n')[0]}\`;
  }
}
const { ToolMux, defineTool, defineToolkit } = await import('@toolmux/core');
const { z } = await import('zod');
const acme = defineToolkit({
  slug: 'acme',
  description: 'Orders of the Acme shop',
  tools: [
    defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get the status of an order by its id',
      inputSchema: z.object({ orderId: z.string().describe('The order id') }),
      annotations: { readOnlyHint: true },
      execute: async ({ orderId }) => ({ orderId, status: 'shipped' }),
    }),
  ],
});
const mux = new ToolMux({ toolkits: [acme], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['acme'] });
const quickstart = {
  search: (await session.search({ query: 'where is my order' })).results[0].tools[0].tool_slug,
  execute: (await session.execute('ACME_GET_ORDER', { orderId: 'A-1' })).data,
  workbench: (await session.execute('TOOLMUX_WORKBENCH', {
    code: "return (await toolmux.execute('ACME_GET_ORDER', { orderId: 'B-2' })).data.status;",
  })).data?.result,
  logged: (await session.logs()).items.some((entry) => entry.toolSlug === 'ACME_GET_ORDER'),
};
await mux.close();
const providers = {};
for (const specifier of ${JSON.stringify(specifiers)}) {
  const module = await import(specifier).catch(() => ({}));
  for (const [name, value] of Object.entries(module)) {
    if (!/^[A-Z]\\w*Provider$/.test(name) || typeof value !== 'function') continue;
    const mux = new ToolMux({ provider: new value(), toolkits: [acme], store: ':memory:' });
    try {
      const tools = await (await mux.create('user_123', { toolkits: ['acme'] })).tools();
      providers[\`\${specifier} \${name}\`] = tools && typeof tools === 'object' ? 'tools' : typeof tools;
    } catch (error) {
      providers[\`\${specifier} \${name}\`] = String(error);
    } finally {
      await mux.close();
    }
  }
}
const { builtinToolkits } = await import('@toolmux/toolkits');
const { createServer } = await import('@toolmux/server');
const served = new ToolMux({ toolkits: builtinToolkits, store: ':memory:' });
const health = await createServer({ toolmux: served, apiKey: 'k'.repeat(32) }).fetch(
  new Request('http://127.0.0.1/healthz'),
);
const server = { healthz: health.status, builtinToolkits: builtinToolkits.length > 0 };
await served.close();
console.log(JSON.stringify({ entries, quickstart, providers, server }));
`,
      );
      const { stdout } = await mustRun(process.execPath, ['run.mjs'], app, 90_000);
      const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        entries: Record<string, string>;
        quickstart: Json;
        providers: Record<string, string>;
        server: Json;
      };
      expect(report.entries).toEqual(Object.fromEntries(specifiers.map((specifier) => [specifier, 'ok'])));
      expect(report.quickstart).toEqual({
        search: 'ACME_GET_ORDER',
        execute: { orderId: 'A-1', status: 'shipped' },
        workbench: 'shipped',
        logged: true,
      });
      const providerPackages = [...entryPoints.keys()].filter(
        (name) => !['@toolmux/core', '@toolmux/server', '@toolmux/toolkits'].includes(name),
      );
      // every provider package's provider, and core's PlainProvider, hands over tools
      for (const name of [...providerPackages, '@toolmux/core'])
        expect(Object.keys(report.providers).some((key) => key.startsWith(`${name} `))).toBe(true);
      expect(Object.values(report.providers).filter((result) => result !== 'tools')).toEqual([]);
      expect(report.server).toEqual({ healthz: 200, builtinToolkits: true });
    }, 120_000);

    it('have a toolmux bin that prints its version, lists the built-in toolkits and serves /healthz', async () => {
      const bin = join(app, 'node_modules', '.bin', 'toolmux');
      const version = String(
        readJson(join(app, 'node_modules', '@toolmux', 'server', 'package.json')).version,
      );
      expect((await mustRun(bin, ['--version'], app)).stdout.trim()).toBe(version);
      // the toolkits the built @toolmux/toolkits of the workspace has, which the tarball holds
      const builtins = builtinToolkits.map((toolkit) => toolkit.slug);
      const listed = (await mustRun(bin, ['toolkits', 'list'], app)).stdout
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/)[0])
        .filter(Boolean);
      expect(builtins.length).toBeGreaterThan(0);
      expect(listed.sort()).toEqual([...builtins].sort());

      // `toolmux serve` as the README runs it: the default SQLite store in the working directory
      const cwd = join(work, 'serve');
      mkdirSync(cwd, { recursive: true });
      const child = spawn(bin, ['serve', '--port', '0', '--host', '127.0.0.1'], { cwd, env: userEnv() });
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      try {
        let output = '';
        const url = await new Promise<string>((done, fail) => {
          const timer = setTimeout(
            () => fail(new Error(`toolmux serve did not listen within 60 s:\n${output}`)),
            60_000,
          );
          const read = (chunk: Buffer) => {
            output += chunk.toString();
            const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
            if (match) {
              clearTimeout(timer);
              done(match[1]!);
            }
          };
          child.stdout.on('data', read);
          child.stderr.on('data', read);
          void exited.then((code) => fail(new Error(`toolmux serve exited with ${code}:\n${output}`)));
        });
        const health = await new Promise<{ status: number; body: string }>((done, fail) => {
          get(`${url}/healthz`, { agent: false }, (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on('end', () => done({ status: response.statusCode ?? 0, body }));
          }).on('error', fail);
        });
        expect(health).toEqual({ status: 200, body: '{"status":"ok"}' });
        expect(output).toContain(`"toolkits":${builtins.length}`);
      } finally {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      expect(await exited).toBe(0);
    }, 120_000);

    it('type-check a strict consumer against the installed .d.ts files (nodenext and bundler, skipLibCheck false)', async () => {
      const specifiers = [...entryPoints.values()].flat();
      // the provider classes each package's entry exports, as its README constructs them
      const providers = [...entryPoints.keys()].flatMap((name) => {
        const types = readFileSync(join(app, 'node_modules', name, 'dist', 'index.d.ts'), 'utf8');
        return [...new Set([...types.matchAll(/\b([A-Z]\w*Provider)\b/g)].map((match) => match[1]!))].map(
          (provider) => ({ name, provider }),
        );
      });
      expect(providers.length).toBeGreaterThan(1);
      const source = `import { ToolMux, defineTool, defineToolkit } from '@toolmux/core';
import { z } from 'zod';
${specifiers.map((specifier, index) => `import * as entry${index} from '${specifier}';`).join('\n')}
${providers.map(({ name, provider }, index) => `import { ${provider} as Provider${index} } from '${name}';`).join('\n')}

type IsAny<T> = 0 extends 1 & T ? true : false;
/** Fails to compile when the value's type is any: what a type that did not resolve becomes. */
declare function notAny<T>(value: T, ...isAny: IsAny<T> extends true ? [never] : []): void;

export const entries = [${specifiers.map((_, index) => `entry${index}`).join(', ')}];
${specifiers.map((_, index) => `notAny(entry${index});`).join('\n')}

const acme = defineToolkit({
  slug: 'acme',
  description: 'Orders of the Acme shop',
  tools: [
    defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get the status of an order by its id',
      inputSchema: z.object({ orderId: z.string().describe('The order id') }),
      annotations: { readOnlyHint: true },
      execute: async ({ orderId }) => {
        notAny(orderId);
        const id: string = orderId;
        return { orderId: id, status: 'shipped' };
      },
    }),
  ],
});

export async function quickstart(): Promise<void> {
  const mux = new ToolMux({ toolkits: [acme] });
  const session = await mux.create('user_123', { toolkits: ['acme'] });
  notAny(await session.tools());
  notAny(await session.search({ query: 'where is my order' }));
  const result = await session.execute('ACME_GET_ORDER', { orderId: 'A-1' });
  notAny(result);
  const successful: boolean = result.successful;
  notAny(await session.logs());
  notAny(await mux.use(session.sessionId));
  console.log(successful);
}

export async function providers(): Promise<void> {
${providers
  .map(
    (_, index) => `  {
    const session = await new ToolMux({ provider: new Provider${index}(), toolkits: [acme] }).create('user_123');
    notAny(await session.tools());
  }`,
  )
  .join('\n')}
}
`;
      mkdirSync(join(app, 'src'), { recursive: true });
      const file = join(app, 'src', 'consumer.ts');
      writeFileSync(file, source);
      const base: ts.CompilerOptions = {
        target: ts.ScriptTarget.ES2023,
        lib: ['lib.es2024.d.ts'],
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
      };
      const modes: Record<string, ts.CompilerOptions> = {
        nodenext: {
          ...base,
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
        },
        bundler: { ...base, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
      };
      const problems: string[] = [];
      // both programs read the same files: parse each once
      const parsed = new Map<string, ts.SourceFile | undefined>();
      for (const [mode, options] of Object.entries(modes)) {
        const host = ts.createCompilerHost(options);
        const read = host.getSourceFile.bind(host);
        host.getSourceFile = (fileName, languageVersion, ...rest) => {
          const key = `${fileName} ${JSON.stringify(languageVersion)}`;
          if (!parsed.has(key)) parsed.set(key, read(fileName, languageVersion, ...rest));
          return parsed.get(key);
        };
        const program = ts.createProgram([file], options, host);
        // the consumer's file and every toolmux declaration file it reaches; the frameworks' own
        // declaration files are theirs to check (some do not pass skipLibCheck: false)
        const ours = program
          .getSourceFiles()
          .filter(
            (sourceFile) =>
              !sourceFile.fileName.includes('/node_modules/') ||
              /\/node_modules\/@toolmux\//.test(sourceFile.fileName),
          );
        const diagnostics = [
          ...program.getOptionsDiagnostics(),
          ...program.getGlobalDiagnostics(),
          ...ours.flatMap((sourceFile) => [
            ...program.getSyntacticDiagnostics(sourceFile),
            ...program.getSemanticDiagnostics(sourceFile),
          ]),
        ];
        for (const diagnostic of diagnostics) {
          const where = diagnostic.file
            ? `${relative(app, diagnostic.file.fileName).replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}`
            : '';
          problems.push(
            `${mode}: ${where} TS${diagnostic.code}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`,
          );
        }
        expect(ours.filter((sourceFile) => sourceFile.isDeclarationFile).length).toBeGreaterThan(
          specifiers.length,
        );
      }
      expect(problems).toEqual([]);
    }, 120_000);
  });
});
