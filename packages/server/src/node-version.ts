/**
 * The oldest Node.js toolmux runs on: `node:sqlite` without a flag needs 22.13, and TypeScript
 * config files (`toolmux.config.ts`) and the examples run through type stripping, on by default
 * from 22.18.
 */
export const MIN_NODE_VERSION = '22.18.0';

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
  return `Node.js >= ${MIN_NODE_VERSION} is required (node:sqlite, and TypeScript config files run by type stripping); this is ${version}. Install a current LTS, e.g. \`nvm install 24\`.`;
}
