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

/** Keywords that apply their subschema(s) to the value itself (in place); `if`/`then`/`else` apart. */
const IN_PLACE_SINGLE = ['not'];
const IN_PLACE_LISTS = ['allOf', 'anyOf', 'oneOf'];
const IN_PLACE_MAPS = ['dependentSchemas', 'dependencies'];

/**
 * The most schema objects the classification walks, and the most steps of its search for runs:
 * past them a schema is judged costly (checked off the main thread). Documents compiled on the main
 * thread have at most 48 subschemas (`OFF_THREAD_SUBSCHEMAS`), far below these.
 */
const MAX_NODES = 512;
const MAX_STEPS = 100_000;

/** A schema object of the document and what it applies where. */
interface Node {
  schema: JSONSchema;
  /** Schema objects applied to the same value (`allOf`, `$ref`, `if`…). */
  inPlace: number[];
  /**
   * The places in `inPlace` of `then` and `else`, when both are there: one evaluation of the node
   * applies one of them, never both.
   */
  branches?: [number, number];
  /** Schema objects applied to entries of the value. */
  children: { label: Label; target: number }[];
  /** The nearest schema object at or above it with an `$id` (a base for its references). */
  resource: number;
}

/** A way to step from an evaluation to one of an entry: a child edge, reached by one ε-path or more. */
interface Step {
  /** The edge (a number for each node's child), the same for two evaluations that did not part. */
  edge: number;
  label: Label;
  target: number;
}

/** What one evaluation of a node evaluates in place (through its ε-paths), and where it steps. */
interface Closure {
  /** The edges it steps along. */
  reach: Set<number>;
  /**
   * The pairs of edges (see {@link pairKey}) one evaluation steps along by two different ε-paths:
   * two edges, or one edge twice (an `allOf` of two `$ref`s to it). Not an edge under `then` with
   * one under the same node's `else`.
   */
  pairs: Set<number>;
  /**
   * How many times it evaluates each schema object in place, counted up to the bound of
   * {@link evaluationsPastBound}: one map for each choice of `then` or `else` of the nodes on the
   * way (past {@link MAX_CHOICES} of them, one map of the most of each).
   */
  counts: Map<number, number>[];
}

/**
 * Whether checking a value against `schema` can cost more than linear in the value: some place of
 * a value can be evaluated more times than a bound, as when the evaluations of a place each go on
 * recursing into the same entries below it. Each level of nesting then doubles the work (or adds to
 * it, level after level): a recursive `anyOf`/`oneOf` two of whose variants recurse into the same
 * items (`[{ type: 'array', items: { $ref: '#/$defs/n' }, maxItems: 0 }, { type: 'array', items: {
 * $ref: '#/$defs/n' } }]`: 20 levels of `[[…]]` held the event loop for 0.2 s, 30 for minutes), an
 * `allOf`, `if` and `then`, `not` or `dependentSchemas` beside a recursing keyword, `contains`
 * beside `items`, `unevaluatedItems`/`unevaluatedProperties` over recursion. Or references
 * repeated at one place multiply, recursive or not: each definition an `allOf` of two `$ref`s to
 * the next, 2^levels evaluations of the last (1,000 invalid items against ten levels held the loop
 * 0.8–1.7 s). Ajv with `allErrors` tries every variant and keyword (a variant whose `const` fails
 * still checks its other properties); without it a variant that fails only below its items does
 * the same, so the setting does not change the class.
 *
 * The schema is read as an automaton over the value's paths: its schema objects are states,
 * in-place keywords (and `$ref`, `$dynamicRef`) are ε-moves, keywords that apply a subschema to
 * entries are moves labelled by the entries they apply to (a property's name, an index, any key…).
 * The cost of a check is the number of runs over the value's places. The runs that can stand at
 * one place are followed from the root down (see {@link evaluationsPastBound}): past a bound, the
 * schema is costly (references repeated at one place). And two runs that parted can go on together
 * over a cycle, which makes their number grow with the depth (exponentially or as a power of it) or
 * multiplies the whole tree below (a union whose variants share a recursive definition: 3,300
 * invalid entries under six variants held the event loop 50 ms in one call): that is looked for in
 * the product of the automaton with itself (see {@link partedRunsCycle}). Conservative: labels overlap unless plainly disjoint (a
 * pattern tested only where RE2 can run it), a `$dynamicRef` goes to every `$dynamicAnchor` of its
 * name, a reference not resolved here, a cycle of in-place moves, or a schema past the walk's limits
 * counts as costly. `then` and `else` are one or the other, as Ajv applies them, and `if` counts
 * only beside one of them.
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
  // without recursion every part of the value meets each schema object a bounded number of times:
  // no pairs of runs to follow over a cycle
  const moves = new Map(
    graph.map((node, id) => [id, [...node.inPlace, ...node.children.map(({ target }) => target)]]),
  );
  const recursive = hasCycle(moves);
  // a tree of schema objects (no two moves to one): each evaluated once at most, wherever
  const targets = [...moves.values()].flat();
  if (!recursive && new Set(targets).size === targets.length) return false;
  const closures = closuresOf(graph, evaluationBound(graph) + 1, recursive);
  if (closures === undefined) return true;
  const overlap = (a: Label, b: Label) => overlaps(a, b, keyMatches);
  if (evaluationsPastBound(graph, closures, overlap)) return true;
  return recursive && partedRunsCycle(graph, closures, overlap);
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
    // Ajv runs `if` only beside `then` or `else`, then one of them; neither without `if`
    if (schema.if !== undefined && (schema.then !== undefined || schema.else !== undefined)) {
      inPlace(schema.if);
      const thenAt = node.inPlace.length;
      inPlace(schema.then);
      const elseAt = node.inPlace.length;
      inPlace(schema.else);
      if (elseAt > thenAt && node.inPlace.length > elseAt) node.branches = [thenAt, elseAt];
    }
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

/** The key of a pair of edges, in either order. */
function pairKey(a: number, b: number): number {
  return a <= b ? (b * (b + 1)) / 2 + a : (a * (a + 1)) / 2 + b;
}

/**
 * Each node's {@link Closure}, through its in-place moves (its `pairs` left empty unless
 * `withPairs`); `undefined` for a cycle of in-place moves (the check would not end), or past
 * {@link MAX_STEPS} pairs of edges (judged costly).
 */
function closuresOf(nodes: readonly Node[], bound: number, withPairs: boolean): Closure[] | undefined {
  const edges: number[][] = [];
  let edge = 0;
  for (const node of nodes) edges.push(node.children.map(() => edge++));
  const closures: (Closure | undefined)[] = new Array(nodes.length);
  const visiting = new Set<number>();
  let work = 0;
  // two edges one evaluation steps along; false past the steps allowed
  const paired = (pairs: Set<number>, from: Iterable<number>, to: Iterable<number>) => {
    if (!withPairs) return true;
    for (const a of from) {
      for (const b of to) {
        pairs.add(pairKey(a, b));
        if (++work > MAX_STEPS) return false;
      }
    }
    return true;
  };
  const close = (id: number): boolean => {
    const node = nodes[id]!;
    const own = edges[id]!;
    const reach = new Set(own);
    const pairs = new Set<number>();
    for (const [index, first] of own.entries())
      if (!paired(pairs, [first], own.slice(index + 1))) return false;
    const moved = node.inPlace.map((target) => closures[target]!);
    for (const [index, closure] of moved.entries()) {
      for (const reached of closure.reach) reach.add(reached);
      for (const key of closure.pairs) pairs.add(key);
      if (!paired(pairs, own, closure.reach)) return false;
      // two moves of one evaluation, but not its `then` and its `else`
      for (let later = index + 1; later < moved.length; later++) {
        if (node.branches?.[0] === index && node.branches[1] === later) continue;
        if (!paired(pairs, closure.reach, moved[later]!.reach)) return false;
      }
    }
    let counts = [new Map<number, number>([[id, 1]])];
    // each choice so far with each of a move's
    const add = (choices: Map<number, number>[]) => {
      counts = choices.flatMap((choice) => counts.map((sum) => summed(sum, choice, bound)));
      if (counts.length > MAX_CHOICES) counts = [mostOf(counts)];
    };
    node.inPlace.forEach((target, index) => {
      if (!node.branches?.includes(index)) add(closures[target]!.counts);
    });
    // one of `then` and `else`
    if (node.branches) add(node.branches.flatMap((index) => closures[node.inPlace[index]!]!.counts));
    closures[id] = { reach, pairs, counts };
    return true;
  };
  for (let start = 0; start < nodes.length; start++) {
    if (closures[start] !== undefined) continue;
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
      if (!close(top.id)) return undefined;
      visiting.delete(top.id);
      stack.pop();
    }
  }
  return closures as Closure[];
}

/** The most choices of `then` or `else` followed apart in one closure, or one set of runs. */
const MAX_CHOICES = 16;

/** Counts added, each up to `bound`. */
function summed(a: Map<number, number>, b: Map<number, number>, bound: number): Map<number, number> {
  const sum = new Map(a);
  for (const [at, count] of b) sum.set(at, Math.min(bound, (sum.get(at) ?? 0) + count));
  return sum;
}

/** The most of each count over `choices` (as if each choice were made at once: more than any is). */
function mostOf(choices: readonly Map<number, number>[]): Map<number, number> {
  const most = new Map<number, number>();
  for (const choice of choices) {
    for (const [at, count] of choice) most.set(at, Math.max(count, most.get(at) ?? 0));
  }
  return most;
}

/**
 * How many evaluations of one place of the value are too many: twice the document's schema objects
 * (at least 32). Without a schema object applied twice to one place (two references to it there,
 * or two overlapping keywords leading to it), each is evaluated at most once per place; past twice
 * their number, references repeated at one place multiply level after level (an `allOf` of two
 * `$ref`s to a definition whose `allOf` has two `$ref`s to the next…: 2^levels).
 */
function evaluationBound(nodes: readonly Node[]): number {
  return Math.max(2 * nodes.length, 32);
}

/**
 * Whether some place of some value is evaluated more than {@link evaluationBound} times: the runs
 * that can stand at one place, from the root down, a set of them (each node with how many runs
 * stand at it) at a time. From a set, each entry a keyword applies its subschema to leads to the
 * runs of the keywords whose entries hold it: one entry of each kind ({@link entryKinds}) is
 * followed. A set met again is not followed again, and runs that multiply reach the bound. Past
 * {@link MAX_STEPS} steps: judged costly.
 */
function evaluationsPastBound(
  nodes: readonly Node[],
  closures: readonly Closure[],
  overlap: (a: Label, b: Label) => boolean,
): boolean {
  const bound = evaluationBound(nodes);
  const keyOf = (runs: Map<number, number>) =>
    [...runs]
      .sort(([a], [b]) => a - b)
      .map(([id, count]) => `${id}*${count}`)
      .join(' ');
  const start = new Map([[0, 1]]);
  const seen = new Set([keyOf(start)]);
  const stack = [start];
  let work = 0;
  while (stack.length > 0) {
    const runs = stack.pop()!;
    // the runs at each node make one choice of `then` or `else` on their way (they are alike)
    type Choice = { runsAt: number; counts: Map<number, number> }[];
    let choices: Choice[] = [[]];
    for (const [id, runsAt] of runs) {
      const own = closures[id]!.counts;
      choices = choices.flatMap((choice) => own.map((counts) => [...choice, { runsAt, counts }]));
      if (choices.length > MAX_CHOICES) {
        choices = [[...runs].map(([id, runsAt]) => ({ runsAt, counts: mostOf(closures[id]!.counts) }))];
      }
    }
    for (const choice of choices) {
      let evaluations = 0;
      const arriving: Arrival[] = [];
      for (const { runsAt, counts } of choice) {
        for (const [evaluated, times] of counts) {
          const count = runsAt * times;
          evaluations += count;
          if (evaluations > bound) return true;
          for (const { label, target } of nodes[evaluated]!.children) arriving.push({ label, target, count });
        }
      }
      // which arrivals an entry may be under: a key's own, or those of keywords over other keys too
      const keyed = new Map<string, Arrival[]>();
      const unkeyed: Arrival[] = [];
      const indexed: Arrival[] = [];
      const named: Arrival[] = [];
      for (const arrival of arriving) {
        const { label } = arrival;
        if (label.kind === 'key') {
          const under = keyed.get(label.name);
          if (under) under.push(arrival);
          else keyed.set(label.name, [arrival]);
        } else if (label.kind === 'name') named.push(arrival);
        else if (ARRAY_LABELS.has(label.kind)) indexed.push(arrival);
        else unkeyed.push(arrival);
      }
      for (const entry of entryKinds(keyed.keys(), unkeyed, indexed, named)) {
        const candidates =
          entry.kind === 'key'
            ? [...keyed.get(entry.name)!, ...unkeyed]
            : entry.kind === 'name'
              ? named
              : ARRAY_LABELS.has(entry.kind)
                ? indexed
                : unkeyed;
        const next = new Map<number, number>();
        for (const { label, target, count } of candidates) {
          if (++work > MAX_STEPS) return true;
          if (!overlap(entry, label)) continue;
          next.set(target, Math.min(bound + 1, (next.get(target) ?? 0) + count));
        }
        if (next.size === 0) continue;
        const key = keyOf(next);
        if (seen.has(key)) continue;
        seen.add(key);
        stack.push(next);
      }
    }
  }
  return false;
}

/**
 * Whether two runs from the document's root that parted (at a place of the value where they then
 * stand at different schema objects, or at the same one reached two ways) can go on together over a
 * cycle: the product of the automaton with itself, from (root, root) not parted, looked at for a
 * cycle among parted pairs. Two runs that part in one evaluation's `then` and `else` do not. Past
 * {@link MAX_STEPS} pairs of steps: judged costly.
 */
function partedRunsCycle(
  nodes: readonly Node[],
  closures: readonly Closure[],
  overlap: (a: Label, b: Label) => boolean,
): boolean {
  const count = nodes.length;
  // each node's steps: the edges its evaluation reaches in place (numbered as in `closuresOf`)
  const byEdge: Step[] = nodes
    .flatMap((node) => node.children)
    .map(({ label, target }, edge) => ({ edge, label, target }));
  const steps = closures.map((closure) => [...closure.reach].map((edge) => byEdge[edge]!));
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
        if (++work > MAX_STEPS) return true;
        const same = first.edge === second.edge;
        // one run, or two that part here (by two ε-paths of one evaluation)
        if (!parted) {
          if (same) next.push(keyOf(first.target, first.target, false));
          if (!closures[a]!.pairs.has(pairKey(first.edge, second.edge))) continue;
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
function hasCycle<Key>(edges: ReadonlyMap<Key, Key[]>): boolean {
  const incoming = new Map<Key, number>();
  for (const [key, targets] of edges) {
    if (!incoming.has(key)) incoming.set(key, 0);
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

/** Runs arriving at an entry by a keyword's move: its label, where they stand, how many. */
interface Arrival {
  label: Label;
  target: number;
  count: number;
}

/**
 * One entry of each kind the arrivals' labels tell apart, as a label of that one entry: each named
 * key (in `keys`), a key of each pattern and one named by none and matching no pattern (`unkeyed`
 * then holds every arrival it may be under), the names themselves, each index the labels name and
 * one past them all.
 */
function entryKinds(
  keys: Iterable<string>,
  unkeyed: readonly Arrival[],
  indexed: readonly Arrival[],
  named: readonly Arrival[],
): Label[] {
  const kinds: Label[] = [];
  const names = new Set(keys);
  for (const name of names) kinds.push({ kind: 'key', name });
  const patterns = new Set<string>();
  for (const { label } of unkeyed) if (label.kind === 'pattern') patterns.add(label.source);
  if (unkeyed.length > 0) {
    for (const source of patterns) kinds.push({ kind: 'pattern', source });
    kinds.push({ kind: 'otherKeys', names, patterns: [...patterns] });
  }
  if (named.length > 0) kinds.push({ kind: 'name' });
  const indices = new Set<number>();
  for (const { label } of indexed) {
    if (label.kind === 'index') indices.add(label.at);
    else if (label.kind === 'indexFrom') indices.add(label.from);
  }
  for (const at of indices) kinds.push({ kind: 'index', at });
  if (indexed.length > 0) kinds.push({ kind: 'index', at: Number.MAX_SAFE_INTEGER });
  return kinds;
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
