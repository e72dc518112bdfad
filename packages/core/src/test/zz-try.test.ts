import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { it } from 'vitest';
import { toolkitFromOpenApi } from './openapi-tools.js';

it('builds', () => {
  let t = performance.now();
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  console.log('parse', performance.now() - t);
  t = performance.now();
  const { toolkit, operations } = toolkitFromOpenApi(doc, { slug: 'github' });
  console.log('build', performance.now() - t, toolkit.tools.length, operations.length);
  const tool = toolkit.tools.find((x) => x.slug === 'GITHUB_ISSUES_CREATE')!;
  console.log(JSON.stringify(tool.inputSchema).slice(0, 1500), tool.annotations, tool.description.length);
  const sizes = toolkit.tools
    .map((x) => [x.slug, JSON.stringify(x.inputSchema).length] as const)
    .sort((a, b) => b[1] - a[1]);
  console.log(sizes.slice(0, 8));
});
