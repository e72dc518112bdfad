#!/usr/bin/env node
// Only the version check loads before the version is known to be new enough.
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.version);
if (problem) {
  process.stderr.write(`toolmux: ${problem}\n`);
  process.exit(1);
}

const { runCli } = await import('./cli/commands.js');
const exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  isTty: process.stdout.isTTY === true,
  stopSignal: () =>
    new Promise((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }),
});
// a failed start may leave a connection attempt open (a database that never answers): do not wait for it
if (exitCode !== 0) process.exit(exitCode);
process.exitCode = exitCode;
// A tool handler that ignores its abort signal (stopped by close(), its entry written) may still
// hold a timer or a socket: the stopped server does not wait for it.
setTimeout(() => process.exit(exitCode), 1_000).unref();
