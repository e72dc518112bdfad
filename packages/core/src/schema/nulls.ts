import type { JSONSchema } from '../catalog/types.js';
import { resolveLocalRef } from './inline-refs.js';
import { acceptsNull, type RefResolver, typeList } from './nullability.js';
import { allowedValues, isSchemaObject } from './subschemas.js';

/** Removes the `null`s strict mode sent for optional fields. Returns `args` itself when there were none. */
export type NullStripper = (args: unknown) => unknown;

/** What to strip from one value of a schema. Built once per schema, so a call only touches what may change. */
export interface NullPlan {
  /** Optional properties that do not accept `null`: a `null` there means the model left them out. */
  absentIfNull: string[];
  /** Properties whose values may hold such properties further down. */
  nested: Array<[name: string, plan: NullPlan]>;
  /** The plan for the items of an array value. */
  items: NullPlan | undefined;
  /** The object and array variants of an `anyOf` / `oneOf`; the one that fits the value is followed. */
  variants: Variant[];
}

interface Variant {
  kind: 'object' | 'array';
  /** Properties the variant requires: an object without them is not this variant. */
  required: string[];
  /** Required properties with a `const` or `enum` (a discriminator such as `kind: 'a'`) and their allowed values. */
  discriminators: Array<[name: string, values: unknown[]]>;
  /**
   * Properties other variants of the union declare, and neither this variant nor the object around
   * the union: the schemas handed out list them all (see `liftRootUnions` in shape.ts), so a strict
   * model sends `null` for them when it means this variant.
   */
  othersIfNull: string[];
  /** The properties the variant declares: the variant whose declared properties hold all of a value's keys is its. */
  declared: string[];
  plan: NullPlan | undefined;
}

const strippers = new WeakMap<JSONSchema, NullStripper>();

/**
 * Turn the `null`s that strict mode sent for optional fields back into absent fields, so that
 * `args` can be validated against the original schema (where `null` is often not allowed, and where
 * absence lets defaults apply). A `null` is removed only for a property that the ORIGINAL schema does
 * not require and whose schema does not accept `null`; `null`s the original allows are kept. Nested
 * objects, arrays of objects, `$ref`s, `allOf` parts and `anyOf`/`oneOf` variants (of those that fit
 * the value, judged by required properties and `const`/`enum` discriminators, the first that declares
 * every key holding a value) are followed; the nulls of properties only other variants declare are
 * removed too.
 *
 * Never mutates `args`: changed objects and arrays are copied, unchanged ones are returned as they are.
 * The plan for each schema is built once and cached (see {@link createNullStripper}).
 *
 * @example
 * stripNullsForOptional(z.toJSONSchema(z.object({ title: z.string(), body: z.string().optional() })), { title: 'Hi', body: null });
 * // { title: 'Hi' }
 */
export function stripNullsForOptional(originalSchema: JSONSchema, args: unknown): unknown {
  let stripper = strippers.get(originalSchema);
  if (!stripper) {
    stripper = createNullStripper(originalSchema);
    strippers.set(originalSchema, stripper);
  }
  return stripper(args);
}

/**
 * Build the function that {@link stripNullsForOptional} applies for `schema`. The schema is walked
 * once, here; each call then visits only the optional properties and the paths that lead to them.
 */
export function createNullStripper(schema: JSONSchema): NullStripper {
  return nullStripperOf(nullPlanOf(schema));
}

/**
 * The plan {@link createNullStripper} builds for `schema` (a walk of the whole schema): plain data
 * that a structured clone carries, so a thread can build it for a large schema (`undefined`: nothing
 * to strip).
 */
export function nullPlanOf(schema: JSONSchema): NullPlan | undefined {
  return new PlanBuilder(schema).planFor(schema);
}

/** The stripper of a plan made by {@link nullPlanOf}. */
export function nullStripperOf(plan: NullPlan | undefined): NullStripper {
  return plan ? (args) => strip(plan, args) : (args) => args;
}

class PlanBuilder {
  private readonly plans = new Map<JSONSchema, NullPlan>();
  /** Plans being built; a recursive schema meets them again before they are complete. */
  private readonly building = new Set<NullPlan>();
  private readonly resolve: RefResolver;

  constructor(root: JSONSchema) {
    this.resolve = (ref) => resolveLocalRef(root, ref);
  }

  /** The plan for values of `schema`, or `undefined` when nothing in them can need stripping. */
  planFor(schema: JSONSchema): NullPlan | undefined {
    let plan = this.plans.get(schema);
    if (!plan) {
      plan = { absentIfNull: [], nested: [], items: undefined, variants: [] };
      this.plans.set(schema, plan);
      this.building.add(plan);
      this.fill(plan, this.parts(schema));
      this.building.delete(plan);
    }
    return this.building.has(plan) || !isEmpty(plan) ? plan : undefined;
  }

  private fill(plan: NullPlan, parts: JSONSchema[]): void {
    const { properties, required } = objectView(parts);
    for (const [name, property] of properties) {
      if (!required.has(name) && !acceptsNull(property, this.resolve)) plan.absentIfNull.push(name);
      const nested = this.planFor(property);
      if (nested) plan.nested.push([name, nested]);
    }
    const items = parts.map((part) => part.items).find(isSchemaObject);
    if (items) plan.items = this.planFor(items);
    const union = parts.flatMap((part) => [part.anyOf, part.oneOf]).find(Array.isArray);
    const variants = (union ?? []).filter(isSchemaObject).flatMap((branch) => this.variant(branch));
    for (const variant of variants) {
      if (variant.kind !== 'object') continue;
      const others = new Set<string>();
      for (const other of variants) {
        if (other.kind === 'object' && other !== variant) for (const name of other.declared) others.add(name);
      }
      variant.othersIfNull = [...others].filter(
        (name) =>
          !variant.declared.includes(name) && !variant.required.includes(name) && !properties.has(name),
      );
    }
    if (variants.some((variant) => variant.plan || variant.othersIfNull.length > 0)) plan.variants = variants;
  }

  /** The variant a branch of a union stands for; none for branches that are neither objects nor arrays. */
  private variant(branch: JSONSchema): Variant[] {
    const parts = this.parts(branch);
    const kind = kindOf(parts);
    if (!kind) return [];
    const { properties, required } = objectView(parts);
    const discriminators: Variant['discriminators'] = [];
    for (const name of required) {
      const property = properties.get(name);
      const values = property && allowedValues(property);
      if (values) discriminators.push([name, values]);
    }
    return [
      {
        kind,
        required: [...required],
        discriminators,
        othersIfNull: [],
        declared: [...properties.keys()],
        plan: this.planFor(branch),
      },
    ];
  }

  /** The schema itself, what its `$ref` points to and its `allOf` parts: everything a value must satisfy. */
  private parts(schema: JSONSchema, open = new Set<JSONSchema>()): JSONSchema[] {
    if (open.has(schema)) return [];
    open.add(schema);
    const parts = [schema];
    const target = typeof schema.$ref === 'string' ? this.resolve(schema.$ref) : undefined;
    if (isSchemaObject(target)) parts.push(...this.parts(target, open));
    for (const part of Array.isArray(schema.allOf) ? schema.allOf : []) {
      if (isSchemaObject(part)) parts.push(...this.parts(part, open));
    }
    return parts;
  }
}

/** The properties (first definition wins) and required names of all parts together. */
function objectView(parts: JSONSchema[]): { properties: Map<string, JSONSchema>; required: Set<string> } {
  const properties = new Map<string, JSONSchema>();
  const required = new Set<string>();
  for (const part of parts) {
    for (const [name, property] of Object.entries(isSchemaObject(part.properties) ? part.properties : {})) {
      if (isSchemaObject(property) && !properties.has(name)) properties.set(name, property);
    }
    for (const name of Array.isArray(part.required) ? part.required : []) {
      if (typeof name === 'string') required.add(name);
    }
  }
  return { properties, required };
}

function kindOf(parts: JSONSchema[]): Variant['kind'] | undefined {
  const types = parts.flatMap((part) => typeList(part.type));
  if (types.includes('object') || parts.some((part) => 'properties' in part)) return 'object';
  if (types.includes('array') || parts.some((part) => 'items' in part)) return 'array';
  return undefined;
}

function isEmpty(plan: NullPlan): boolean {
  return (
    plan.absentIfNull.length === 0 && plan.nested.length === 0 && !plan.items && plan.variants.length === 0
  );
}

function strip(plan: NullPlan, value: unknown): unknown {
  let result = value;
  if (Array.isArray(value)) result = plan.items ? stripItems(plan.items, value) : value;
  else if (isRecord(value)) result = stripProperties(plan, value);
  const variant = chooseVariant(plan.variants, result);
  if (variant && isRecord(result)) result = withoutNulls(result, variant.othersIfNull);
  return variant?.plan ? strip(variant.plan, result) : result;
}

/** `value` without the `null`s of `names` (itself when it has none). */
function withoutNulls(value: Record<string, unknown>, names: string[]): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const name of names) {
    if (value[name] === null && Object.hasOwn(value, name)) {
      copy ??= { ...value };
      delete copy[name];
    }
  }
  return copy ?? value;
}

function stripProperties(plan: NullPlan, value: Record<string, unknown>): Record<string, unknown> {
  const stripped = withoutNulls(value, plan.absentIfNull);
  let copy: Record<string, unknown> | undefined = stripped === value ? undefined : stripped;
  for (const [name, nested] of plan.nested) {
    const current = value[name];
    if (current === null || current === undefined || !Object.hasOwn(value, name)) continue;
    const next = strip(nested, current);
    if (next !== current) {
      copy ??= { ...value };
      copy[name] = next;
    }
  }
  return copy ?? value;
}

function stripItems(plan: NullPlan, items: unknown[]): unknown[] {
  let copy: unknown[] | undefined;
  items.forEach((item, index) => {
    const next = strip(plan, item);
    if (next !== item) {
      copy ??= [...items];
      copy[index] = next;
    }
  });
  return copy ?? items;
}

/**
 * The variant a value belongs to: the only one of its kind, or among those whose required and
 * discriminator properties fit, the first that declares every key the value holds a non-null value
 * for (a variant whose required keys are a subset of another's fits the other's values too), else the
 * first that fits. Keys holding `null` are left out of that test: strict mode sends them for the
 * properties of the other variants.
 */
function chooseVariant(variants: Variant[], value: unknown): Variant | undefined {
  if (variants.length === 0) return undefined;
  const kind = Array.isArray(value) ? 'array' : isRecord(value) ? 'object' : undefined;
  const candidates = variants.filter((variant) => variant.kind === kind);
  if (candidates.length <= 1 || !isRecord(value)) return candidates[0];
  const fitting = candidates.filter(
    (variant) =>
      variant.required.every((name) => Object.hasOwn(value, name)) &&
      variant.discriminators.every(([name, values]) => values.includes(value[name])),
  );
  if (fitting.length <= 1) return fitting[0];
  const given = Object.keys(value).filter((name) => value[name] !== null);
  return fitting.find((variant) => given.every((name) => variant.declared.includes(name))) ?? fitting[0];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
