// Delays between retries, from cockatiel's ExponentialBackoff (the initial delay doubling up to a
// ceiling) with the jitter drawn from an injectable random source, so that tests can pin it. The
// callers sleep on their own Clock (fake in tests), so they use the delays, not cockatiel's timers.

import { ExponentialBackoff, noJitterGenerator, type GeneratorFn, type IBackoff } from 'cockatiel';

/** How a delay d is spread: none (d), full ([0, d)), half ([d/2, d)), quarter (d ± 25%). */
export type Jitter = 'none' | 'full' | 'half' | 'quarter';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  jitter: Jitter;
  /** Returns [0, 1) like Math.random (the default). */
  random?: (() => number) | undefined;
}

function spread(delayMs: number, jitter: Jitter, random: () => number): number {
  switch (jitter) {
    case 'none':
      return delayMs;
    case 'full':
      return random() * delayMs;
    case 'half':
      return Math.round(delayMs / 2 + (random() * delayMs) / 2);
    case 'quarter':
      return Math.round(delayMs * (0.75 + random() * 0.5));
  }
}

/** A function that returns the next delay each time it is called: initialMs, then doubling up to maxMs, jittered. */
export function backoffDelays(options: BackoffOptions): () => number {
  const random = options.random ?? Math.random;
  const generator: GeneratorFn<number> = (attempts, generatorOptions) => {
    const [delayMs, next] = noJitterGenerator(attempts, generatorOptions);
    return [spread(delayMs, options.jitter, random), next];
  };
  const factory = new ExponentialBackoff({ generator, initialDelay: options.initialMs, maxDelay: options.maxMs });
  let current: IBackoff<unknown> | undefined;
  return () => {
    current = current ? current.next(undefined) : factory.next();
    return current.duration;
  };
}
