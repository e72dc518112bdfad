#!/usr/bin/env node
// Only the version check loads before the version is known to be new enough.
import { constants } from 'node:os';
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.version);
if (problem) {
  process.stderr.write(`toolmux: ${problem}\n`);
  process.exit(1);
}

/**
 * What the CLI writes to stdout and stderr. A stream whose reader went away (EPIPE: `toolmux serve |
 * pino-pretty` stopped with Ctrl-C, a log shipper restarted), or a file on a full disk (ENOSPC),
 * fails once with an 'error' event, which
 * unhandled ended the process at once, without its drain: the CLI drops what would go there from
 * then on and goes on, and says so once on stderr when stdout failed.
 */
const output = (() => {
  const open = { stdout: true, stderr: true };
  const write = (name: 'stdout' | 'stderr') => (text: string) => {
    if (open[name]) process[name].write(text);
  };
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', (error: NodeJS.ErrnoException) => {
      if (!open[name]) return;
      open[name] = false;
      if (name === 'stdout') {
        write('stderr')(
          `toolmux: stdout failed (${error.code ?? error.message}): its reader went away or it cannot be written (a full disk), so log lines are dropped from now on; the process goes on\n`,
        );
      }
    });
  }
  return { stdout: write('stdout'), stderr: write('stderr') };
})();

/**
 * The signals that stop `serve` with its drain. SIGHUP with them: the server reloads no config on it,
 * and it is what ends a server whose terminal closed or whose ssh session ended (and what some
 * process managers send to stop one); unhandled, it killed the process at once, the requests in
 * flight with it.
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Ends the process as `signal` (one of {@link STOP_SIGNALS}) does where nothing handles it: killed by
 * it. PID 1 (a container's process without an init: `docker run` without `--init`, Kubernetes)
 * ignores a signal it does not handle, its own included: there it exits with the status a shell
 * gives a process killed by the signal, 128 + its number (143 for SIGTERM, 129 for SIGHUP).
 */
function endBy(signal: NodeJS.Signals): never {
  for (const name of STOP_SIGNALS) process.removeAllListeners(name);
  if (process.pid === 1) process.exit(128 + constants.signals[signal]);
  process.kill(process.pid, signal);
  // the signal ends the process before this runs
  return process.exit(128 + constants.signals[signal]);
}

/**
 * Process warnings (`process.emitWarning`: pg's notice about `sslmode=require`, a deprecation), which
 * Node.js prints on stderr as several lines and a `--trace-warnings` hint: one line each instead,
 * through the server's log while `serve` runs (it routes them there), else `toolmux: warning: …` on
 * stderr. Node.js told to print none (`--no-warnings`, `NODE_NO_WARNINGS=1`) installs no printer,
 * and then none is put in its place; `--disable-warning` names are honoured as Node.js does.
 */
let writeWarning = (_warning: Error, line: string) => {
  output.stderr(`toolmux: warning: ${line}\n`);
};
if (process.listenerCount('warning') > 0) {
  const disabled = disabledWarnings();
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: unknown }) => {
    if (disabled.has(warning.name) || (typeof warning.code === 'string' && disabled.has(warning.code)))
      return;
    writeWarning(warning, warningLine(warning));
  });
}

/** A warning as one line: `SecurityWarning: text` (`Warning: ` left out), whitespace runs as one space. */
function warningLine(warning: Error): string {
  const text = String(warning.message).replace(/\s+/g, ' ').trim();
  return warning.name === 'Warning' || !warning.name ? text : `${warning.name}: ${text}`;
}

/** The names and codes of `--disable-warning` (in the command line or NODE_OPTIONS). */
function disabledWarnings(): Set<string> {
  const words = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const names = new Set<string>();
  words.forEach((word, index) => {
    if (word.startsWith('--disable-warning=')) names.add(word.slice('--disable-warning='.length));
    else if (word === '--disable-warning' && words[index + 1]) names.add(words[index + 1]!);
  });
  return names;
}

// As PID 1, SIGINT, SIGTERM and SIGHUP would be ignored until `serve` handles them (while the store
// opens and migrates, up to startupTimeoutMs, and in every other command): they end it, as they do
// elsewhere.
const beforeServing = (signal: NodeJS.Signals) => endBy(signal);
if (process.pid === 1) {
  for (const name of STOP_SIGNALS) process.on(name, beforeServing);
}

// a command line asking only for help is answered without loading the engine (see cli/help.ts)
const { helpOnly } = await import('./cli/help.js');
const help = helpOnly(process.argv.slice(2));
if (help !== undefined) output.stdout(`${help}\n`);
else await run();

/** Any other command line: the CLI itself. */
async function run(): Promise<void> {
  const { runCli } = await import('./cli/commands.js');
  const exitCode = await runCli(process.argv.slice(2), {
    stdout: output.stdout,
    stderr: output.stderr,
    env: process.env,
    routeWarnings: (write) => {
      writeWarning = write;
    },
    isTty: process.stdout.isTTY === true,
    // the first SIGINT / SIGTERM / SIGHUP drains; a second one, of any of them, ends the process at
    // once (by that signal, as if it had no handler)
    stopSignal: () =>
      new Promise((resolve) => {
        for (const name of STOP_SIGNALS) process.off(name, beforeServing);
        let stopping = false;
        const onSignal = (signal: NodeJS.Signals) => {
          if (!stopping) {
            stopping = true;
            resolve(signal);
            return;
          }
          output.stderr(
            `toolmux: ${signal} while stopping: exiting now, without waiting for the requests in flight\n`,
          );
          endBy(signal);
        };
        for (const name of STOP_SIGNALS) process.on(name, onSignal);
      }),
  });
  // a failed start may leave a connection attempt open (a database that never answers): do not wait for it
  if (exitCode !== 0) process.exit(exitCode);
  process.exitCode = exitCode;
  // A tool handler that ignores its abort signal (stopped by close(), its entry written) may still
  // hold a timer or a socket: the stopped server does not wait for it.
  setTimeout(() => process.exit(exitCode), 1_000).unref();
}
