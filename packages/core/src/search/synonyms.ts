import { tokenize } from './tokenize.js';

/**
 * Groups of words that an agent and a tool author use for the same action or object. A query word
 * from a group also searches the other words of the group, at a lower weight. Hand-written from the
 * verbs and nouns of common tool APIs (CRUD, messaging, files, scheduling). A group is of actions or
 * of things, not both: a word that tools mostly use as a noun (`email`, `order`, `plan`) is not in a
 * verb's group, or "delete an email" would search for "send" and "post" and rank Slack's message
 * tools over Gmail's. An abbreviation is not a synonym but the same word (`repo` is `repository`, at
 * full weight): see `EQUIVALENT_WORDS`.
 */
export const DEFAULT_SYNONYMS: readonly (readonly string[])[] = [
  ['create', 'add', 'new', 'make', 'insert', 'generate'],
  ['delete', 'remove', 'erase', 'destroy', 'trash', 'discard'],
  ['get', 'fetch', 'retrieve', 'read', 'show', 'view', 'display', 'list', 'obtain'],
  ['find', 'search', 'lookup', 'query', 'locate', 'discover', 'look'],
  ['update', 'edit', 'modify', 'change', 'patch', 'alter', 'rename'],
  ['send', 'post', 'deliver', 'dispatch'],
  ['email', 'mail', 'inbox'],
  ['recent', 'latest', 'newest'],
  ['message', 'chat', 'dm'],
  ['start', 'run', 'launch', 'begin', 'trigger', 'execute', 'invoke'],
  ['stop', 'cancel', 'abort', 'terminate', 'halt'],
  ['schedule', 'book', 'reserve'],
  ['meeting', 'appointment', 'event'],
  ['upload', 'attach', 'import'],
  ['download', 'export', 'save'],
  ['buy', 'purchase'],
  ['share', 'publish'],
  ['comment', 'reply', 'respond'],
  ['notify', 'alert', 'remind'],
  ['summarize', 'summary', 'digest'],
  ['analyze', 'analysis', 'analytics', 'evaluate', 'assess', 'inspect'],
  ['calculate', 'compute'],
  ['compare', 'comparison'],
  ['recommend', 'suggest', 'recommendation', 'suggestion'],
  ['follow', 'subscribe', 'watch'],
  ['star', 'favorite', 'bookmark'],
  ['image', 'picture', 'photo'],
  ['document', 'file'],
  ['information', 'details'],
  ['configuration', 'settings'],
  ['directory', 'folder'],
  ['user', 'member', 'person', 'people'],
  ['price', 'cost', 'pricing'],
];

/** Search term → the other terms of its groups, all as stems (see {@link tokenize}). */
export type SynonymMap = ReadonlyMap<string, readonly string[]>;

/** Stems every word of `groups` and maps each stem to the other stems of the groups it is in. */
export function buildSynonymMap(groups: readonly (readonly string[])[]): SynonymMap {
  const synonyms = new Map<string, Set<string>>();
  for (const group of groups) {
    const terms = [...new Set(group.flatMap(tokenize))];
    for (const term of terms) {
      const others = synonyms.get(term) ?? new Set<string>();
      for (const other of terms) if (other !== term) others.add(other);
      synonyms.set(term, others);
    }
  }
  return new Map([...synonyms].map(([term, others]) => [term, [...others]]));
}
