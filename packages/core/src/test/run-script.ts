import { spawn } from 'node:child_process';

/** What {@link runScript} saw of the child process. */
export interface ScriptRun {
  code: number | null;
  stdout: string;
  /** The process was killed after `timeoutMs` (it did not end on its own). */
  timedOut: boolean;
}

/**
 * Runs `source` as an ES module in a child `node --input-type=module -e` (with `options` before it
 * and `env` over this process's), and answers its exit code and output; killed after `timeoutMs`. For
 * tests that a script ends on its own (nothing keeps its event loop alive).
 */
export function runScript(
  source: string,
  options: string[] = [],
  env: Record<string, string> = {},
  timeoutMs = 12_000,
): Promise<ScriptRun> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...options, '--input-type=module', '-e', source], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, timedOut });
    });
  });
}
