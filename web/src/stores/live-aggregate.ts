import { batch, createSignal } from 'solid-js';
import { createStore, produce, reconcile } from 'solid-js/store';
import { isAfter } from 'live-orders-client';
import type { OrderEvent } from '../../../shared/orders.ts';

/** How long to wait before asking again when the aggregate could not be read. */
const RETRY_MS = 2_000;

export type Positioned<T> = { value: T; lastEventId: string };

/**
 * A figure the server computes over the whole log (the flow per minute), kept live on the page: read at a known position (`lastEventId`), then moved by
 * each live event after that position, none before it and none twice. So it is exact at every
 * moment, and a missed or doubled event would show as a figure that disagrees with the table.
 *
 * The table's position (`seen`: the snapshot's, then each batch's last event) and the read's
 * position need not be the same: events that come while the read is under way wait, and are
 * applied after its position once it is in; a read that is ahead of the table (it saw changes
 * still on their way to the page) is held back until the table has caught up with it, so the
 * figure never counts a change the table does not show yet.
 *
 * `reload()` after every snapshot of the live copy (the first, or a resync), whose events need
 * not continue from where the figure was.
 */
export function createLiveAggregate<T extends object>(options: {
  empty: () => T;
  read: () => Promise<Positioned<T>>;
  apply: (draft: T, event: OrderEvent) => void;
}) {
  const [value, setValue] = createStore<T>(options.empty());
  const [position, setPosition] = createSignal<string | null>(null);
  let generation = 0;
  /** The table's position: the last event it shows. */
  let seen: string | null = null;
  /** Events that came while a read was under way (or held back); null when none is. */
  let waiting: OrderEvent[] | null = null;
  /** A read ahead of the table, shown once the table reaches its position. */
  let held: Positioned<T> | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const applyAfter = (from: string, events: readonly OrderEvent[]) => {
    let at = from;
    setValue(
      produce((draft) => {
        for (const event of events) {
          if (!isAfter(event.id, at)) continue;
          options.apply(draft as T, event);
          at = event.id;
        }
      }),
    );
    setPosition(at);
  };

  const show = (fresh: Positioned<T>) => {
    const events = waiting ?? [];
    waiting = null;
    held = null;
    batch(() => {
      setValue(reconcile(fresh.value));
      applyAfter(fresh.lastEventId, events);
    });
  };

  const read = async (mine: number) => {
    try {
      const fresh = await options.read();
      if (mine !== generation) return;
      if (seen !== null && isAfter(fresh.lastEventId, seen)) held = fresh;
      else show(fresh);
    } catch {
      if (mine === generation) retry = setTimeout(() => void read(mine), RETRY_MS);
    }
  };

  return {
    value,
    /** The position the figure is exact at; null while it is being read. */
    position,
    /**
     * Reads the figure afresh; `tableAt`: the position of the rows the table shows now (the
     * snapshot just shown), kept otherwise. Events from now on are applied after the read's position.
     */
    reload(tableAt?: string) {
      const mine = ++generation;
      clearTimeout(retry);
      if (tableAt !== undefined) seen = tableAt;
      waiting = [];
      held = null;
      setPosition(null);
      void read(mine);
    },
    /** Live events, in log order, in the same batch that shows them in the table. */
    changed(events: readonly OrderEvent[]) {
      const last = events.at(-1);
      if (!last) return;
      if (seen === null || isAfter(last.id, seen)) seen = last.id;
      if (waiting) {
        waiting.push(...events);
        if (held && !isAfter(held.lastEventId, seen)) show(held);
      } else {
        const from = position();
        if (from !== null) applyAfter(from, events);
      }
    },
    /** Changes the figure by something other than an event (the clock moving a window along). */
    modify(change: (draft: T) => void) {
      setValue(produce((draft) => change(draft as T)));
    },
    /** Forgets the figure (signed out, another token). */
    reset() {
      generation++;
      clearTimeout(retry);
      waiting = null;
      batch(() => {
        setValue(reconcile(options.empty()));
        setPosition(null);
      });
    },
  };
}

export type LiveAggregate<T extends object> = ReturnType<typeof createLiveAggregate<T>>;
