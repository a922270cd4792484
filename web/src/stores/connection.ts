import { createEffect, createSignal, on, onCleanup } from 'solid-js';
import { position } from '../lib/positions.ts';
import { session, trpc } from '../lib/trpc.ts';

export type ConnectionStatus = 'connecting' | 'live' | 'reconnecting' | 'offline';

type CatchUp = {
  /** the last position seen before the connection dropped */
  from: bigint;
  /** the log's head right after reconnecting; null until asked */
  head: bigint | null;
  /** positions received since the drop */
  received: bigint[];
};

/**
 * Live / reconnecting / offline, from the socket's state and the browser's online flag, and
 * after a reconnect an honest count of the changes missed meanwhile: the events after the
 * last one seen before the drop, up to the log's head as read right after reconnecting.
 */
export function createConnection() {
  const [socket, setSocket] = createSignal<'connecting' | 'open' | 'lost' | 'closed'>('connecting');
  const [online, setOnline] = createSignal(navigator.onLine);
  const [caughtUp, setCaughtUp] = createSignal<number | null>(null);
  let everOpen = false;
  let lastSeen: bigint | null = null;
  let catchUp: CatchUp | null = null;

  const finishIfDone = () => {
    if (!catchUp || catchUp.head === null) return;
    const { from, head, received } = catchUp;
    const done = head <= from || received.some((p) => p >= head);
    if (!done) return;
    setCaughtUp(received.filter((p) => p > from && p <= head).length);
    catchUp = null;
  };

  const askHead = async () => {
    const pending = catchUp;
    if (!pending) return;
    try {
      const { lastEventId } = await trpc.orders.list.query({ limit: 1 });
      if (catchUp !== pending) return;
      pending.head = position(lastEventId);
      finishIfDone();
    } catch {
      // The head could not be read (the network went again); the next reconnect asks anew.
    }
  };

  // A new token means a new socket (see lib/trpc.ts), and a fresh start: the snapshot is
  // loaded again, so nothing from the previous socket counts as missed.
  createEffect(
    on(session.wsClient, (client) => {
      everOpen = false;
      lastSeen = null;
      catchUp = null;
      setCaughtUp(null);
      setSocket('connecting');
      const sub = client.connectionState.subscribe({
        next(state) {
          if (state.state === 'pending') {
            setSocket('open');
            if (everOpen && catchUp) void askHead();
            everOpen = true;
          } else if (state.state === 'connecting') {
            if (!everOpen) return setSocket('connecting');
            setSocket('lost');
            if (lastSeen === null) return;
            // A second drop before catching up keeps counting from the first one.
            if (catchUp) catchUp.head = null;
            else {
              catchUp = { from: lastSeen, head: null, received: [] };
              setCaughtUp(null);
            }
          } else setSocket('closed');
        },
      });
      onCleanup(() => sub.unsubscribe());
    }),
  );
  const goOnline = () => setOnline(true);
  const goOffline = () => setOnline(false);
  window.addEventListener('online', goOnline);
  window.addEventListener('offline', goOffline);
  onCleanup(() => {
    window.removeEventListener('online', goOnline);
    window.removeEventListener('offline', goOffline);
  });

  const status = (): ConnectionStatus => {
    if (!online()) return 'offline';
    const s = socket();
    if (s === 'open') return 'live';
    if (s === 'connecting') return 'connecting';
    if (s === 'lost') return 'reconnecting';
    return 'offline';
  };

  return {
    status,
    /** Missed changes received after the last reconnect, once all of them are in. */
    caughtUp,
    /** The snapshot's position: events after it are what the subscription delivers. */
    start(snapshotPosition: string) {
      lastSeen = position(snapshotPosition);
    },
    /** Called for every event, in order. */
    seen(id: string) {
      const p = position(id);
      lastSeen = p;
      if (catchUp) {
        catchUp.received.push(p);
        finishIfDone();
      }
    },
  };
}

export type Connection = ReturnType<typeof createConnection>;
