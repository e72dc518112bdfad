import { defineTool, defineToolkit, type Toolkit } from '@toolmux/core';
import { everyKeyOf, setupOptions } from '@toolmux/core/internal';
import { z } from 'zod';
import { CREATE, DESTROY, READ, UPDATE } from './annotations.js';
import { createApi, type RequestContext, readingAnswers, requireToken } from './http.js';

export interface LinearToolkitOptions {
  /** The GraphQL endpoint. @default 'https://api.linear.app/graphql' */
  baseUrl?: string;
}

type Json = Record<string, any>;

/** Linear's GraphQL errors come with HTTP 200 or 400; their extension code says what happened. */
function graphqlError(body: any): { status: number; detail: string } | undefined {
  const errors: Json[] | undefined = body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const first = errors[0]!;
  const code = String(first.extensions?.code ?? '').toUpperCase();
  const type = String(first.extensions?.type ?? '').toLowerCase();
  const detail = errors
    .map((error) => error.extensions?.userPresentableMessage ?? error.message)
    .filter(Boolean)
    .join('; ');
  if (code === 'AUTHENTICATION_ERROR' || type.includes('authentication')) return { status: 401, detail };
  if (code === 'FORBIDDEN' || type.includes('forbidden')) return { status: 403, detail };
  if (code === 'RATELIMITED' || type.includes('ratelimited')) return { status: 429, detail };
  if (
    errors.some((error) =>
      /not found|could not find/i.test(`${error.message} ${error.extensions?.userPresentableMessage ?? ''}`),
    )
  )
    return { status: 404, detail };
  if (code === 'INTERNAL_SERVER_ERROR') return { status: 500, detail };
  return { status: 400, detail };
}

const ISSUE_FIELDS = `id identifier title description priority priorityLabel url createdAt updatedAt dueDate
  state { id name type } assignee { id name email } team { id key name }
  labels { nodes { id name } } project { id name }`;

const issueOut = z.object({
  id: z.string(),
  identifier: z.string(),
  title: z.string(),
  description: z.string().nullable(),
  priority: z.number(),
  priorityLabel: z.string().nullable(),
  state: z.string().nullable(),
  stateType: z.string().nullable(),
  assignee: z.string().nullable(),
  team: z.string().nullable(),
  labels: z.array(z.string()),
  project: z.string().nullable(),
  dueDate: z.string().nullable(),
  url: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const commentOut = z.object({
  id: z.string(),
  body: z.string(),
  author: z.string().nullable(),
  createdAt: z.string(),
});
const pageInfoOut = { hasNextPage: z.boolean(), endCursor: z.string().nullable() };

const toIssue = (issue: Json, descriptionMax = 20_000): z.infer<typeof issueOut> => ({
  id: issue.id,
  identifier: issue.identifier,
  title: issue.title,
  description:
    issue.description && issue.description.length > descriptionMax
      ? `${issue.description.slice(0, descriptionMax)}…`
      : (issue.description ?? null),
  priority: issue.priority ?? 0,
  priorityLabel: issue.priorityLabel ?? null,
  state: issue.state?.name ?? null,
  stateType: issue.state?.type ?? null,
  assignee: issue.assignee?.name ?? null,
  team: issue.team?.key ?? null,
  labels: (issue.labels?.nodes ?? []).map((label: Json) => label.name),
  project: issue.project?.name ?? null,
  dueDate: issue.dueDate ?? null,
  url: issue.url,
  createdAt: issue.createdAt,
  updatedAt: issue.updatedAt,
});
const toComment = (comment: Json): z.infer<typeof commentOut> => ({
  id: comment.id,
  body: comment.body,
  author: comment.user?.name ?? null,
  createdAt: comment.createdAt,
});

const issueId = z.string().min(1).describe('Issue identifier like "ENG-123", or the issue UUID');
const first = z.number().int().min(1).max(100).default(25).describe('Most results to return');
const after = z.string().optional().describe('endCursor of the previous page');
const priority = z
  .number()
  .int()
  .min(0)
  .max(4)
  .describe('0 none, 1 urgent, 2 high, 3 medium (normal), 4 low');

/** The options of createLinearToolkit() (a misspelt one, `baseURL` for `baseUrl`, sent the calls to the default API). */
const LINEAR_OPTION_NAMES = everyKeyOf<LinearToolkitOptions>()(['baseUrl']);

/** Linear: issues, comments, teams, workflow states, projects and users, over the GraphQL API. */
export function createLinearToolkit(options: LinearToolkitOptions = {}): Toolkit {
  setupOptions(options, 'createLinearToolkit()', LINEAR_OPTION_NAMES, { code: 'TOOL_DEFINITION_INVALID' });
  const baseUrl = options.baseUrl ?? 'https://api.linear.app/graphql';
  const api = createApi({
    service: 'Linear',
    baseUrl,
    // OAuth access tokens are Bearer tokens; personal API keys go into the header as they are.
    headers: (credentials) => ({
      Authorization: credentials?.accessToken
        ? `Bearer ${credentials.accessToken}`
        : requireToken(credentials, 'Linear'),
    }),
    bodyError: graphqlError,
  });
  const graphql = async (context: RequestContext, query: string, variables: Json, resource: string) =>
    (await api.request(context, { method: 'POST', path: '', body: { query, variables }, resource })).data;

  const tools = [
    defineTool({
      slug: 'LINEAR_GET_VIEWER',
      description: 'Get the Linear user whose account is connected (id, name, email) and their organization.',
      inputSchema: z.object({}),
      outputSchema: z.object({
        id: z.string(),
        name: z.string(),
        email: z.string(),
        organization: z.string().nullable(),
      }),
      annotations: READ,
      execute: async (_input, context) => {
        const data = await graphql(
          context,
          'query Viewer { viewer { id name email organization { name urlKey } } }',
          {},
          'current user',
        );
        return {
          id: data.viewer.id,
          name: data.viewer.name,
          email: data.viewer.email,
          organization: data.viewer.organization?.name ?? null,
        };
      },
    }),
    defineTool({
      slug: 'LINEAR_LIST_TEAMS',
      description:
        'List the teams of the Linear workspace with their ids and keys (needed to create issues).',
      inputSchema: z.object({ first }),
      outputSchema: z.object({
        teams: z.array(
          z.object({ id: z.string(), key: z.string(), name: z.string(), description: z.string().nullable() }),
        ),
      }),
      annotations: READ,
      execute: async (variables, context) => {
        const data = await graphql(
          context,
          'query Teams($first: Int) { teams(first: $first) { nodes { id key name description } } }',
          variables,
          'teams',
        );
        return {
          teams: data.teams.nodes.map((team: Json) => ({ ...team, description: team.description ?? null })),
        };
      },
    }),
    defineTool({
      slug: 'LINEAR_LIST_ISSUES',
      description:
        'List Linear issues, most recently updated first, filtered by team, assignee (or just mine), state or label. To find issues by words use LINEAR_SEARCH_ISSUES.',
      inputSchema: z.object({
        teamId: z.string().optional().describe('Only issues of this team id'),
        assignedToMe: z.boolean().default(false).describe('Only issues assigned to the connected user'),
        assigneeId: z.string().optional().describe('Only issues assigned to this user id'),
        stateName: z.string().optional().describe('Only issues in this workflow state, e.g. "In Progress"'),
        labelName: z.string().optional().describe('Only issues with this label'),
        includeCompleted: z.boolean().default(true).describe('Include done and canceled issues'),
        first,
        after,
      }),
      outputSchema: z.object({ issues: z.array(issueOut), ...pageInfoOut }),
      annotations: READ,
      execute: async (input, context) => {
        const filter: Json = {};
        if (input.teamId) filter.team = { id: { eq: input.teamId } };
        if (input.assignedToMe) filter.assignee = { isMe: { eq: true } };
        else if (input.assigneeId) filter.assignee = { id: { eq: input.assigneeId } };
        if (input.stateName) filter.state = { name: { eqIgnoreCase: input.stateName } };
        else if (!input.includeCompleted) filter.state = { type: { nin: ['completed', 'canceled'] } };
        if (input.labelName) filter.labels = { name: { eqIgnoreCase: input.labelName } };
        const data = await graphql(
          context,
          `query Issues($filter: IssueFilter, $first: Int, $after: String) {
            issues(filter: $filter, first: $first, after: $after, orderBy: updatedAt) {
              nodes { ${ISSUE_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
          { filter, first: input.first, after: input.after },
          'issues',
        );
        return {
          issues: data.issues.nodes.map((issue: Json) => toIssue(issue, 500)),
          hasNextPage: data.issues.pageInfo.hasNextPage,
          endCursor: data.issues.pageInfo.endCursor ?? null,
        };
      },
    }),
    defineTool({
      slug: 'LINEAR_SEARCH_ISSUES',
      description: 'Search Linear issues by words in their title, description or comments.',
      inputSchema: z.object({ term: z.string().min(1).describe('Words to search for'), first, after }),
      outputSchema: z.object({ issues: z.array(issueOut), ...pageInfoOut }),
      annotations: READ,
      execute: async (variables, context) => {
        const data = await graphql(
          context,
          `query SearchIssues($term: String!, $first: Int, $after: String) {
            searchIssues(term: $term, first: $first, after: $after) {
              nodes { ${ISSUE_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
          variables,
          'issue search results',
        );
        return {
          issues: data.searchIssues.nodes.map((issue: Json) => toIssue(issue, 500)),
          hasNextPage: data.searchIssues.pageInfo.hasNextPage,
          endCursor: data.searchIssues.pageInfo.endCursor ?? null,
        };
      },
    }),
    defineTool({
      slug: 'LINEAR_GET_ISSUE',
      description:
        'Get one Linear issue by identifier (e.g. "ENG-123"): description, state, assignee, labels and recent comments.',
      inputSchema: z.object({ id: issueId }),
      outputSchema: issueOut.extend({ comments: z.array(commentOut) }),
      annotations: READ,
      execute: async ({ id }, context) => {
        const data = await graphql(
          context,
          `query Issue($id: String!) { issue(id: $id) { ${ISSUE_FIELDS}
            comments(first: 20) { nodes { id body createdAt user { name } } } } }`,
          { id },
          `issue ${id}`,
        );
        return { ...toIssue(data.issue), comments: data.issue.comments.nodes.map(toComment) };
      },
    }),
    defineTool({
      slug: 'LINEAR_CREATE_ISSUE',
      description:
        'Create a Linear issue in a team, with optional description (markdown), priority, assignee, state, labels, project and due date.',
      inputSchema: z.object({
        teamId: z.string().min(1).describe('Team id (from LINEAR_LIST_TEAMS)'),
        title: z.string().min(1).describe('Issue title'),
        description: z.string().optional().describe('Issue description in markdown'),
        priority: priority.optional(),
        assigneeId: z
          .string()
          .optional()
          .describe('User id to assign (from LINEAR_LIST_USERS or LINEAR_GET_VIEWER)'),
        stateId: z.string().optional().describe('Workflow state id (from LINEAR_LIST_WORKFLOW_STATES)'),
        labelIds: z.array(z.string()).optional().describe('Label ids (from LINEAR_LIST_LABELS)'),
        projectId: z.string().optional().describe('Project id (from LINEAR_LIST_PROJECTS)'),
        dueDate: z.string().optional().describe('Due date as YYYY-MM-DD'),
      }),
      outputSchema: issueOut,
      annotations: CREATE,
      execute: async (input, context) => {
        const data = await graphql(
          context,
          `mutation CreateIssue($input: IssueCreateInput!) {
            issueCreate(input: $input) { success issue { ${ISSUE_FIELDS} } } }`,
          { input },
          `team ${input.teamId}`,
        );
        return toIssue(data.issueCreate.issue);
      },
    }),
    defineTool({
      slug: 'LINEAR_UPDATE_ISSUE',
      description:
        'Update a Linear issue: title, description, priority, assignee, workflow state (e.g. move to Done), labels, project or due date. Fields left out stay unchanged.',
      inputSchema: z.object({
        id: issueId,
        title: z.string().optional().describe('New title'),
        description: z.string().optional().describe('New description in markdown (replaces the old one)'),
        priority: priority.optional(),
        assigneeId: z.string().nullable().optional().describe('User id to assign, or null to unassign'),
        stateId: z.string().optional().describe('Workflow state id (from LINEAR_LIST_WORKFLOW_STATES)'),
        labelIds: z.array(z.string()).optional().describe('The full new list of label ids'),
        projectId: z.string().nullable().optional().describe('Project id, or null to remove'),
        dueDate: z.string().nullable().optional().describe('Due date as YYYY-MM-DD, or null to clear'),
      }),
      outputSchema: issueOut,
      annotations: { ...UPDATE, destructiveHint: true },
      execute: async ({ id, ...input }, context) => {
        const data = await graphql(
          context,
          `mutation UpdateIssue($id: String!, $input: IssueUpdateInput!) {
            issueUpdate(id: $id, input: $input) { success issue { ${ISSUE_FIELDS} } } }`,
          { id, input },
          `issue ${id}`,
        );
        return toIssue(data.issueUpdate.issue);
      },
    }),
    defineTool({
      slug: 'LINEAR_ARCHIVE_ISSUE',
      description: 'Archive a Linear issue (hide it from active views; it can be restored).',
      inputSchema: z.object({ id: issueId }),
      outputSchema: z.object({ success: z.boolean() }),
      annotations: DESTROY,
      execute: async ({ id }, context) => {
        const data = await graphql(
          context,
          'mutation ArchiveIssue($id: String!) { issueArchive(id: $id) { success } }',
          { id },
          `issue ${id}`,
        );
        return { success: data.issueArchive.success };
      },
    }),
    defineTool({
      slug: 'LINEAR_LIST_WORKFLOW_STATES',
      description:
        'List the workflow states of a team (Backlog, Todo, In Progress, Done, …) with their ids, to move issues between them.',
      inputSchema: z.object({ teamId: z.string().min(1).describe('Team id (from LINEAR_LIST_TEAMS)') }),
      outputSchema: z.object({
        states: z.array(
          z.object({ id: z.string(), name: z.string(), type: z.string(), position: z.number() }),
        ),
      }),
      annotations: READ,
      execute: async ({ teamId }, context) => {
        const data = await graphql(
          context,
          `query States($teamId: ID!) {
            workflowStates(filter: { team: { id: { eq: $teamId } } }) { nodes { id name type position } } }`,
          { teamId },
          `team ${teamId}`,
        );
        return {
          states: [...data.workflowStates.nodes].sort((a: Json, b: Json) => a.position - b.position),
        };
      },
    }),
    defineTool({
      slug: 'LINEAR_CREATE_COMMENT',
      description: 'Comment on a Linear issue (markdown).',
      inputSchema: z.object({
        issueId: issueId.describe('Issue identifier like "ENG-123", or the issue UUID'),
        body: z.string().min(1).describe('Comment text in markdown'),
      }),
      outputSchema: commentOut,
      annotations: CREATE,
      execute: async (input, context) => {
        const data = await graphql(
          context,
          `mutation CreateComment($input: CommentCreateInput!) {
            commentCreate(input: $input) { success comment { id body createdAt user { name } } } }`,
          { input },
          `issue ${input.issueId}`,
        );
        return toComment(data.commentCreate.comment);
      },
    }),
    defineTool({
      slug: 'LINEAR_LIST_COMMENTS',
      description: 'List the comments of a Linear issue, oldest first.',
      inputSchema: z.object({ issueId, first }),
      outputSchema: z.object({ comments: z.array(commentOut) }),
      annotations: READ,
      execute: async ({ issueId, first }, context) => {
        const data = await graphql(
          context,
          `query Comments($id: String!, $first: Int) {
            issue(id: $id) { comments(first: $first) { nodes { id body createdAt user { name } } } } }`,
          { id: issueId, first },
          `issue ${issueId}`,
        );
        return { comments: data.issue.comments.nodes.map(toComment) };
      },
    }),
    defineTool({
      slug: 'LINEAR_LIST_PROJECTS',
      description: 'List Linear projects with their state, progress and target date.',
      inputSchema: z.object({ first }),
      outputSchema: z.object({
        projects: z.array(
          z.object({
            id: z.string(),
            name: z.string(),
            state: z.string().nullable(),
            progress: z.number().nullable(),
            targetDate: z.string().nullable(),
            url: z.string(),
          }),
        ),
      }),
      annotations: READ,
      execute: async (variables, context) => {
        const data = await graphql(
          context,
          'query Projects($first: Int) { projects(first: $first) { nodes { id name state progress targetDate url } } }',
          variables,
          'projects',
        );
        return {
          projects: data.projects.nodes.map((project: Json) => ({
            id: project.id,
            name: project.name,
            state: project.state ?? null,
            progress: project.progress ?? null,
            targetDate: project.targetDate ?? null,
            url: project.url,
          })),
        };
      },
    }),
    defineTool({
      slug: 'LINEAR_LIST_USERS',
      description: 'List the members of the Linear workspace with their ids (to assign issues).',
      inputSchema: z.object({ first }),
      outputSchema: z.object({
        users: z.array(
          z.object({ id: z.string(), name: z.string(), email: z.string(), active: z.boolean() }),
        ),
      }),
      annotations: READ,
      execute: async (variables, context) => {
        const data = await graphql(
          context,
          'query Users($first: Int) { users(first: $first) { nodes { id name email active } } }',
          variables,
          'users',
        );
        return { users: data.users.nodes };
      },
    }),
    defineTool({
      slug: 'LINEAR_LIST_LABELS',
      description: 'List the issue labels of the Linear workspace with their ids.',
      inputSchema: z.object({ first: first.default(100) }),
      outputSchema: z.object({
        labels: z.array(z.object({ id: z.string(), name: z.string(), team: z.string().nullable() })),
      }),
      annotations: READ,
      execute: async (variables, context) => {
        const data = await graphql(
          context,
          'query Labels($first: Int) { issueLabels(first: $first) { nodes { id name team { key } } } }',
          variables,
          'labels',
        );
        return {
          labels: data.issueLabels.nodes.map((label: Json) => ({
            id: label.id,
            name: label.name,
            team: label.team?.key ?? null,
          })),
        };
      },
    }),
  ];

  return defineToolkit({
    slug: 'linear',
    name: 'Linear',
    description:
      'Linear issue tracking: issues, comments, teams, workflow states, projects, labels and users.',
    categories: ['project management', 'issue tracking'],
    keywords: ['ticket', 'task', 'bug', 'sprint', 'backlog', 'roadmap'],
    baseUrl,
    auth: [
      {
        type: 'oauth2',
        authorizationUrl: 'https://linear.app/oauth/authorize',
        tokenUrl: 'https://api.linear.app/oauth/token',
        scopes: ['read', 'write'],
        scopeSeparator: ',',
        tokenEndpointAuthMethod: 'client_secret_post',
      },
      {
        type: 'api_key',
        fields: [
          {
            name: 'apiKey',
            label: 'Personal API key',
            description: 'From Linear → Settings → Security & access → Personal API keys.',
          },
        ],
        // Personal API keys go into the Authorization header without a "Bearer " prefix.
        placement: { in: 'header', name: 'Authorization' },
      },
    ],
    tools: readingAnswers(api.service, tools),
  });
}

/** Linear against api.linear.app. */
export const linear: Toolkit = createLinearToolkit();
