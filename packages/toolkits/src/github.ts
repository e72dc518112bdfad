import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { CREATE, DESTROY, READ, UPDATE } from './annotations.js';
import { ApiError, createApi, type RequestContext, readingAnswers, requireToken } from './http.js';

export interface GithubToolkitOptions {
  /** REST API root; GitHub Enterprise Server uses `https://HOST/api/v3`. @default 'https://api.github.com' */
  baseUrl?: string;
  /** Web root for the OAuth pages. @default 'https://github.com' */
  webUrl?: string;
}

const owner = z.string().min(1).describe('Account or organization that owns the repository, e.g. "octocat"');
const repo = z.string().min(1).describe('Repository name without the owner, e.g. "hello-world"');
const issueNumber = z.number().int().min(1).describe('The issue number shown after # in the repository');
const pullNumber = z
  .number()
  .int()
  .min(1)
  .describe('The pull request number shown after # in the repository');
const perPage = z.number().int().min(1).max(100).default(30).describe('Results per page (1-100)');
const page = z.number().int().min(1).default(1).describe('Page number of the results, starting at 1');

const userOut = z.object({
  login: z.string(),
  id: z.number(),
  name: z.string().nullable().optional(),
  email: z.string().nullable().optional(),
  bio: z.string().nullable().optional(),
  company: z.string().nullable().optional(),
  public_repos: z.number().optional(),
  followers: z.number().optional(),
  html_url: z.string(),
});
const issueOut = z.object({
  number: z.number(),
  title: z.string(),
  state: z.string(),
  state_reason: z.string().nullable().optional(),
  body: z.string().nullable(),
  author: z.string().nullable(),
  labels: z.array(z.string()),
  assignees: z.array(z.string()),
  comments: z.number(),
  is_pull_request: z.boolean(),
  html_url: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  closed_at: z.string().nullable(),
});
const commentOut = z.object({
  id: z.number(),
  author: z.string().nullable(),
  body: z.string(),
  html_url: z.string(),
  created_at: z.string(),
});
const pullOut = z.object({
  number: z.number(),
  title: z.string(),
  state: z.string(),
  draft: z.boolean(),
  merged: z.boolean().optional(),
  mergeable: z.boolean().nullable().optional(),
  body: z.string().nullable(),
  author: z.string().nullable(),
  head: z.string(),
  base: z.string(),
  html_url: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  merged_at: z.string().nullable(),
  additions: z.number().optional(),
  deletions: z.number().optional(),
  changed_files: z.number().optional(),
});
const repoOut = z.object({
  full_name: z.string(),
  description: z.string().nullable(),
  private: z.boolean(),
  fork: z.boolean(),
  default_branch: z.string(),
  language: z.string().nullable(),
  stargazers_count: z.number(),
  forks_count: z.number(),
  open_issues_count: z.number(),
  topics: z.array(z.string()),
  html_url: z.string(),
  pushed_at: z.string().nullable(),
});
const pageOut = { has_next_page: z.boolean() };

type Json = Record<string, any>;

const login = (user: Json | null | undefined) => (user ? (user.login as string) : null);
/** The most characters of a file's text a tool answers (the rest is cut, with `…`). */
const FILE_CONTENT_MAX = 100_000;

const clipBody = (text: string | null | undefined, max: number) =>
  text && text.length > max ? `${text.slice(0, max)}…` : (text ?? null);

const toUser = (user: Json) => ({
  login: user.login,
  id: user.id,
  name: user.name,
  email: user.email,
  bio: user.bio,
  company: user.company,
  public_repos: user.public_repos,
  followers: user.followers,
  html_url: user.html_url,
});
const toIssue = (issue: Json, bodyMax = 20_000) => ({
  number: issue.number,
  title: issue.title,
  state: issue.state,
  state_reason: issue.state_reason ?? null,
  body: clipBody(issue.body, bodyMax),
  author: login(issue.user),
  labels: (issue.labels ?? []).map((label: Json | string) =>
    typeof label === 'string' ? label : label.name,
  ),
  assignees: (issue.assignees ?? []).map((user: Json) => user.login),
  comments: issue.comments ?? 0,
  is_pull_request: issue.pull_request !== undefined,
  html_url: issue.html_url,
  created_at: issue.created_at,
  updated_at: issue.updated_at,
  closed_at: issue.closed_at ?? null,
});
const toComment = (comment: Json) => ({
  id: comment.id,
  author: login(comment.user),
  body: comment.body ?? '',
  html_url: comment.html_url,
  created_at: comment.created_at,
});
const toPull = (pull: Json, bodyMax = 20_000) => ({
  number: pull.number,
  title: pull.title,
  state: pull.state,
  draft: pull.draft ?? false,
  merged: pull.merged,
  mergeable: pull.mergeable,
  body: clipBody(pull.body, bodyMax),
  author: login(pull.user),
  head: pull.head?.label ?? pull.head?.ref,
  base: pull.base?.ref,
  html_url: pull.html_url,
  created_at: pull.created_at,
  updated_at: pull.updated_at,
  merged_at: pull.merged_at ?? null,
  additions: pull.additions,
  deletions: pull.deletions,
  changed_files: pull.changed_files,
});
const toRepo = (repository: Json) => ({
  full_name: repository.full_name,
  description: repository.description ?? null,
  private: repository.private,
  fork: repository.fork,
  default_branch: repository.default_branch,
  language: repository.language ?? null,
  stargazers_count: repository.stargazers_count,
  forks_count: repository.forks_count,
  open_issues_count: repository.open_issues_count,
  topics: repository.topics ?? [],
  html_url: repository.html_url,
  pushed_at: repository.pushed_at ?? null,
});

const hasNextPage = (headers: Headers) => /rel="next"/.test(headers.get('link') ?? '');
const segment = encodeURIComponent;
const repoPath = (input: { owner: string; repo: string }) =>
  `/repos/${segment(input.owner)}/${segment(input.repo)}`;
const filePath = (path: string) => path.replace(/^\/+/, '').split('/').map(segment).join('/');

/** The options of createGithubToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const GITHUB_OPTION_NAMES = everyKeyOf<GithubToolkitOptions>()(['baseUrl', 'webUrl']);

/**
 * GitHub: repositories, issues, pull requests, code search, files and stars, over the REST API.
 *
 * @example
 * const enterprise = createGithubToolkit({ baseUrl: 'https://ghe.example.com/api/v3', webUrl: 'https://ghe.example.com' });
 */
export function createGithubToolkit(options: GithubToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createGithubToolkit()', GITHUB_OPTION_NAMES, { code: 'TOOL_DEFINITION_INVALID' });
  const baseUrl = options.baseUrl ?? 'https://api.github.com';
  const webUrl = (options.webUrl ?? 'https://github.com').replace(/\/+$/, '');
  const api = createApi({
    service: 'GitHub',
    baseUrl,
    headers: (credentials) => ({
      Accept: 'application/vnd.github+json',
      Authorization: `Bearer ${requireToken(credentials, 'GitHub')}`,
      'X-GitHub-Api-Version': '2022-11-28',
    }),
  });

  /**
   * The text of a file of 1 to 100 MB, whose contents answer leaves it out (`encoding: "none"`,
   * `content: ""`): its blob in the raw media type, read only as far as a tool answers. The tool
   * answered the empty content, and the model took the file for empty.
   */
  const largeFileContent = async (
    context: RequestContext,
    where: { owner: string; repo: string },
    sha: string,
    path: string,
  ): Promise<string> => {
    const raw = await api.send<string>(context, {
      path: `${repoPath(where)}/git/blobs/${segment(sha)}`,
      headers: { Accept: 'application/vnd.github.raw+json' },
      responseType: 'text',
      maxResponseBytes: FILE_CONTENT_MAX * 4,
      tooLarge: 'truncate',
      resource: `file "${path}" in ${where.owner}/${where.repo}`,
    });
    // the last character of a cut answer may be a part of one
    return raw.truncated
      ? `${raw.body.slice(0, Math.min(raw.body.length - 1, FILE_CONTENT_MAX))}…`
      : clipBody(raw.body, FILE_CONTENT_MAX)!;
  };

  /**
   * The failure of reading a file over the 100 MB GitHub's API serves (it answers 403 `too_large`),
   * with the file's size from its directory's listing (left out when that cannot be read): it read as
   * a permission error, and the model asked the user for access that would not have helped.
   */
  const fileTooLarge = async (
    context: RequestContext,
    where: { owner: string; repo: string },
    path: string,
    ref: string | undefined,
  ): Promise<ApiError> => {
    const name = path.replace(/^\/+/, '');
    const parent = name.split('/').slice(0, -1).join('/');
    const listing = await api
      .request(context, {
        path: `${repoPath(where)}/contents/${filePath(parent)}`,
        query: { ref },
        resource: `directory "${parent}" in ${where.owner}/${where.repo}`,
      })
      .catch((error: unknown) => {
        if (context.signal.aborted) throw error;
        return undefined;
      });
    const size = Array.isArray(listing)
      ? listing.find((entry: Json) => entry.path === name && typeof entry.size === 'number')?.size
      : undefined;
    const sized =
      typeof size === 'number'
        ? `is ${(size / 1_000_000).toFixed(1)} MB (${size} bytes), more than the 100 MB`
        : 'is larger than the 100 MB';
    return new ApiError(
      'GitHub',
      413,
      `File "${path}" in ${where.owner}/${where.repo}${ref ? ` at ${ref}` : ''} ${sized} GitHub's API serves, so no tool can read it: this is its size, not a permission problem. Do not retry it; read a smaller file, or tell the user to get it with git (a clone, with Git LFS if the repository uses it).`,
    );
  };

  const tools = [
    defineTool({
      slug: 'GITHUB_GET_AUTHENTICATED_USER',
      description:
        'Get the profile of the GitHub user whose account is connected (login, name, email, bio). Use it to learn "who am I" on GitHub before acting on their repositories.',
      inputSchema: z.object({}),
      outputSchema: userOut,
      annotations: READ,
      execute: async (_input, context) =>
        toUser(await api.request(context, { path: '/user', resource: 'authenticated user' })),
    }),
    defineTool({
      slug: 'GITHUB_GET_USER',
      description: 'Get the public profile of any GitHub user or organization by login name.',
      inputSchema: z.object({ username: z.string().min(1).describe('The GitHub login, e.g. "torvalds"') }),
      outputSchema: userOut,
      annotations: READ,
      execute: async ({ username }, context) =>
        toUser(
          await api.request(context, { path: `/users/${segment(username)}`, resource: `user "${username}"` }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_LIST_ISSUES',
      description:
        'List issues of a repository, filtered by state, labels, assignee or creator, newest first. GitHub includes pull requests in this list (is_pull_request tells them apart). To find issues by text across repositories use GITHUB_SEARCH_ISSUES.',
      inputSchema: z.object({
        owner,
        repo,
        state: z.enum(['open', 'closed', 'all']).default('open').describe('Which issues by state'),
        labels: z.array(z.string()).optional().describe('Only issues carrying all of these label names'),
        assignee: z.string().optional().describe('Login of the assignee, "none" for unassigned, "*" for any'),
        creator: z.string().optional().describe('Login of the user who opened the issues'),
        since: z.string().optional().describe('Only issues updated at or after this ISO 8601 time'),
        sort: z.enum(['created', 'updated', 'comments']).default('created').describe('Sort field'),
        direction: z.enum(['asc', 'desc']).default('desc').describe('Sort direction'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({ issues: z.array(issueOut), ...pageOut }),
      annotations: READ,
      execute: async ({ owner, repo, labels, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `${repoPath({ owner, repo })}/issues`,
          query: { ...query, labels: labels?.join(',') },
          resource: `repository ${owner}/${repo}`,
        });
        return {
          issues: response.body.map((issue) => toIssue(issue, 500)),
          has_next_page: hasNextPage(response.headers),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_GET_ISSUE',
      description:
        'Get one issue (or pull request) of a repository by number: title, body, state, labels, assignees.',
      inputSchema: z.object({ owner, repo, issue_number: issueNumber }),
      outputSchema: issueOut,
      annotations: READ,
      execute: async ({ owner, repo, issue_number }, context) =>
        toIssue(
          await api.request(context, {
            path: `${repoPath({ owner, repo })}/issues/${issue_number}`,
            resource: `issue #${issue_number} in ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_CREATE_ISSUE',
      description:
        'Open a new issue in a repository with a title and optional body, labels and assignees. Use it to report a bug, request a feature or track a task.',
      inputSchema: z.object({
        owner,
        repo,
        title: z.string().min(1).describe('Issue title'),
        body: z.string().optional().describe('Issue text in GitHub Markdown'),
        labels: z.array(z.string()).optional().describe('Label names to add'),
        assignees: z.array(z.string()).optional().describe('Logins of users to assign'),
        milestone: z.number().int().optional().describe('Number of the milestone to attach'),
      }),
      outputSchema: issueOut,
      annotations: CREATE,
      execute: async ({ owner, repo, ...body }, context) =>
        toIssue(
          await api.request(context, {
            method: 'POST',
            path: `${repoPath({ owner, repo })}/issues`,
            body,
            resource: `repository ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_UPDATE_ISSUE',
      description:
        'Edit an existing issue: change its title, body, labels, assignees or milestone, or close / reopen it. Fields left out stay unchanged; labels and assignees replace the current lists.',
      inputSchema: z.object({
        owner,
        repo,
        issue_number: issueNumber,
        title: z.string().optional().describe('New title'),
        body: z.string().optional().describe('New body in GitHub Markdown (replaces the old one)'),
        state: z.enum(['open', 'closed']).optional().describe('Set to close or reopen the issue'),
        state_reason: z
          .enum(['completed', 'not_planned', 'reopened'])
          .optional()
          .describe('Why the state changes'),
        labels: z.array(z.string()).optional().describe('The full new list of label names'),
        assignees: z.array(z.string()).optional().describe('The full new list of assignee logins'),
        milestone: z.number().int().nullable().optional().describe('Milestone number, or null to remove it'),
      }),
      outputSchema: issueOut,
      annotations: { ...UPDATE, destructiveHint: true },
      execute: async ({ owner, repo, issue_number, ...body }, context) =>
        toIssue(
          await api.request(context, {
            method: 'PATCH',
            path: `${repoPath({ owner, repo })}/issues/${issue_number}`,
            body,
            resource: `issue #${issue_number} in ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_CLOSE_ISSUE',
      description:
        'Close an issue, as completed or as not planned. Reopen with GITHUB_UPDATE_ISSUE (state "open").',
      inputSchema: z.object({
        owner,
        repo,
        issue_number: issueNumber,
        state_reason: z
          .enum(['completed', 'not_planned'])
          .default('completed')
          .describe('Why the issue is closed'),
      }),
      outputSchema: issueOut,
      annotations: UPDATE,
      execute: async ({ owner, repo, issue_number, state_reason }, context) =>
        toIssue(
          await api.request(context, {
            method: 'PATCH',
            path: `${repoPath({ owner, repo })}/issues/${issue_number}`,
            body: { state: 'closed', state_reason },
            resource: `issue #${issue_number} in ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_CREATE_ISSUE_COMMENT',
      description:
        'Add a comment to an issue or a pull request conversation. Use it to reply, give a status update or ask a question on a ticket.',
      inputSchema: z.object({
        owner,
        repo,
        issue_number: issueNumber.describe('Number of the issue or pull request to comment on'),
        body: z.string().min(1).describe('Comment text in GitHub Markdown'),
      }),
      outputSchema: commentOut,
      annotations: CREATE,
      execute: async ({ owner, repo, issue_number, body }, context) =>
        toComment(
          await api.request(context, {
            method: 'POST',
            path: `${repoPath({ owner, repo })}/issues/${issue_number}/comments`,
            body: { body },
            resource: `issue #${issue_number} in ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_LIST_ISSUE_COMMENTS',
      description: 'List the comments of an issue or pull request conversation, oldest first.',
      inputSchema: z.object({
        owner,
        repo,
        issue_number: issueNumber,
        since: z.string().optional().describe('Only comments updated at or after this ISO 8601 time'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({ comments: z.array(commentOut), ...pageOut }),
      annotations: READ,
      execute: async ({ owner, repo, issue_number, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `${repoPath({ owner, repo })}/issues/${issue_number}/comments`,
          query,
          resource: `issue #${issue_number} in ${owner}/${repo}`,
        });
        return { comments: response.body.map(toComment), has_next_page: hasNextPage(response.headers) };
      },
    }),
    defineTool({
      slug: 'GITHUB_ADD_LABELS_TO_ISSUE',
      description: 'Add labels to an issue or pull request, keeping the labels it already has.',
      inputSchema: z.object({
        owner,
        repo,
        issue_number: issueNumber,
        labels: z.array(z.string().min(1)).min(1).describe('Label names to add, e.g. ["bug"]'),
      }),
      outputSchema: z.object({ labels: z.array(z.string()) }),
      annotations: UPDATE,
      execute: async ({ owner, repo, issue_number, labels }, context) => {
        const result = await api.request<Json[]>(context, {
          method: 'POST',
          path: `${repoPath({ owner, repo })}/issues/${issue_number}/labels`,
          body: { labels },
          resource: `issue #${issue_number} in ${owner}/${repo}`,
        });
        return { labels: result.map((label) => label.name) };
      },
    }),
    defineTool({
      slug: 'GITHUB_LIST_PULL_REQUESTS',
      description:
        'List the pull requests (PRs) of a repository, e.g. the open ones waiting for review, filtered by state, base branch or head branch.',
      inputSchema: z.object({
        owner,
        repo,
        state: z.enum(['open', 'closed', 'all']).default('open').describe('Which pull requests by state'),
        head: z.string().optional().describe('Only PRs from this head, as "user:branch"'),
        base: z.string().optional().describe('Only PRs into this base branch, e.g. "main"'),
        sort: z
          .enum(['created', 'updated', 'popularity', 'long-running'])
          .default('created')
          .describe('Sort field'),
        direction: z.enum(['asc', 'desc']).default('desc').describe('Sort direction'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({ pull_requests: z.array(pullOut), ...pageOut }),
      annotations: READ,
      execute: async ({ owner, repo, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `${repoPath({ owner, repo })}/pulls`,
          query,
          resource: `repository ${owner}/${repo}`,
        });
        return {
          pull_requests: response.body.map((pull) => toPull(pull, 500)),
          has_next_page: hasNextPage(response.headers),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_GET_PULL_REQUEST',
      description:
        'Get one pull request by number: title, body, branches, draft / merged state, mergeability and size of the change.',
      inputSchema: z.object({ owner, repo, pull_number: pullNumber }),
      outputSchema: pullOut,
      annotations: READ,
      execute: async ({ owner, repo, pull_number }, context) =>
        toPull(
          await api.request(context, {
            path: `${repoPath({ owner, repo })}/pulls/${pull_number}`,
            resource: `pull request #${pull_number} in ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_CREATE_PULL_REQUEST',
      description:
        'Open a pull request that proposes merging a head branch into a base branch. The head branch must already be pushed.',
      inputSchema: z.object({
        owner,
        repo,
        title: z.string().min(1).describe('Pull request title'),
        head: z.string().min(1).describe('Branch with the changes; "user:branch" for a fork'),
        base: z.string().min(1).describe('Branch to merge into, e.g. "main"'),
        body: z.string().optional().describe('Description in GitHub Markdown'),
        draft: z.boolean().optional().describe('Open as a draft pull request'),
        maintainer_can_modify: z.boolean().optional().describe('Let maintainers push to the head branch'),
      }),
      outputSchema: pullOut,
      annotations: CREATE,
      execute: async ({ owner, repo, ...body }, context) =>
        toPull(
          await api.request(context, {
            method: 'POST',
            path: `${repoPath({ owner, repo })}/pulls`,
            body,
            resource: `repository ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_MERGE_PULL_REQUEST',
      description: 'Merge an open pull request into its base branch (merge commit, squash or rebase).',
      inputSchema: z.object({
        owner,
        repo,
        pull_number: pullNumber,
        merge_method: z.enum(['merge', 'squash', 'rebase']).default('merge').describe('How to merge'),
        commit_title: z.string().optional().describe('Title of the merge commit'),
        commit_message: z.string().optional().describe('Extra detail for the merge commit message'),
        sha: z.string().optional().describe('Merge only if the head is still at this commit SHA'),
      }),
      outputSchema: z.object({ merged: z.boolean(), sha: z.string().nullable(), message: z.string() }),
      annotations: { ...UPDATE, destructiveHint: true },
      execute: async ({ owner, repo, pull_number, ...body }, context) => {
        const result = await api.request(context, {
          method: 'PUT',
          path: `${repoPath({ owner, repo })}/pulls/${pull_number}/merge`,
          body,
          resource: `pull request #${pull_number} in ${owner}/${repo}`,
        });
        return { merged: result.merged, sha: result.sha ?? null, message: result.message };
      },
    }),
    defineTool({
      slug: 'GITHUB_LIST_PULL_REQUEST_FILES',
      description:
        'List the files a pull request changes, with additions, deletions and the patch of each file.',
      inputSchema: z.object({ owner, repo, pull_number: pullNumber, per_page: perPage, page }),
      outputSchema: z.object({
        files: z.array(
          z.object({
            filename: z.string(),
            status: z.string(),
            additions: z.number(),
            deletions: z.number(),
            patch: z.string().nullable(),
          }),
        ),
        ...pageOut,
      }),
      annotations: READ,
      execute: async ({ owner, repo, pull_number, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `${repoPath({ owner, repo })}/pulls/${pull_number}/files`,
          query,
          resource: `pull request #${pull_number} in ${owner}/${repo}`,
        });
        return {
          files: response.body.map((file) => ({
            filename: file.filename,
            status: file.status,
            additions: file.additions,
            deletions: file.deletions,
            patch: clipBody(file.patch, 5_000),
          })),
          has_next_page: hasNextPage(response.headers),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_CREATE_PULL_REQUEST_REVIEW',
      description: 'Review a pull request: approve it, request changes, or leave a review comment.',
      inputSchema: z.object({
        owner,
        repo,
        pull_number: pullNumber,
        event: z.enum(['APPROVE', 'REQUEST_CHANGES', 'COMMENT']).describe('The review verdict'),
        body: z.string().optional().describe('Review text; required for REQUEST_CHANGES and COMMENT'),
      }),
      outputSchema: z.object({ id: z.number(), state: z.string(), html_url: z.string() }),
      annotations: CREATE,
      execute: async ({ owner, repo, pull_number, ...body }, context) => {
        const review = await api.request(context, {
          method: 'POST',
          path: `${repoPath({ owner, repo })}/pulls/${pull_number}/reviews`,
          body,
          resource: `pull request #${pull_number} in ${owner}/${repo}`,
        });
        return { id: review.id, state: review.state, html_url: review.html_url };
      },
    }),
    defineTool({
      slug: 'GITHUB_GET_REPOSITORY',
      description:
        'Get a repository’s details: description, default branch, language, how many stars and forks it has, open issue count, topics and visibility.',
      inputSchema: z.object({ owner, repo }),
      outputSchema: repoOut,
      annotations: READ,
      execute: async ({ owner, repo }, context) =>
        toRepo(
          await api.request(context, {
            path: repoPath({ owner, repo }),
            resource: `repository ${owner}/${repo}`,
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_LIST_MY_REPOSITORIES',
      description:
        'List repositories the connected user can access (own, collaborator, organization member), most recently updated first.',
      inputSchema: z.object({
        visibility: z.enum(['all', 'public', 'private']).default('all').describe('Filter by visibility'),
        affiliation: z
          .string()
          .default('owner,collaborator,organization_member')
          .describe('Comma-separated: owner, collaborator, organization_member'),
        sort: z.enum(['created', 'updated', 'pushed', 'full_name']).default('updated').describe('Sort field'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({ repositories: z.array(repoOut), ...pageOut }),
      annotations: READ,
      execute: async (query, context) => {
        const response = await api.send<Json[]>(context, {
          path: '/user/repos',
          query,
          resource: 'your repositories',
        });
        return { repositories: response.body.map(toRepo), has_next_page: hasNextPage(response.headers) };
      },
    }),
    defineTool({
      slug: 'GITHUB_LIST_USER_REPOSITORIES',
      description: 'List the public repositories of another GitHub user or organization by login.',
      inputSchema: z.object({
        username: z.string().min(1).describe('Login of the user or organization'),
        type: z.enum(['all', 'owner', 'member']).default('owner').describe('Which repositories'),
        sort: z.enum(['created', 'updated', 'pushed', 'full_name']).default('updated').describe('Sort field'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({ repositories: z.array(repoOut), ...pageOut }),
      annotations: READ,
      execute: async ({ username, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `/users/${segment(username)}/repos`,
          query,
          resource: `user "${username}"`,
        });
        return { repositories: response.body.map(toRepo), has_next_page: hasNextPage(response.headers) };
      },
    }),
    defineTool({
      slug: 'GITHUB_CREATE_REPOSITORY',
      description: 'Create a new repository owned by the connected user.',
      inputSchema: z.object({
        name: z.string().min(1).describe('Repository name'),
        description: z.string().optional().describe('Short description'),
        private: z.boolean().default(false).describe('Make the repository private'),
        auto_init: z.boolean().default(false).describe('Create an initial commit with a README'),
      }),
      outputSchema: repoOut,
      annotations: CREATE,
      execute: async (body, context) =>
        toRepo(
          await api.request(context, {
            method: 'POST',
            path: '/user/repos',
            body,
            resource: 'your repositories',
          }),
        ),
    }),
    defineTool({
      slug: 'GITHUB_GET_FILE_CONTENTS',
      description:
        'Read a file from a repository (decoded text), or list a directory. Use it to look at source code, a README or a config file.',
      inputSchema: z.object({
        owner,
        repo,
        path: z.string().describe('Path inside the repository, e.g. "src/index.ts"; "" for the root'),
        ref: z.string().optional().describe('Branch, tag or commit SHA; default branch when left out'),
      }),
      outputSchema: z.object({
        type: z.string(),
        path: z.string(),
        sha: z.string().optional(),
        size: z.number().optional(),
        content: z.string().optional(),
        target: z.string().optional().describe('For a symlink: the path it points to'),
        submodule_git_url: z.string().optional().describe('For a submodule: its repository'),
        entries: z.array(z.object({ name: z.string(), path: z.string(), type: z.string() })).optional(),
      }),
      annotations: READ,
      execute: async ({ owner, repo, path, ref }, context) => {
        const result = await api
          .request(context, {
            path: `${repoPath({ owner, repo })}/contents/${filePath(path)}`,
            query: { ref },
            resource: `path "${path}" in ${owner}/${repo}${ref ? ` at ${ref}` : ''}`,
          })
          .catch(async (error: unknown) => {
            if (!(error instanceof ApiError) || error.status !== 413) throw error;
            throw await fileTooLarge(context, { owner, repo }, path, ref);
          });
        if (Array.isArray(result)) {
          return {
            type: 'dir',
            path,
            entries: result.map((entry: Json) => ({ name: entry.name, path: entry.path, type: entry.type })),
          };
        }
        const content =
          result.encoding === 'base64'
            ? clipBody(Buffer.from(result.content ?? '', 'base64').toString('utf8'), FILE_CONTENT_MAX)
            : result.type === 'file' && result.encoding === 'none'
              ? await largeFileContent(context, { owner, repo }, result.sha, path)
              : clipBody(result.content, FILE_CONTENT_MAX);
        return {
          type: result.type,
          path: result.path,
          sha: result.sha,
          size: result.size,
          content: content ?? undefined,
          target: result.target ?? undefined,
          submodule_git_url: result.submodule_git_url ?? undefined,
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_CREATE_OR_UPDATE_FILE',
      description:
        'Commit a file to a branch: create it, or replace its content (then pass the current sha from GITHUB_GET_FILE_CONTENTS).',
      inputSchema: z.object({
        owner,
        repo,
        path: z.string().min(1).describe('Path of the file inside the repository'),
        content: z.string().describe('The full new file content as text'),
        message: z.string().min(1).describe('Commit message'),
        branch: z.string().optional().describe('Branch to commit to; default branch when left out'),
        sha: z.string().optional().describe('Blob SHA of the file being replaced (required to update)'),
      }),
      outputSchema: z.object({
        path: z.string(),
        sha: z.string(),
        commit_sha: z.string(),
        html_url: z.string(),
      }),
      annotations: DESTROY,
      execute: async ({ owner, repo, path, content, ...rest }, context) => {
        const result = await api.request(context, {
          method: 'PUT',
          path: `${repoPath({ owner, repo })}/contents/${filePath(path)}`,
          body: { ...rest, content: Buffer.from(content, 'utf8').toString('base64') },
          resource: `path "${path}" in ${owner}/${repo}`,
        });
        return {
          path: result.content.path,
          sha: result.content.sha,
          commit_sha: result.commit.sha,
          html_url: result.content.html_url,
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_LIST_COMMITS',
      description:
        'List commits of a repository branch, optionally only those touching a path or by an author.',
      inputSchema: z.object({
        owner,
        repo,
        sha: z.string().optional().describe('Branch name or commit SHA to start from'),
        path: z.string().optional().describe('Only commits touching this file path'),
        author: z.string().optional().describe('Only commits by this login or email'),
        since: z.string().optional().describe('Only commits after this ISO 8601 time'),
        until: z.string().optional().describe('Only commits before this ISO 8601 time'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({
        commits: z.array(
          z.object({
            sha: z.string(),
            message: z.string(),
            author: z.string().nullable(),
            date: z.string().nullable(),
            html_url: z.string(),
          }),
        ),
        ...pageOut,
      }),
      annotations: READ,
      execute: async ({ owner, repo, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `${repoPath({ owner, repo })}/commits`,
          query,
          resource: `repository ${owner}/${repo}`,
        });
        return {
          commits: response.body.map((commit) => ({
            sha: commit.sha,
            message: commit.commit?.message ?? '',
            author: login(commit.author) ?? commit.commit?.author?.name ?? null,
            date: commit.commit?.author?.date ?? null,
            html_url: commit.html_url,
          })),
          has_next_page: hasNextPage(response.headers),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_LIST_BRANCHES',
      description: 'List the branches of a repository with the commit each points to.',
      inputSchema: z.object({
        owner,
        repo,
        protected: z.boolean().optional().describe('Only protected (true) or unprotected (false) branches'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({
        branches: z.array(z.object({ name: z.string(), sha: z.string(), protected: z.boolean() })),
        ...pageOut,
      }),
      annotations: READ,
      execute: async ({ owner, repo, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `${repoPath({ owner, repo })}/branches`,
          query,
          resource: `repository ${owner}/${repo}`,
        });
        return {
          branches: response.body.map((branch) => ({
            name: branch.name,
            sha: branch.commit?.sha,
            protected: branch.protected ?? false,
          })),
          has_next_page: hasNextPage(response.headers),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_LIST_RELEASES',
      description: 'List the published releases of a repository, newest first, with tag, name and notes.',
      inputSchema: z.object({ owner, repo, per_page: perPage, page }),
      outputSchema: z.object({
        releases: z.array(
          z.object({
            tag_name: z.string(),
            name: z.string().nullable(),
            body: z.string().nullable(),
            draft: z.boolean(),
            prerelease: z.boolean(),
            published_at: z.string().nullable(),
            html_url: z.string(),
          }),
        ),
        ...pageOut,
      }),
      annotations: READ,
      execute: async ({ owner, repo, ...query }, context) => {
        const response = await api.send<Json[]>(context, {
          path: `${repoPath({ owner, repo })}/releases`,
          query,
          resource: `repository ${owner}/${repo}`,
        });
        return {
          releases: response.body.map((release) => ({
            tag_name: release.tag_name,
            name: release.name ?? null,
            body: clipBody(release.body, 2_000),
            draft: release.draft,
            prerelease: release.prerelease,
            published_at: release.published_at ?? null,
            html_url: release.html_url,
          })),
          has_next_page: hasNextPage(response.headers),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_SEARCH_CODE',
      description:
        'Search source code across GitHub repositories to find where a function, class or string is defined or used, with GitHub code search syntax, e.g. "useState repo:facebook/react language:ts". Returns matching files with their repository and path.',
      inputSchema: z.object({
        q: z
          .string()
          .min(1)
          .describe('Search query with qualifiers such as repo:, org:, language:, path:, extension:'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({
        total_count: z.number(),
        items: z.array(
          z.object({
            repository: z.string(),
            path: z.string(),
            name: z.string(),
            sha: z.string(),
            html_url: z.string(),
          }),
        ),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, {
          path: '/search/code',
          query,
          resource: 'code search results',
        });
        return {
          total_count: result.total_count,
          items: result.items.map((item: Json) => ({
            repository: item.repository?.full_name,
            path: item.path,
            name: item.name,
            sha: item.sha,
            html_url: item.html_url,
          })),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_SEARCH_ISSUES',
      description:
        'Search issues and pull requests across GitHub by text and qualifiers, e.g. "crash is:issue is:open repo:owner/name label:bug" or "is:pr author:@me". Use it to find tickets when you do not know their number.',
      inputSchema: z.object({
        q: z
          .string()
          .min(1)
          .describe('Search query with qualifiers such as is:issue, is:pr, is:open, repo:, author:, label:'),
        sort: z
          .enum(['comments', 'reactions', 'created', 'updated'])
          .optional()
          .describe('Sort field; best match when left out'),
        order: z.enum(['asc', 'desc']).default('desc').describe('Sort direction'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({
        total_count: z.number(),
        items: z.array(issueOut.extend({ repository: z.string() })),
      }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, {
          path: '/search/issues',
          query,
          resource: 'issue search results',
        });
        return {
          total_count: result.total_count,
          items: result.items.map((item: Json) => ({
            ...toIssue(item, 500),
            repository: String(item.repository_url ?? '').replace(/^.*\/repos\//, ''),
          })),
        };
      },
    }),
    defineTool({
      slug: 'GITHUB_SEARCH_REPOSITORIES',
      description:
        'Search GitHub repositories by name, description, topic, language or stars, e.g. "vector database language:rust stars:>1000".',
      inputSchema: z.object({
        q: z
          .string()
          .min(1)
          .describe('Search query with qualifiers such as language:, topic:, stars:, user:, org:'),
        sort: z.enum(['stars', 'forks', 'help-wanted-issues', 'updated']).optional().describe('Sort field'),
        order: z.enum(['asc', 'desc']).default('desc').describe('Sort direction'),
        per_page: perPage,
        page,
      }),
      outputSchema: z.object({ total_count: z.number(), items: z.array(repoOut) }),
      annotations: READ,
      execute: async (query, context) => {
        const result = await api.request(context, {
          path: '/search/repositories',
          query,
          resource: 'repository search results',
        });
        return { total_count: result.total_count, items: result.items.map(toRepo) };
      },
    }),
    defineTool({
      slug: 'GITHUB_STAR_REPOSITORY',
      description: 'Star a repository for the connected user (bookmark it / show appreciation).',
      inputSchema: z.object({ owner, repo }),
      outputSchema: z.object({ starred: z.literal(true), repository: z.string() }),
      annotations: UPDATE,
      execute: async ({ owner, repo }, context) => {
        await api.request(context, {
          method: 'PUT',
          path: `/user/starred/${segment(owner)}/${segment(repo)}`,
          resource: `repository ${owner}/${repo}`,
        });
        return { starred: true as const, repository: `${owner}/${repo}` };
      },
    }),
    defineTool({
      slug: 'GITHUB_UNSTAR_REPOSITORY',
      description: 'Remove the star of the connected user from a repository.',
      inputSchema: z.object({ owner, repo }),
      outputSchema: z.object({ starred: z.literal(false), repository: z.string() }),
      annotations: UPDATE,
      execute: async ({ owner, repo }, context) => {
        await api.request(context, {
          method: 'DELETE',
          path: `/user/starred/${segment(owner)}/${segment(repo)}`,
          resource: `repository ${owner}/${repo}`,
        });
        return { starred: false as const, repository: `${owner}/${repo}` };
      },
    }),
  ];

  return defineToolkit({
    slug: 'github',
    name: 'GitHub',
    description:
      'GitHub repositories, issues, pull requests, code search, files, commits, releases and stars for the connected GitHub account.',
    categories: ['developer tools', 'code'],
    keywords: ['git', 'code', 'codebase'],
    baseUrl,
    auth: [
      {
        type: 'oauth2',
        authorizationUrl: `${webUrl}/login/oauth/authorize`,
        tokenUrl: `${webUrl}/login/oauth/access_token`,
        scopes: ['repo', 'read:user', 'user:email'],
        // GitHub reads the client credentials from the form body.
        tokenEndpointAuthMethod: 'client_secret_post',
        // GitHub's own error codes (answered with HTTP 200): a refresh token expired, revoked or used
        // already; a client id or secret it does not know
        refreshTokenDeadErrors: ['bad_refresh_token'],
        clientRejectedErrors: ['incorrect_client_credentials'],
      },
      {
        type: 'api_key',
        fields: [
          {
            name: 'apiKey',
            label: 'Personal access token',
            description:
              'A fine-grained or classic token from Settings → Developer settings → Personal access tokens.',
          },
        ],
      },
    ],
    tools: readingAnswers(api.service, tools),
  });
}

/** GitHub against api.github.com. */
export const github: Toolkit = createGithubToolkit();
