/**
 * Resolves once `arm`'s `wake` is called or `signal` aborts, whichever comes first, and then
 * undoes both: the abort listener, and whatever `arm` set up (a timer, a listener), through
 * the function it returns. At once if `signal` has aborted already. Never rejects: waking
 * early is always safe for its callers, which look again at what they wait for.
 */
export function untilWoken(signal: AbortSignal, arm: (wake: () => void) => () => void): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let woken = false;
    let disarm: (() => void) | undefined;
    const wake = () => {
      if (woken) return;
      woken = true;
      signal.removeEventListener('abort', wake);
      disarm?.();
      resolve();
    };
    signal.addEventListener('abort', wake, { once: true });
    disarm = arm(wake);
    // `arm` may have woken us before it could hand back its undo.
    if (woken) disarm();
  });
}
