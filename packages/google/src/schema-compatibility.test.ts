import { createRequire } from 'node:module';
import { type FunctionDeclaration, GoogleGenAI } from '@google/genai';
import { geminiSchemaOf, SessionPreset, ToolMux, type ToolSpec } from '@toolmux/core';
import {
  CORPUS_TEST_TIMEOUT_MS,
  countOptionalEnumFields,
  findGeminiViolations,
  startScriptedModelServer,
  toolkitFromOpenApi,
} from '@toolmux/core/test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GoogleProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe('the GitHub REST API as 1,223 tools', { timeout: CORPUS_TEST_TIMEOUT_MS }, () => {
  const require = createRequire(import.meta.url);
  const document = require('@octokit/openapi/generated/api.github.com.json');
  const { toolkit } = toolkitFromOpenApi(document, { slug: 'github' });
  const originals = new Map(toolkit.tools.map((tool) => [tool.slug, tool.inputSchema]));

  it('the real client sends every declaration; each is in the Gemini subset and keeps every field', async () => {
    const warnings: string[] = [];
    const provider = new GoogleProvider({ logger: { warn: (message) => warnings.push(message) } });
    const wrap = vi.spyOn(provider, 'wrapTools');
    const mux = new ToolMux({ provider, toolkits: [toolkit], store: ':memory:' });
    const model = await startScriptedModelServer([
      () => ({ status: 400, body: { error: { code: 400, message: 'enough', status: 'INVALID_ARGUMENT' } } }),
    ]);
    cleanups.push(
      () => mux.close(),
      () => model.close(),
    );
    const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
    const tools = await session.tools();
    const specs: readonly ToolSpec[] = wrap.mock.calls[0]![0];
    const ai = new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: model.url } });
    await expect(
      ai.models.generateContent({ model: 'gemini-test', contents: 'hi', config: { tools } }),
    ).rejects.toThrow(/enough/);
    const sent = model.requests[0]!.body.tools[0].functionDeclarations as FunctionDeclaration[];
    expect(sent).toHaveLength(toolkit.tools.length);

    const optionalEnums = [0, 0];
    const violations = sent.flatMap((declaration) => {
      const original = originals.get(declaration.name!)!;
      optionalEnums[0]! += countOptionalEnumFields(original);
      if (declaration.parameters)
        optionalEnums[1]! += countOptionalEnumFields(declaration.parameters as never);
      const spec = specs.find((candidate) => candidate.slug === declaration.name)!;
      return findGeminiViolations(
        original,
        declaration.parameters as never,
        geminiSchemaOf(spec).jsonStrings,
        geminiSchemaOf(spec).renames,
      ).map((violation) => `${declaration.name} ${violation}`);
    });
    expect(violations).toEqual([]);
    expect(optionalEnums[1]).toBe(optionalEnums[0]);
    const loosened = specs.filter((spec) => geminiSchemaOf(spec).loosened.length > 0);
    const jsonStrings = specs.filter((spec) => geminiSchemaOf(spec).jsonStrings.length > 0);
    expect(warnings).toHaveLength(loosened.length > 0 ? 1 : 0);
    if (loosened.length > 0) {
      expect(warnings[0]).toMatch(new RegExp(`^toolmux: ${loosened.length} tool\\(s\\) have constraints`));
      for (const spec of loosened) expect(warnings[0]).toContain(`${spec.slug}: `);
    }
    console.info(
      `GitHub corpus, Gemini: ${sent.length} declarations sent, 0 violations of the subset, 0 fields dropped or forced; ` +
        `${loosened.length} tools with a constraint described instead of declared, ${jsonStrings.length} with free-form values sent as JSON strings`,
    );
  });
});
