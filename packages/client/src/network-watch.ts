/** True when a browser says it has no network; false where nothing says (Node). */
export function browserOffline(): boolean {
  return typeof navigator !== 'undefined' && navigator.onLine === false;
}

/**
 * Calls `changed` on the browser's `online` and `offline` events, so `offline` is shown as
 * soon as the browser knows, not after a timeout. Returns the function that stops watching;
 * outside a browser, nothing to watch.
 */
export function watchNetwork(changed: () => void): () => void {
  const target = globalThis as { addEventListener?: Window['addEventListener']; removeEventListener?: Window['removeEventListener'] };
  if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function') return () => {};
  target.addEventListener('online', changed);
  target.addEventListener('offline', changed);
  return () => {
    target.removeEventListener?.('online', changed);
    target.removeEventListener?.('offline', changed);
  };
}
