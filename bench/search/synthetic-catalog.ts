/**
 * A generated tool catalog of realistic shape for timing tool search: apps × actions × objects, with
 * slugs like `GITHUB_CREATE_ISSUE`, templated descriptions and parameters, plus matching use-case
 * queries. Deterministic: the same seed gives the same catalog.
 */
import type { SearchDocument } from '../../packages/core/src/search/tool-index.ts';

/** App display names; the toolkit slug is the name in lower case without spaces or dots. */
const APP_NAMES =
  words(`GitHub|GitLab|Bitbucket|Slack|Discord|Telegram|Gmail|Outlook|Google Calendar|Google Drive|
  Google Sheets|Google Docs|Notion|Confluence|Jira|Asana|Trello|Linear|ClickUp|Todoist|HubSpot|Salesforce|Pipedrive|
  Zendesk|Freshdesk|Intercom|Stripe|Shopify|QuickBooks|Xero|Dropbox|Box|OneDrive|Airtable|Twitter|LinkedIn|YouTube|
  Spotify|Zoom|Calendly|Mailchimp|SendGrid|Twilio|PagerDuty|Datadog|Sentry|Figma|Miro|DocuSign|Typeform|Webflow|
  WordPress|MongoDB|Supabase|Vercel|Netlify|Cloudflare|Yelp|OpenWeather|Monday.com`);

const ACTIONS =
  words(`create|get|list|update|delete|search|send|archive|add|remove|star|assign|close|move|copy|share|
  export|import|upload|download|schedule|cancel|invite|approve|publish|comment on|merge|label|subscribe to|restore`);

const OBJECTS =
  words(`issue|pull request|repository|branch|commit|message|channel|thread|email|draft|event|calendar|
  contact|deal|ticket|invoice|payment|customer|order|product|file|folder|page|database|record|task|project|comment|
  user|team|workspace|note|document|spreadsheet row|webhook|subscription|campaign|form response|meeting|playlist|
  video|post|label|attachment|report`);

const QUALIFIERS =
  words(`by its id|for a team|in bulk|with custom fields|from a template|for the connected account|
  with a due date|and notify the owner|in a shared workspace|with the given title and body|filtered by status|
  created in the last week|with labels and assignees|as a draft first`);

const PARAMETERS: readonly { name: string; description: string }[] = [
  { name: 'title', description: 'A short title shown in lists.' },
  { name: 'body', description: 'The main text, Markdown allowed.' },
  { name: 'owner', description: 'The account or organization that owns it.' },
  { name: 'labels', description: 'Labels to apply, by name.' },
  { name: 'assignees', description: 'Users to assign, by login or email address.' },
  { name: 'due_date', description: 'When it is due, ISO 8601 date.' },
  { name: 'priority', description: 'Priority: low, medium, high or urgent.' },
  { name: 'status', description: 'Only return items with this status.' },
  { name: 'limit', description: 'The most results to return.' },
  { name: 'cursor', description: 'Pagination cursor from the previous page.' },
  { name: 'query', description: 'Free-text search query.' },
  { name: 'start_time', description: 'Start of the time range, ISO 8601.' },
  { name: 'end_time', description: 'End of the time range, ISO 8601.' },
  { name: 'email_address', description: 'The recipient email address.' },
  { name: 'subject', description: 'Subject line of the message.' },
  { name: 'attachments', description: 'Files to attach, as URLs or file ids.' },
  { name: 'folder_id', description: 'The parent folder.' },
  { name: 'amount', description: 'Amount in the smallest currency unit.' },
  { name: 'currency', description: 'Three-letter ISO currency code.' },
  { name: 'include_archived', description: 'Also return archived items.' },
];

const QUERY_OPENINGS = ['', 'please ', 'I need to ', 'help me ', 'can you ', 'how do I '];

/** A generated catalog: its tools and use-case queries that name their app and action. */
export interface SyntheticCatalog {
  documents: SearchDocument[];
  queries: string[];
}

/** Generates `toolCount` distinct tools (at most apps × actions × objects) and `queryCount` queries. */
export function generateCatalog({
  toolCount = 10_000,
  queryCount = 1_000,
  seed = 42,
} = {}): SyntheticCatalog {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const documents: SearchDocument[] = [];
  const slugs = new Set<string>();
  while (documents.length < toolCount) {
    const appName = pick(APP_NAMES);
    const app = appName.toLowerCase().replace(/[ .]/g, '');
    const action = pick(ACTIONS);
    const object = pick(OBJECTS);
    const slug = `${app}_${action}_${object}`.toUpperCase().replace(/ /g, '_');
    if (slugs.has(slug)) continue;
    slugs.add(slug);
    documents.push({
      slug,
      name: capitalize(`${action} ${object}`),
      description: `${capitalize(action)} ${article(object)} ${object} in ${appName} ${pick(QUALIFIERS)}. ${pick(QUALIFIERS)}.`,
      toolkit: app,
      parameters: [
        { name: `${object.replace(/ /g, '_')}_id`, description: `The id of the ${object}.` },
      ].concat(Array.from({ length: Math.floor(random() * 5) }, () => pick(PARAMETERS))),
    });
  }
  const queries = Array.from({ length: queryCount }, () => {
    const appName = pick(APP_NAMES);
    const object = pick(OBJECTS);
    return `${pick(QUERY_OPENINGS)}${pick(ACTIONS)} ${article(object)} ${object} on ${appName} ${pick(QUALIFIERS)}`;
  });
  return { documents, queries };
}

/** A small, fast, seedable PRNG (Tommy Ettinger's Mulberry32); returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), state | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The entries of a `|`-separated list; line breaks and indentation between entries are ignored. */
function words(list: string): string[] {
  return list.split('|').map((entry) => entry.trim());
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? 'an' : 'a';
}
