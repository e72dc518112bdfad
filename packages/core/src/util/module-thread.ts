import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Whether the process was started with options about its main script's input (`-e`/`--eval`,
 * `-p`/`--print`, `--input-type`). A worker thread inherits the parent's options, and with these its
 * start fails ("--input-type can only be used with string input"), so such a process starts its
 * workers with none (naming options explicitly is no way out: Node refuses per-process ones such as
 * `--expose-gc` for a worker, where inheriting drops them silently).
 */
export function hasInputOptions(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => /^(-e|-p|-pe|--eval|--print|--input-type)(=|$)/.test(arg));
}

/**
 * Whether this process may start worker threads: not under Node.js's permission model (`--permission`)
 * without `--allow-worker`, where `new Worker()` throws `ERR_ACCESS_DENIED`. What would run in one
 * then runs on the main thread, or, where nothing else is safe (a pattern RE2 cannot run), is refused
 * saying why.
 */
export function workerThreadsPermitted(): boolean {
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  return permission === undefined || permission.has('worker');
}

/**
 * Starts a worker thread on the module `name` (without extension) beside `base` (the caller's
 * `import.meta.url`): `name.js` once built; under a test runner that loads `src/*.ts`, `name.ts`
 * with a resolve hook that maps its `.js` imports to their `.ts` files (Node strips the types).
 */
export function spawnModuleThread(base: string, name: string, options: WorkerOptions = {}): Worker {
  const started = {
    ...options,
    ...(hasInputOptions(process.execArgv) ? { execArgv: [] } : {}),
  };
  const built = new URL(`./${name}.js`, base);
  if (existsSync(fileURLToPath(built))) return new Worker(built, started);
  const source = new URL(`./${name}.ts`, base).href;
  return new Worker(
    `const { registerHooks } = require('node:module');
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (error) {
      if (/^\\.\\.?\\//.test(specifier) && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
      throw error;
    }
  },
});
import(${JSON.stringify(source)});`,
    { ...started, eval: true },
  );
}
