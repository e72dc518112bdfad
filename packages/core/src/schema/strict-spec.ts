import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import type { Logger } from '../util/logger.js';
import { setOwn } from '../util/own-key.js';
import { toStrictSchema } from './strict.js';

const cache = new WeakMap<
  ToolSpec,
  { strict: true; schema: JSONSchema } | { strict: false; schema: JSONSchema; reason: string }
>();

/**
 * The schema a provider hands out for `strict: true`: the tool's own strict schema, or the OpenAI
 * strict rewrite of its input schema; a tool that cannot be strict falls back to its non-strict
 * schema, alone, with the reason (providers log it as a warning).
 */
export function strictSchemaOf(
  spec: ToolSpec,
): { strict: true; schema: JSONSchema } | { strict: false; schema: JSONSchema; reason: string } {
  let entry = cache.get(spec);
  if (!entry) {
    if (spec.strictInputSchema) entry = { strict: true, schema: spec.strictInputSchema };
    else {
      const rewritten = toStrictSchema(spec.inputSchema);
      entry = rewritten.ok
        ? { strict: true, schema: rewritten.schema }
        : { strict: false, schema: spec.inputSchema, reason: rewritten.reason };
    }
    cache.set(spec, entry);
  }
  return entry;
}

/** What `StrictSchemas.shape` gives for one tool. */
export type StrictSchemaOf = ReturnType<typeof strictSchemaOf>;

/**
 * The `strict` option of a provider that hands out non-strict schemas by default: with it on, each
 * tool's schema from `strictSchemaOf`, and one warning per `wrapTools()` call naming each tool the
 * first time it stays non-strict (with the reason).
 *
 * @example
 * const shaped = this.#strict.shape(specs); // in wrapTools: one entry per spec, undefined when off
 */
export class StrictSchemas {
  readonly enabled: boolean;
  readonly #logger: Pick<Logger, 'warn'>;
  readonly #warned = new Set<string>();

  constructor(enabled: boolean, logger: Pick<Logger, 'warn'>) {
    this.enabled = enabled;
    this.#logger = logger;
  }

  /** Each spec's strict schema (undefined entries when strict is off); warns about new fallbacks. */
  shape(specs: readonly ToolSpec[]): Array<StrictSchemaOf | undefined> {
    if (!this.enabled) return specs.map(() => undefined);
    const fallbacks: string[] = [];
    const shaped = specs.map((spec) => {
      const schema = strictSchemaOf(spec);
      if (!schema.strict && !this.#warned.has(spec.slug)) {
        this.#warned.add(spec.slug);
        fallbacks.push(`${spec.slug} (${schema.reason})`);
      }
      return schema;
    });
    if (fallbacks.length > 0) {
      this.#logger.warn(
        `toolmux: ${fallbacks.length} tool${fallbacks.length === 1 ? '' : 's'} cannot be handed out in strict mode and stay non-strict: ${fallbacks.join('; ')}`,
      );
    }
    return shaped;
  }
}

/**
 * A plain JSON copy of a schema (own enumerable keys; `undefined` and function members, and hidden
 * markers such as zod's `~standard`, stay behind) that a framework may keep or change without
 * touching the session's cached schemas.
 */
export function plainJsonCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainJsonCopy);
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (child !== undefined && typeof child !== 'function') setOwn(copy, key, plainJsonCopy(child));
  }
  return copy;
}
