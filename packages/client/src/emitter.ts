/** Typed listeners by event name; `on` returns the function that removes the listener. */
export class Emitter<Events extends Record<string, unknown>> {
  #listeners = new Map<keyof Events, Set<(payload: never) => void>>();

  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as (p: Events[K]) => void)(payload);
      } catch (err) {
        // A listener's bug must not leave the copy half-updated; it is reported, not swallowed.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
