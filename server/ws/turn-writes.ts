import type { Duplex } from 'node:stream';

/** One socket's writer; `turn` is TurnWrites' to keep: the turn of its last write. */
export type TurnWriter = { readonly socket: Duplex; turn: number };

/**
 * Messages written to one socket within one turn of the event loop leave in one write, when
 * there are several; a lone message leaves at once.
 *
 * When the listener publishes a page of events, every subscription sends them one message at
 * a time, and `ws` writes each message at once: a profile of a flood to 1,000 subscribers
 * spent 30% of the server's time in writev. So a socket is corked until the end of the turn
 * (one setImmediate uncorks every corked socket) as soon as it has a second message in the
 * turn, or is told that more follow (`more`: the push core sends a page or a batch). `ws`'s
 * `bufferedAmount`, which backpressure reads, counts corked bytes.
 *
 * Why not cork every socket on its first message: a message waiting in a corked socket keeps
 * its write requests alive until the turn ends. With one event per turn for 1,000
 * subscribers, V8 then found most of them alive at each scavenge and took to allocating
 * them in the old generation (`--trace-gc`: scavenges of 10-15 ms instead of 1, 4.5 MB
 * promoted each, and a full GC every second or two: the latency tail), for no fewer syscalls.
 *
 * The sockets are the ones the HTTP server handed us on 'upgrade', which we pass to `ws`:
 * ours to cork (Node's public stream API); `ws` corks and uncorks around each frame itself,
 * and corks nest.
 */
export class TurnWrites {
  readonly #corked: Duplex[] = [];
  /** Counts turns with writes; a writer whose `turn` is this one has written in it already. */
  #turn = 1;
  #scheduled = false;

  /** Called before each write of `writer`; `more`: another write to it follows in this turn. */
  hold(writer: TurnWriter, more: boolean): void {
    if (writer.turn !== this.#turn) {
      writer.turn = this.#turn;
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#release);
      }
      if (!more) return;
    }
    const { socket } = writer;
    if (socket.writableCorked === 0 && !socket.destroyed) {
      socket.cork();
      this.#corked.push(socket);
    }
  }

  readonly #release = (): void => {
    this.#scheduled = false;
    this.#turn++;
    for (const socket of this.#corked) if (!socket.destroyed) socket.uncork();
    this.#corked.length = 0;
  };
}
