import { createEffect, onCleanup, type JSX } from 'solid-js';

/**
 * A native modal <dialog>: the browser traps focus, closes on Escape and returns focus to
 * the control that opened it, which a hand-made overlay would have to imitate.
 */
export function Modal(props: { open: boolean; onClose: () => void; labelledBy: string; class?: string; testId?: string; children: JSX.Element }) {
  let dialog!: HTMLDialogElement;
  createEffect(() => {
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  });
  onCleanup(() => dialog.open && dialog.close());
  return (
    <dialog
      ref={dialog}
      class={`modal ${props.class ?? ''}`}
      aria-labelledby={props.labelledBy}
      data-testid={props.testId}
      onClose={() => props.onClose()}
      // A click on the backdrop lands on the dialog element itself.
      onClick={(e) => e.target === dialog && props.onClose()}
    >
      <div class="modal__body">{props.children}</div>
    </dialog>
  );
}
