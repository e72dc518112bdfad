import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ToolMuxError } from '../errors.js';
import { MAX_JSON_DEPTH } from '../util/json-depth.js';
import {
  defineTool,
  defineToolkit,
  MAX_SCHEMA_SUBSCHEMAS,
  MAX_TOOL_SLUG_LENGTH,
  toolSlugFor,
  toolSlugPrefix,
  uniqueNameWithin,
} from './define.js';
import type { JSONSchema, Tool } from './types.js';

const execute = async () => null;
const oauth2 = {
  type: 'oauth2',
  authorizationUrl: 'https://acme.example/authorize',
  tokenUrl: 'https://acme.example/token',
} as const;

function definitionError(define: () => unknown): ToolMuxError {
  try {
    define();
  } catch (error) {
    if (ToolMuxError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a ToolMuxError');
}

describe('defineTool', () => {
  it('turns a zod schema into a plain JSON Schema once, without hidden markers', () => {
    const tool = defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get an order',
      inputSchema: z.object({ orderId: z.string().describe('The id'), expand: z.boolean().optional() }),
      outputSchema: z.object({ status: z.string() }),
      annotations: { readOnlyHint: true },
      execute: async () => ({ status: 'open' }),
    });
    expect(tool.inputSchema).toEqual({
      type: 'object',
      properties: { orderId: { type: 'string', description: 'The id' }, expand: { type: 'boolean' } },
      required: ['orderId'],
    });
    expect(Object.getOwnPropertyNames(tool.inputSchema)).not.toContain('~standard');
    expect(tool.outputSchema).toMatchObject({ properties: { status: { type: 'string' } } });
    expect(tool.name).toBe('Acme Get Order');
    expect(tool.validate({ orderId: 1 })).toMatchObject({ success: false, issues: [{ path: 'orderId' }] });
    expect(tool.validate({ orderId: 'A1' })).toEqual({ success: true, value: { orderId: 'A1' } });
  });

  it('refuses input and output schemas too large to walk: as written, once inlined, or nested too deep once inlined', () => {
    // each level of $defs refers twice to the one before: 2 KB that inline to 2^40 leaves
    const $defs: Record<string, JSONSchema> = { L0: { type: 'string' } };
    for (let level = 1; level <= 40; level++) {
      $defs[`L${level}`] = { anyOf: [{ $ref: `#/$defs/L${level - 1}` }, { $ref: `#/$defs/L${level - 1}` }] };
    }
    const doubling: JSONSchema = { type: 'object', properties: { x: { $ref: '#/$defs/L40' } }, $defs };
    const wide: JSONSchema = {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: MAX_SCHEMA_SUBSCHEMAS }, (_, index) => [`p${index}`, { type: 'string' }]),
      ),
    };
    const chain: Record<string, JSONSchema> = { C0: { type: 'string' } };
    for (let link = 1; link <= 200; link++) chain[`C${link}`] = { $ref: `#/$defs/C${link - 1}` };
    const chained: JSONSchema = { type: 'object', properties: { x: { $ref: '#/$defs/C200' } }, $defs: chain };
    const cases: Array<[JSONSchema, 'input' | 'output', string]> = [
      [doubling, 'input', 'has 123 subschemas as written but more than 10,000 once its $refs are inlined'],
      [doubling, 'output', 'has 123 subschemas as written but more than 10,000 once its $refs are inlined'],
      [wide, 'input', 'has more than 10,000 subschemas'],
      [chained, 'input', `nests more than ${MAX_JSON_DEPTH} levels of subschemas once its $refs are inlined`],
    ];
    for (const [schema, io, problem] of cases) {
      const error = definitionError(() =>
        defineTool({
          slug: 'ACME_HUGE',
          description: 'Huge',
          inputSchema: io === 'input' ? schema : { type: 'object' },
          outputSchema: io === 'output' ? schema : undefined,
          execute,
        }),
      );
      expect(error.code).toBe('TOOL_DEFINITION_INVALID');
      expect(error.message).toContain(`Tool ACME_HUGE: its ${io} schema ${problem}`);
    }
    // one subschema less than the most is a tool
    const { p0: _first, ...fewer } = wide.properties as Record<string, JSONSchema>;
    const tool = defineTool({
      slug: 'ACME_WIDE',
      description: 'Wide',
      inputSchema: { type: 'object', properties: fewer },
      execute,
    });
    expect(tool.validate({ p1: 'a' })).toEqual({ success: true, value: { p1: 'a' } });
  });

  it('accepts a plain JSON Schema and validates against it', () => {
    const tool = defineTool({
      slug: 'ACME_LIST',
      description: 'List',
      inputSchema: { type: 'object', properties: { limit: { type: 'integer', default: 10 } } },
      execute,
    });
    expect(tool.validate({})).toEqual({ success: true, value: { limit: 10 } });
    expect(tool.validate({ limit: 'x' })).toMatchObject({ success: false, issues: [{ path: 'limit' }] });
  });

  it('rejects bad definitions with a message naming the value and the fix', () => {
    const cases: Array<[() => unknown, string]> = [
      [
        () => defineTool({ slug: 'acme_get', description: 'x', inputSchema: z.object({}), execute }),
        'UPPER_SNAKE_CASE',
      ],
      [
        () => defineTool({ slug: 'ACME_GET', description: ' ', inputSchema: z.object({}), execute }),
        'needs a description',
      ],
      [
        () => defineTool({ slug: 'ACME_GET', description: 'x', inputSchema: z.string() as never, execute }),
        'object schema',
      ],
      [
        () =>
          defineTool({
            slug: 'ACME_GET',
            description: 'x',
            inputSchema: z.object({}),
            execute,
            timeoutMs: -1,
          }),
        'timeoutMs',
      ],
      [
        () =>
          defineTool({
            slug: `ACME_${'X'.repeat(MAX_TOOL_SLUG_LENGTH)}`,
            description: 'x',
            inputSchema: z.object({}),
            execute,
          }),
        'at most 64',
      ],
      [() => defineToolkit({ slug: 'Acme', description: 'x', tools: [] }), 'lower case'],
      [
        () =>
          defineToolkit({
            slug: 'acme',
            description: 'x',
            tools: [defineTool({ slug: 'OTHER_GET', description: 'x', inputSchema: z.object({}), execute })],
          }),
        'starting with "ACME_"',
      ],
      [
        () => defineToolkit({ slug: 'acme', description: 'x', tools: [], auth: { type: 'magic' } as never }),
        'unknown auth type',
      ],
      [
        () =>
          defineToolkit({
            slug: 'acme',
            description: 'x',
            tools: [],
            auth: { ...oauth2, refreshTokenDeadErrors: 'bad_refresh_token' as never },
          }),
        'refreshTokenDeadErrors must be a list of OAuth error codes (non-empty strings, like "bad_refresh_token"); got "bad_refresh_token".',
      ],
      [
        () =>
          defineToolkit({
            slug: 'acme',
            description: 'x',
            tools: [],
            auth: { ...oauth2, clientRejectedErrors: [''] },
          }),
        'clientRejectedErrors must be a list of OAuth error codes (non-empty strings, like "bad_refresh_token"); got "" in it.',
      ],
      [
        () =>
          defineToolkit({
            slug: 'acme',
            description: 'x',
            tools: [],
            auth: { ...oauth2, refreshTokenDeadErrors: ['revoked'], clientRejectedErrors: ['revoked'] },
          }),
        'lists "revoked" in both refreshTokenDeadErrors and clientRejectedErrors',
      ],
      [
        () =>
          defineToolkit({
            slug: 'acme',
            description: 'x',
            tools: [],
            auth: { ...oauth2, revocationEndsGrant: 'yes' as unknown as boolean },
          }),
        'revocationEndsGrant must be true or false',
      ],
    ];
    for (const [define, mention] of cases) {
      const error = definitionError(define);
      expect(error.code).toBe('TOOL_DEFINITION_INVALID');
      expect(error.message).toContain(mention);
    }
  });

  it('defineToolkit assigns the toolkit and derives noAuth', () => {
    const tool = defineTool({ slug: 'ACME_GET', description: 'x', inputSchema: z.object({}), execute });
    const open = defineToolkit({ slug: 'acme', description: 'Acme', tools: [tool] });
    expect(open.tools[0]!.toolkit).toBe('acme');
    expect(open.noAuth).toBe(true);
    const keyed = defineToolkit({
      slug: 'acme',
      description: 'Acme',
      tools: [tool],
      auth: { type: 'api_key', fields: [{ name: 'apiKey' }] },
    });
    expect(keyed.noAuth).toBe(false);
  });

  it("keeps a toolkit's keywords, and refuses keywords that are not an array of strings, naming the value", () => {
    const tool = defineTool({ slug: 'ACME_GET', description: 'x', inputSchema: z.object({}), execute });
    const toolkit = defineToolkit({ slug: 'acme', description: 'Acme', tools: [tool], keywords: ['email'] });
    expect(toolkit.keywords).toEqual(['email']);
    expect(Object.isFrozen(toolkit.keywords)).toBe(true);
    expect(defineToolkit({ slug: 'acme', description: 'Acme', tools: [tool] }).keywords).toEqual([]);
    // a string alone was read letter by letter, words search drops
    const refusals: [unknown, string][] = [
      ['email', 'Toolkit acme: keywords must be an array of words, e.g. ["email", "inbox"]; got "email".'],
      [
        { email: true },
        'Toolkit acme: keywords must be an array of words, e.g. ["email", "inbox"]; got an object.',
      ],
      [
        ['mail', 5],
        'Toolkit acme: every keyword must be a string (a word or a few, e.g. "pull request"); keywords[1] is number 5.',
      ],
      [
        ['mail', null],
        'Toolkit acme: every keyword must be a string (a word or a few, e.g. "pull request"); keywords[1] is null.',
      ],
    ];
    for (const [keywords, message] of refusals) {
      const define = () =>
        defineToolkit({ slug: 'acme', description: 'Acme', tools: [tool], keywords: keywords as never });
      expect(define).toThrow(message);
      try {
        define();
      } catch (error) {
        expect((error as ToolMuxError).code).toBe('TOOL_DEFINITION_INVALID');
      }
    }
  });
});

describe('toolSlugFor', () => {
  it('makes generated names valid, short enough and unique', () => {
    expect(toolSlugPrefix('google-drive')).toBe('GOOGLE_DRIVE_');
    const taken = new Set<string>();
    expect(toolSlugFor('files', 'read_text_file', taken)).toBe('FILES_READ_TEXT_FILE');
    expect(toolSlugFor('files', 'readTextFile', taken)).toBe('FILES_READ_TEXT_FILE_2');
    const long = 'actions/list-self-hosted-runners-for-a-repository-in-an-organization-and-more';
    const first = toolSlugFor('github', long, taken);
    const second = toolSlugFor('github', long, taken);
    for (const slug of [first, second]) {
      expect(slug.length).toBeLessThanOrEqual(MAX_TOOL_SLUG_LENGTH);
      expect(slug).toMatch(/^GITHUB_ACTIONS_LIST_SELF_HOSTED_RUNNERS_[A-Z0-9_]+$/);
      expect(() => defineTool({ slug, description: 'x', inputSchema: z.object({}), execute })).not.toThrow();
    }
    expect(first).not.toBe(second);
    // generated slugs are stored (sessions, configs): the same name always gives the same slug
    expect([first, second]).toEqual([
      'GITHUB_ACTIONS_LIST_SELF_HOSTED_RUNNERS_FOR_A_REPOSITORY_DD6FBE',
      'GITHUB_ACTIONS_LIST_SELF_HOSTED_RUNNERS_FOR_A_REPOSITORY_CDC387',
    ]);
  });
});

describe('uniqueNameWithin', () => {
  it('keeps a name that fits and is free, shortens one that does not, and numbers one that is taken', () => {
    const taken = new Set<string>(['TAKEN']);
    expect(uniqueNameWithin('SHORT', 10, taken)).toBe('SHORT');
    expect(uniqueNameWithin('TAKEN', 10, taken)).toBe('TAKEN_2');
    const long = 'A_VERY_LONG_NAME_INDEED';
    const shortened = uniqueNameWithin(long, 16, taken);
    expect(shortened).toMatch(/^A_VERY_LO_[0-9A-F]{6}$/);
    // the same name again: taken now, so the name of `<name>_2`, shortened alike
    const next = uniqueNameWithin(long, 16, taken);
    expect(next).toMatch(/^A_VERY_LO_[0-9A-F]{6}$/);
    expect(next).not.toBe(shortened);
    expect(uniqueNameWithin(long, 16, new Set())).toBe(shortened);
    for (const name of taken) expect(name.length).toBeLessThanOrEqual(16);
    expect(taken).toEqual(new Set(['TAKEN', 'SHORT', 'TAKEN_2', shortened, next]));
  });
});

/**
 * A key defineTool() or defineToolkit() does not take was ignored: `timeout` for `timeoutMs` left the
 * default of 60 s, and a toolkit given `authSchemes` for `auth` needed no connected account.
 */
describe('a key defineTool() or defineToolkit() does not take', () => {
  const tool = defineTool({
    slug: 'ACME_GET_ORDER',
    description: 'Get an order',
    inputSchema: z.object({}),
    execute,
  });

  it('is TOOL_DEFINITION_INVALID naming it, the closest option and every option', () => {
    const misspelt = definitionError(() =>
      defineTool({
        slug: 'ACME_GET_ORDER',
        description: 'd',
        inputSchema: z.object({}),
        execute,
        timeout: 5000,
      } as never),
    );
    expect(misspelt.code).toBe('TOOL_DEFINITION_INVALID');
    expect(misspelt.message).toBe(
      'defineTool() of ACME_GET_ORDER has no option "timeout". Did you mean "timeoutMs"? Its options: slug, name, description, inputSchema, outputSchema, annotations, tags, toolkit, timeoutMs, execute.',
    );
    const toolkit = definitionError(() =>
      defineToolkit({
        slug: 'acme',
        name: 'Acme',
        description: 'd',
        tools: [tool],
        authSchemes: [oauth2],
      } as never),
    );
    expect(toolkit.code).toBe('TOOL_DEFINITION_INVALID');
    expect(toolkit.message).toBe(
      'defineToolkit() of acme has no option "authSchemes". Its options: slug, name, description, tools, auth, baseUrl, categories, keywords, logo.',
    );
  });

  it('of an auth scheme, of its fields or of its placement: TOOL_DEFINITION_INVALID naming it and the closest one', () => {
    const toolkitWith = (auth: unknown) => () =>
      defineToolkit({ slug: 'acme', name: 'Acme', description: 'd', tools: [tool], auth: auth as never });
    for (const [auth, start] of [
      [
        { ...oauth2, scope: ['read'] },
        'defineToolkit() of acme: the oauth2 scheme has no option "scope". Did you mean "scopes"',
      ],
      [
        { type: 'api_key', field: [{ name: 'apiKey' }] },
        'defineToolkit() of acme: the api_key scheme has no option "field". Did you mean "fields"?',
      ],
      [
        { type: 'api_key', fields: [{ name: 'apiKey', secrets: false }] },
        'defineToolkit() of acme: the api_key scheme\'s field has no option "secrets". Did you mean "secret"?',
      ],
      [
        {
          type: 'api_key',
          fields: [{ name: 'apiKey' }],
          placement: { in: 'header', name: 'X-Key', prefx: 'Key ' },
        },
        'defineToolkit() of acme: the api_key scheme\'s placement has no option "prefx". Did you mean "prefix"?',
      ],
      [
        { type: 'bearer', header: 'X-Token' },
        'defineToolkit() of acme: the bearer scheme has no option "header".',
      ],
    ] as const) {
      const error = definitionError(toolkitWith(auth));
      expect(error.code).toBe('TOOL_DEFINITION_INVALID');
      expect(error.message.startsWith(start)).toBe(true);
    }
    // every key of each kind is taken
    expect(
      toolkitWith([
        {
          type: 'api_key',
          fields: [{ name: 'apiKey', label: 'Key', description: 'd', secret: true, required: true }],
          placement: { in: 'query', name: 'key', prefix: '', field: 'apiKey' },
        },
        { type: 'basic' },
        { type: 'none' },
      ]),
    ).not.toThrow();
  });

  it('of its MCP annotations: a misspelt hint was no hint (destructive for destructiveHint: a session disabling destructiveHint kept the tool)', () => {
    const error = definitionError(() =>
      defineTool({
        slug: 'ACME_DELETE_ORDER',
        description: 'Delete an order',
        inputSchema: z.object({}),
        execute,
        annotations: { destructive: true } as never,
      }),
    );
    expect(error.code).toBe('TOOL_DEFINITION_INVALID');
    expect(error.message).toBe(
      'defineTool() of ACME_DELETE_ORDER: annotations has no option "destructive". Did you mean "destructiveHint"? Its options: title, readOnlyHint, destructiveHint, idempotentHint, openWorldHint.',
    );
  });

  it('is not refused when it is one of the Tool or Toolkit a definition spreads, or undefined', () => {
    const toolkit = defineToolkit({
      slug: 'acme',
      name: 'Acme',
      description: 'd',
      tools: [tool],
      auth: oauth2,
    });
    const moved = defineToolkit({ ...toolkit, baseUrl: 'http://127.0.0.1:9' });
    expect(moved.baseUrl).toBe('http://127.0.0.1:9');
    expect(moved.noAuth).toBe(false);
    const longer = defineTool({ ...moved.tools[0]!, timeoutMs: 5000 });
    expect(longer.timeoutMs).toBe(5000);
    // one defined alone, whose toolkit is "" until a toolkit takes it
    expect(defineTool({ ...(tool as Tool), description: 'Get one order' }).toolkit).toBe('');
    expect(
      defineTool({
        slug: 'ACME_X',
        description: 'd',
        inputSchema: z.object({}),
        execute,
        timeout: undefined,
      } as never).slug,
    ).toBe('ACME_X');
  });
});
