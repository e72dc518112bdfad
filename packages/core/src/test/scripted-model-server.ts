import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a vendor SDK sent to the scripted server. */
export interface ScriptedRequest {
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The JSON body, parsed (`undefined` without one). */
  body: any;
}

/**
 * A reply of the script: the JSON body (status 200), a status with its body, or `{ events }`: a
 * server-sent event stream (status 200) of one `data:` line per event (JSON), then `data: [DONE]`,
 * for a client that asked for a streamed answer; or `{ namedEvents }`: a stream whose events carry
 * their name (`event:` line, then the JSON `data:` line), as Anthropic's Messages API streams, with no
 * `[DONE]` at the end.
 */
export type ScriptedReply =
  | unknown
  | { status: number; body: unknown }
  | { events: unknown[] }
  | { namedEvents: Array<{ event: string; data: unknown }> };

/** What {@link startScriptedModelServer} returns. */
export interface ScriptedModelServer {
  /** `http://127.0.0.1:<port>`: the SDK's `baseURL` (plus the vendor's path prefix). */
  url: string;
  /** Every request received, in order. */
  requests: ScriptedRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server that plays a model API for a vendor's real SDK client: the n-th request is
 * answered by `script[n]` (called with the request, so a step can read the tool results the SDK sent),
 * in the vendor's wire format the script writes. Requests past the script get a 500 naming the step.
 *
 * @example
 * const model = await startScriptedModelServer([(request) => chatCompletionWithToolCalls, () => finalAnswer]);
 * const openai = new OpenAI({ apiKey: 'test', baseURL: `${model.url}/v1` });
 */
export async function startScriptedModelServer(
  script: ReadonlyArray<(request: ScriptedRequest) => ScriptedReply | Promise<ScriptedReply>>,
): Promise<ScriptedModelServer> {
  const requests: ScriptedRequest[] = [];
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const request: ScriptedRequest = {
        method: incoming.method ?? 'GET',
        url: incoming.url ?? '/',
        headers: incoming.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      const step = script[requests.length];
      requests.push(request);
      let status = 200;
      let body: unknown;
      let events: unknown[] | undefined;
      let namedEvents: Array<{ event: string; data: unknown }> | undefined;
      try {
        if (!step)
          throw new Error(`the script has ${script.length} steps; request ${requests.length} is past it`);
        const reply = await step(request);
        if (typeof reply === 'object' && reply !== null && 'events' in reply && Array.isArray(reply.events))
          events = reply.events;
        if (
          typeof reply === 'object' &&
          reply !== null &&
          'namedEvents' in reply &&
          Array.isArray(reply.namedEvents)
        )
          namedEvents = reply.namedEvents;
        const withStatus =
          typeof reply === 'object' && reply !== null && 'status' in reply && 'body' in reply
            ? (reply as { status: number; body: unknown })
            : undefined;
        [status, body] = withStatus ? [withStatus.status, withStatus.body] : [200, reply];
      } catch (error) {
        [status, body] = [
          500,
          { error: { message: error instanceof Error ? error.message : String(error) } },
        ];
      }
      if (namedEvents && status === 200) {
        outgoing.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const { event, data } of namedEvents)
          outgoing.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        outgoing.end();
        return;
      }
      if (events && status === 200) {
        outgoing.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const event of events) outgoing.write(`data: ${JSON.stringify(event)}\n\n`);
        outgoing.end('data: [DONE]\n\n');
        return;
      }
      outgoing.writeHead(status, { 'content-type': 'application/json' });
      outgoing.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
