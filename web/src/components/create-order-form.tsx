import { createSignal, For, Show, type JSX } from 'solid-js';
import type { Order } from '../../../shared/orders.ts';
import { ORDER_STATUSES, STATUS_LABELS, type OrderStatus } from '../../../shared/order-status.ts';
import { isForbidden, READ_ONLY_MESSAGE, toUserError, type FieldErrors } from '../lib/errors.ts';

export type NewOrder = { customerName: string; productName: string; status: OrderStatus };

/**
 * New order. Validation is the server's: its messages are shown at the field they name, so
 * the page never disagrees with what the API accepts. The order shows in the table at once
 * (`create` lays it over the live copy, pending) and the form is ready for the next; if the
 * server refuses it, the row goes and the form gets its values back with the server's words.
 * Once a change has been refused to a reader's token (`readOnly`), the form says so and
 * stays disabled.
 */
export function CreateOrderForm(props: { readOnly: boolean; onRefused: (err: unknown) => void; create: (input: NewOrder) => Promise<Order> }) {
  const [customerName, setCustomerName] = createSignal('');
  const [productName, setProductName] = createSignal('');
  const [status, setStatus] = createSignal<OrderStatus>('pending');
  const [errors, setErrors] = createSignal<FieldErrors>({});
  const [formError, setFormError] = createSignal<string | null>(null);
  const [done, setDone] = createSignal<string | null>(null);
  let customerInput!: HTMLInputElement;

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const input: NewOrder = { customerName: customerName(), productName: productName(), status: status() };
    setFormError(null);
    setDone(null);
    setErrors({});
    setCustomerName('');
    setProductName('');
    setStatus('pending');
    customerInput.focus();
    try {
      const order = await props.create(input);
      setDone(`Order ${order.id} created.`);
    } catch (err) {
      props.onRefused(err);
      // Give the refused values back, unless the next order is already being typed.
      if (!customerName() && !productName()) {
        setCustomerName(input.customerName);
        setProductName(input.productName);
        setStatus(input.status);
      }
      const { message, fieldErrors } = toUserError(err);
      setErrors(fieldErrors);
      // Field messages speak for themselves; a reader's refusal has its own note (below);
      // anything else goes above the button.
      setFormError(Object.keys(fieldErrors).length || isForbidden(err) ? null : `The order was not created: ${message}`);
      const firstBad = (['customerName', 'productName', 'status'] as const).find((f) => fieldErrors[f]?.length);
      if (firstBad) document.getElementById(`create-${firstBad}`)?.focus();
    }
  };

  const fieldError = (field: string) => errors()[field]?.join(' ');

  return (
    <section class="card create" aria-labelledby="create-title">
      <h2 id="create-title">New order</h2>
      <form onSubmit={submit} noValidate data-testid="create-form" aria-describedby={props.readOnly ? 'create-read-only' : undefined}>
        <Show when={props.readOnly}>
          <p class="form-note" id="create-read-only" role="alert" data-testid="read-only">
            {READ_ONLY_MESSAGE}
          </p>
        </Show>
        <fieldset class="create__fields" disabled={props.readOnly}>
          <Field id="create-customerName" label="Customer" error={fieldError('customerName')}>
            <input
              ref={customerInput}
              id="create-customerName"
              name="customerName"
              autocomplete="off"
              value={customerName()}
              onInput={(e) => setCustomerName(e.currentTarget.value)}
              aria-invalid={fieldError('customerName') ? 'true' : undefined}
              aria-describedby={fieldError('customerName') ? 'create-customerName-error' : undefined}
            />
          </Field>
          <Field id="create-productName" label="Product" error={fieldError('productName')}>
            <input
              id="create-productName"
              name="productName"
              autocomplete="off"
              value={productName()}
              onInput={(e) => setProductName(e.currentTarget.value)}
              aria-invalid={fieldError('productName') ? 'true' : undefined}
              aria-describedby={fieldError('productName') ? 'create-productName-error' : undefined}
            />
          </Field>
          <Field id="create-status" label="Status" error={fieldError('status')}>
            <select
              id="create-status"
              name="status"
              value={status()}
              onChange={(e) => setStatus(e.currentTarget.value as OrderStatus)}
              aria-invalid={fieldError('status') ? 'true' : undefined}
              aria-describedby={fieldError('status') ? 'create-status-error' : undefined}
            >
              <For each={ORDER_STATUSES}>{(s) => <option value={s}>{STATUS_LABELS[s]}</option>}</For>
            </select>
          </Field>
          <div class="create__actions">
            <button type="submit" class="button button--primary">
              Create order
            </button>
          </div>
        </fieldset>
        <Show when={formError()}>
          <p class="form-error" role="alert" data-testid="create-error">
            {formError()}
          </p>
        </Show>
        <p class="visually-hidden" role="status">
          {done()}
        </p>
      </form>
    </section>
  );
}

function Field(props: { id: string; label: string; error: string | undefined; children: JSX.Element }) {
  return (
    <div class="field" classList={{ 'field--invalid': !!props.error }}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      <Show when={props.error}>
        <p class="field__error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      </Show>
    </div>
  );
}
