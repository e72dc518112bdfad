import { describe, expect, it } from 'vitest';
import { MIN_NODE_VERSION, nodeVersionProblem } from './node-version.js';

describe('the Node.js floor', () => {
  it('refuses versions before 22.18 in one line that names the version and the fix', () => {
    for (const version of ['v20.20.2', 'v22.13.0', 'v22.17.9', 'v18.0.0']) {
      const problem = nodeVersionProblem(version);
      expect(problem, version).toContain(`Node.js >= ${MIN_NODE_VERSION} is required`);
      expect(problem).toContain(`this is ${version}`);
      expect(problem).not.toContain('\n');
    }
  });

  it('accepts 22.18 and later', () => {
    for (const version of ['v22.18.0', 'v22.20.1', 'v23.0.0', 'v24.21.0', 'v30.1.2', process.version]) {
      expect(nodeVersionProblem(version), version).toBeUndefined();
    }
  });
});
