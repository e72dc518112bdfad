import { describe, expect, it } from 'vitest';
import { MIN_NODE_VERSION, nodeVersionProblem } from './node-version.js';

describe('the Node.js floor', () => {
  it('refuses versions before 22.13 (node:sqlite) in one line that names the version and the fix', () => {
    for (const version of ['v20.20.2', 'v22.12.0', 'v22.5.1', 'v18.0.0']) {
      const problem = nodeVersionProblem(version);
      expect(problem, version).toContain(`Node.js >= ${MIN_NODE_VERSION} is required`);
      expect(problem).toContain(`this is ${version}`);
      expect(problem).not.toContain('\n');
    }
  });

  it("accepts 22.13 and later, as every package's engines says (a TypeScript config needs 22.18: the config loader says so)", () => {
    expect(MIN_NODE_VERSION).toBe('22.13.0');
    for (const version of [
      'v22.13.0',
      'v22.17.9',
      'v22.18.0',
      'v22.20.1',
      'v23.0.0',
      'v24.21.0',
      'v30.1.2',
      process.version,
    ]) {
      expect(nodeVersionProblem(version), version).toBeUndefined();
    }
  });
});
