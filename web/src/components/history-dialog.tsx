import { createResource, For, Match, Show, Switch } from 'solid-js';
import { describeChanges, type HistoryEvent } from 'live-orders-client';
import { formatDateTime } from '../lib/format-time.ts';
import { toUserError } from '../lib/errors.ts';
import { Modal } from './modal.tsx';

/**
 * Every event of one order, oldest first; works for deleted orders, whose log remains. With
 * EVENT_RETENTION the oldest may have been pruned, and the dialog says so.
 */
export function HistoryDialog(props: { orderId: string | null; read: (id: string) => Promise<HistoryEvent[]>; onClose: () => void }) {
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
                {(event) => (
                  <li class="history__item" data-type={event.type}>
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
                      by {event.actor} · <time datetime={event.at}>{formatDateTime(event.at)}</time> · version {event.order.version}
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
