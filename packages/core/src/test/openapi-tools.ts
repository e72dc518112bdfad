import { defineTool, defineToolkit, toolSlugFor } from '../catalog/define.js';
import type { JSONSchema, Tool, ToolAnnotations, Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import { resolveLocalRef } from '../schema/inline-refs.js';
import { isSchemaObject, splitAnnotations, transformSchemaTree } from '../schema/subschemas.js';

/**
 * The timeout of a test that wraps, checks and sends a whole API description's tools (the GitHub
 * description: ~1,200 tools): its work is seconds of CPU, and CI runs every package's suite at once
 * on a shared 2-core machine. Measured there with the whole suite and two busy loops beside it
 * (load 12–18), one such test took up to 12.7 s; in CI they passed the default 20 s. A test that
 * hangs still fails, after this.
 */
export const CORPUS_TEST_TIMEOUT_MS = 120_000;

/** Options of {@link toolkitFromOpenApi}. */
export interface OpenApiToolkitOptions {
  /** Toolkit slug, lower case (`github`); every tool slug starts with its upper-case form (`GITHUB_`). */
  slug: string;
  /** Display name of the toolkit. @default the document's `info.title` */
  name?: string;
  /** Build tools for the first `limit` operations only (in document order). @default every operation */
  limit?: number;
  /** Base URL of the API. @default the document's first `servers[].url` */
  baseUrl?: string;
}

/** Which operation of the OpenAPI document a tool stands for. */
export interface OperationInfo {
  /** The tool slug: `GITHUB_ISSUES_CREATE`. */
  slug: string;
  /** Upper case: `POST`. */
  method: string;
  /** The path template: `/repos/{owner}/{repo}/issues`. */
  path: string;
  /** The operation id as written in the document (`issues/create`); `METHOD path` when it has none. */
  operationId: string;
}

/** What every tool built by {@link toolkitFromOpenApi} returns: the request it would send. */
export interface OpenApiToolCall {
  method: string;
  path: string;
  arguments: Record<string, unknown>;
}

/** The parts of an OpenAPI 3 document this module reads. */
interface OpenApiDocument {
  info?: { title?: string; description?: string };
  servers?: Array<{ url?: string }>;
  paths: Record<string, PathItem | undefined>;
}

type PathItem = Partial<Record<HttpMethod, Operation>> & { parameters?: Array<Parameter | Reference> };

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Array<Parameter | Reference>;
  requestBody?: RequestBody | Reference;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: JSONSchema;
}

interface RequestBody {
  required?: boolean;
  content?: Record<string, { schema?: JSONSchema } | undefined>;
}

interface Reference {
  $ref: string;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type HttpMethod = (typeof HTTP_METHODS)[number];

/** Parameters that become tool arguments; headers and cookies are the client's business. */
const ARGUMENT_LOCATIONS = new Set(['path', 'query']);

/** Tool descriptions longer than this are cut at a word boundary. */
const MAX_DESCRIPTION_LENGTH = 1_024;

const COMPONENTS_PREFIX = '#/components/';

/**
 * A toolkit with one tool per operation (path × method) of an OpenAPI 3 document, for tests that need
 * a realistic catalog (`@octokit/openapi`'s GitHub description gives about 1,200 tools). Pass the
 * parsed document; nothing is fetched.
 *
 * - slug: `${SLUG}_${operationId in UPPER_SNAKE}` (`issues/create` → `GITHUB_ISSUES_CREATE`), made unique;
 * - description: the summary and description, cut to about 1,000 characters;
 * - input schema: an object of the path and query parameters (path parameters are always required)
 *   and the JSON request body's properties (see {@link bodyArguments}), with `#/components/…`
 *   references kept as `$ref: '#/$defs/…'` and the referenced schemas copied into `$defs`, so that each
 *   schema is self-contained and it is toolmux's shaping that has to inline them;
 * - annotations from the method: GET/HEAD read-only, DELETE destructive, PUT/DELETE idempotent, all
 *   open-world;
 * - handler: returns `{ method, path, arguments }` ({@link OpenApiToolCall}) without any network I/O.
 *
 * The toolkit needs no auth, so a session runs its tools without a connected account.
 *
 * @example
 * const document = JSON.parse(readFileSync(require.resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8'));
 * const { toolkit, operations } = toolkitFromOpenApi(document, { slug: 'github' });
 */
export function toolkitFromOpenApi(
  document: object,
  options: OpenApiToolkitOptions,
): { toolkit: Toolkit; operations: OperationInfo[] } {
  const openApi = asOpenApiDocument(document);
  const components = new ComponentDefinitions(openApi);
  const slugs = new Set<string>();
  const tools: Tool[] = [];
  const operations: OperationInfo[] = [];
  for (const { path, method, operation, pathItem } of listOperations(openApi, options.limit)) {
    const operationId = operation.operationId ?? `${method.toUpperCase()} ${path}`;
    const slug = toolSlugFor(options.slug, operationId, slugs);
    const info = { slug, method: method.toUpperCase(), path, operationId };
    tools.push(operationTool(info, operation, inputSchemaOf(openApi, components, pathItem, operation)));
    operations.push(info);
  }
  const toolkit = defineToolkit({
    slug: options.slug,
    name: options.name ?? openApi.info?.title,
    description:
      openApi.info?.description ??
      openApi.info?.title ??
      `Tools built from the ${options.slug} OpenAPI document.`,
    tools,
    baseUrl: options.baseUrl ?? openApi.servers?.[0]?.url,
  });
  return { toolkit, operations };
}

function asOpenApiDocument(document: object): OpenApiDocument {
  if (!isSchemaObject(document) || !isSchemaObject(document.paths)) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message:
        'toolkitFromOpenApi needs a parsed OpenAPI 3 document (an object with "paths"); pass JSON.parse(file contents).',
    });
  }
  return document as unknown as OpenApiDocument;
}

function* listOperations(
  document: OpenApiDocument,
  limit = Number.POSITIVE_INFINITY,
): Generator<{ path: string; method: HttpMethod; operation: Operation; pathItem: PathItem }> {
  let count = 0;
  for (const [path, pathItem] of Object.entries(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = pathItem?.[method];
      if (!operation) continue;
      if (count++ >= limit) return;
      yield { path, method, operation, pathItem };
    }
  }
}

function operationTool(info: OperationInfo, operation: Operation, inputSchema: JSONSchema): Tool {
  const { method, path } = info;
  return defineTool({
    slug: info.slug,
    name: operation.summary?.trim() || undefined,
    description: describeOperation(operation, info),
    inputSchema,
    annotations: annotationsFor(method),
    tags: operation.tags ?? [],
    execute: (input): OpenApiToolCall => ({ method, path, arguments: input }),
  });
}

function annotationsFor(method: string): ToolAnnotations {
  return {
    readOnlyHint: method === 'GET' || method === 'HEAD',
    destructiveHint: method === 'DELETE',
    idempotentHint: method === 'PUT' || method === 'DELETE',
    openWorldHint: true,
  };
}

/** Summary and description (without repeating the summary), cut at a word boundary when long. */
function describeOperation(operation: Operation, { method, path }: OperationInfo): string {
  const summary = operation.summary?.trim() ?? '';
  const details = operation.description?.trim() ?? '';
  const parts = details.startsWith(summary) ? [details] : [summary, details];
  const text = parts.filter(Boolean).join('\n\n') || `${method} ${path}`;
  return truncate(text, MAX_DESCRIPTION_LENGTH);
}

function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  const cut = text.slice(0, maxLength - 1);
  const wordEnd = cut.lastIndexOf(' ');
  return `${(wordEnd > maxLength / 2 ? cut.slice(0, wordEnd) : cut).trimEnd()}…`;
}

/** The input schema of one operation: its path and query parameters and its request body, self-contained. */
function inputSchemaOf(
  document: OpenApiDocument,
  components: ComponentDefinitions,
  pathItem: PathItem,
  operation: Operation,
): JSONSchema {
  const properties: JSONSchema = {};
  const required: string[] = [];
  for (const parameter of parametersOf(document, pathItem, operation)) {
    properties[parameter.name] = withDescription(
      components.localize(parameter.schema ?? {}),
      parameter.description,
    );
    if (parameter.required || parameter.in === 'path') required.push(parameter.name);
  }
  const body = bodyArguments(document, components, operation, new Set(Object.keys(properties)));
  Object.assign(properties, body.properties);
  required.push(...body.required);
  const schema: JSONSchema = {
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...body.constraints,
  };
  const defs = components.definitionsFor(schema);
  return Object.keys(defs).length > 0 ? { ...schema, $defs: defs } : schema;
}

/** Path-level parameters overridden by operation-level ones (same name and location), minus headers and cookies. */
function parametersOf(document: OpenApiDocument, pathItem: PathItem, operation: Operation): Parameter[] {
  const byKey = new Map<string, Parameter>();
  for (const entry of [...(pathItem.parameters ?? []), ...(operation.parameters ?? [])]) {
    const parameter = dereference<Parameter>(document, entry);
    if (parameter && ARGUMENT_LOCATIONS.has(parameter.in))
      byKey.set(`${parameter.in}:${parameter.name}`, parameter);
  }
  return [...byKey.values()];
}

/** What a request body adds to the tool's input schema. */
interface BodyArguments {
  properties: JSONSchema;
  required: string[];
  /** The body's object-level keywords (`additionalProperties`, `anyOf` of required groups…), for the root. */
  constraints: JSONSchema;
}

/**
 * The request body as tool arguments. An object body's properties become arguments of their own, with
 * its `required` and other object-level keywords moved to the root, when that keeps the same arguments
 * valid: no property may clash with a parameter, and an optional body may not require anything.
 * Any other body (a union, an array, a string, a record) is one `body` argument with the body schema.
 * JSON content is preferred; otherwise the first content type's schema is used.
 */
function bodyArguments(
  document: OpenApiDocument,
  components: ComponentDefinitions,
  operation: Operation,
  parameterNames: ReadonlySet<string>,
): BodyArguments {
  const requestBody = dereference<RequestBody>(document, operation.requestBody);
  const schema = requestBody && bodySchemaOf(requestBody);
  if (!schema) return { properties: {}, required: [], constraints: {} };
  const bodyRequired = requestBody.required === true;
  const target = dereference<JSONSchema>(document, schema);
  if (target && canFlatten(target, parameterNames, bodyRequired)) {
    const {
      type: _type,
      properties,
      required,
      nullable: _nullable,
      example: _example,
      ...rest
    } = components.localize(target);
    return {
      properties: properties as JSONSchema,
      required: Array.isArray(required) ? required : [],
      constraints: splitAnnotations(rest).constraints,
    };
  }
  let name = 'body';
  for (let suffix = 2; parameterNames.has(name); suffix++) name = `body_${suffix}`;
  return {
    properties: { [name]: components.localize(schema) },
    required: bodyRequired ? [name] : [],
    constraints: {},
  };
}

function bodySchemaOf(requestBody: RequestBody): JSONSchema | undefined {
  const content = Object.entries(requestBody.content ?? {});
  const json = content.find(([mediaType]) => /^application\/(.+\+)?json\b/.test(mediaType));
  return (json ?? content[0])?.[1]?.schema;
}

/** Keywords by which an object schema requires something of its value. */
const REQUIREMENT_KEYWORDS = [
  'required',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'minProperties',
  'dependentRequired',
];

function canFlatten(body: JSONSchema, parameterNames: ReadonlySet<string>, bodyRequired: boolean): boolean {
  if (!isSchemaObject(body.properties) || (body.type !== undefined && body.type !== 'object')) return false;
  if (Object.keys(body.properties).some((name) => parameterNames.has(name))) return false;
  return bodyRequired || !REQUIREMENT_KEYWORDS.some((keyword) => keyword in body);
}

function withDescription(schema: JSONSchema, description: string | undefined): JSONSchema {
  return description ? { ...schema, description } : schema;
}

/** `value` itself, or what its `$ref` points to in the document. */
function dereference<T>(document: OpenApiDocument, value: T | Reference | undefined): T | undefined {
  if (!isSchemaObject(value) || typeof value.$ref !== 'string') return value as T | undefined;
  const target = resolveLocalRef(document as unknown as JSONSchema, value.$ref);
  return isSchemaObject(target) ? (target as T) : undefined;
}

/**
 * The document's `#/components/…` schemas as `$defs` entries: `#/components/schemas/simple-user`
 * becomes `#/$defs/simple-user` (other sections keep their name: `#/$defs/parameters.owner`). Each
 * component is rewritten once and shared by every tool that needs it.
 */
class ComponentDefinitions {
  /** The `#/components/…` reference behind each `$defs` name handed out by {@link localize}. */
  private readonly references = new Map<string, string>();
  private readonly definitions = new Map<string, { schema: JSONSchema; references: string[] }>();

  private readonly document: OpenApiDocument;

  constructor(document: OpenApiDocument) {
    this.document = document;
  }

  /** A copy of `schema` whose `#/components/…` references point into `$defs`. */
  localize(schema: JSONSchema): JSONSchema {
    return transformSchemaTree(schema, (node) => {
      const name = typeof node.$ref === 'string' ? definitionName(node.$ref) : undefined;
      if (name === undefined) return node;
      this.references.set(name, node.$ref as string);
      return { ...node, $ref: `#/$defs/${encodePointerSegment(name)}` };
    });
  }

  /** The `$defs` a localized schema needs: every component it references, directly or through others. */
  definitionsFor(schema: JSONSchema): JSONSchema {
    const defs: JSONSchema = {};
    const pending = referencedDefinitions(schema);
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      if (name in defs) continue;
      const definition = this.definition(name);
      if (!definition) continue;
      defs[name] = definition.schema;
      pending.push(...definition.references);
    }
    return defs;
  }

  private definition(name: string): { schema: JSONSchema; references: string[] } | undefined {
    let definition = this.definitions.get(name);
    const ref = this.references.get(name);
    if (!definition && ref !== undefined) {
      const target = resolveLocalRef(this.document as unknown as JSONSchema, ref);
      if (!isSchemaObject(target)) return undefined;
      const schema = this.localize(target);
      definition = { schema, references: referencedDefinitions(schema) };
      this.definitions.set(name, definition);
    }
    return definition;
  }
}

/** The `$defs` name for a `#/components/<section>/<name>` reference; `undefined` for other references. */
function definitionName(ref: string): string | undefined {
  if (!ref.startsWith(COMPONENTS_PREFIX)) return undefined;
  const [section, name, ...rest] = ref.slice(COMPONENTS_PREFIX.length).split('/');
  if (!section || name === undefined || rest.length > 0) return undefined;
  const decoded = decodePointerSegment(name);
  return section === 'schemas' ? decoded : `${section}.${decoded}`;
}

/** The `$defs` names a localized schema's `$ref`s point to. */
function referencedDefinitions(schema: JSONSchema): string[] {
  const names: string[] = [];
  transformSchemaTree(schema, (node) => {
    if (typeof node.$ref === 'string' && node.$ref.startsWith('#/$defs/')) {
      names.push(decodePointerSegment(node.$ref.slice('#/$defs/'.length)));
    }
    return node;
  });
  return names;
}

function encodePointerSegment(segment: string): string {
  return encodeURIComponent(segment.replaceAll('~', '~0').replaceAll('/', '~1'));
}

function decodePointerSegment(segment: string): string {
  return decodeURIComponent(segment).replaceAll('~1', '/').replaceAll('~0', '~');
}
