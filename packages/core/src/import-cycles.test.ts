import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

/** Every module of core's src (tests left out: nothing imports them). */
function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return modules(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

// `import … from './x.js'`, `import type …`, `export … from`, `import './x.js'`, `import('./x.js')`
const SPECIFIERS = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

/** The relative imports of a module, as files of src (type-only ones count: they tie the modules too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(SPECIFIERS)) {
    const target = resolve(dirname(file), match[1]!);
    const candidates = [target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')];
    const hit = candidates.find((candidate) => candidate.startsWith(SRC) && existsSync(candidate));
    if (hit && statSync(hit).isFile()) found.push(hit);
  }
  return found;
}

/** The import circles among the modules (one per strongly connected group, as a path). */
function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next);
      if (seen === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('core modules', () => {
  const graph = new Map(modules(SRC).map((file) => [file, importsOf(file)]));
  const name = (file: string) => relative(SRC, file);

  it('reads the imports it checks', () => {
    // the facade imports both engines, so an empty graph (a broken pattern) cannot pass below
    const imports = (graph.get(join(SRC, 'toolmux.ts')) ?? []).map(name);
    expect(imports).toContain('embedded-toolmux.ts');
    expect(imports).toContain(join('remote', 'remote-toolmux.ts'));
    expect(
      circles(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
        ]),
      ),
    ).toEqual([['a', 'b', 'a']]);
  });

  it('import no module that imports them back (no import circle)', () => {
    expect(circles(graph).map((circle) => circle.map(name).join(' > '))).toEqual([]);
  });
});
