import type { Toolkit } from '@toolmux/core';
import { exa } from './exa.js';
import { firecrawl } from './firecrawl.js';
import { github } from './github.js';
import { gmail } from './gmail.js';
import { hackernews } from './hackernews.js';
import { http } from './http-toolkit.js';
import { linear } from './linear.js';
import { notion } from './notion.js';
import { slack } from './slack.js';

export type { ExaToolkitOptions } from './exa.js';
export { createExaToolkit, exa } from './exa.js';
export type { FirecrawlToolkitOptions } from './firecrawl.js';
export { createFirecrawlToolkit, firecrawl } from './firecrawl.js';
export type { GithubToolkitOptions } from './github.js';
export { createGithubToolkit, github } from './github.js';
export type { GmailToolkitOptions } from './gmail.js';
export { createGmailToolkit, gmail } from './gmail.js';
export type { HackernewsToolkitOptions } from './hackernews.js';
export { createHackernewsToolkit, hackernews } from './hackernews.js';
export type {
  Api,
  ApiOptions,
  ApiRequest,
  ApiResponse,
  HttpMethod,
  QueryValue,
  RequestContext,
} from './http.js';
export { ApiError, createApi, readingAnswers } from './http.js';
export type { HttpToolkitOptions } from './http-toolkit.js';
export { createHttpToolkit, http } from './http-toolkit.js';
export type { LinearToolkitOptions } from './linear.js';
export { createLinearToolkit, linear } from './linear.js';
export type {
  McpCommonOptions,
  McpHttpOptions,
  McpStdioOptions,
  McpToolkit,
  McpToolkitOptions,
} from './mcp.js';
export { mcpToolkit } from './mcp.js';
export type { PublicOnlyOptions } from './network-guard.js';
export {
  addressRange,
  isPublicAddress,
  PrivateAddressError,
  publicOnlyDispatcher,
  publicOnlyFetch,
  publicOnlyLookup,
  refusedHost,
} from './network-guard.js';
export type { NotionToolkitOptions } from './notion.js';
export { createNotionToolkit, notion } from './notion.js';
export type { SlackToolkitOptions } from './slack.js';
export { createSlackToolkit, slack } from './slack.js';

/**
 * Every built-in toolkit against the real APIs, ready for `new ToolMux({ toolkits: builtinToolkits })`.
 * Create your own copies with the `create…Toolkit({ baseUrl })` factories to point one elsewhere.
 */
export const builtinToolkits: readonly Toolkit[] = Object.freeze([
  github,
  gmail,
  slack,
  exa,
  firecrawl,
  notion,
  linear,
  hackernews,
  http,
]);

/** One line per toolkit for listings (`toolmux toolkits list`): slug, name, auth, tool count. */
export interface ToolkitDescription {
  slug: string;
  name: string;
  description: string;
  auth: string[];
  noAuth: boolean;
  tools: Array<{ slug: string; description: string; readOnly: boolean; destructive: boolean }>;
}

/** A plain description of toolkits (the built-in ones by default), for CLIs and docs. */
export function describeToolkits(toolkits: readonly Toolkit[] = builtinToolkits): ToolkitDescription[] {
  return toolkits.map((toolkit) => ({
    slug: toolkit.slug,
    name: toolkit.name,
    description: toolkit.description,
    auth: toolkit.auth.map((scheme) => scheme.type),
    noAuth: toolkit.noAuth,
    tools: toolkit.tools.map((tool) => ({
      slug: tool.slug,
      description: tool.description,
      readOnly: tool.annotations.readOnlyHint === true,
      destructive: tool.annotations.destructiveHint === true,
    })),
  }));
}
