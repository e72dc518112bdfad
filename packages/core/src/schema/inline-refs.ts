import { isDeepStrictEqual } from 'node:util';
import type { JSONSchema } from '../catalog/types.js';
import { forEachSubschema, isSchemaObject, mapSubschemas, splitAnnotations } from './subschemas.js';

/** A schema together with what was lost or loosened while producing it. */
export interface SchemaWithWarnings {
  schema: JSONSchema;
  /** One readable sentence per problem, without duplicates. */
  warnings: string[];
}

export interface InlineLocalRefsOptions {
  /**
   * How many times one reference may be expanded inside itself. A recursive schema (a tree whose
   * nodes hold child nodes) cannot be inlined forever: below this depth the reference becomes `{}`,
   * which accepts any value, and a warning says so.
   * @default 3
   */
  maxRecursion?: number;
}

/**
 * Keywords that constrain each other within one schema object (`additionalProperties` depends on
 * `properties`, `items` on `prefixItems`…). If both a `$ref` target and its siblings use a group,
 * copying the keywords into one object would change their meaning, so both are kept under `allOf`.
 */
const INTERACTING_KEYWORD_GROUPS = [
  ['properties', 'patternProperties', 'additionalProperties', 'unevaluatedProperties'],
  ['prefixItems', 'items', 'additionalItems', 'unevaluatedItems'],
  ['contains', 'minContains', 'maxContains'],
  ['if', 'then', 'else'],
];

/**
 * Replace every local `$ref` with the subschema it points to, and drop `$defs` / `definitions`.
 *
 * Handles `#` (the root), `#/$defs/X`, `#/definitions/X` and any JSON Pointer into the document
 * (with `~1`, `~0` and percent escapes). Keywords beside a `$ref` are merged into the inlined schema.
 * A reference that cannot be inlined becomes `{}` (accepts anything) with a warning: references to
 * other documents (`https://…`), anchors (`#name`), pointers to nothing, and recursion deeper than
 * `maxRecursion`. The input is not modified.
 *
 * @example
 * inlineLocalRefs({ type: 'object', properties: { a: { $ref: '#/$defs/A' } }, $defs: { A: { type: 'string' } } });
 * // { schema: { type: 'object', properties: { a: { type: 'string' } } }, warnings: [] }
 */
export function inlineLocalRefs(
  schema: JSONSchema,
  options: InlineLocalRefsOptions = {},
): SchemaWithWarnings {
  const inliner = new RefInliner(schema, options.maxRecursion ?? DEFAULT_MAX_RECURSION);
  const inlined = inliner.inline(schema);
  return { schema: inlined, warnings: [...inliner.warnings] };
}

/** The default of {@link InlineLocalRefsOptions.maxRecursion}. */
const DEFAULT_MAX_RECURSION = 3;

/** How large a schema is, as written and with its local references inlined (see {@link schemaSize}). */
export interface SchemaSize {
  /** Subschemas as written, `$defs` included (what a validator compiles), up to `limit + 1`. */
  written: number;
  /** Subschemas once references are inlined as {@link inlineLocalRefs} inlines them, up to `limit + 1`. */
  inlined: number;
  /** The most levels of subschemas within one another once inlined, up to `maxDepth + 1`. */
  depth: number;
}

/**
 * How many subschemas a schema has as written and once its local references are inlined as
 * {@link inlineLocalRefs} inlines them (recursion cut as it cuts it), and how deep they then nest.
 * Each count stops once it passes its limit, so this costs at most `2 × limit` steps however large
 * the inlined schema would be, and it keeps its own stack. References can make a schema of a few
 * kilobytes expand to millions of subschemas (each level of `$defs` that refers twice to the one
 * before doubles it), or nest thousands deep (a chain of references): every step that walks a
 * schema inlined (shaping it for a model, listing it, validating against it) would then run out of
 * time, memory or stack.
 */
export function schemaSize(
  schema: JSONSchema,
  limits: { subschemas: number; depth: number },
  maxRecursion: number = DEFAULT_MAX_RECURSION,
): SchemaSize {
  const written = countSubschemas(schema, limits.subschemas, Number.POSITIVE_INFINITY, undefined);
  const inlined = countSubschemas(schema, limits.subschemas, limits.depth, maxRecursion);
  return { written: written.subschemas, inlined: inlined.subschemas, depth: inlined.depth };
}

/**
 * Subschemas of `root` and how deep they nest, each count stopped past its limit: as written when
 * `maxRecursion` is undefined, else with references followed and `$defs` left out, as inlined.
 */
function countSubschemas(
  root: JSONSchema,
  limit: number,
  maxDepth: number,
  maxRecursion: number | undefined,
): { subschemas: number; depth: number } {
  const inlining = maxRecursion !== undefined;
  let subschemas = 0;
  let deepest = 0;
  const expanding = new Map<string, number>([[canonicalRef('#'), 1]]);
  // each reference resolved once, however often it is expanded
  const references = new Map<string, { target: JSONSchema | boolean | undefined; key: string }>();
  // subschemas to count, and the ends of expansions (`done`: the reference's count to restore)
  const stack: Array<{ schema: JSONSchema; depth: number } | { done: string; count: number }> = [
    { schema: root, depth: 1 },
  ];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('done' in item) {
      expanding.set(item.done, item.count);
      continue;
    }
    const { schema, depth } = item;
    subschemas++;
    deepest = Math.max(deepest, depth);
    if (subschemas > limit || deepest > maxDepth) break;
    forEachSubschema(
      schema,
      (subschema) => stack.push({ schema: subschema, depth: depth + 1 }),
      // the inliner drops them
      inlining ? DEFINITION_KEYWORDS : undefined,
    );
    if (!inlining || typeof schema.$ref !== 'string') continue;
    let resolved = references.get(schema.$ref);
    if (resolved === undefined) {
      resolved = { target: resolveLocalRef(root, schema.$ref), key: canonicalRef(schema.$ref) };
      references.set(schema.$ref, resolved);
    }
    const { target, key } = resolved;
    if (!isSchemaObject(target)) continue;
    const count = expanding.get(key) ?? 0;
    if (count >= maxRecursion) continue;
    // the target is counted with its reference expanded once more, until the mark below it
    stack.push({ done: key, count });
    expanding.set(key, count + 1);
    stack.push({ schema: target, depth: depth + 1 });
  }
  return { subschemas: Math.min(subschemas, limit + 1), depth: Math.min(deepest, maxDepth + 1) };
}

const DEFINITION_KEYWORDS: ReadonlySet<string> = new Set(['$defs', 'definitions']);

/**
 * The subschema a local `$ref` (`#…`) points to within `root`, or `undefined` when it points to nothing
 * or is not a JSON Pointer. Boolean schemas are returned as they are.
 */
export function resolveLocalRef(root: JSONSchema, ref: string): JSONSchema | boolean | undefined {
  const segments = parseLocalRef(ref);
  if (!segments) return undefined;
  let node: unknown = root;
  for (const segment of segments) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return isSchemaObject(node) || typeof node === 'boolean' ? node : undefined;
}

/** The decoded JSON Pointer segments of a local reference; `undefined` if it is not one. */
function parseLocalRef(ref: string): string[] | undefined {
  if (ref === '#') return [];
  if (!ref.startsWith('#/')) return undefined;
  try {
    return ref
      .slice(2)
      .split('/')
      .map((segment) => decodeURIComponent(segment).replaceAll('~1', '/').replaceAll('~0', '~'));
  } catch {
    return undefined;
  }
}

class RefInliner {
  readonly warnings = new Set<string>();
  /** How many times each reference is being expanded on the current branch of the walk. */
  private readonly expanding = new Map<string, number>();

  private readonly root: JSONSchema;
  private readonly maxRecursion: number;

  constructor(root: JSONSchema, maxRecursion: number) {
    this.root = root;
    this.maxRecursion = maxRecursion;
    // The root is itself being expanded, so `{ $ref: '#' }` inside it counts as its second level.
    this.expanding.set(canonicalRef('#'), 1);
  }

  inline(schema: JSONSchema): JSONSchema {
    const { $ref, $defs: _defs, definitions: _definitions, ...rest } = schema;
    const inlinedRest = mapSubschemas(rest, (subschema) => this.inline(subschema));
    if (typeof $ref !== 'string') return inlinedRest;
    return mergeRefSiblings(this.expand($ref), inlinedRest);
  }

  private expand(ref: string): JSONSchema {
    const target = resolveLocalRef(this.root, ref);
    if (target === undefined) {
      this.warnings.add(unresolvableMessage(ref));
      return {};
    }
    if (typeof target === 'boolean') return target ? {} : { not: {} };
    const key = canonicalRef(ref);
    const depth = this.expanding.get(key) ?? 0;
    if (depth >= this.maxRecursion) {
      this.warnings.add(
        `Recursive reference "${ref}" was expanded ${this.maxRecursion} levels deep; deeper levels accept any value.`,
      );
      return {};
    }
    this.expanding.set(key, depth + 1);
    try {
      return this.inline(target);
    } finally {
      this.expanding.set(key, depth);
    }
  }
}

function unresolvableMessage(ref: string): string {
  if (!ref.startsWith('#')) {
    return `Reference "${ref}" points to another document and was replaced by a schema that accepts any value.`;
  }
  if (!ref.startsWith('#/') && ref !== '#') {
    return `Reference "${ref}" uses an anchor, which is not supported; it was replaced by a schema that accepts any value.`;
  }
  return `Reference "${ref}" points to nothing in the schema and was replaced by a schema that accepts any value.`;
}

/** One spelling per target, so `#/%24defs/A` and `#/$defs/A` share a recursion count. */
function canonicalRef(ref: string): string {
  return JSON.stringify(parseLocalRef(ref));
}

/**
 * Combine an inlined `$ref` target with the keywords written beside the `$ref`. Sibling annotations
 * win (the usual meaning of `{ $ref, description }`); other keywords are copied over unless both
 * sides set them differently, or set interacting keywords, in which case both schemas are kept under
 * `allOf` so that neither constraint is lost.
 */
function mergeRefSiblings(target: JSONSchema, siblings: JSONSchema): JSONSchema {
  const { annotations, constraints } = splitAnnotations(siblings);
  if (conflicts(target, constraints)) return { ...annotations, allOf: [target, constraints] };
  return { ...target, ...constraints, ...annotations };
}

function conflicts(a: JSONSchema, b: JSONSchema): boolean {
  if (Object.keys(b).some((keyword) => keyword in a && !isDeepStrictEqual(a[keyword], b[keyword]))) {
    return true;
  }
  return INTERACTING_KEYWORD_GROUPS.some(
    (group) => group.some((keyword) => keyword in a) && group.some((keyword) => keyword in b),
  );
}
