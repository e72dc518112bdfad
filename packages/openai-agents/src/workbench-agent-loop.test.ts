import { Agent, type AgentInputItem, run, setTracingDisabled } from '@openai/agents';
import {
  assistantMessage,
  functionCall,
  modelResponder,
  type RecordedModelCall,
  ScriptedModel,
} from '@openai/agents-core/testing';
import { MetaToolSlug } from '@toolmux/core';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIAgentsProvider } from './openai-agents-provider.js';

setTracingDisabled(true);
const _silent = { debug() {}, warn() {}, error() {} };

/**
 * TOOLMUX_WORKBENCH in the OpenAI Agents SDK's own loop (`run()` with a `ScriptedModel`), embedded
 * and against a live toolmux server: the model's first cell runs two tools and aggregates, its next
 * cell reads the state (`globalThis`) the first left.
 */
const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

/** The text the model received as the output of tool call `callId`, parsed. */
function cellSeen(call: RecordedModelCall | undefined, callId: string): { result: unknown; logs: string[] } {
  const input = call?.request.input;
  const item = (Array.isArray(input) ? input : []).find(
    (entry: AgentInputItem) => entry.type === 'function_call_result' && entry.callId === callId,
  );
  if (item?.type !== 'function_call_result') throw new Error(`the model never received ${callId}`);
  const output = item.output;
  const text =
    typeof output === 'string' ? output : !Array.isArray(output) && output.type === 'text' ? output.text : '';
  return JSON.parse(text);
}

const FIRST_CELL = `const titles = ['write report', 'review report', 'ship it'];
const made = await Promise.all(titles.map((title) => toolmux.execute('TASKS_CREATE_TASK', { title, priority: 'high' })));
const listed = await toolmux.execute('TASKS_LIST_TASKS', {});
globalThis.reportTasks = listed.data.tasks.filter((task) => task.title.includes('report')).map((task) => task.id);
console.log('created', made.filter((r) => r.successful).length);
return { total: listed.data.tasks.length, report: globalThis.reportTasks.length };`;

describe.each(TOOLMUX_MODES)('TOOLMUX_WORKBENCH in the OpenAI Agents loop (%s)', (mode) => {
  it('the model runs two tools in a cell and aggregates; its next cell reads the state the first left', async () => {
    const { mux, ...sample } = samples.muxOf(mode, new OpenAIAgentsProvider());
    try {
      const session = await mux.create('user_1', { toolkits: ['tasks', 'notes'] });
      const tools = await session.tools();
      const workbench = tools.find((tool) => tool.name === MetaToolSlug.WORKBENCH);
      expect(workbench?.description).toContain('await toolmux.execute(slug, args)');

      let firstSeen: { result: unknown; logs: string[] } | undefined;
      const model = new ScriptedModel([
        [
          functionCall(
            MetaToolSlug.WORKBENCH,
            { code: FIRST_CELL, thought: 'make and count' },
            { callId: 'cell_1' },
          ),
        ],
        modelResponder((call) => {
          firstSeen = cellSeen(call, 'cell_1');
          return [
            functionCall(
              MetaToolSlug.WORKBENCH,
              { code: 'return { remembered: globalThis.reportTasks };' },
              { callId: 'cell_2' },
            ),
          ];
        }),
        [assistantMessage('two of your three tasks are about the report')],
      ]);
      const agent = new Agent({ name: 'Assistant', instructions: 'Use the workbench.', model, tools });
      const result = await run(agent, 'Create my three tasks and tell me how many are about the report.');
      model.assertComplete();
      expect(result.finalOutput).toBe('two of your three tasks are about the report');
      expect(firstSeen).toEqual({ result: { total: 3, report: 2 }, logs: ['created 3'] });
      expect(cellSeen(model.lastCall, 'cell_2')).toEqual({
        result: { remembered: ['task_1', 'task_2'] },
        logs: [],
      });
      expect(sample.calls.map((call) => call.slug).sort()).toEqual([
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_LIST_TASKS',
      ]);
      // the cell's tool calls hang under its log entry
      const logs = (await session.logs()).items;
      const cell = logs.find((log) => log.toolSlug === MetaToolSlug.WORKBENCH && log.callId === 'cell_1');
      expect(cell?.parentId).toBeNull();
      const inner = (await session.logs({ parentId: cell!.id })).items;
      expect(inner.map((log) => log.toolSlug).sort()).toEqual([
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_CREATE_TASK',
        'TASKS_LIST_TASKS',
      ]);
    } finally {
      await mux.close();
    }
  });
});
