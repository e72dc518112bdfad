import { tokenize } from './tokenize.js';

/**
 * Groups of words that an agent and a tool author use for the same action or object. A query word
 * from a group also searches the other words of the group, at a lower weight. Hand-written from the
 * verbs and nouns of common tool APIs (CRUD, messaging, files, scheduling). A group is of actions or
 * of things, not both: a word that tools mostly use as a noun (`email`, `order`, `plan`) is not in a
 * verb's group, or "delete an email" would search for "send" and "post" and rank Slack's message
 * tools over Gmail's. An abbreviation is not a synonym but the same word (`repo` is `repository`, at
 * full weight): see `EQUIVALENT_WORDS`. Verbs that tool APIs use for one and the same action are in
 * {@link DEFAULT_SAME_ACTIONS} instead.
 */
export const DEFAULT_SYNONYMS: readonly (readonly string[])[] = [
  ['create', 'add', 'new', 'make', 'insert', 'generate'],
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

/**
 * Groups of verbs that tool APIs use for one and the same action: a query word from a group searches
 * the others at its own full weight, not a synonym's, so "delete an email" finds `GMAIL_TRASH_MESSAGE`
 * (whose action is `trash`) before `SLACK_DELETE_MESSAGE`, whose action is the query's verb but whose
 * object is not. Only the removal verbs: each other group of {@link DEFAULT_SYNONYMS} tried at full
 * weight (find/search, update/edit/modify, create/add, start/launch, send/deliver) ranked the built-in
 * toolkits' labelled queries or the MetaTool queries worse, since their words also mean other things
 * (`add` a label is no `create`, `search` is also a noun).
 */
export const DEFAULT_SAME_ACTIONS: readonly (readonly string[])[] = [
  ['delete', 'remove', 'erase', 'destroy', 'trash', 'discard'],
];

/**
 * Words that say how recent something is. They seldom tell tools apart, since a tool that lists things
 * lists the newest first whatever the query says, but a description that mentions them (a
 * `latest` parameter, "the latest Show HN launches") drew queries such as "read my latest emails" to
 * the wrong tool: in a query they weigh `RankingParameters.recencyWeight`.
 */
export const RECENCY_WORDS: readonly string[] = ['recent', 'latest', 'newest', 'last', 'current', 'today'];

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
