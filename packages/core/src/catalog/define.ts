import { createHash } from 'node:crypto';
import { quotedMessage, ToolMuxError } from '../errors.js';
import { toDraft2020Schema } from '../schema/draft-2020.js';
import { schemaSize } from '../schema/inline-refs.js';
import { AsyncSchemaError, zodValidationSteps } from '../schema/sliced-zod-validation.js';
import {
  compileJsonSchemaValidator,
  compilesOffThread,
  MAX_LISTED_ISSUES,
  MORE_ISSUES,
  setSlicedValidator,
  setValidatesOffThread,
  slicedValidatorOf,
} from '../schema/validate.js';
import { argumentPath } from '../util/argument-path.js';
import { checkJsonDepth, MAX_JSON_DEPTH } from '../util/json-depth.js';
import { checkOptionNames, everyKeyOf } from '../util/option-kinds.js';
import { shownValue } from '../util/stored-text.js';
import { MAX_TIMER_MS, wholeNumberOf } from '../util/whole-number.js';
import { describeArgumentIssue, describeArgumentIssues } from './argument-issues.js';
import type { InferInput, InferOutput, StandardSchemaV1 } from './standard-schema.js';
import { isStandardSchema } from './standard-schema.js';
import type {
  AuthField,
  AuthScheme,
  CredentialPlacement,
  JSONSchema,
  OAuth2Scheme,
  Tool,
  ToolAnnotations,
  ToolContext,
  Toolkit,
  ValidationIssue,
  ValidationResult,
} from './types.js';

const TOOL_SLUG = /^[A-Z][A-Z0-9_]*[A-Z0-9]$/;
/** OpenAI (and so most frameworks) refuse function names longer than this. */
export const MAX_TOOL_SLUG_LENGTH = 64;
const TOOLKIT_SLUG = /^[a-z][a-z0-9_-]*$/;

/** What `inputSchema` and `outputSchema` of `defineTool` take: a Standard Schema (zod…) or a JSON Schema. */
export type SchemaInput = StandardSchemaV1 | JSONSchema;
type InputOf<S> = S extends StandardSchemaV1 ? InferOutput<S> : Record<string, unknown>;
/**
 * Nothing more for a schema of objects; for a Standard Schema whose values are not objects, a member
 * no schema has, whose name says what is wrong where the compiler reports the schema.
 */
export type ObjectInputSchema<S> = S extends StandardSchemaV1
  ? [InferOutput<S>] extends [Record<string, unknown>]
    ? unknown
    : { readonly 'a tool input schema describes an object: z.object({ ... })': true }
  : unknown;
type OutputOf<S> = S extends StandardSchemaV1 ? InferInput<S> : unknown;

export interface DefineToolOptions<
  TInputSchema extends SchemaInput,
  TOutputSchema extends SchemaInput | undefined,
> {
  /** UPPER_SNAKE, prefixed by the toolkit slug: `ACME_GET_ORDER`. */
  slug: string;
  /** Display name. @default the slug in title case */
  name?: string;
  /** What the tool does and when to use it; this is what the model and the search index read. */
  description: string;
  /**
   * A zod (or any Standard JSON Schema) object schema, or a plain JSON Schema with `type: "object"`.
   * A Standard Schema of values that are not objects (`z.string()`, `z.array(…)`) does not compile:
   * a model passes a tool's arguments as one JSON object.
   */
  inputSchema: TInputSchema & ObjectInputSchema<TInputSchema>;
  /** Schema of the result, shown to the model and in `TOOLMUX_GET_TOOL_SCHEMAS`. */
  outputSchema?: TOutputSchema;
  /** MCP annotations: readOnlyHint, destructiveHint, idempotentHint, openWorldHint. */
  annotations?: ToolAnnotations;
  /** Extra searchable tags. */
  tags?: readonly string[];
  /** The toolkit slug; set by `defineToolkit` when the tool is listed there. */
  toolkit?: string;
  /** Per-call timeout: a whole number of milliseconds from 1 to 2147483647. @default 60_000 */
  timeoutMs?: number;
  execute: (
    input: InputOf<TInputSchema>,
    context: ToolContext,
  ) =>
    | Promise<TOutputSchema extends SchemaInput ? OutputOf<TOutputSchema> : unknown>
    | (TOutputSchema extends SchemaInput ? OutputOf<TOutputSchema> : unknown);
}

function invalid(message: string): ToolMuxError {
  return new ToolMuxError({ code: 'TOOL_DEFINITION_INVALID', message });
}

/** Plain JSON copy: drops hidden markers such as zod's `~standard` that confuse frameworks. */
function plainJson(schema: unknown): JSONSchema {
  return JSON.parse(JSON.stringify(schema)) as JSONSchema;
}

/**
 * The most subschemas a tool's input or output schema may have, as written and once its `$ref`s are
 * inlined (as search results, tool listings and the providers hand it to a model), and the most
 * levels they may nest once inlined ({@link MAX_JSON_DEPTH}). About 40 times the largest schema of
 * GitHub's REST API (228 inlined); a schema of a few kilobytes whose references expand to millions
 * (`$defs` that refer twice to the one before) is refused, where each search or listing that inlined
 * it used to run out of memory.
 */
export const MAX_SCHEMA_SUBSCHEMAS = 10_000;

/** Refuses a schema too large to walk (see {@link MAX_SCHEMA_SUBSCHEMAS}), naming the tool and the count. */
function checkSchemaSize(slug: string, schema: JSONSchema, io: 'input' | 'output'): void {
  const size = schemaSize(schema, { subschemas: MAX_SCHEMA_SUBSCHEMAS, depth: MAX_JSON_DEPTH });
  const most = `more than ${MAX_SCHEMA_SUBSCHEMAS.toLocaleString('en-US')}`;
  let problem: string | undefined;
  if (size.written > MAX_SCHEMA_SUBSCHEMAS) problem = `has ${most} subschemas`;
  else if (size.inlined > MAX_SCHEMA_SUBSCHEMAS) {
    problem = `has ${size.written.toLocaleString('en-US')} subschemas as written but ${most} once its $refs are inlined (as a model is shown it)`;
  } else if (size.depth > MAX_JSON_DEPTH) {
    problem = `nests more than ${MAX_JSON_DEPTH} levels of subschemas once its $refs are inlined (a chain of references)`;
  }
  if (problem === undefined) return;
  throw invalid(
    `Tool ${slug}: its ${io} schema ${problem}: every search, listing and validation walks the schema whole. Refer to shared definitions less often, cut what the model need not see, or split the tool.`,
  );
}

function toJsonSchema(slug: string, schema: SchemaInput, io: 'input' | 'output'): JSONSchema {
  // older drafts' spellings (draft-04's `exclusiveMinimum: true`, tuple `items: [...]`) as 2020-12
  // says them: the validator, search, TOOLMUX_GET_TOOL_SCHEMAS and every provider read one schema
  const json = toDraft2020Schema(convertedSchema(slug, schema, io));
  checkSchemaSize(slug, json, io);
  return json;
}

function convertedSchema(slug: string, schema: SchemaInput, io: 'input' | 'output'): JSONSchema {
  if (isStandardSchema(schema)) {
    const converter = (schema['~standard'] as { jsonSchema?: { input: Function; output: Function } })
      .jsonSchema;
    if (!converter) {
      throw invalid(
        `Tool ${slug}: its ${io} schema (vendor "${schema['~standard'].vendor}") cannot be converted to JSON Schema. Use zod >= 4.2 or pass a JSON Schema object.`,
      );
    }
    try {
      const json = plainJson(converter[io]({ target: 'draft-2020-12' }));
      delete json.$schema;
      checkJsonDepth(json, `Tool ${slug}: its ${io} schema`, 'TOOL_DEFINITION_INVALID');
      return json;
    } catch (error) {
      if (ToolMuxError.isInstance(error)) throw error;
      throw new ToolMuxError({
        code: 'TOOL_DEFINITION_INVALID',
        message: `Tool ${slug}: its ${io} schema cannot be expressed as JSON Schema (${quotedMessage(error)}). Avoid transforms and custom types in tool schemas.`,
        cause: error,
      });
    }
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw invalid(
      `Tool ${slug}: ${io}Schema must be a zod schema or a JSON Schema object, got ${typeof schema}.`,
    );
  }
  // before the copy: JSON.stringify recurses, and search, validation and shaping walk schemas too
  checkJsonDepth(schema, `Tool ${slug}: its ${io} schema`, 'TOOL_DEFINITION_INVALID');
  const json = plainJson(schema);
  delete json.$schema;
  return json;
}

const ASYNC_SCHEMA_MESSAGE =
  'Async input schemas are not supported: remove async refinements from the tool input schema.';

function standardValidator(schema: StandardSchemaV1): (input: unknown) => ValidationResult {
  const validate = (input: unknown): ValidationResult => {
    const result = schema['~standard'].validate(input);
    if (result instanceof Promise) throw invalid(ASYNC_SCHEMA_MESSAGE);
    if (result.issues) {
      // what is wrong and what to send, where zod's defaults named the rule broken ("Too big:
      // expected number to be <=5"): the first issues, as a large call's sliced check lists them
      const issues = describeArgumentIssues(schema, input, result.issues, MAX_LISTED_ISSUES, MORE_ISSUES);
      return { success: false, issues };
    }
    return { success: true, value: result.value };
  };
  // large arguments: zod's work a part at a time, the issues bounded as a JSON Schema tool's are
  setSlicedValidator(validate, async (input, slice, listedKeys) => {
    // each issue reads as in `validate`'s answer
    const steps = zodValidationSteps(schema, input, MAX_LISTED_ISSUES, listedKeys, (issue) =>
      describeArgumentIssue(schema, input, issue),
    );
    try {
      for (;;) {
        const next = steps.next();
        if (next.done) {
          const { issues, cut, value } = next.value;
          if (issues.length === 0 && !cut) return { success: true, value };
          // an issue worded alike at the same path once, as in `validate`'s answer
          const seen = new Set<string>();
          const shown: ValidationIssue[] = [];
          for (const issue of issues) {
            const path = typeof issue.path === 'string' ? issue.path : argumentPath(issue.path);
            const line = `${path}\u0000${issue.message}`;
            if (seen.has(line)) continue;
            seen.add(line);
            shown.push({ path, message: issue.message });
          }
          if (cut) shown.push({ path: '(root)', message: MORE_ISSUES });
          return { success: false, issues: shown };
        }
        if (slice.due()) await slice.pause();
      }
    } catch (error) {
      if (error instanceof AsyncSchemaError) throw invalid(ASYNC_SCHEMA_MESSAGE);
      throw error;
    }
  });
  return validate;
}

function titleCase(slug: string): string {
  return slug
    .toLowerCase()
    .split('_')
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(' ');
}

/**
 * The keys defineTool() and defineToolkit() take (the compiler checks the lists against their option
 * types), and those of the Tool or Toolkit they make, which they ignore: a definition may spread one
 * (`defineToolkit({ ...github, baseUrl })`). A key they do not take was ignored: `timeout` for
 * `timeoutMs` left the default, and a toolkit given `authSchemes` for `auth` needed no account at all.
 */
const DEFINE_TOOL_OPTIONS = everyKeyOf<DefineToolOptions<SchemaInput, SchemaInput>>()([
  'slug',
  'name',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
  'tags',
  'toolkit',
  'timeoutMs',
  'execute',
]);
const ANNOTATION_KEYS = everyKeyOf<ToolAnnotations>()([
  'title',
  'readOnlyHint',
  'destructiveHint',
  'idempotentHint',
  'openWorldHint',
]);
const TOOL_OWN_KEYS = ['kind', 'validate', 'standardSchema'] as const satisfies readonly (keyof Tool)[];
const DEFINE_TOOLKIT_OPTIONS = everyKeyOf<DefineToolkitOptions>()([
  'slug',
  'name',
  'description',
  'tools',
  'auth',
  'baseUrl',
  'categories',
  'keywords',
  'logo',
]);
const TOOLKIT_OWN_KEYS = ['kind', 'noAuth'] as const satisfies readonly (keyof Toolkit)[];

/**
 * Define a tool. The input schema is turned into JSON Schema once, here; arguments are validated
 * against the original schema at every call.
 *
 * @example
 * const getOrder = defineTool({
 *   slug: 'ACME_GET_ORDER',
 *   description: 'Get an order by id',
 *   inputSchema: z.object({ orderId: z.string().describe('The order id') }),
 *   execute: async ({ orderId }, { credentials }) => fetchOrder(orderId, credentials),
 * });
 */
export function defineTool<
  TInputSchema extends SchemaInput,
  TOutputSchema extends SchemaInput | undefined = undefined,
>(
  options: DefineToolOptions<TInputSchema, TOutputSchema>,
): Tool<InputOf<TInputSchema>, TOutputSchema extends SchemaInput ? OutputOf<TOutputSchema> : unknown> {
  const { slug, description, inputSchema, outputSchema, execute } = options;
  if (typeof slug !== 'string' || !TOOL_SLUG.test(slug)) {
    throw invalid(
      `Tool slug "${String(slug)}" is invalid: use UPPER_SNAKE_CASE prefixed by the toolkit, like "ACME_GET_ORDER".`,
    );
  }
  if (slug.length > MAX_TOOL_SLUG_LENGTH) {
    throw invalid(
      `Tool slug ${slug} has ${slug.length} characters; models accept tool names of at most ${MAX_TOOL_SLUG_LENGTH}. Shorten it (toolSlugFor() does so for generated names).`,
    );
  }
  if (typeof description !== 'string' || description.trim() === '') {
    throw invalid(`Tool ${slug} needs a description: say what it does and when to use it.`);
  }
  if (typeof execute !== 'function') throw invalid(`Tool ${slug} needs an execute function.`);
  checkOptionNames(options, DEFINE_TOOL_OPTIONS, `defineTool() of ${slug}`, {
    code: 'TOOL_DEFINITION_INVALID',
    ignored: TOOL_OWN_KEYS,
  });
  if (options.timeoutMs !== undefined) {
    // a longer timer is one of 1 ms (Node.js's TimeoutOverflowWarning): every call would time out at once
    wholeNumberOf(options.timeoutMs, {
      name: `Tool ${slug}: timeoutMs`,
      code: 'TOOL_DEFINITION_INVALID',
      unit: 'milliseconds',
      min: 1,
      max: MAX_TIMER_MS,
      purpose: 'how long one call of the tool may run',
      leaveOut: 'Leave it out for 60000.',
    });
  }
  // a misspelt hint was no hint: with `destructive: true` (for destructiveHint) a session's
  // `tags: { disable: ['destructiveHint'] }` kept the tool it meant to hide
  if (typeof options.annotations === 'object' && options.annotations !== null) {
    checkOptionNames(options.annotations, ANNOTATION_KEYS, `defineTool() of ${slug}: annotations`, {
      code: 'TOOL_DEFINITION_INVALID',
    });
  }
  // "" is a Tool's own toolkit before a toolkit takes it: a definition that spreads such a tool names none
  if (options.toolkit !== undefined && options.toolkit !== '' && !TOOLKIT_SLUG.test(options.toolkit)) {
    throw invalid(
      `Tool ${slug}: toolkit "${options.toolkit}" is not a valid toolkit slug (lower-case, like "github").`,
    );
  }
  const json = toJsonSchema(slug, inputSchema, 'input');
  if (json.type !== 'object') {
    throw invalid(
      `Tool ${slug}: the input schema must be an object schema (z.object(...) or { type: "object" }), got type ${JSON.stringify(json.type)}.`,
    );
  }
  const standardSchema = isStandardSchema(inputSchema) ? inputSchema : undefined;
  let validate: (input: unknown) => ValidationResult;
  if (standardSchema) validate = standardValidator(standardSchema);
  else {
    let compiled: ((input: unknown) => ValidationResult) | undefined;
    validate = (input) => {
      compiled ??= compileJsonSchemaValidator(json, slug);
      return compiled(input);
    };
    setSlicedValidator(validate, (input, slice, listedKeys) => {
      compiled ??= compileJsonSchemaValidator(json, slug);
      return slicedValidatorOf(compiled)!(input, slice, listedKeys);
    });
    // a large schema (or one with a pattern RE2 cannot run) is compiled and checked off the main
    // thread, every call by the sliced path: judged at the first call, not here
    setValidatesOffThread(validate, () => compilesOffThread(json));
  }
  return Object.freeze({
    kind: 'toolmux.tool' as const,
    slug,
    name: options.name ?? titleCase(slug),
    description: description.trim(),
    toolkit: options.toolkit ?? '',
    inputSchema: json,
    outputSchema: outputSchema === undefined ? undefined : toJsonSchema(slug, outputSchema, 'output'),
    annotations: { ...options.annotations },
    tags: [...(options.tags ?? [])],
    timeoutMs: options.timeoutMs,
    validate,
    execute: execute as Tool['execute'],
    standardSchema,
  });
}

export interface DefineToolkitOptions {
  /** Lower-case slug, e.g. `github`. Tool slugs must start with its upper-case form. */
  slug: string;
  name?: string;
  description: string;
  tools: readonly Tool[];
  /** How to authenticate. Omit (or `[{ type: 'none' }]`) for toolkits that need no account. */
  auth?: AuthScheme | readonly AuthScheme[];
  /** Base URL of the toolkit's API. */
  baseUrl?: string;
  categories?: readonly string[];
  /**
   * Words a user says for what the toolkit handles that its tools' names and descriptions may not
   * say: common nouns and synonyms of its objects (`email`, `mail`, `inbox` for Gmail; `ticket`,
   * `task` for an issue tracker). Search reads them as words of every tool of the toolkit, at the
   * weight of a description word, so that "read my latest emails" finds the toolkit's tools rather
   * than another toolkit's tool whose own text says `email`. Not verbs, and not words other toolkits
   * handle as much (`message`, `issue`): those help no toolkit over another.
   */
  keywords?: readonly string[];
  logo?: string;
}

/**
 * Refuses a toolkit slug that is not lower case letters, digits, `-` and `_` starting with a letter:
 * TOOL_DEFINITION_INVALID naming it (`defineToolkit`, `toolSlugPrefix` and the toolkit factories of
 * @toolmux/toolkits check it before they build anything).
 */
export function checkToolkitSlug(slug: unknown, what = 'Toolkit slug'): asserts slug is string {
  if (typeof slug === 'string' && TOOLKIT_SLUG.test(slug)) return;
  throw invalid(
    `${what} ${shownValue(slug)} is invalid: use lower case letters, digits, "-" or "_", starting with a letter, like "github".`,
  );
}

/**
 * A toolkit slug written in any case, as toolmux knows it: toolkit slugs are lower case (see
 * {@link checkToolkitSlug}), while Composio's clients and the models that read its prompts write
 * `GITHUB` or `GitHub` for `github`. ASCII letters only: a slug is ASCII, and full Unicode
 * lower-casing changes other text in length and form ("İ" becomes "i̇"), so a refusal would name a
 * value the caller never sent.
 */
export function lowerCaseSlug(slug: string): string {
  return slug.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/** The prefix every tool slug of a toolkit starts with: `google-drive` → `GOOGLE_DRIVE_`. */
export function toolSlugPrefix(toolkitSlug: string): string {
  checkToolkitSlug(toolkitSlug);
  return `${toolkitSlug.toUpperCase().replace(/-/g, '_')}_`;
}

/**
 * A valid, unique tool slug for a generated tool (an MCP tool, an OpenAPI operation): the toolkit
 * prefix + the name in UPPER_SNAKE (`getDataStuff` → `GETDATA…`: `ACME_GET_DATA_STUFF`), at most 64
 * characters (a long name keeps its start and gets a short hash of the whole), `_2`, `_3`… when `taken`
 * already holds it. Adds the result to `taken`.
 */
export function toolSlugFor(toolkitSlug: string, name: string, taken: Set<string> = new Set()): string {
  const snake =
    name
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/[^A-Za-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .toUpperCase() || 'TOOL';
  return uniqueNameWithin(toolSlugPrefix(toolkitSlug) + snake, MAX_TOOL_SLUG_LENGTH, taken);
}

/**
 * `name` when it has at most `max` characters and `taken` does not hold it; else `name` shortened (its
 * start, `_` and 6 characters of a SHA-256 of the whole: the same name always gives the same result),
 * then `name_2`, `name_3`… shortened alike until one is free. Adds the result to `taken`. Generated
 * tool slugs ({@link toolSlugFor}) and the names providers list tools under where a framework adds to
 * the name (the Claude Agent SDK's `mcp__<server>__`) are made with it.
 */
export function uniqueNameWithin(name: string, max: number, taken: Set<string>): string {
  const shorten = (candidate: string) => {
    if (candidate.length <= max) return candidate;
    const hash = createHash('sha256').update(candidate).digest('hex').slice(0, 6).toUpperCase();
    return `${candidate.slice(0, max - hash.length - 1).replace(/_+$/, '')}_${hash}`;
  };
  let unique = shorten(name);
  for (let suffix = 2; taken.has(unique); suffix++) unique = shorten(`${name}_${suffix}`);
  taken.add(unique);
  return unique;
}

/**
 * The error codes an oauth2 scheme gives a meaning to (`refreshTokenDeadErrors`,
 * `clientRejectedErrors`): lists of non-empty strings, no code in both.
 */
function checkOAuthErrorCodes(slug: string, scheme: OAuth2Scheme): void {
  const lists = ['refreshTokenDeadErrors', 'clientRejectedErrors'] as const;
  for (const name of lists) {
    const codes: unknown = scheme[name];
    if (codes === undefined) continue;
    const list = Array.isArray(codes);
    const bad = list ? codes.findIndex((code) => typeof code !== 'string' || code === '') : -1;
    if (!list || bad >= 0) {
      throw invalid(
        `Toolkit ${slug}: the oauth2 scheme's ${name} must be a list of OAuth error codes (non-empty strings, like "bad_refresh_token"); got ${list ? `${shownValue(codes[bad])} in it` : shownValue(codes)}.`,
      );
    }
  }
  const both = (scheme.refreshTokenDeadErrors ?? []).find((code) =>
    scheme.clientRejectedErrors?.includes(code),
  );
  if (both !== undefined) {
    throw invalid(
      `Toolkit ${slug}: the oauth2 scheme lists ${JSON.stringify(both)} in both refreshTokenDeadErrors and clientRejectedErrors; a code means one of the two (a dead refresh token, or a refused client).`,
    );
  }
}

/** The keys of each kind of auth scheme, and of what a scheme holds. */
const SCHEME_KEYS: Readonly<Record<AuthScheme['type'], readonly string[]>> = {
  none: ['type'],
  oauth2: everyKeyOf<OAuth2Scheme>()([
    'type',
    'authorizationUrl',
    'tokenUrl',
    'scopes',
    'pkce',
    'tokenPlacement',
    'issuer',
    'issuerInCallback',
    'authorizationParams',
    'tokenEndpointAuthMethod',
    'scopeSeparator',
    'bearerTokenTypes',
    'revocationUrl',
    'revocationEndsGrant',
    'refreshTokenDeadErrors',
    'clientRejectedErrors',
  ]),
  api_key: everyKeyOf<Extract<AuthScheme, { type: 'api_key' }>>()(['type', 'fields', 'placement']),
  bearer: everyKeyOf<Extract<AuthScheme, { type: 'bearer' }>>()(['type', 'fields']),
  basic: everyKeyOf<Extract<AuthScheme, { type: 'basic' }>>()(['type', 'fields']),
};
const FIELD_KEYS = everyKeyOf<AuthField>()(['name', 'label', 'description', 'secret', 'required']);
const PLACEMENT_KEYS = everyKeyOf<CredentialPlacement>()(['in', 'name', 'prefix', 'field']);

/**
 * A scheme's keys, its fields' and its placement's: a misspelt one was ignored, `scope` (for
 * `scopes`) asked for no scope, and a field's `secrets: false` (for `secret`) was kept secret.
 */
function checkSchemeKeys(slug: string, scheme: AuthScheme): void {
  const where = `defineToolkit() of ${slug}: the ${scheme.type} scheme`;
  const code = 'TOOL_DEFINITION_INVALID';
  checkOptionNames(scheme, SCHEME_KEYS[scheme.type], where, { code });
  const { fields, placement } = scheme as { fields?: unknown; placement?: unknown };
  if (Array.isArray(fields)) {
    for (const field of fields) {
      if (typeof field === 'object' && field !== null)
        checkOptionNames(field, FIELD_KEYS, `${where}'s field`, { code });
    }
  }
  if (typeof placement === 'object' && placement !== null)
    checkOptionNames(placement, PLACEMENT_KEYS, `${where}'s placement`, { code });
}

/**
 * A toolkit's `keywords`, checked: an array of strings. A string alone was read letter by letter
 * (`'email'` is `e`, `m`, `a`, …, words search drops), so the toolkit was found by none of them.
 */
function keywordsOf(slug: string, keywords: unknown): readonly string[] {
  if (keywords === undefined) return Object.freeze([]);
  if (!Array.isArray(keywords)) {
    throw invalid(
      `Toolkit ${slug}: keywords must be an array of words, e.g. ["email", "inbox"]; got ${shownValue(keywords)}.`,
    );
  }
  const bad = keywords.findIndex((keyword) => typeof keyword !== 'string');
  if (bad >= 0) {
    throw invalid(
      `Toolkit ${slug}: every keyword must be a string (a word or a few, e.g. "pull request"); keywords[${bad}] is ${shownValue(keywords[bad])}.`,
    );
  }
  return Object.freeze([...keywords]);
}

/** Define a toolkit: a named group of tools that share authentication. */
export function defineToolkit(options: DefineToolkitOptions): Toolkit {
  const { slug, description } = options;
  checkToolkitSlug(slug);
  checkOptionNames(options, DEFINE_TOOLKIT_OPTIONS, `defineToolkit() of ${slug}`, {
    code: 'TOOL_DEFINITION_INVALID',
    ignored: TOOLKIT_OWN_KEYS,
  });
  if (typeof description !== 'string' || description.trim() === '') {
    throw invalid(`Toolkit ${slug} needs a description.`);
  }
  if (!Array.isArray(options.tools))
    throw invalid(`Toolkit ${slug}: tools must be an array of defineTool() results.`);
  const prefix = toolSlugPrefix(slug);
  const seen = new Set<string>();
  const tools = options.tools.map((tool) => {
    if (tool?.kind !== 'toolmux.tool')
      throw invalid(`Toolkit ${slug}: every tool must come from defineTool().`);
    if (!tool.slug.startsWith(prefix)) {
      throw invalid(`Tool ${tool.slug} in toolkit ${slug} must have a slug starting with "${prefix}".`);
    }
    if (tool.toolkit && tool.toolkit !== slug) {
      throw invalid(
        `Tool ${tool.slug} declares toolkit "${tool.toolkit}" but is listed in toolkit "${slug}".`,
      );
    }
    if (seen.has(tool.slug)) throw invalid(`Toolkit ${slug} lists tool ${tool.slug} twice.`);
    seen.add(tool.slug);
    return tool.toolkit === slug ? tool : Object.freeze({ ...tool, toolkit: slug });
  });
  const keywords = keywordsOf(slug, options.keywords);
  const auth = options.auth === undefined ? [] : Array.isArray(options.auth) ? options.auth : [options.auth];
  for (const scheme of auth) {
    if (!scheme || !['none', 'oauth2', 'api_key', 'bearer', 'basic'].includes(scheme.type)) {
      throw invalid(
        `Toolkit ${slug}: unknown auth type ${JSON.stringify((scheme as { type?: unknown })?.type)}; use oauth2, api_key, bearer, basic or none.`,
      );
    }
    if (scheme.type === 'oauth2') {
      checkOAuthErrorCodes(slug, scheme);
      const endsGrant: unknown = scheme.revocationEndsGrant;
      if (endsGrant !== undefined && typeof endsGrant !== 'boolean') {
        throw invalid(
          `Toolkit ${slug}: the oauth2 scheme's revocationEndsGrant must be true or false (whether revoking one token ends every token of the user's grant); got ${shownValue(endsGrant)}.`,
        );
      }
    }
    checkSchemeKeys(slug, scheme);
  }
  return Object.freeze({
    kind: 'toolmux.toolkit' as const,
    slug,
    name: options.name ?? slug[0]!.toUpperCase() + slug.slice(1),
    description: description.trim(),
    tools: Object.freeze(tools),
    auth: Object.freeze([...auth]),
    baseUrl: options.baseUrl,
    categories: Object.freeze([...(options.categories ?? [])]),
    keywords,
    logo: options.logo,
    noAuth: auth.every((scheme) => scheme.type === 'none'),
  });
}
