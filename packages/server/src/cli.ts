#!/usr/bin/env node
// No static imports: the Node.js version is checked before anything that needs a newer one loads.

/**
 * The oldest Node.js toolmux runs on: `node:sqlite` without a flag needs 22.13, and TypeScript
 * config files (`toolmux.config.ts`) and the examples run through type stripping, on by default
 * from 22.18.
 */
const MIN_NODE = [22, 18, 0] as const;

/** Whether version `a` is older than `b` (numeric parts, most significant first). */
function older(a: readonly number[], b: readonly number[]): boolean {
  for (let index = 0; index < b.length; index++) {
    const part = a[index] ?? 0;
    if (part !== b[index]) return part < b[index]!;
  }
  return false;
}

const tooOld = older(process.versions.node.split('.').map(Number), MIN_NODE);
if (tooOld) {
  process.stderr.write(
    `toolmux: Node.js >= ${MIN_NODE.join('.')} is required (node:sqlite, and TypeScript config files run by type stripping); this is ${process.version}. Install a current LTS, e.g. \`nvm install 24\`.\n`,
  );
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
process.exitCode = exitCode;

export {};
