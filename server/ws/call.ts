import type { TRPCProcedureType } from '@trpc/server';

/**
 * One request on a connection. A class, not closures: a subscription holds it for its whole
 * life, and under tsx every named closure also carries a renamed `name` (esbuild keepNames),
 * a few hundred bytes each, per subscription.
 */
export class Call {
  readonly controller = new AbortController();

  constructor(
    readonly id: number | string,
    readonly jsonrpc: '2.0' | undefined,
    readonly type: TRPCProcedureType,
    readonly path: string,
    readonly input: unknown,
  ) {}

  rawInput(): Promise<unknown> {
    return Promise.resolve(this.input);
  }

  /** `abort()` builds an AbortError with a stack even when already aborted: not twice. */
  abort(): void {
    if (!this.controller.signal.aborted) this.controller.abort();
  }
}

/** An abort listener as an object (EventTarget's handleEvent): no named closure per step. */
export class StopListener {
  constructor(private readonly resolve: (value: 'abort') => void) {}
  handleEvent(): void {
    this.resolve('abort');
  }
}

export const isAbortError = (e: unknown) => typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
