import { batch, createSignal } from 'solid-js';
import { createStore, produce, reconcile } from 'solid-js/store';
import type { Api } from 'live-orders-client';
import type { Order, OrderEvent } from '../../../shared/orders.ts';
import { MAX_PAGE_SIZE } from '../../../shared/protocol.ts';
import { errorCode, toUserError } from '../lib/errors.ts';
import { applyCountMoves, countMoves, zeroCounts, type StatusCounts } from '../../../shared/order-counts.ts';

/** Events fetched ahead of the replay at a time: a step forward rarely waits for the network. */
const REPLAY_PAGE = 200;

export type TimeTravelState =
  | { kind: 'live' }
  | { kind: 'loading'; asOf: string }
  /**
   * The board as it was right after `position`: `start` is where the travel landed, every
   * step since is on the replay stack, `last` the change that led here (null at `start`).
   * `at`: when that change (or the event at `start`, `startAt`) was committed, if known.
   * `end`: the last look found no change after `position` (a later one may come: the next
   * step looks again).
   */
  | { kind: 'past'; start: string; startAt: string | null; position: string; steps: number; last: OrderEvent | null; at: string | null; end: boolean };

type Step = { event: OrderEvent; before: Order | undefined };

/** What else moves with the board (the chart): told where the travel landed and of each step. */
export type TimeTravelFollower = {
  landed(position: string, at: string | null): void;
  stepped(event: OrderEvent): void;
  steppedBack(position: string, at: string | null): void;
  left(): void;
};

/**
 * The board at a moment in the past: the orders and counts exactly as the log says they were
 * right after a position (`orders.list` and `orders.counts` with `asOf`), then a replay from
 * there, one change at a time, forward and back. The live copy is not touched: its
 * subscription keeps running meanwhile, so going back to live loses nothing.
 *
 * Counts are taken from the server at the same position and moved by each replayed event on
 * their own (shared/order-counts.ts), never recounted from these rows: a wrong step would show as
 * counts that disagree with the table.
 */
export function createTimeTravel(api: () => Api, follower?: TimeTravelFollower) {
  const [state, setState] = createSignal<TimeTravelState>({ kind: 'live' });
  const [error, setError] = createSignal<string | null>(null);
  const [orders, setOrders] = createStore<Record<string, Order>>({});
  const [counts, setCounts] = createStore<StatusCounts>(zeroCounts());
  let run = 0;
  let steps: Step[] = [];
  let ahead: OrderEvent[] = [];
  /** The position up to which the log was read for the replay. */
  let readThrough = '0';
  /** The last read reached the log's end. */
  let atEnd = false;
  let fetching: Promise<void> | null = null;

  const current = () => {
    const s = state();
    return s.kind === 'past' ? s : null;
  };

  const readAhead = (token: number): Promise<void> => {
    if (fetching) return fetching;
    const after = readThrough;
    fetching = api()
      .events.list.query({ after, limit: REPLAY_PAGE })
      .then((page) => {
        if (token !== run) return;
        ahead.push(...page.events);
        readThrough = page.lastEventId;
        atEnd = page.events.length < REPLAY_PAGE;
        const s = current();
        if (s) setState({ ...s, end: ahead.length === 0 && atEnd });
      })
      .finally(() => {
        fetching = null;
      });
    return fetching;
  };

  /**
   * Every row at `asOf`, page by page (the same pages `orders.list` gives live), and the
   * position they are exact at (the server's `lastEventId`).
   */
  const rowsAt = async (asOf: string, token: number): Promise<{ rows: Order[]; position: string } | null> => {
    const rows: Order[] = [];
    let position: string | null = null;
    for (let cursor: string | undefined; ; ) {
      const page: { orders: Order[]; nextCursor: string | null; lastEventId: string } = await api().orders.list.query({ asOf: position ?? asOf, limit: MAX_PAGE_SIZE, cursor });
      if (token !== run) return null;
      position ??= page.lastEventId;
      rows.push(...page.orders);
      if (!page.nextCursor) return { rows, position };
      cursor = page.nextCursor;
    }
  };

  /** When the event at `position` was committed, if the log has one there. */
  const timeOf = async (position: string): Promise<string | null> => {
    if (position === '0') return null;
    const page = await api().events.list.query({ after: (BigInt(position) - 1n).toString(), limit: 1 });
    const event = page.events[0];
    return event && event.id === position ? event.at : null;
  };

  return {
    state,
    /** Why the last travel or step failed, in words for the user; null after a success. */
    error,
    /** The rows at the replay's position, by id. */
    orders: () => orders,
    counts,
    active: () => state().kind !== 'live',

    /** Shows the board right after `asOf` (a position); refused positions leave the view as it was. */
    async travel(asOf: string): Promise<void> {
      const token = ++run;
      const previous = state();
      setError(null);
      setState({ kind: 'loading', asOf });
      try {
        const [read, total, at] = await Promise.all([rowsAt(asOf, token), api().orders.counts.query({ asOf }), timeOf(asOf)]);
        if (token !== run || read === null) return;
        const { rows, position } = read;
        steps = [];
        ahead = [];
        readThrough = position;
        atEnd = false;
        batch(() => {
          setOrders(reconcile(Object.fromEntries(rows.map((o) => [o.id, o]))));
          setCounts(reconcile(total.counts));
          setState({ kind: 'past', start: position, startAt: at, position, steps: 0, last: null, at, end: false });
        });
        follower?.landed(position, at);
        void readAhead(token).catch(() => {});
      } catch (err) {
        if (token !== run) return;
        setState(previous.kind === 'loading' ? { kind: 'live' } : previous);
        setError(
          errorCode(err) === 'PRECONDITION_FAILED'
            ? `The board at position ${asOf} cannot be shown: ${toUserError(err).message}. Pick a later moment.`
            : `Could not load the board at position ${asOf}: ${toUserError(err).message}`,
        );
      }
    },

    /** Shows the board as it was at `time`: right after the last change committed by then. */
    async travelToTime(time: Date): Promise<void> {
      const token = ++run;
      setError(null);
      try {
        const { position } = await api().events.positionAt.query({ at: time.toISOString() });
        if (token === run) await this.travel(position);
      } catch (err) {
        if (token !== run) return;
        setError(
          errorCode(err) === 'PRECONDITION_FAILED'
            ? `The board at ${time.toLocaleString()} cannot be shown: ${toUserError(err).message}. Pick a later moment.`
            : `Could not find the moment ${time.toLocaleString()}: ${toUserError(err).message}`,
        );
      }
    },

    /** Replays the next change after the current position; false at the end of the log. */
    async forward(): Promise<boolean> {
      const token = run;
      if (!current()) return false;
      setError(null);
      try {
        if (ahead.length === 0) await readAhead(token);
      } catch (err) {
        if (token === run) setError(`Could not read the next change: ${toUserError(err).message}`);
        return false;
      }
      const s = current();
      const event = ahead.shift();
      if (token !== run || !s) return false;
      if (!event) {
        setState({ ...s, end: true });
        return false;
      }
      steps.push({ event, before: orders[event.orderId] });
      batch(() => {
        setOrders(
          produce((rows) => {
            if (event.type === 'deleted') delete rows[event.orderId];
            else rows[event.orderId] = event.order;
          }),
        );
        setCounts(produce((c) => applyCountMoves(c, event)));
        setState({ ...s, position: event.id, steps: steps.length, last: event, at: event.at, end: ahead.length === 0 && atEnd });
      });
      follower?.stepped(event);
      if (ahead.length < 20 && !atEnd) void readAhead(token).catch(() => {});
      return true;
    },

    /** Takes back the last replayed change; false at the moment the travel landed on. */
    back(): boolean {
      const s = current();
      const step = steps.pop();
      if (!s || !step) return false;
      ahead.unshift(step.event);
      const last = steps.at(-1)?.event ?? null;
      batch(() => {
        setOrders(
          produce((rows) => {
            if (step.before) rows[step.event.orderId] = step.before;
            else delete rows[step.event.orderId];
          }),
        );
        setCounts(
          produce((c) => {
            for (const [status, delta] of countMoves(step.event)) c[status] -= delta;
          }),
        );
        setState({ ...s, position: last?.id ?? s.start, steps: steps.length, last, at: last?.at ?? s.startAt, end: false });
      });
      follower?.steppedBack(last?.id ?? s.start, last?.at ?? s.startAt);
      return true;
    },

    /** Back to the live board; the live copy kept every change meanwhile. */
    returnToLive() {
      run++;
      steps = [];
      ahead = [];
      batch(() => {
        setError(null);
        setState({ kind: 'live' });
        setOrders(reconcile({}));
      });
      follower?.left();
    },

    dismissError: () => setError(null),

    /** The positions one can travel to: from the oldest the log still serves to its head. */
    async bounds(): Promise<{ oldest: string; head: string }> {
      const [first, head] = await Promise.all([api().events.list.query({ limit: 1 }), api().events.head.query()]);
      const event = first.events[0];
      return { oldest: event ? (BigInt(event.id) - 1n).toString() : first.lastEventId, head: head.lastEventId };
    },
  };
}

export type TimeTravel = ReturnType<typeof createTimeTravel>;
