/**
 * The oldest Node.js toolmux runs on, as every package's `engines` says: `node:sqlite` without a
 * flag needs 22.13. A TypeScript config file (`toolmux.config.ts`) needs type stripping as well, on
 * by default from 22.18 (behind `--experimental-strip-types` before): the config loader refuses
 * one without it, naming the fix, so a JSON or JavaScript config runs on 22.13 (the CLI refused
 * every Node.js before 22.18, while `npm install` said nothing of it).
 */
export const MIN_NODE_VERSION = '22.13.0';

/** Whether version `a` is older than `b` (`22.13.1` < `22.18.0`). */
function older(a: string, b: string): boolean {
  const left = a.replace(/^v/, '').split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let index = 0; index < right.length; index++) {
    const part = left[index] ?? 0;
    if (part !== right[index]) return part < right[index]!;
  }
  return false;
}

/** The one-line message for a Node.js older than {@link MIN_NODE_VERSION}, or undefined. */
export function nodeVersionProblem(version: string): string | undefined {
  if (!older(version, MIN_NODE_VERSION)) return undefined;
  return `Node.js >= ${MIN_NODE_VERSION} is required (node:sqlite; >= 22.18 for a TypeScript config file); this is ${version}. Install a current LTS, e.g. \`nvm install 24\`.`;
}
