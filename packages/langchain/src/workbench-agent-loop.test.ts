import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { MetaToolSlug } from '@toolmux/core';
import { expectCellAnswer, WORKBENCH_CELL_CASES, workbenchCellCalls } from '@toolmux/core/test';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { createAgent } from 'langchain';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { LangChainProvider } from './index.js';

const _silent = { debug() {}, warn() {}, error() {} };

/**
 * TOOLMUX_WORKBENCH in LangChain's own agent loop (`createAgent` with `fakeModel()`), embedded and
 * against a live toolmux server: the model's first cell runs two tools and aggregates, its next cell
 * reads the state (`globalThis`) the first left.
 */
const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

function cell(code: string, id: string): AIMessage {
  return new AIMessage({
    content: '',
    tool_calls: [
      { name: MetaToolSlug.WORKBENCH, args: { code, thought: 'work with code' }, id, type: 'tool_call' },
    ],
  });
}

/** The cell's answer as the model read it. */
function cellSeen(messages: readonly BaseMessage[], callId: string): { result: unknown; logs: string[] } {
  const found = messages.find(
    (message) => ToolMessage.isInstance(message) && message.tool_call_id === callId,
  );
  if (!found) throw new Error(`no ToolMessage for ${callId}`);
  expect((found as ToolMessage).status).toBe('success');
  return JSON.parse(found.text);
}

const FIRST_CELL = `const made = [];
for (const title of ['write report', 'review report', 'ship it']) {
  made.push(await toolmux.execute('TASKS_CREATE_TASK', { title, priority: 'normal' }));
}
const listed = await toolmux.execute('TASKS_LIST_TASKS', {});
globalThis.reportTasks = listed.data.tasks.filter((task) => task.title.includes('report')).map((task) => task.id);
console.log('created', made.filter((r) => r.successful).length);
return { total: listed.data.tasks.length, report: globalThis.reportTasks.length };`;

describe.each(TOOLMUX_MODES)('TOOLMUX_WORKBENCH in the createAgent loop (%s)', (mode) => {
  test('the model runs two tools in a cell and aggregates; its next cell reads the state the first left', async () => {
    const { mux, ...sample } = samples.muxOf(mode, new LangChainProvider());
    try {
      const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'] });
      const tools = await session.tools();
      expect(tools.find((each) => each.name === MetaToolSlug.WORKBENCH)?.description).toContain(
        'await toolmux.execute(slug, args)',
      );
      let firstSeen: { result: unknown; logs: string[] } | undefined;
      const model = fakeModel()
        .respond(cell(FIRST_CELL, 'cell_1'))
        .respond((messages) => {
          firstSeen = cellSeen(messages, 'cell_1');
          return cell('return { remembered: globalThis.reportTasks };', 'cell_2');
        })
        .respond(new AIMessage('Two of your three tasks are about the report.'));
      const result = await createAgent({ model, tools }).invoke({
        messages: [new HumanMessage('Create my three tasks and tell me how many are about the report')],
      });
      expect(result.messages.at(-1)?.text).toBe('Two of your three tasks are about the report.');
      expect(model.callCount).toBe(3);
      expect(firstSeen).toEqual({ result: { total: 3, report: 2 }, logs: ['created 3'] });
      expect(cellSeen(model.calls[2]!.messages, 'cell_2')).toEqual({
        result: { remembered: ['task_1', 'task_2'] },
        logs: [],
      });
      expect(sample.calls.map((call) => call.slug)).toEqual([
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_LIST_TASKS',
      ]);
      const logs = (await session.logs()).items;
      const first = logs.find((log) => log.toolSlug === MetaToolSlug.WORKBENCH && log.callId === 'cell_1');
      const inner = (await session.logs({ parentId: first!.id })).items;
      expect(inner.map((log) => [log.toolSlug, log.callId])).toEqual([
        ['TASKS_LIST_TASKS', `${first!.id}/4`],
        ['TASKS_CREATE_TASK', `${first!.id}/3`],
        ['TASKS_CREATE_TASK', `${first!.id}/2`],
        ['TASKS_CREATE_TASK', `${first!.id}/1`],
      ]);
    } finally {
      await mux.close();
    }
  });
});

describe.each(TOOLMUX_MODES)('a TOOLMUX_WORKBENCH cell that failed, in the createAgent loop (%s)', (mode) => {
  test("is a ToolMessage of status 'error' holding its answer; one that succeeded is 'success'; a failing tool 'error' as before", async () => {
    const { mux } = samples.muxOf(mode, new LangChainProvider());
    try {
      const session = await mux.create('user_1', {
        toolkits: ['tasks'],
        preload: { tools: ['TASKS_SYNC_CALENDAR'] },
      });
      const calls = workbenchCellCalls('args', 'call_failed').map((call) => ({
        ...call,
        type: 'tool_call' as const,
      }));
      const model = fakeModel()
        .respond(new AIMessage({ content: '', tool_calls: calls }))
        .respond(new AIMessage('done'));
      await createAgent({ model, tools: await session.tools() }).invoke({
        messages: [new HumanMessage('Work it out with code')],
      });
      const seen = (callId: string) =>
        model.calls[1]!.messages.find(
          (message) => ToolMessage.isInstance(message) && message.tool_call_id === callId,
        ) as ToolMessage;
      for (const cell of WORKBENCH_CELL_CASES) {
        // a failed cell had status 'success', which chat models send as a success
        expect(seen(cell.id).status, cell.id).toBe(cell.failsWith === undefined ? 'success' : 'error');
        expectCellAnswer(JSON.parse(seen(cell.id).text), cell);
      }
      expect(seen('call_failed').status).toBe('error');
      expect(seen('call_failed').text).toMatch(
        /^Error \(TOOL_EXECUTION_FAILED\): .*calendar work is unreachable/,
      );
    } finally {
      await mux.close();
    }
  });
});
