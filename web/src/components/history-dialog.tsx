import { createResource, For, Match, Show, Switch } from 'solid-js';
import { describeChanges, type HistoryEvent } from 'live-orders-client';
import { formatDateTime } from '../lib/format-time.ts';
import { toUserError } from '../lib/errors.ts';
import { Modal } from './modal.tsx';

/** Where one change of the order lies from the moment the page shows (null: live). */
function when(events: readonly HistoryEvent[], index: number, shownAt: string | null): 'later' | 'shown' | undefined {
  if (shownAt === null) return undefined;
  const at = BigInt(shownAt);
  const position = BigInt(events[index]!.id);
  if (position > at) return 'later';
  const next = events[index + 1];
  return next === undefined || BigInt(next.id) > at ? 'shown' : undefined;
}

/**
 * Every event of one order, oldest first; works for deleted orders, whose log remains. With
 * EVENT_RETENTION the oldest may have been pruned, and the dialog says so.
 *
 * On the page's timeline: each change names its position and can show the whole board right
 * after it (`onTravel`); while the page shows a past moment (`shownAt`), the change the board
 * is at is marked, and those after it are set apart as still to come.
 */
export function HistoryDialog(props: {
  orderId: string | null;
  read: (id: string) => Promise<HistoryEvent[]>;
  onClose: () => void;
  shownAt: string | null;
  onTravel: (position: string) => void;
}) {
  const [history] = createResource(
    () => props.orderId,
    (id) => props.read(id),
  );
  return (
    <Modal open={props.orderId !== null} onClose={props.onClose} labelledBy="history-title" testId="history">
      <div class="modal__header">
        <h2 id="history-title">Order {props.orderId} history</h2>
        <button type="button" class="button button--small" onClick={() => props.onClose()}>
          Close
        </button>
      </div>
      <Switch>
        <Match when={history.loading}>
          <p class="muted">Loading…</p>
        </Match>
        <Match when={history.error}>
          <p class="form-error" role="alert">
            {toUserError(history.error).message}
          </p>
        </Match>
        <Match when={history()}>
          {(events) => (
            <>
            <Show when={events().length === 0 || events()[0]?.earlierPruned}>
              <p class="muted" data-testid="history-pruned">
                {events().length === 0 ? 'This order’s changes are older than the server keeps.' : 'Earlier changes are older than the server keeps.'}
              </p>
            </Show>
            <ol class="history">
              <For each={events()}>
                {(event, i) => (
                  <li
                    class="history__item"
                    data-type={event.type}
                    data-when={when(events(), i(), props.shownAt)}
                    aria-current={when(events(), i(), props.shownAt) === 'shown' ? 'step' : undefined}
                  >
                    <div class="history__line">
                      <span class="tag" data-type={event.type}>
                        {event.type}
                      </span>
                      <span class="history__what">
                        {event.type === 'updated'
                          ? describeChanges(event.changes) || 'no visible change'
                          : `${event.order.customerName} · ${event.order.productName} · ${event.order.status}`}
                      </span>
                    </div>
                    <div class="history__meta muted">
                      by {event.actor} · <time datetime={event.at}>{formatDateTime(event.at)}</time> · version {event.order.version} · position{' '}
                      {event.id}
                    </div>
                    <div class="history__travel">
                      <Show when={when(events(), i(), props.shownAt) === 'shown'}>
                        <span class="history__here">The board is shown at this change</span>
                      </Show>
                      <Show when={when(events(), i(), props.shownAt) === 'later'}>
                        <span class="history__here">After the moment shown</span>
                      </Show>
                      <button type="button" class="link" onClick={() => props.onTravel(event.id)} aria-label={`Show the board right after position ${event.id}`}>
                        Show the board here
                      </button>
                    </div>
                  </li>
                )}
              </For>
            </ol>
            </>
          )}
        </Match>
      </Switch>
    </Modal>
  );
}
