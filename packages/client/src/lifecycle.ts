/** What a LiveOrders shows: `offline` once stopped, or while the browser has no network. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'offline';

/**
 * Where a LiveOrders is in its life, and the moves it may make:
 *
 *   connecting ──started──▶ live ◀──started── reconnecting
 *                            │ ▲                    ▲
 *                            │ └──started (resync)  │
 *                            └──dropped / failed────┘
 *   any phase ──close() / fatal error──▶ stopped (for good)
 */
export type Phase = 'connecting' | 'live' | 'reconnecting' | 'stopped';

const MOVES: Record<Phase, readonly Phase[]> = {
  connecting: ['live', 'stopped'],
  live: ['live', 'reconnecting', 'stopped'],
  reconnecting: ['live', 'stopped'],
  stopped: [],
};

/**
 * The phase, and which run is current. A run is one try at a snapshot and subscription;
 * abandoning it (to retry, resync or fall back to SSE) starts the next, and answers that
 * arrive for an earlier run (a page, a started subscription, an error) are ignored. That is
 * the one question every callback asks: `isCurrent(run)`.
 */
export class Lifecycle {
  #phase: Phase = 'connecting';
  #run = 0;
  #shown: ConnectionState = 'connecting';
  #offline: () => boolean;
  #onState: (state: ConnectionState) => void;

  constructor(offline: () => boolean, onState: (state: ConnectionState) => void) {
    this.#offline = offline;
    this.#onState = onState;
  }

  get phase(): Phase {
    return this.#phase;
  }
  get run(): number {
    return this.#run;
  }
  get state(): ConnectionState {
    return this.#shown;
  }

  isCurrent(run: number): boolean {
    return run === this.#run && this.#phase !== 'stopped';
  }

  /** Ends the current run; returns the next one's number. */
  abandon(): number {
    return ++this.#run;
  }

  /** Moves to `next` if that move is allowed from here; says whether it moved. */
  moveTo(next: Phase): boolean {
    if (!MOVES[this.#phase].includes(next)) return false;
    this.#phase = next;
    this.networkChanged();
    return true;
  }

  /** Re-derives what is shown (the browser's network may have changed). */
  networkChanged(): void {
    const state: ConnectionState = this.#phase === 'stopped' || this.#offline() ? 'offline' : this.#phase;
    if (state === this.#shown) return;
    this.#shown = state;
    this.#onState(state);
  }
}
