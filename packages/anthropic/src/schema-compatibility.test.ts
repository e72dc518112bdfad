import { createRequire } from 'node:module';
import Anthropic from '@anthropic-ai/sdk';
import {
  ANTHROPIC_STRICT_LIMITS,
  anthropicStrictCost,
  anthropicStrictSchemaOf,
  SessionPreset,
  ToolMux,
  type ToolSpec,
} from '@toolmux/core';
import {
  CORPUS_TEST_TIMEOUT_MS,
  countOptionalEnumFields,
  findSchemaViolations,
  startScriptedModelServer,
  toolkitFromOpenApi,
} from '@toolmux/core/test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnthropicProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Keywords Anthropic's strict tool use refuses; none may reach a strict tool. */
const REFUSED_IN_STRICT = [
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
];

/** Every keyword used anywhere in a schema (property names are not keywords). */
function keywordsIn(value: unknown, found = new Set<string>()): Set<string> {
  if (typeof value !== 'object' || value === null) return found;
  if (Array.isArray(value)) {
    for (const item of value) keywordsIn(item, found);
    return found;
  }
  for (const [key, child] of Object.entries(value)) {
    found.add(key);
    if (key === 'properties' && typeof child === 'object' && child !== null) {
      for (const property of Object.values(child)) keywordsIn(property, found);
    } else if (key !== 'enum' && key !== 'default' && key !== 'examples') keywordsIn(child, found);
  }
  return found;
}

describe('the GitHub REST API as 1,223 tools', { timeout: CORPUS_TEST_TIMEOUT_MS }, () => {
  const require = createRequire(import.meta.url);
  const document = require('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github' });
  const originals = new Map(toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));

  it.each([false, true])(
    'strict: %s — the real client sends every tool, with no schema violation',
    async (strict) => {
      const warnings: string[] = [];
      const provider = new AnthropicProvider({
        strict,
        logger: { warn: (message) => warnings.push(message) },
      });
      const wrap = vi.spyOn(provider, 'wrapTools');
      const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:' });
      const model = await startScriptedModelServer([
        () => ({
          status: 400,
          body: { type: 'error', error: { type: 'invalid_request_error', message: 'enough' } },
        }),
      ]);
      cleanups.push(
        () => mux.close(),
        () => model.close(),
      );
      const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
      const tools = await session.tools();
      const specs: readonly ToolSpec[] = wrap.mock.calls[0]![0];
      const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: model.url, maxRetries: 0 });
      await expect(
        client.messages.create({
          model: 'claude-test',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'hi' }],
          tools,
        }),
      ).rejects.toThrow(/enough/);
      const sent = model.requests[0]!.body.tools as Anthropic.Tool[];
      expect(sent).toHaveLength(toolkit.tools.length);

      let strictCount = 0;
      const optionalEnums = [0, 0];
      const violations = sent.flatMap((tool) => {
        const original = originals.get(tool.name)!;
        if (tool.strict) {
          strictCount++;
          const refused = REFUSED_IN_STRICT.filter((keyword) => keywordsIn(tool.input_schema).has(keyword));
          if (refused.length > 0) return [`${tool.name}: strict schema keeps ${refused.join(', ')}`];
        } else {
          optionalEnums[0]! += countOptionalEnumFields(original);
          optionalEnums[1]! += countOptionalEnumFields(tool.input_schema);
        }
        return findSchemaViolations(original, tool.input_schema, { strict: tool.strict === true }).map(
          (violation) => `${tool.name} ${violation}`,
        );
      });
      expect(violations).toEqual([]);
      expect(optionalEnums[1]).toBe(optionalEnums[0]);
      if (strict) {
        // every schema toolmux can make strict is checked, whether this request could send it strict or not
        const strictSchemas = specs.flatMap((spec) => {
          const shaped = anthropicStrictSchemaOf(spec);
          return shaped.strict ? [[spec, shaped.schema] as const] : [];
        });
        expect(strictSchemas.length).toBeGreaterThan(toolkit.tools.length * 0.9);
        const strictViolations = strictSchemas.flatMap(([spec, schema]) => {
          const refused = REFUSED_IN_STRICT.filter((keyword) => keywordsIn(schema).has(keyword));
          return [
            ...(refused.length > 0 ? [`${spec.slug}: strict schema keeps ${refused.join(', ')}`] : []),
            ...findSchemaViolations(originals.get(spec.slug)!, schema, { strict: true }).map(
              (violation) => `${spec.slug} ${violation}`,
            ),
          ];
        });
        expect(strictViolations).toEqual([]);
        // one request stays within Anthropic's limits on strict tools; the others go without strict
        const spent = sent
          .filter((tool) => tool.strict)
          .map((tool) => anthropicStrictCost(tool.input_schema as never));
        expect(strictCount).toBeGreaterThan(0);
        expect(strictCount).toBeLessThanOrEqual(ANTHROPIC_STRICT_LIMITS.tools);
        expect(spent.reduce((sum, cost) => sum + cost.optionalParameters, 0)).toBeLessThanOrEqual(
          ANTHROPIC_STRICT_LIMITS.optionalParameters,
        );
        expect(spent.reduce((sum, cost) => sum + cost.unionParameters, 0)).toBeLessThanOrEqual(
          ANTHROPIC_STRICT_LIMITS.unionParameters,
        );
        expect(warnings).toHaveLength(1);
      } else {
        expect([strictCount, warnings]).toEqual([0, []]);
      }
      console.info(
        `GitHub corpus, Anthropic, strict: ${strict}: ${sent.length} tools sent, 0 schema violations` +
          (strict ? `, ${strictCount} strict, ${sent.length - strictCount} without strict` : ''),
      );
    },
  );
});
