import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { JSONSchema, Tool, ToolContext } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { decodeGeminiArguments, geminiSchemaOf } from '../schema/gemini.js';
import { resolveLocalRef } from '../schema/inline-refs.js';
import { acceptsNull } from '../schema/nullability.js';
import { strictSchemaOf } from '../schema/strict-spec.js';
import { toolSpecOf } from '../session.js';
import { ToolMux } from '../toolmux.js';
import { findGeminiViolations } from './gemini-invariants.js';
import { type OpenApiToolCall, toolkitFromOpenApi } from './openapi-tools.js';
import { countOptionalEnumFields, findSchemaViolations } from './schema-invariants.js';

/*
 * The core-level proof that toolmux's schema shaping holds on a realistic corpus: GitHub's REST API
 * description (`@octokit/openapi`, about 1,200 operations with `$ref`s, `allOf`, `oneOf`, OpenAPI
 * `nullable` and hundreds of optional enums) as one tool per operation. Provider packages run the same
 * checks on what their framework receives.
 */

const started = performance.now();
const document = loadGitHubDescription();
const parsedMs = performance.now() - started;
const { toolkit, operations } = toolkitFromOpenApi(document, { slug: 'github' });
const builtMs = performance.now() - started - parsedMs;
const toolsBySlug = new Map(toolkit.tools.map((tool) => [tool.slug, tool]));
const operationsById = new Map(operations.map((operation) => [operation.operationId, operation]));

function loadGitHubDescription(): object {
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  return JSON.parse(readFileSync(file, 'utf8')) as object;
}

function toolOf(operationId: string): Tool {
  const operation = operationsById.get(operationId);
  const tool = operation && toolsBySlug.get(operation.slug);
  if (!tool) throw new Error(`The GitHub description has no operation ${operationId}`);
  return tool;
}

function propertyOf(schema: JSONSchema, name: string): JSONSchema {
  return (schema.properties as Record<string, JSONSchema>)[name]!;
}

/** Violations by tool slug, leaving out the tools without any. */
function violationsBy(check: (tool: Tool, spec: ToolSpec) => string[]): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const tool of toolkit.tools) {
    const violations = check(tool, toolSpecOf(tool));
    if (violations.length > 0) found[tool.slug] = violations;
  }
  return found;
}

/** Every `$ref` string in a schema tree. */
function refsIn(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return [];
  const own = typeof (value as JSONSchema).$ref === 'string' ? [(value as JSONSchema).$ref as string] : [];
  return [...own, ...Object.values(value).flatMap(refsIn)];
}

describe('the GitHub REST description as a toolkit', () => {
  it('has one tool per operation, at least 1,000, built in a few seconds', () => {
    console.log(
      `GitHub corpus: ${toolkit.tools.length} tools; JSON parsed in ${parsedMs.toFixed(0)} ms, tools defined in ${builtMs.toFixed(0)} ms`,
    );
    expect(toolkit.tools.length).toBeGreaterThanOrEqual(1_000);
    expect(operations).toHaveLength(toolkit.tools.length);
    expect(new Set(operations.map((operation) => operation.slug)).size).toBe(operations.length);
    // About 1 s on a laptop (parsing 13 MB is half of it); the bound only catches a regression, not load.
    expect(parsedMs + builtMs).toBeLessThan(10_000);
    expect(operationsById.get('issues/create')).toEqual({
      slug: 'GITHUB_ISSUES_CREATE',
      method: 'POST',
      path: '/repos/{owner}/{repo}/issues',
      operationId: 'issues/create',
    });
  });

  it('gives every tool a self-contained input schema: every $ref points into its own $defs', () => {
    const dangling = toolkit.tools.flatMap((tool) =>
      refsIn(tool.inputSchema)
        .filter((ref) => !ref.startsWith('#/$defs/') || resolveLocalRef(tool.inputSchema, ref) === undefined)
        .map((ref) => `${tool.slug}: ${ref}`),
    );
    expect(dangling).toEqual([]);
    expect(toolkit.tools.filter((tool) => refsIn(tool.inputSchema).length > 0).length).toBeGreaterThan(50);
  });

  it('takes annotations from the method and returns the request from every handler', async () => {
    expect(toolOf('repos/get').annotations).toEqual({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(toolOf('repos/delete').annotations).toMatchObject({ destructiveHint: true, idempotentHint: true });
    expect(toolOf('repos/replace-all-topics').annotations).toMatchObject({
      readOnlyHint: false,
      idempotentHint: true,
    });
    for (const { slug, method, path } of operations) {
      const call = (await toolsBySlug.get(slug)!.execute({}, {} as ToolContext)) as OpenApiToolCall;
      expect(call).toEqual({ method, path, arguments: {} });
    }
  });
});

describe('schema shaping on the GitHub corpus', () => {
  it('hands out non-strict schemas that keep every field of every tool', () => {
    const violations = violationsBy((tool, spec) =>
      findSchemaViolations(tool.inputSchema, spec.inputSchema, { strict: false }),
    );
    expect(violations).toEqual({});
  });

  it('makes each tool strict without violations, or falls back to non-strict for that tool alone, with a reason', () => {
    const fallbacks: Array<{ slug: string; reason: string }> = [];
    const violations = violationsBy((tool, spec) => {
      const strict = strictSchemaOf(spec);
      if (strict.strict) return findSchemaViolations(tool.inputSchema, strict.schema, { strict: true });
      fallbacks.push({ slug: tool.slug, reason: strict.reason });
      expect(strict.schema).toBe(spec.inputSchema);
      return strict.reason.trim() === '' ? ['falls back without a reason'] : [];
    });
    const strictCount = toolkit.tools.length - fallbacks.length;
    console.log(
      `GitHub corpus, strict mode: ${strictCount} tools strict, ${fallbacks.length} fall back alone; top reasons:\n${topReasons(fallbacks)}`,
    );
    expect(violations).toEqual({});
    expect(strictCount).toBeGreaterThan(toolkit.tools.length * 0.9);
  });

  it('shapes every tool into the Gemini subset, keeping every property and which ones are required', () => {
    let loosened = 0;
    let jsonStrings = 0;
    const violations = violationsBy((tool, spec) => {
      const gemini = geminiSchemaOf(spec);
      loosened += gemini.loosened.length > 0 ? 1 : 0;
      jsonStrings += gemini.jsonStrings.length;
      return findGeminiViolations(tool.inputSchema, gemini.parameters, gemini.jsonStrings, gemini.renames);
    });
    console.log(
      `GitHub corpus, Gemini: ${toolkit.tools.length} tools, 0 refused; ${loosened} with a constraint only described, ${jsonStrings} free-form values sent as JSON strings`,
    );
    expect(violations).toEqual({});
    let originalEnums = 0;
    let geminiEnums = 0;
    for (const tool of toolkit.tools) {
      originalEnums += countOptionalEnumFields(tool.inputSchema);
      const { parameters } = geminiSchemaOf(toolSpecOf(tool));
      if (parameters) geminiEnums += countOptionalEnumFields(parameters);
    }
    expect(geminiEnums).toBe(originalEnums);
  });

  it('parses back the free-form values a Gemini model sends as JSON strings (workflow inputs)', () => {
    const spec = toolSpecOf(toolOf('actions/create-workflow-dispatch'));
    const gemini = geminiSchemaOf(spec);
    expect(gemini.jsonStrings).toContainEqual(['inputs']);
    const sent = { owner: 'o', repo: 'r', workflow_id: 'ci.yml', ref: 'main', inputs: '{"debug":"true"}' };
    expect(decodeGeminiArguments(sent, gemini.jsonStrings)).toEqual({ ...sent, inputs: { debug: 'true' } });
  });

  it('keeps every optional enum field optional: absent from required, or nullable in strict mode', () => {
    let original = 0;
    let handedOut = 0;
    for (const tool of toolkit.tools) {
      original += countOptionalEnumFields(tool.inputSchema);
      handedOut += countOptionalEnumFields(toolSpecOf(tool).inputSchema);
    }
    console.log(
      `GitHub corpus: ${original} optional enum fields, ${handedOut} still optional in the non-strict schemas`,
    );
    expect(original).toBeGreaterThan(400);
    expect(handedOut).toBe(original);
  });

  it('keeps issues/create: owner, repo and title required; labels, assignees and milestone optional', () => {
    const spec = toolSpecOf(toolOf('issues/create'));
    expect(spec.inputSchema.required).toEqual(expect.arrayContaining(['owner', 'repo', 'title']));
    for (const name of ['labels', 'assignees', 'milestone']) {
      expect(spec.inputSchema.properties).toHaveProperty(name);
      expect(spec.inputSchema.required).not.toContain(name);
    }
    const strict = strictSchemaOf(spec);
    expect(strict.strict).toBe(true);
    expect(acceptsNull(propertyOf(strict.schema, 'owner'))).toBe(false);
    for (const name of ['labels', 'assignees', 'milestone']) {
      expect(strict.schema.required).toContain(name);
      expect(acceptsNull(propertyOf(strict.schema, name))).toBe(true);
    }
  });

  it('keeps the state enum of issues/list-for-repo optional, and nullable in strict mode', () => {
    const spec = toolSpecOf(toolOf('issues/list-for-repo'));
    expect(spec.inputSchema.required).not.toContain('state');
    expect(propertyOf(spec.inputSchema, 'state').enum).toEqual(['open', 'closed', 'all']);
    const strict = strictSchemaOf(spec);
    if (!strict.strict) throw new Error(`issues/list-for-repo is not strict: ${strict.reason}`);
    expect(strict.schema.required).toContain('state');
    expect(propertyOf(strict.schema, 'state').enum).toEqual(['open', 'closed', 'all', null]);
  });
});

describe('GitHub tools in a session', () => {
  const quiet = { debug() {}, warn() {}, error() {} };

  async function directSession() {
    const mux = new ToolMux({ toolkits: [toolkit], store: ':memory:', logger: quiet });
    return mux.create('user_1', { toolkits: ['github'], sessionPreset: 'DIRECT_TOOLS' });
  }

  it('lists every tool and runs valid calls, with the nulls strict mode sends for optional fields', async () => {
    const session = await directSession();
    expect(await session.tools()).toHaveLength(toolkit.tools.length);
    const created = await session.execute('GITHUB_ISSUES_CREATE', {
      owner: 'octocat',
      repo: 'hello-world',
      title: 'Found a bug',
      labels: ['bug', { name: 'triage' }],
      assignees: null,
    });
    expect(created).toMatchObject({
      successful: true,
      data: { method: 'POST', path: '/repos/{owner}/{repo}/issues' },
    });
    // `assignees` does not accept null: strict mode's null means "left out".
    expect((created.data as OpenApiToolCall).arguments).toEqual({
      owner: 'octocat',
      repo: 'hello-world',
      title: 'Found a bug',
      labels: ['bug', { name: 'triage' }],
    });
    const listed = await session.execute('GITHUB_ISSUES_LIST_FOR_REPO', {
      owner: 'octocat',
      repo: 'hello-world',
      state: 'closed',
      per_page: 50,
    });
    expect(listed.data).toMatchObject({ method: 'GET', arguments: { state: 'closed', per_page: 50 } });
    const merged = await session.execute('GITHUB_PULLS_MERGE', {
      owner: 'octocat',
      repo: 'hello-world',
      pull_number: 7,
      merge_method: 'squash',
    });
    expect(merged.data).toMatchObject({
      method: 'PUT',
      path: '/repos/{owner}/{repo}/pulls/{pull_number}/merge',
    });
    const variable = await session.execute('GITHUB_ACTIONS_UPDATE_REPO_VARIABLE', {
      owner: 'octocat',
      repo: 'hello-world',
      name: 'REGION',
      body: { name: 'DEPLOY_REGION', value: 'eu' },
    });
    expect(variable).toMatchObject({
      successful: true,
      data: { method: 'PATCH', arguments: { name: 'REGION', body: { name: 'DEPLOY_REGION' } } },
    });
  });

  // `{ oneOf: [string, integer], nullable: true }`: a null the description allows reaches the handler
  // (GitHub documents `milestone: null` as "remove the current milestone")
  it('keeps a null the description allows: issues/update with milestone: null', async () => {
    const session = await directSession();
    const updated = await session.execute('GITHUB_ISSUES_UPDATE', {
      owner: 'octocat',
      repo: 'hello-world',
      issue_number: 1,
      milestone: null,
    });
    expect((updated.data as OpenApiToolCall).arguments).toHaveProperty('milestone', null);
  });

  it('rejects wrong arguments with a message that names each field', async () => {
    const session = await directSession();
    const missing = await session.execute('GITHUB_ISSUES_CREATE', { owner: 'octocat' });
    expect(missing).toMatchObject({ successful: false, code: 'TOOL_ARGUMENTS_INVALID' });
    expect(missing.error).toBe(
      'Invalid arguments for GITHUB_ISSUES_CREATE: repo: is required: a string; title: is required',
    );
    const state = await session.execute('GITHUB_ISSUES_LIST_FOR_REPO', {
      owner: 'octocat',
      repo: 'hello-world',
      state: 'done',
    });
    expect(state.error).toBe(
      'Invalid arguments for GITHUB_ISSUES_LIST_FOR_REPO: state: unknown value "done"; use one of open, closed, all',
    );
    const number = await session.execute('GITHUB_PULLS_MERGE', {
      owner: 'octocat',
      repo: 'hello-world',
      pull_number: '7',
    });
    expect(number.error).toBe(
      'Invalid arguments for GITHUB_PULLS_MERGE: pull_number: is a string: send an integer',
    );
  });

  it('compiles a validator for every tool: no schema is rejected as invalid', () => {
    const rejected = toolkit.tools.flatMap((tool) => {
      try {
        tool.validate({});
        return [];
      } catch (error) {
        return [`${tool.slug}: ${(error as Error).message}`];
      }
    });
    expect(rejected).toEqual([]);
  }, 60_000); // Ajv compiles 1,223 schemas: 3–6 s
});

describe('findSchemaViolations', () => {
  const original: JSONSchema = {
    type: 'object',
    properties: {
      owner: { type: 'string' },
      state: { $ref: '#/$defs/state' },
      labels: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
    },
    required: ['owner'],
    $defs: { state: { type: 'string', enum: ['open', 'closed'] } },
  };

  it('finds nothing wrong with a faithful schema, non-strict and strict', () => {
    const shaped = toolSpecOf({ ...toolOf('repos/get'), inputSchema: original });
    expect(findSchemaViolations(original, shaped.inputSchema, { strict: false })).toEqual([]);
    const strict = strictSchemaOf(shaped);
    expect(strict.strict && findSchemaViolations(original, strict.schema, { strict: true })).toEqual([]);
  });

  it('names the JSON path of each problem', () => {
    const broken: JSONSchema = {
      type: 'object',
      properties: {
        owner: { type: ['string', 'null'] },
        state: { type: 'string', enum: ['open'] },
        labels: { type: 'array', items: { $ref: '#/$defs/label' } },
      },
      required: ['owner', 'state', 'labels'],
    };
    expect(findSchemaViolations(original, broken, { strict: true })).toEqual([
      '$: strict mode needs additionalProperties: false, got undefined',
      '$.labels[*]: $ref "#/$defs/label" is left in the schema',
      '$.owner: the required property does not accept null but now does',
      '$.state: the optional property became required without accepting null, so it cannot be left out',
      '$.state: the enum lost "closed"',
      '$.labels: the optional property became required without accepting null, so it cannot be left out',
      '$.labels[*]: is no longer an object schema, so its properties are missing: name',
    ]);
  });
});

/** The most frequent fallback reasons, without the path they name, most frequent first. */
function topReasons(fallbacks: ReadonlyArray<{ slug: string; reason: string }>, count = 5): string {
  const bySentence = new Map<string, string[]>();
  for (const { slug, reason } of fallbacks) {
    const sentence = reason.replace(/^\$[^:]*: /, '');
    bySentence.set(sentence, [...(bySentence.get(sentence) ?? []), slug]);
  }
  return [...bySentence]
    .sort((a, b) => b[1].length - a[1].length)
    .slice(0, count)
    .map(([sentence, slugs]) => `  ${slugs.length} × ${sentence} (e.g. ${slugs[0]})`)
    .join('\n');
}
