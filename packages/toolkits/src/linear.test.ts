import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, type RecordedRequest, run, startFakeApi, toolContext } from '../test/api-server.js';
import { createLinearToolkit } from './linear.js';

/** GraphQL answers shaped like Linear's schema (Issue, Team, WorkflowState, Comment, …). */
const issue = {
  id: 'b2c3d4e5-0000-4a1b-9c8d-1234567890ab',
  identifier: 'ENG-123',
  title: 'Login button unresponsive on Safari',
  description: 'Steps to reproduce:\n1. Open the app in Safari 17\n2. Click **Log in**',
  priority: 2,
  priorityLabel: 'High',
  url: 'https://linear.app/acme/issue/ENG-123/login-button-unresponsive-on-safari',
  createdAt: '2024-05-02T09:14:11.312Z',
  updatedAt: '2024-05-03T16:40:02.118Z',
  dueDate: '2024-05-10',
  state: { id: 'e1f2a3b4-state-inprogress', name: 'In Progress', type: 'started' },
  assignee: { id: 'u-1111', name: 'Ada Lovelace', email: 'ada@acme.dev' },
  team: { id: 't-eng', key: 'ENG', name: 'Engineering' },
  labels: { nodes: [{ id: 'l-bug', name: 'Bug' }] },
  project: { id: 'p-q2', name: 'Q2 Reliability' },
};
const comment = {
  id: 'c-1',
  body: 'Reproduced on Safari 17.4.',
  createdAt: '2024-05-03T10:00:00.000Z',
  user: { name: 'Grace Hopper' },
};

function answer(request: RecordedRequest) {
  const { query } = request.body as { query: string };
  const operation = query.match(/^\s*(?:query|mutation) (\w+)/)![1];
  const data: Record<string, unknown> = {
    Viewer: {
      viewer: {
        id: 'u-1111',
        name: 'Ada Lovelace',
        email: 'ada@acme.dev',
        organization: { name: 'Acme', urlKey: 'acme' },
      },
    },
    Teams: { teams: { nodes: [{ id: 't-eng', key: 'ENG', name: 'Engineering', description: null }] } },
    Issues: { issues: { nodes: [issue], pageInfo: { hasNextPage: true, endCursor: 'cursor-1' } } },
    SearchIssues: { searchIssues: { nodes: [issue], pageInfo: { hasNextPage: false, endCursor: null } } },
    Issue: { issue: { ...issue, comments: { nodes: [comment] } } },
    CreateIssue: { issueCreate: { success: true, issue } },
    UpdateIssue: {
      issueUpdate: {
        success: true,
        issue: { ...issue, state: { id: 's-done', name: 'Done', type: 'completed' } },
      },
    },
    ArchiveIssue: { issueArchive: { success: true } },
    States: {
      workflowStates: {
        nodes: [
          { id: 's-done', name: 'Done', type: 'completed', position: 3 },
          { id: 's-todo', name: 'Todo', type: 'unstarted', position: 1 },
          { id: 'e1f2a3b4-state-inprogress', name: 'In Progress', type: 'started', position: 2 },
        ],
      },
    },
    CreateComment: { commentCreate: { success: true, comment } },
    Comments: { issue: { comments: { nodes: [comment] } } },
    Projects: {
      projects: {
        nodes: [
          {
            id: 'p-q2',
            name: 'Q2 Reliability',
            state: 'started',
            progress: 0.42,
            targetDate: '2024-06-30',
            url: 'https://linear.app/acme/project/q2-reliability',
          },
        ],
      },
    },
    Users: {
      users: { nodes: [{ id: 'u-1111', name: 'Ada Lovelace', email: 'ada@acme.dev', active: true }] },
    },
    Labels: { issueLabels: { nodes: [{ id: 'l-bug', name: 'Bug', team: null }] } },
  };
  return { body: { data: data[operation!] } };
}

let api: FakeApi;
let toolkit: ReturnType<typeof createLinearToolkit>;
const oauth = toolContext({ accessToken: 'lin_oauth_test' });
const apiKey = toolContext({ apiKey: 'lin_api_test' });
const lastVariables = () => (api.requests.at(-1)!.body as { variables: Record<string, unknown> }).variables;

beforeAll(async () => {
  api = await startFakeApi();
  toolkit = createLinearToolkit({ baseUrl: `${api.url}/graphql` });
  api.route('POST', '/graphql', answer);
});

afterAll(() => api.close());

describe('linear tools', () => {
  it('sends OAuth tokens as Bearer and personal API keys as they are', async () => {
    expect(await run(toolkit, 'LINEAR_GET_VIEWER', {}, oauth)).toEqual({
      id: 'u-1111',
      name: 'Ada Lovelace',
      email: 'ada@acme.dev',
      organization: 'Acme',
    });
    expect(api.requests.at(-1)!.headers.authorization).toBe('Bearer lin_oauth_test');
    await run(toolkit, 'LINEAR_GET_VIEWER', {}, apiKey);
    expect(api.requests.at(-1)!.headers.authorization).toBe('lin_api_test');
  });

  it('lists teams, filtered issues and searches', async () => {
    expect((await run(toolkit, 'LINEAR_LIST_TEAMS', {}, oauth)).teams[0].key).toBe('ENG');
    const issues = await run(
      toolkit,
      'LINEAR_LIST_ISSUES',
      { teamId: 't-eng', assignedToMe: true, stateName: 'In Progress' },
      oauth,
    );
    expect(issues).toMatchObject({ hasNextPage: true, endCursor: 'cursor-1' });
    expect(issues.issues[0]).toMatchObject({
      identifier: 'ENG-123',
      state: 'In Progress',
      assignee: 'Ada Lovelace',
      labels: ['Bug'],
      team: 'ENG',
    });
    expect(lastVariables().filter).toEqual({
      team: { id: { eq: 't-eng' } },
      assignee: { isMe: { eq: true } },
      state: { name: { eqIgnoreCase: 'In Progress' } },
    });
    const found = await run(toolkit, 'LINEAR_SEARCH_ISSUES', { term: 'safari login' }, oauth);
    expect(found.issues).toHaveLength(1);
    expect(lastVariables()).toEqual({ term: 'safari login', first: 25 });
  });

  it('gets, creates, updates and archives issues', async () => {
    const got = await run(toolkit, 'LINEAR_GET_ISSUE', { id: 'ENG-123' }, oauth);
    expect(got.comments).toEqual([
      {
        id: 'c-1',
        body: 'Reproduced on Safari 17.4.',
        author: 'Grace Hopper',
        createdAt: '2024-05-03T10:00:00.000Z',
      },
    ]);
    await run(
      toolkit,
      'LINEAR_CREATE_ISSUE',
      { teamId: 't-eng', title: 'Login button unresponsive on Safari', priority: 2, labelIds: ['l-bug'] },
      oauth,
    );
    expect(lastVariables()).toEqual({
      input: {
        teamId: 't-eng',
        title: 'Login button unresponsive on Safari',
        priority: 2,
        labelIds: ['l-bug'],
      },
    });
    const updated = await run(toolkit, 'LINEAR_UPDATE_ISSUE', { id: 'ENG-123', stateId: 's-done' }, oauth);
    expect(updated.state).toBe('Done');
    expect(lastVariables()).toEqual({ id: 'ENG-123', input: { stateId: 's-done' } });
    expect(await run(toolkit, 'LINEAR_ARCHIVE_ISSUE', { id: 'ENG-123' }, oauth)).toEqual({ success: true });
  });

  it('lists workflow states in board order, comments, projects, users and labels', async () => {
    const states = await run(toolkit, 'LINEAR_LIST_WORKFLOW_STATES', { teamId: 't-eng' }, oauth);
    expect(states.states.map((state: { name: string }) => state.name)).toEqual([
      'Todo',
      'In Progress',
      'Done',
    ]);
    expect(
      (
        await run(
          toolkit,
          'LINEAR_CREATE_COMMENT',
          { issueId: 'ENG-123', body: 'Reproduced on Safari 17.4.' },
          oauth,
        )
      ).author,
    ).toBe('Grace Hopper');
    expect((await run(toolkit, 'LINEAR_LIST_COMMENTS', { issueId: 'ENG-123' }, oauth)).comments).toHaveLength(
      1,
    );
    expect((await run(toolkit, 'LINEAR_LIST_PROJECTS', {}, oauth)).projects[0]).toMatchObject({
      name: 'Q2 Reliability',
      progress: 0.42,
    });
    expect((await run(toolkit, 'LINEAR_LIST_USERS', {}, oauth)).users[0].email).toBe('ada@acme.dev');
    expect((await run(toolkit, 'LINEAR_LIST_LABELS', {}, oauth)).labels).toEqual([
      { id: 'l-bug', name: 'Bug', team: null },
    ]);
  });
});

describe('linear errors (GraphQL errors carry the status in extensions)', () => {
  it('AUTHENTICATION_ERROR asks for a reconnect', async () => {
    api.failNext({
      status: 400,
      body: {
        errors: [
          {
            message: 'Authentication required, not authenticated',
            extensions: {
              type: 'authentication error',
              code: 'AUTHENTICATION_ERROR',
              statusCode: 401,
              userError: true,
              userPresentableMessage: 'You need to authenticate to access this operation.',
            },
          },
        ],
      },
    });
    await expect(run(toolkit, 'LINEAR_GET_VIEWER', {}, oauth)).rejects.toThrow(
      /Linear rejected the credentials \(401: You need to authenticate to access this operation\.\).*reconnect the Linear account/,
    );
  });

  it('Entity not found names the issue', async () => {
    api.failNext({
      body: {
        data: null,
        errors: [
          {
            message: 'Entity not found: Issue',
            path: ['issue'],
            extensions: {
              type: 'invalid input',
              code: 'INPUT_ERROR',
              userError: true,
              userPresentableMessage: 'Could not find referenced Issue.',
            },
          },
        ],
      },
    });
    await expect(run(toolkit, 'LINEAR_GET_ISSUE', { id: 'ENG-999' }, oauth)).rejects.toThrow(
      /Linear found no issue ENG-999 \(404: Could not find referenced Issue\.\)/,
    );
  });

  it('RATELIMITED waits for a near reset and retries once, else says when', async () => {
    const ratelimited = (resetInMs: number) => ({
      status: 400,
      headers: { 'x-ratelimit-requests-reset': String(Date.now() + resetInMs) },
      body: {
        errors: [
          { message: 'Rate limit exceeded', extensions: { code: 'RATELIMITED', type: 'ratelimited' } },
        ],
      },
    });
    api.failNext(ratelimited(0));
    expect((await run(toolkit, 'LINEAR_LIST_TEAMS', {}, oauth)).teams).toHaveLength(1);
    api.failNext(ratelimited(15 * 60_000));
    await expect(run(toolkit, 'LINEAR_LIST_TEAMS', {}, oauth)).rejects.toThrow(
      /Linear rate limit reached \(429: Rate limit exceeded\)\. Retry after 15 minutes/,
    );
  });
});
