import type { Duplex } from 'node:stream';

/**
 * Everything written to a socket within one turn of the event loop leaves in one write.
 *
 * When the listener publishes a page of events, every subscription sends them one message at
 * a time, and `ws` writes each message at once: a profile of a flood to 1,000 subscribers
 * spent 30% of the server's time in writev. Corking a socket on its first write of a turn,
 * and uncorking every corked socket after the turn (one setImmediate for all of them), sends
 * the same bytes in one syscall per socket per turn. A lone message waits no longer than the
 * end of the turn. `ws`'s `bufferedAmount`, which backpressure reads, counts corked bytes.
 *
 * The sockets are the ones the HTTP server handed us on 'upgrade', which we pass to `ws`:
 * ours to cork (Node's public stream API); `ws` corks and uncorks around each frame itself,
 * and corks nest.
 */
export class TurnWrites {
  readonly #corked = new Set<Duplex>();
  #scheduled = false;

  /** Corks `socket` until the end of this turn, if it is not already. */
  hold(socket: Duplex): void {
    if (this.#corked.has(socket) || socket.destroyed) return;
    socket.cork();
    this.#corked.add(socket);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#release);
    }
  }

  readonly #release = (): void => {
    this.#scheduled = false;
    for (const socket of this.#corked) if (!socket.destroyed) socket.uncork();
    this.#corked.clear();
  };
}
