import postgres from 'postgres';
import type { CreateOrderInput, Order } from '../../shared/orders.ts';
import { MAX_CREATE_MANY } from '../../shared/protocol.ts';
import type { Database } from './client.ts';
import { isDatabaseUnavailable } from './errors.ts';
import { createOrdersAs } from './orders.ts';

/**
 * One group per actor in flight: the next forms while it commits (two per actor measured no
 * better, with smaller groups). Groups of different actors run side by side, on at most half
 * the pool's connections, so that reads always find one.
 */
const GROUPS_IN_FLIGHT = 5;

/** Creates as one transaction, the orders in input order (orders.ts `createOrdersAs`). */
export type InsertOrders = (actor: string, inputs: CreateOrderInput[]) => Promise<Order[]>;

export type CreateBatcherOptions = {
  insert: InsertOrders;
  /** Group inserts running at once on this node, of different actors (one per actor). */
  maxInFlight: number;
  /** Most creates in one group (one INSERT, one transaction). */
  maxGroupSize: number;
  /** Told the size of every group as it is sent (the metrics' histogram). */
  grouped?: (size: number) => void;
};

type Member = {
  actor: string;
  input: CreateOrderInput;
  resolve: (order: Order) => void;
  reject: (err: unknown) => void;
};

/**
 * Group commit for `orders.create`: concurrent creates on this node share a transaction, as
 * PostgreSQL's own group commit lets concurrent commits share a WAL flush.
 *
 * Why: a create is one row, but its transaction costs far more than its row: BEGIN, the
 * settings, the INSERT, COMMIT with its WAL flush, the trigger's work per statement and, in
 * commit ordering, the log's position lock and a NOTIFY held to the end of the flush. Eight
 * clients creating one order each paid that eight times over; one INSERT of eight rows pays it
 * once (createMany's path: the events are appended by one statement, NOTIFYed once).
 *
 * No timer and no added wait: a create that arrives while no group of its actor is in flight
 * goes at once, alone. Creates that arrive meanwhile queue, and go together as soon as that
 * group ends, so a group's size follows the load by itself (1 when idle, about half the
 * actor's concurrent callers when busy: the other half is in flight).
 *
 * What each caller sees stays what it would be alone:
 * - its own order (identities are drawn in insertion order, and `insert` returns the orders
 *   in input order);
 * - its own error: a group whose transaction PostgreSQL refused (so rolled back: nothing of it
 *   was written) is tried again member by member, each in a transaction of its own, so one bad
 *   member (a trigger that refuses its row, say) fails alone. Every other failure is shared,
 *   as the members shared the transaction: the database out of reach (nothing written), or
 *   the commit's outcome unknown (commit-outcome.ts), which no retry may paper over;
 * - its own actor: the actor is a setting of the transaction, so only creates of the same
 *   actor are grouped. Each actor has its own line (one group in flight), so writers under
 *   different tokens still write side by side, as they did before grouping.
 */
export class CreateBatcher {
  readonly #opts: CreateBatcherOptions;
  /** Oldest first. */
  #waiting: Member[] = [];
  /** Actors with a group in flight. */
  readonly #inFlight = new Set<string>();

  constructor(opts: CreateBatcherOptions) {
    this.#opts = opts;
  }

  /** Creates waiting for a group to end before theirs can go. */
  get waiting(): number {
    return this.#waiting.length;
  }

  create(actor: string, input: CreateOrderInput): Promise<Order> {
    return new Promise<Order>((resolve, reject) => {
      const member = { actor, input, resolve, reject };
      // Nothing waits that could go (all waiting creates are of actors in flight, or no line
      // is free): this one goes at once if its line is free, else it waits.
      if (this.#free(actor)) this.#start(actor, [member]);
      else this.#waiting.push(member);
    });
  }

  #free(actor: string): boolean {
    return !this.#inFlight.has(actor) && this.#inFlight.size < this.#opts.maxInFlight;
  }

  #start(actor: string, group: Member[]): void {
    this.#inFlight.add(actor);
    void this.#send(group).finally(() => {
      this.#inFlight.delete(actor);
      this.#next();
    });
  }

  /** A line is free: the oldest waiting create whose actor has none in flight goes, with its actor's others. */
  #next(): void {
    while (this.#inFlight.size < this.#opts.maxInFlight) {
      const oldest = this.#waiting.find((m) => !this.#inFlight.has(m.actor));
      if (!oldest) return;
      this.#start(oldest.actor, this.#take(oldest.actor));
    }
  }

  /** `actor`'s waiting creates, oldest first, up to the group's limit. */
  #take(actor: string): Member[] {
    const group: Member[] = [];
    const rest: Member[] = [];
    for (const m of this.#waiting) {
      if (m.actor === actor && group.length < this.#opts.maxGroupSize) group.push(m);
      else rest.push(m);
    }
    this.#waiting = rest;
    return group;
  }

  /** Never rejects: every outcome goes to its member. */
  async #send(group: Member[]): Promise<void> {
    this.#opts.grouped?.(group.length);
    const { actor } = group[0]!;
    let orders: Order[];
    try {
      orders = await this.#opts.insert(
        actor,
        group.map((m) => m.input),
      );
    } catch (err) {
      if (group.length === 1 || !refusedByDatabase(err)) {
        for (const m of group) m.reject(err);
        return;
      }
      // Rolled back: each on its own now, so the members that would have succeeded alone do.
      await Promise.all(group.map((m) => this.#sendAlone(m)));
      return;
    }
    if (orders.length !== group.length) {
      const err = new Error(`created ${orders.length} orders for ${group.length} creates`);
      for (const m of group) m.reject(err);
      return;
    }
    group.forEach((m, i) => m.resolve(orders[i]!));
  }

  async #sendAlone(m: Member): Promise<void> {
    try {
      const [order] = await this.#opts.insert(m.actor, [m.input]);
      if (!order) throw new Error('created no order');
      m.resolve(order);
    } catch (err) {
      m.reject(err);
    }
  }
}

/** The server's batcher: groups inserted as createMany inserts, as large as createMany takes. */
export function batchCreates(db: Database, grouped?: (size: number) => void): CreateBatcher {
  return new CreateBatcher({
    insert: (actor, inputs) => createOrdersAs(db, actor, inputs),
    maxInFlight: GROUPS_IN_FLIGHT,
    maxGroupSize: MAX_CREATE_MANY,
    grouped,
  });
}

/**
 * PostgreSQL answered the transaction with an error, so it rolled back. (A COMMIT after a
 * failed statement does not commit, and one that fails, at a deferred check say, rolls back.)
 * Errors of a lost connection carry no such promise, nor do errors of our own code.
 */
function refusedByDatabase(err: unknown): boolean {
  return err instanceof postgres.PostgresError && !isDatabaseUnavailable(err);
}
