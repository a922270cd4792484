import { createSignal, Show } from 'solid-js';
import type { Order } from '../../../shared/orders.ts';
import { Modal } from './modal.tsx';

/** Asks before a delete, naming the order, since a delete cannot be undone from the page. */
export function ConfirmDelete(props: { order: Order | null; onCancel: () => void; onConfirm: (order: Order) => Promise<string | null> }) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const confirm = async () => {
    const order = props.order;
    if (!order) return;
    setBusy(true);
    setError(await props.onConfirm(order));
    setBusy(false);
  };
  const cancel = () => {
    setError(null);
    props.onCancel();
  };
  return (
    <Modal open={props.order !== null} onClose={cancel} labelledBy="confirm-title" class="modal--small" testId="confirm-delete">
      <Show when={props.order}>
        {(order) => (
          <>
            <h2 id="confirm-title">Delete order {order().id}?</h2>
            <p>
              {order().customerName} · {order().productName}. Everyone watching sees it disappear; its history stays available.
            </p>
            <Show when={error()}>
              <p class="form-error" role="alert">
                {error()}
              </p>
            </Show>
            <div class="modal__actions">
              <button type="button" class="button" onClick={cancel} autofocus>
                Cancel
              </button>
              <button type="button" class="button button--danger-solid" onClick={() => void confirm()} disabled={busy()}>
                {busy() ? 'Deleting…' : 'Delete order'}
              </button>
            </div>
          </>
        )}
      </Show>
    </Modal>
  );
}
