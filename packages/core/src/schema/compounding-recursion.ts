import type { JSONSchema } from '../catalog/types.js';
import { isSchemaObject, SUBSCHEMA_MAP_KEYWORDS } from './subschemas.js';

/**
 * Which entries of an object or array a subschema is applied to, relative to the value its schema
 * checks. Two labels overlap when some entry is in both.
 */
type Label =
  /** `properties[name]` */
  | { kind: 'key'; name: string }
  /** `patternProperties[source]` */
  | { kind: 'pattern'; source: string }
  /** `additionalProperties`: the keys that are neither in `names` nor match a pattern of `patterns` */
  | { kind: 'otherKeys'; names: ReadonlySet<string>; patterns: readonly string[] }
  /** `unevaluatedProperties` (any key, to be safe: a failed variant's keys are unevaluated) */
  | { kind: 'anyKey' }
  /** `propertyNames`: the keys themselves, as strings */
  | { kind: 'name' }
  /** `prefixItems[at]` (draft-07 `items[at]`) */
  | { kind: 'index'; at: number }
  /** `items` past `prefixItems` (draft-07 `additionalItems`) */
  | { kind: 'indexFrom'; from: number }
  /** `contains`, `unevaluatedItems` */
  | { kind: 'anyIndex' };

const OBJECT_LABELS = new Set(['key', 'pattern', 'otherKeys', 'anyKey']);
const ARRAY_LABELS = new Set(['index', 'indexFrom', 'anyIndex']);

/** Keywords that apply their subschema(s) to the value itself (in place). */
const IN_PLACE_SINGLE = ['not', 'if', 'then', 'else'];
const IN_PLACE_LISTS = ['allOf', 'anyOf', 'oneOf'];
const IN_PLACE_MAPS = ['dependentSchemas', 'dependencies'];

/**
 * The most schema objects the classification walks, and the most pairs of evaluations it looks at:
 * past them a schema is judged costly (checked off the main thread). Documents compiled on the main
 * thread have at most 48 subschemas (`OFF_THREAD_SUBSCHEMAS`), far below these.
 */
const MAX_NODES = 512;
const MAX_PAIR_STEPS = 100_000;

/** A schema object of the document and what it applies where. */
interface Node {
  schema: JSONSchema;
  /** Schema objects applied to the same value (`allOf`, `$ref`, `if`…). */
  inPlace: number[];
  /** Schema objects applied to entries of the value. */
  children: { label: Label; target: number }[];
  /** The nearest schema object at or above it with an `$id` (a base for its references). */
  resource: number;
}

/** A way to step from an evaluation to one of an entry: a child edge, reached by one ε-path or more. */
interface Step {
  /** The edge (node and its child index), the same for two evaluations that did not part. */
  edge: string;
  label: Label;
  target: number;
  /** Whether two ways to the edge part in place (an `allOf` of two `$ref`s to it): the step happens twice. */
  twice: boolean;
}

/**
 * Whether checking a value against `schema` can cost more than linear in the value: some part of
 * the value can be evaluated against the schema along two different ways that both go on recursing
 * into the same entries below it. Each level of nesting then doubles the work (or multiplies it by
 * the depth, level after level): a recursive `anyOf`/`oneOf` two of whose variants recurse into the
 * same items (`[{ type: 'array', items: { $ref: '#/$defs/n' }, maxItems: 0 }, { type: 'array',
 * items: { $ref: '#/$defs/n' } }]`: 20 levels of `[[…]]` held the event loop for 0.2 s, 30 for
 * minutes), an `allOf`, `if`/`then`/`else`, `not` or `dependentSchemas` beside a recursing keyword,
 * `contains` beside `items`, `unevaluatedItems`/`unevaluatedProperties` over recursion. Ajv with
 * `allErrors` tries every variant and keyword; without it a variant that fails only below its items
 * does the same, so the setting does not change the class.
 *
 * The schema is read as an automaton over the value's paths: its schema objects are states,
 * in-place keywords (and `$ref`, `$dynamicRef`) are ε-moves, keywords that apply a subschema to
 * entries are moves labelled by the entries they apply to (a property's name, an index, any key…).
 * The cost of a check is the number of runs over the value's paths, and that number grows without
 * bound with the depth (exponentially or as a power of it) only where two runs that parted can go
 * on together over a cycle: that is what is looked for, in the product of the automaton with
 * itself. Conservative: labels overlap unless plainly disjoint (a pattern tested only where RE2 can
 * run it), a `$dynamicRef` goes to every `$dynamicAnchor` of its name, a reference not resolved
 * here, a cycle of in-place moves, or a schema past the walk's limits counts as costly. Ordinary
 * recursion (a tree whose nodes have one recursing keyword per entry, a union whose variants
 * recurse into different kinds or keys) does not.
 *
 * @param keyMatches whether a `patternProperties` pattern matches a key: `undefined` when that cannot
 * be told cheaply (the pattern and the key then count as overlapping).
 */
export function compoundsWithDepth(
  schema: JSONSchema,
  keyMatches: (pattern: string, key: string) => boolean | undefined = () => undefined,
): boolean {
  const graph = schemaGraph(schema);
  if (graph === undefined) return true;
  // without recursion every part of the value meets each schema object a bounded number of times
  const moves = new Map(
    graph.map((node, id) => [id, [...node.inPlace, ...node.children.map(({ target }) => target)]]),
  );
  if (!hasCycle(moves)) return false;
  const steps = stepsOf(graph);
  if (steps === undefined) return true;
  return partedRunsCycle(steps, (a, b) => overlaps(a, b, keyMatches));
}

/** The document's schema objects, with their moves; `undefined` where a reference is not resolved here. */
function schemaGraph(root: JSONSchema): Node[] | undefined {
  const nodes: Node[] = [];
  const ids = new Map<JSONSchema, number>();
  const byId = new Map<string, number[]>();
  const anchors = new Map<string, number[]>();
  const dynamicAnchors = new Map<string, number[]>();
  const add = (map: Map<string, number[]>, key: unknown, id: number) => {
    if (typeof key !== 'string') return;
    const list = map.get(key) ?? [];
    list.push(id);
    map.set(key, list);
  };
  const idOf = (schema: JSONSchema, resource: number): number | undefined => {
    const known = ids.get(schema);
    if (known !== undefined) return known;
    if (nodes.length >= MAX_NODES) return undefined;
    const id = nodes.length;
    ids.set(schema, id);
    const own = typeof schema.$id === 'string' && id > 0 ? id : resource;
    nodes.push({ schema, inPlace: [], children: [], resource: id === 0 ? 0 : own });
    add(byId, schema.$id, id);
    add(anchors, schema.$anchor, id);
    add(anchors, schema.$dynamicAnchor, id);
    add(dynamicAnchors, schema.$dynamicAnchor, id);
    return id;
  };
  // first every schema object (so references resolve), then their moves
  const stack: { schema: JSONSchema; resource: number }[] = [{ schema: root, resource: 0 }];
  const order: number[] = [];
  while (stack.length > 0) {
    const { schema, resource } = stack.pop()!;
    if (ids.has(schema)) continue;
    const id = idOf(schema, resource);
    if (id === undefined) return undefined;
    order.push(id);
    const base = nodes[id]!.resource;
    for (const child of subschemaObjects(schema)) stack.push({ schema: child, resource: base });
  }
  for (const id of order) {
    const node = nodes[id]!;
    const { schema } = node;
    const target = (value: unknown) => (isSchemaObject(value) ? ids.get(value) : undefined);
    const inPlace = (value: unknown) => {
      const found = target(value);
      if (found !== undefined) node.inPlace.push(found);
    };
    const child = (label: Label, value: unknown) => {
      const found = target(value);
      if (found !== undefined) node.children.push({ label, target: found });
    };
    for (const keyword of IN_PLACE_SINGLE) inPlace(schema[keyword]);
    for (const keyword of IN_PLACE_LISTS) {
      const list = schema[keyword];
      if (Array.isArray(list)) for (const item of list) inPlace(item);
    }
    for (const keyword of IN_PLACE_MAPS) {
      const map = schema[keyword];
      if (isSchemaObject(map)) for (const name of Object.keys(map)) inPlace(map[name]);
    }
    for (const keyword of ['$ref', '$dynamicRef'] as const) {
      const reference = schema[keyword];
      if (reference === undefined) continue;
      if (typeof reference !== 'string') return undefined;
      const targets = resolved(reference, node.resource, { nodes, ids, byId, anchors });
      if (targets === undefined) return undefined;
      if (keyword === '$dynamicRef') {
        const fragment = reference.slice(reference.indexOf('#') + 1);
        targets.push(...(dynamicAnchors.get(fragment) ?? []));
      }
      // one of them at a time: the reference is followed once
      node.inPlace.push(...new Set(targets));
    }
    const properties = isSchemaObject(schema.properties) ? schema.properties : {};
    const patterns = isSchemaObject(schema.patternProperties) ? schema.patternProperties : {};
    for (const name of Object.keys(properties)) child({ kind: 'key', name }, properties[name]);
    for (const source of Object.keys(patterns)) child({ kind: 'pattern', source }, patterns[source]);
    child(
      { kind: 'otherKeys', names: new Set(Object.keys(properties)), patterns: Object.keys(patterns) },
      schema.additionalProperties,
    );
    child({ kind: 'anyKey' }, schema.unevaluatedProperties);
    child({ kind: 'name' }, schema.propertyNames);
    // draft 2020-12 `prefixItems` + `items`, or draft-07 `items: [...]` + `additionalItems`
    const tuple = Array.isArray(schema.prefixItems)
      ? schema.prefixItems
      : Array.isArray(schema.items)
        ? schema.items
        : [];
    for (const [at, item] of tuple.entries()) child({ kind: 'index', at }, item);
    const rest = Array.isArray(schema.items) ? schema.additionalItems : schema.items;
    child({ kind: 'indexFrom', from: tuple.length }, rest);
    if (Array.isArray(schema.prefixItems))
      child({ kind: 'indexFrom', from: tuple.length }, schema.additionalItems);
    child({ kind: 'anyIndex' }, schema.contains);
    child({ kind: 'anyIndex' }, schema.unevaluatedItems);
  }
  return nodes;
}

/** Every schema object directly under `schema` (applied or only defined), for the walk. */
function subschemaObjects(schema: JSONSchema): JSONSchema[] {
  const found: JSONSchema[] = [];
  for (const keyword of Object.keys(schema)) {
    if (keyword === 'enum' || keyword === 'const' || keyword === 'default' || keyword === 'examples')
      continue;
    const value = schema[keyword];
    if (Array.isArray(value)) {
      for (const item of value) if (isSchemaObject(item)) found.push(item);
    } else if (isSchemaObject(value)) {
      if (SUBSCHEMA_MAP_KEYWORDS.has(keyword)) {
        for (const name of Object.keys(value)) if (isSchemaObject(value[name])) found.push(value[name]);
      } else found.push(value);
    }
  }
  return found;
}

/**
 * The schema objects a reference may point to: a JSON Pointer from the document and from the
 * resource (`$id`) it is in, an anchor, or an `$id`, then a fragment from there; `undefined` when
 * Ajv may resolve it in a way not followed here.
 */
function resolved(
  reference: string,
  resource: number,
  {
    nodes,
    ids,
    byId,
    anchors,
  }: {
    nodes: readonly Node[];
    ids: ReadonlyMap<JSONSchema, number>;
    byId: ReadonlyMap<string, number[]>;
    anchors: ReadonlyMap<string, number[]>;
  },
): number[] | undefined {
  const hash = reference.indexOf('#');
  const document = hash === -1 ? reference : reference.slice(0, hash);
  const fragment = hash === -1 ? '' : reference.slice(hash + 1);
  let bases: number[];
  if (document === '') bases = [...new Set([0, resource])];
  else {
    bases = [...(byId.get(document) ?? [])];
    for (const [id, list] of byId) if (id.endsWith(`/${document}`)) bases.push(...list);
    if (bases.length === 0) return undefined;
  }
  if (fragment !== '' && !fragment.startsWith('/')) {
    const named = anchors.get(fragment);
    return named === undefined ? undefined : [...named];
  }
  const targets: number[] = [];
  let booleans = false;
  for (const base of bases) {
    const found = pointedValue(nodes[base]!.schema, fragment);
    // a boolean schema applies nothing below it
    if (typeof found === 'boolean') booleans = true;
    const index = isSchemaObject(found) ? ids.get(found) : undefined;
    if (index !== undefined) targets.push(index);
  }
  // a pointer to nothing: Ajv refuses the schema (on the main thread, when it is defined, as
  // before); into a value that is not a schema: not followed here
  const nowhere = bases.every((base) => pointedValue(nodes[base]!.schema, fragment) === undefined);
  return targets.length > 0 || booleans || nowhere ? targets : undefined;
}

/** What a JSON Pointer fragment (`/$defs/node`, or `''`) points to under `base`. */
function pointedValue(base: JSONSchema, fragment: string): unknown {
  if (fragment === '') return base;
  let node: unknown = base;
  for (const raw of fragment.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    } catch {
      return undefined;
    }
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/**
 * Each node's steps to entries, through its in-place moves (an ε-closure that says whether an edge
 * is reached two ways); `undefined` for a cycle of in-place moves (the check would not end).
 */
function stepsOf(nodes: readonly Node[]): Step[][] | undefined {
  // ways to each node's in-place closure, counted up to 2
  const closures: (Map<number, number> | undefined)[] = new Array(nodes.length);
  const visiting = new Set<number>();
  const closure = (start: number): Map<number, number> | undefined => {
    // iterative post-order: a chain of thousands of references keeps to this stack
    const stack: { id: number; next: number }[] = [{ id: start, next: 0 }];
    visiting.add(start);
    while (stack.length > 0) {
      const top = stack.at(-1)!;
      const node = nodes[top.id]!;
      if (top.next < node.inPlace.length) {
        const target = node.inPlace[top.next++]!;
        if (closures[target] !== undefined) continue;
        if (visiting.has(target)) return undefined;
        visiting.add(target);
        stack.push({ id: target, next: 0 });
        continue;
      }
      const ways = new Map<number, number>([[top.id, 1]]);
      for (const target of node.inPlace) {
        for (const [id, count] of closures[target]!) ways.set(id, Math.min(2, (ways.get(id) ?? 0) + count));
      }
      closures[top.id] = ways;
      visiting.delete(top.id);
      stack.pop();
    }
    return closures[start];
  };
  const steps: Step[][] = [];
  for (let id = 0; id < nodes.length; id++) {
    const ways = closures[id] ?? closure(id);
    if (ways === undefined) return undefined;
    const own: Step[] = [];
    for (const [reached, count] of ways) {
      nodes[reached]!.children.forEach(({ label, target }, index) => {
        own.push({ edge: `${reached}:${index}`, label, target, twice: count > 1 });
      });
    }
    steps.push(own);
  }
  return steps;
}

/**
 * Whether two runs from the document's root that parted (at a place of the value where they then
 * stand at different schema objects, or at the same one reached two ways) can go on together over a
 * cycle: the product of the automaton with itself, from (root, root) not parted, looked at for a
 * cycle among parted pairs. Past {@link MAX_PAIR_STEPS} pairs of steps: judged costly.
 */
function partedRunsCycle(steps: readonly Step[][], overlap: (a: Label, b: Label) => boolean): boolean {
  const count = steps.length;
  // a pair of nodes, and whether the runs parted: (a * count + b) * 2 + parted
  const keyOf = (a: number, b: number, parted: boolean) => (a * count + b) * 2 + (parted ? 1 : 0);
  const seen = new Set<number>([keyOf(0, 0, false)]);
  const queue: number[] = [keyOf(0, 0, false)];
  const partedEdges = new Map<number, number[]>();
  let work = 0;
  while (queue.length > 0) {
    const key = queue.pop()!;
    const parted = key % 2 === 1;
    const pair = Math.floor(key / 2);
    const a = Math.floor(pair / count);
    const b = pair % count;
    const next: number[] = [];
    for (const first of steps[a]!) {
      for (const second of steps[b]!) {
        if (++work > MAX_PAIR_STEPS) return true;
        const same = first.edge === second.edge;
        if (!parted) {
          // one run, or two that part here
          if (same) next.push(keyOf(first.target, first.target, false));
          if (same && !first.twice) continue;
        }
        if (!same && !overlap(first.label, second.label)) continue;
        next.push(keyOf(first.target, second.target, true));
      }
    }
    if (parted) partedEdges.set(key, next);
    for (const found of next) {
      if (seen.has(found)) continue;
      seen.add(found);
      queue.push(found);
    }
  }
  return hasCycle(partedEdges);
}

/** Whether a graph (by each node, the nodes it leads to) has a cycle: Kahn's order. */
function hasCycle(edges: ReadonlyMap<number, number[]>): boolean {
  const incoming = new Map<number, number>();
  for (const key of edges.keys()) incoming.set(key, 0);
  for (const targets of edges.values()) {
    for (const target of targets) incoming.set(target, (incoming.get(target) ?? 0) + 1);
  }
  const ready = [...incoming].filter(([, count]) => count === 0).map(([key]) => key);
  let removed = 0;
  while (ready.length > 0) {
    const key = ready.pop()!;
    removed++;
    for (const target of edges.get(key) ?? []) {
      const left = incoming.get(target)! - 1;
      incoming.set(target, left);
      if (left === 0) ready.push(target);
    }
  }
  return removed < incoming.size;
}

/** Whether some entry is in both labels (`true` unless plainly not). */
function overlaps(
  a: Label,
  b: Label,
  keyMatches: (pattern: string, key: string) => boolean | undefined,
): boolean {
  if (a.kind === 'name' || b.kind === 'name') return a.kind === b.kind;
  if (OBJECT_LABELS.has(a.kind) !== OBJECT_LABELS.has(b.kind)) return false;
  if (ARRAY_LABELS.has(a.kind)) return indicesOverlap(a, b);
  if (b.kind === 'key' && a.kind !== 'key') return overlaps(b, a, keyMatches);
  if (a.kind === 'key') {
    if (b.kind === 'key') return a.name === b.name;
    if (b.kind === 'pattern') return keyMatches(b.source, a.name) !== false;
    if (b.kind === 'otherKeys') {
      if (b.names.has(a.name)) return false;
      return !b.patterns.some((pattern) => keyMatches(pattern, a.name) === true);
    }
    return true;
  }
  // `additionalProperties` leaves out the keys its object's patterns match
  if (a.kind === 'pattern' && b.kind === 'otherKeys') return !b.patterns.includes(a.source);
  if (b.kind === 'pattern' && a.kind === 'otherKeys') return !a.patterns.includes(b.source);
  return true;
}

function indicesOverlap(a: Label, b: Label): boolean {
  if (a.kind === 'index' && b.kind === 'index') return a.at === b.at;
  if (a.kind === 'index' && b.kind === 'indexFrom') return a.at >= b.from;
  if (b.kind === 'index' && a.kind === 'indexFrom') return b.at >= a.from;
  return true;
}
