import { createSignal } from 'solid-js';
import { createStore, produce, reconcile } from 'solid-js/store';
import type { Api } from 'live-orders-client';
import type { OrderEvent } from '../../../shared/orders.ts';
import { MAX_PAGE_SIZE } from '../../../shared/protocol.ts';
import { errorCode } from '../lib/errors.ts';
import { addToFlow, emptyFlow, type FlowScale, type FlowSeries } from './flow.ts';

/**
 * Most events read to draw a past window. `orders.flow` has no `asOf`, so the window that
 * ends at a past moment is counted here from the log (`events.list`); a busier window than
 * this is not drawn from the past, and the chart shows the live window with the moment
 * marked instead.
 */
const MOST_EVENTS = 20_000;

/**
 * `exact`: the window ending at the moment, every event in it counted; `partial`: the same,
 * but the log's start is pruned inside the window, so it begins later; `marked`: not drawn
 * from the past (too busy, or no time known): the live chart with the moment marked.
 */
export type PastFlowState = 'loading' | 'exact' | 'partial' | 'marked';

/**
 * The flow chart as it was at a past moment: the last hour (or day) up to the moment, counted
 * from the log by the same rule as the server's (flowKindsOf), then moved by each replayed
 * change; a step back restores the window as it was before that step.
 */
export function createPastFlow(api: () => Api, scale: () => FlowScale) {
  const [series, setSeries] = createStore<FlowSeries>(emptyFlow('minute'));
  const [state, setState] = createSignal<PastFlowState>('marked');
  let run = 0;
  /** The window before each replayed step, to go back to. */
  let before: FlowSeries[] = [];

  const copy = (flow: FlowSeries): FlowSeries => ({ ...flow, created: [...flow.created], shipped: [...flow.shipped], delivered: [...flow.delivered], cancelled: [...flow.cancelled] });

  /** Counts the window that ends with the bucket of `at`, from the log up to `position`. */
  const load = async (position: string, at: string | null) => {
    const mine = ++run;
    before = [];
    if (at === null) return void setState('marked');
    setState('loading');
    const flow = emptyFlow(scale(), Date.parse(at));
    const end = flow.start + flow.created.length * flow.bucketMs;
    let partial = false;
    let after: string | undefined;
    try {
      after = (await api().events.positionAt.query({ at: new Date(flow.start - 1).toISOString() })).position;
    } catch (err) {
      // The window starts before what the log keeps: count from its pruned end.
      if (errorCode(err) !== 'PRECONDITION_FAILED') return void (mine === run && setState('marked'));
      partial = true;
    }
    try {
      for (let read = 0; ; ) {
        const page: { events: OrderEvent[]; lastEventId: string } = await api().events.list.query({ after, limit: MAX_PAGE_SIZE });
        if (mine !== run) return;
        for (const event of page.events) {
          if (BigInt(event.id) > BigInt(position)) break;
          if (Date.parse(event.at) < end) addToFlow(flow, event);
        }
        read += page.events.length;
        const last = page.events.at(-1);
        if (!last || BigInt(last.id) >= BigInt(position) || page.events.length < MAX_PAGE_SIZE) break;
        if (read >= MOST_EVENTS) return void setState('marked');
        after = page.lastEventId;
      }
    } catch {
      if (mine === run) setState('marked');
      return;
    }
    setSeries(reconcile(flow));
    setState(partial ? 'partial' : 'exact');
  };

  return {
    series,
    state,
    load,
    /** A replayed change: counted in its bucket (the window moves along with the moment). */
    stepped(event: OrderEvent) {
      if (state() !== 'exact' && state() !== 'partial') return;
      before.push(copy(series));
      setSeries(produce((flow) => addToFlow(flow, event)));
    },
    /** A change taken back; with none on record (the scale changed since), counted afresh at the position reached. */
    steppedBack(position: string, at: string | null) {
      const previous = before.pop();
      if (previous) setSeries(reconcile(previous));
      else void load(position, at);
    },
    clear() {
      run++;
      before = [];
      setState('marked');
    },
  };
}

export type PastFlow = ReturnType<typeof createPastFlow>;
