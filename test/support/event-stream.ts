import { TRPC_PATH } from '../../shared/protocol.ts';

/** One Server-Sent Event as it came over the wire. */
export type WireEvent = { event?: string; id?: string; data: string };

/**
 * Opens `orders.onChange` as a raw Server-Sent Events request (what a browser's EventSource
 * or curl sends) and collects events until `done` says so, or fails at `timeoutMs`.
 */
export async function readEventStream(
  baseUrl: string,
  input: Record<string, unknown>,
  opts: { headers?: Record<string, string>; done: (events: WireEvent[]) => boolean; timeoutMs?: number },
): Promise<WireEvent[]> {
  const url = `${baseUrl}${TRPC_PATH}/orders.onChange?input=${encodeURIComponent(JSON.stringify(input))}`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no end condition within ${opts.timeoutMs ?? 20_000} ms`)), opts.timeoutMs ?? 20_000);
  const events: WireEvent[] = [];
  try {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...opts.headers }, signal: abort.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buffered = '';
    const reader = res.body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffered += decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) !== -1) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (block.trim() === '') continue;
        events.push(parseBlock(block));
        if (opts.done(events)) return events;
      }
    }
    throw new Error(`stream ended before its end condition; got ${JSON.stringify(events)}`);
  } catch (err) {
    throw abort.signal.aborted ? (abort.signal.reason as Error) : err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

function parseBlock(block: string): WireEvent {
  const event: WireEvent = { data: '' };
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event.event = value;
    else if (field === 'id') event.id = value;
    else if (field === 'data') event.data = event.data ? `${event.data}\n${value}` : value;
  }
  return event;
}
