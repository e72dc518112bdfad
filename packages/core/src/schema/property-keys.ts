import type { JSONSchema } from '../catalog/types.js';
import type { ToolSpec } from '../provider.js';
import { isPlainObject, setOwn } from '../util/own-key.js';
import { isSchemaObject } from './subschemas.js';

/**
 * What a model API takes as a property key of a tool's schema, and how to make one of a key it does
 * not take.
 */
export interface PropertyKeyRule {
  /** Whether the API takes `key` as it is. */
  valid(key: string): boolean;
  /** A key the API takes made of `key` (its invalid characters replaced), at most `maxLength` long. */
  fix(key: string): string;
  /** The longest key the API takes. */
  maxLength: number;
  /** Whether keys of nested objects are held to the rule too, or only the parameters at the root. */
  nested: boolean;
  /**
   * A stricter rule for the keys at the root (the tool's parameters), whose `fix` makes keys `valid`
   * takes too; without it the root's keys are held to the rule as the others are.
   */
  root?: Pick<PropertyKeyRule, 'valid' | 'fix'>;
}

/**
 * Property keys renamed for a model API, for one object of the arguments and the objects below it:
 * what `renamePropertyKeys` hands out in place of each key the API refuses, and how
 * `restorePropertyKeys` reads the model's arguments back.
 */
export interface PropertyKeyRenames {
  /** The key handed out, by the tool's own key (only the renamed ones). */
  readonly out: ReadonlyMap<string, string>;
  /** The tool's own key, by the key handed out. */
  readonly back: ReadonlyMap<string, string>;
  /** The renames of the objects below, by the tool's own key of the property holding them. */
  readonly children: ReadonlyMap<string, PropertyKeyRenames>;
  /** The renames of the objects in the items of an array here. */
  readonly items: PropertyKeyRenames | undefined;
}

/** The keywords whose subschemas describe the value at the same place (its variants, conditions). */
const SAME_PLACE = ['anyOf', 'oneOf', 'allOf'];
const SAME_PLACE_ONE = ['not', 'if', 'then', 'else'];

/** Every property key declared at one place of the arguments (by all variants), and the places below. */
class KeyPlace {
  readonly keys = new Set<string>();
  readonly children = new Map<string, KeyPlace>();
  items: KeyPlace | undefined;

  child(key: string): KeyPlace {
    let place = this.children.get(key);
    if (!place) {
      place = new KeyPlace();
      this.children.set(key, place);
    }
    return place;
  }
}

/**
 * The renames that give every property key of `schemas` (the schemas of one tool a provider may hand
 * out: they are read back alike) a form `rule` takes, or `undefined` when every key is taken already.
 *
 * Keys are collected per place of the arguments (the root object, the object under a property, the
 * items of an array), over every variant there (`anyOf`, `oneOf`, `allOf`, conditions), so one key
 * is renamed alike wherever it is declared at that place. A key the rule refuses gets
 * `rule.fix(key)`, or, when another key of the place has that form already, the form with `_2`
 * (`_3`…) at the end: renamed keys never meet each other or a key kept as it is. The result depends
 * only on the keys and their order, so a tool is renamed alike each time. Objects under
 * `additionalProperties`/`patternProperties` have keys the model chooses; the properties their
 * schemas declare are not renamed.
 */
export function planPropertyKeyRenames(
  schemas: readonly (JSONSchema | undefined)[],
  rule: PropertyKeyRule,
): PropertyKeyRenames | undefined {
  const root = new KeyPlace();
  for (const schema of schemas) if (schema) collectKeys(schema, root, rule.nested);
  return renamesOf(root, rule, rule.root ?? rule);
}

/**
 * {@link planPropertyKeyRenames} of a tool's schemas (non-strict and strict, read back alike) by
 * `rule`, computed once per spec.
 */
export function specKeyRenames(rule: PropertyKeyRule): (spec: ToolSpec) => PropertyKeyRenames | undefined {
  const cache = new WeakMap<ToolSpec, { renames: PropertyKeyRenames | undefined }>();
  return (spec) => {
    let entry = cache.get(spec);
    if (!entry) {
      entry = { renames: planPropertyKeyRenames([spec.inputSchema, spec.strictInputSchema], rule) };
      cache.set(spec, entry);
    }
    return entry.renames;
  };
}

function collectKeys(schema: unknown, place: KeyPlace, nested: boolean): void {
  if (!isSchemaObject(schema)) return;
  if (isSchemaObject(schema.properties)) {
    for (const [key, property] of Object.entries(schema.properties)) {
      place.keys.add(key);
      if (nested) collectKeys(property, place.child(key), nested);
    }
  }
  for (const keyword of SAME_PLACE) {
    const variants = schema[keyword];
    if (Array.isArray(variants)) for (const variant of variants) collectKeys(variant, place, nested);
  }
  for (const keyword of SAME_PLACE_ONE) collectKeys(schema[keyword], place, nested);
  if (!nested) return;
  const items = [
    ...(Array.isArray(schema.prefixItems) ? schema.prefixItems : []),
    ...(Array.isArray(schema.items) ? schema.items : [schema.items]),
  ].filter(isSchemaObject);
  if (items.length > 0) {
    place.items ??= new KeyPlace();
    for (const item of items) collectKeys(item, place.items, nested);
  }
}

function renamesOf(
  place: KeyPlace,
  rule: PropertyKeyRule,
  here: Pick<PropertyKeyRule, 'valid' | 'fix'> = rule,
): PropertyKeyRenames | undefined {
  const out = new Map<string, string>();
  const back = new Map<string, string>();
  const taken = new Set(place.keys);
  /** The next suffix to try for each fixed form, so that many keys of one form stay linear. */
  const next = new Map<string, number>();
  for (const key of place.keys) {
    if (here.valid(key)) continue;
    const base = here.fix(key);
    let name = base;
    let count = next.get(base) ?? 2;
    while (taken.has(name)) {
      const suffix = `_${count++}`;
      name = `${base.slice(0, rule.maxLength - suffix.length)}${suffix}`;
    }
    next.set(base, count);
    taken.add(name);
    out.set(key, name);
    back.set(name, key);
  }
  const children = new Map<string, PropertyKeyRenames>();
  for (const [key, child] of place.children) {
    const renames = renamesOf(child, rule);
    if (renames) children.set(key, renames);
  }
  const items = place.items ? renamesOf(place.items, rule) : undefined;
  if (out.size === 0 && children.size === 0 && !items) return undefined;
  return { out, back, children, items };
}

/**
 * `schema` with the property keys of `renames` handed out in their new form (in `properties` and
 * `required`), each renamed property saying in its description which key of the tool it stands for.
 * Never mutates `schema`; a schema without renames is returned as it is.
 */
export function renamePropertyKeys(schema: JSONSchema, renames: PropertyKeyRenames | undefined): JSONSchema {
  if (!renames) return schema;
  return renameIn(schema, renames) as JSONSchema;
}

function renameIn(schema: unknown, renames: PropertyKeyRenames): unknown {
  if (!isSchemaObject(schema)) return schema;
  const out: JSONSchema = { ...schema };
  if (isSchemaObject(schema.properties)) {
    const properties: JSONSchema = {};
    for (const [key, property] of Object.entries(schema.properties)) {
      const child = renames.children.get(key);
      let shaped = child ? renameIn(property, child) : property;
      const name = renames.out.get(key);
      if (name !== undefined) shaped = describedAs(shaped, key);
      setOwn(properties, name ?? key, shaped);
    }
    out.properties = properties;
  }
  if (Array.isArray(schema.required)) {
    out.required = schema.required.map((key) =>
      typeof key === 'string' ? (renames.out.get(key) ?? key) : key,
    );
  }
  for (const keyword of SAME_PLACE) {
    const variants = schema[keyword];
    if (Array.isArray(variants)) out[keyword] = variants.map((variant) => renameIn(variant, renames));
  }
  for (const keyword of SAME_PLACE_ONE) {
    if (keyword in schema) out[keyword] = renameIn(schema[keyword], renames);
  }
  const items = renames.items;
  if (items) {
    if (Array.isArray(schema.prefixItems))
      out.prefixItems = schema.prefixItems.map((item) => renameIn(item, items));
    if (Array.isArray(schema.items)) out.items = schema.items.map((item) => renameIn(item, items));
    else if ('items' in schema) out.items = renameIn(schema.items, items);
  }
  return out;
}

/** A renamed property's schema, its description saying the tool's own key. */
function describedAs(property: unknown, key: string): unknown {
  // `false` takes no value: there is nothing to describe
  if (property === false) return property;
  const schema: JSONSchema = isSchemaObject(property) ? property : {};
  const note = `The tool's own name for this parameter: ${JSON.stringify(key)}.`;
  const description =
    typeof schema.description === 'string' && schema.description !== ''
      ? `${schema.description}\n\n${note}`
      : note;
  return { ...schema, description };
}

/**
 * The model's arguments with the keys `renamePropertyKeys` handed out read back as the tool's own
 * keys, at every place `renames` covers; any other key is kept as it is. Never mutates `args`, and
 * returns `args` itself when nothing was renamed in it.
 */
export function restorePropertyKeys(args: unknown, renames: PropertyKeyRenames | undefined): unknown {
  if (!renames) return args;
  return restoreIn(args, renames);
}

function restoreIn(value: unknown, renames: PropertyKeyRenames): unknown {
  if (Array.isArray(value)) {
    const items = renames.items;
    if (!items) return value;
    let changed = false;
    const restored = value.map((item) => {
      const back = restoreIn(item, items);
      if (back !== item) changed = true;
      return back;
    });
    return changed ? restored : value;
  }
  if (!isPlainObject(value)) return value;
  let changed = false;
  const restored: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const handedOut = renames.out.get(key);
    // a key sent both as handed out and as the tool's own: the one handed out wins
    if (handedOut !== undefined && Object.hasOwn(value, handedOut)) {
      changed = true;
      continue;
    }
    const own = renames.back.get(key) ?? key;
    const below = renames.children.get(own);
    const back = below ? restoreIn(child, below) : child;
    if (own !== key || back !== child) changed = true;
    setOwn(restored, own, back);
  }
  return changed ? restored : value;
}
