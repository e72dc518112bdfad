import { Agent, type AgentInputItem, run, setTracingDisabled } from '@openai/agents';
import {
  assistantMessage,
  functionCall,
  modelResponder,
  type RecordedModelCall,
  ScriptedModel,
} from '@openai/agents-core/testing';
import { MetaToolSlug } from '@toolmux/core';
import { useHostedConnectPage } from '@toolmux/core/internal';
import { sampleModes, TOOLMUX_MODES } from '@toolmux/server/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIAgentsProvider } from './openai-agents-provider.js';

setTracingDisabled(true);
const _silent = { debug() {}, warn() {}, error() {} };

/**
 * TOOLMUX_WAIT_FOR_CONNECTIONS in the OpenAI Agents SDK's loop: the model gets a link from
 * TOOLMUX_MANAGE_CONNECTIONS, waits while the user fills in the hosted form, reads CONNECTED and runs
 * the tool that needed the account. Embedded and against a live toolmux server.
 */
const samples = sampleModes({}, { beforeAll, afterEach, afterAll });

function outputSeen(call: RecordedModelCall | undefined, callId: string): any {
  const input = call?.request.input;
  const item = (Array.isArray(input) ? input : []).find(
    (entry: AgentInputItem) => entry.type === 'function_call_result' && entry.callId === callId,
  );
  if (item?.type !== 'function_call_result') throw new Error(`the model never received ${callId}`);
  const output = item.output;
  return JSON.parse(
    typeof output === 'string' ? output : !Array.isArray(output) && output.type === 'text' ? output.text : '',
  );
}

describe.each(TOOLMUX_MODES)('TOOLMUX_WAIT_FOR_CONNECTIONS in the agent loop (%s)', (mode) => {
  it('the model hands out the link, waits, sees CONNECTED and sends the email', async () => {
    const { mux, ...sample } = samples.muxOf(mode, new OpenAIAgentsProvider());
    // who completes the hosted connect form: this ToolMux, or the server the remote one talks to
    const connections =
      mode === 'embedded' ? mux.connectionRequests : samples.server.embedded.connectionRequests;
    if (mode === 'embedded') useHostedConnectPage(mux);
    const complete = (requestId: string) => connections.complete(requestId, { apiKey: 'sk_user' });
    try {
      const session = await mux.create(`user_wait_${mode}`, {
        toolkits: ['mail'],
        manageConnections: { waitForConnections: true },
      });
      const tools = await session.tools();
      expect(tools.find((tool) => tool.name === MetaToolSlug.WAIT_FOR_CONNECTIONS)?.description).toContain(
        'TOOLMUX_MANAGE_CONNECTIONS',
      );
      let link = '';
      let userFinished: Promise<unknown> | undefined;
      const model = new ScriptedModel([
        [functionCall(MetaToolSlug.MANAGE_CONNECTIONS, { toolkits: ['mail'] }, { callId: 'call_manage' })],
        modelResponder((call) => {
          const [entry] = outputSeen(call, 'call_manage').results;
          link = entry.redirect_url;
          expect(entry.message).toContain('TOOLMUX_WAIT_FOR_CONNECTIONS');
          // the user opens the link and fills in the form a moment after the model starts waiting
          userFinished = new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
            complete(entry.connection_request_id),
          );
          return [
            functionCall(
              MetaToolSlug.WAIT_FOR_CONNECTIONS,
              { toolkits: ['mail'], timeout_seconds: 60 },
              { callId: 'call_wait' },
            ),
          ];
        }),
        modelResponder((call) => {
          const waited = outputSeen(call, 'call_wait');
          expect(waited).toMatchObject({ timed_out: false, toolkits: { mail: { status: 'CONNECTED' } } });
          return [
            functionCall(
              MetaToolSlug.MULTI_EXECUTE_TOOL,
              {
                tools: [
                  {
                    tool_slug: 'MAIL_SEND_EMAIL',
                    arguments: { to: 'a@b.c', subject: 'hi', body: 'hello' },
                  },
                ],
              },
              { callId: 'call_send' },
            ),
          ];
        }),
        [assistantMessage('sent')],
      ]);
      const agent = new Agent({
        name: 'Assistant',
        instructions: 'Connect apps when needed.',
        model,
        tools,
      });
      const result = await run(agent, 'Email a@b.c: hello');
      model.assertComplete();
      expect(result.finalOutput).toBe('sent');
      expect(link).toContain('/connect/');
      await userFinished;
      expect(outputSeen(model.lastCall, 'call_send')).toMatchObject({ successful_count: 1 });
      const sent = sample.calls.filter((call) => call.slug === 'MAIL_SEND_EMAIL');
      expect(sent).toHaveLength(1);
      expect(sent[0]!.context.credentials).toEqual({ apiKey: 'sk_user' });
    } finally {
      if (mode === 'embedded') await mux.close();
    }
  });
});
