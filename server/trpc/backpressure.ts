import type { Outbound } from './context.ts';

/**
 * Bytes a subscription may leave queued on its socket before it waits. The tRPC adapter
 * sends whatever the generator yields at once, so without this a client that stops reading
 * would have every event buffered in server memory. Waiting here instead stops the pull
 * from the hub; the hub then drops the subscriber's queue (bounded) and it resumes from the
 * log when the client reads again. The limit is per socket, so it is kept small: 5,000
 * stalled clients may cost 5,000 times this much.
 */
export const MAX_BUFFERED_BYTES = 256 * 1024;

const OPEN = 1;

/** Resolves once the socket has drained below the limit, closed, or `signal` aborted. */
export async function waitForRoom(socket: Outbound | undefined, signal: AbortSignal): Promise<void> {
  if (!socket) return;
  while (socket.bufferedAmount > MAX_BUFFERED_BYTES && socket.readyState === OPEN && !signal.aborted) {
    await socket.drained(signal);
  }
}
