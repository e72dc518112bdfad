import { createRequire } from 'node:module';
import { SessionPreset, strictSchemaOf, ToolMux, type ToolSpec, withPortableKeys } from '@toolmux/core';
import {
  CORPUS_TEST_TIMEOUT_MS,
  countOptionalEnumFields,
  findSchemaViolations,
  portableKeyViolations,
  startScriptedModelServer,
  toolkitFromOpenApi,
} from '@toolmux/core/test';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpenAIProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe('the GitHub REST API as 1,223 tools', { timeout: CORPUS_TEST_TIMEOUT_MS }, () => {
  const require = createRequire(import.meta.url);
  const document = require('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github' });
  const originals = new Map(toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));

  it.each([
    ['chat', false],
    ['chat', true],
    ['responses', false],
    ['responses', true],
  ] as const)(
    '%s API, strict: %s — the real client sends every tool, with no schema violation',
    async (api, strict) => {
      const warnings: string[] = [];
      const provider = new OpenAIProvider({
        api,
        strict,
        logger: { warn: (message) => warnings.push(message) },
      });
      const wrap = vi.spyOn(provider, 'wrapTools');
      const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:' });
      const model = await startScriptedModelServer([
        () => ({ status: 400, body: { error: { message: 'enough' } } }),
      ]);
      cleanups.push(
        () => mux.close(),
        () => model.close(),
      );
      const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
      const tools = await session.tools();
      const specs: readonly ToolSpec[] = wrap.mock.calls[0]![0];
      expect(specs).toHaveLength(toolkit.tools.length);

      const client = new OpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1`, maxRetries: 0 });
      const request =
        api === 'chat'
          ? client.chat.completions.create({
              model: 'gpt-test',
              messages: [{ role: 'user', content: 'hi' }],
              tools: tools as OpenAI.ChatCompletionTool[],
            })
          : client.responses.create({
              model: 'gpt-test',
              input: 'hi',
              tools: tools as OpenAI.Responses.Tool[],
            });
      await expect(request).rejects.toThrow(/enough/);
      const sent = (model.requests[0]!.body.tools as Array<Record<string, any>>).map((tool) =>
        api === 'chat' ? tool.function : tool,
      );
      expect(sent).toHaveLength(toolkit.tools.length);

      let strictCount = 0;
      let optionalEnums = [0, 0];
      const specOf = new Map(specs.map((spec) => [spec.slug, spec]));
      const violations = sent.flatMap((definition) => {
        // keys a major model API refuses are handed out renamed (propertyKeys: 'portable', the default)
        const original = withPortableKeys(
          specOf.get(definition.name)!,
          originals.get(definition.name)!,
          'portable',
        );
        if (definition.strict) strictCount++;
        else
          optionalEnums = [
            optionalEnums[0]! + countOptionalEnumFields(original),
            optionalEnums[1]! + countOptionalEnumFields(definition.parameters),
          ];
        return [
          ...findSchemaViolations(original, definition.parameters, { strict: definition.strict === true }),
          ...portableKeyViolations(definition.parameters).map(
            (key) => `key a major model API refuses: ${key}`,
          ),
        ].map((violation) => `${definition.name} ${violation}`);
      });
      expect(violations).toEqual([]);
      // non-strict tools keep every optional enum field optional; strict ones are checked above
      expect(optionalEnums[1]).toBe(optionalEnums[0]);
      if (strict) {
        const expected = specs.filter((spec) => strictSchemaOf(spec).strict).length;
        expect(strictCount).toBe(expected);
        expect(strictCount).toBeGreaterThan(toolkit.tools.length * 0.9);
        expect(warnings).toHaveLength(strictCount < specs.length ? 1 : 0);
      } else {
        expect([strictCount, warnings]).toEqual([0, []]);
      }
      console.info(
        `GitHub corpus, OpenAI ${api}, strict: ${strict}: ${sent.length} tools sent, 0 schema violations` +
          (strict ? `, ${strictCount} strict, ${sent.length - strictCount} fell back` : ''),
      );
    },
  );
});
