// The typed action chain (ARCHITECTURE.md): an Action<In, Out> is one step of the update cycle;
// chain() bonds steps so that each step's input type must equal the previous step's output type,
// and runAction() runs a step with an abort check and one structured log line at its start and end.

import { UpdateEngineError } from '../errors.ts';
import type { Logger } from '../platform/logger.ts';

/** Figures an action reports at its end (bytes, counts, ...), logged and passed to onStep. */
export type ActionFigures = Record<string, number | string | boolean>;

/** What a running action gets. */
export interface ActionContext {
  signal: AbortSignal;
  /** The step's own progress, a fraction 0..1, with an optional human-readable detail. */
  progress(fraction: number, detail?: string): void;
  /** A child logger carrying the action's name. */
  logger: Logger;
  /** Called when a step starts, ends or fails (the attempter maps steps to statuses and metrics). */
  onStep?(event: StepEvent): void;
}

export type StepEvent =
  | { phase: 'start'; action: string }
  | { phase: 'end'; action: string; durationMs: number; figures: ActionFigures }
  | { phase: 'error'; action: string; durationMs: number; error: UpdateEngineError };

/** One step: takes In, gives Out. Steps do not catch errors they cannot handle; they throw UpdateEngineError. */
export interface Action<In, Out> {
  readonly name: string;
  run(input: In, ctx: ActionContext): Promise<Out>;
  /** Figures for the end-of-action log line, computed from the output. */
  figures?(output: Out): ActionFigures;
}

/** The top type of actions (every Action<I, O> is assignable to it). */
export type AnyAction = Action<never, unknown>;
export type InputOf<A> = A extends Action<infer I, infer _O> ? I : never;
export type OutputOf<A> = A extends Action<infer _I, infer O> ? O : never;

/** True when X and Y are the same type (not merely assignable). */
export type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;

/** What the compiler shows for a step whose input is not exactly the previous step's output. */
export interface ChainMismatch<Expected, Got> {
  chainError: "this step must take exactly the previous step's output";
  expectedInput: Expected;
  actualInput: Got;
}

/** The steps as they must be: each one's input equals the previous one's output. */
export type Bonded<T extends readonly unknown[], Prev = never, First extends boolean = true> = T extends readonly [infer H, ...infer R]
  ? [First extends true ? H : Equal<InputOf<H>, Prev> extends true ? H : ChainMismatch<Prev, InputOf<H>>, ...Bonded<R, OutputOf<H>, false>]
  : [];

type Last<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : never;

/** The abort reason as an UpdateEngineError (ERR_ABORTED unless it already is one). */
export function abortError(signal: AbortSignal): UpdateEngineError {
  const reason: unknown = signal.reason;
  if (reason instanceof UpdateEngineError) return reason;
  return new UpdateEngineError('ERR_ABORTED', 'The update cycle was cancelled', { cause: reason });
}

function asUpdateEngineError(e: unknown, action: string): UpdateEngineError {
  if (e instanceof UpdateEngineError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  return new UpdateEngineError('ERR_INTERNAL', `Action "${action}" failed unexpectedly: ${reason}`, { cause: e });
}

/**
 * Runs one action: refuses to start once aborted, logs "action started" and "action finished" (with
 * durationMs and the figures) or "action failed" (with durationMs and the code). Anything thrown
 * that is not an UpdateEngineError is a bug and becomes ERR_INTERNAL.
 */
export async function runAction<In, Out>(action: Action<In, Out>, input: In, ctx: ActionContext): Promise<Out> {
  if (ctx.signal.aborted) throw abortError(ctx.signal);
  // A chain's lines carry `chain`, its steps' lines `action` (pino would repeat a key bound twice).
  const logger = ctx.logger.child(CHAINS.has(action) ? { chain: action.name } : { action: action.name });
  const startMs = performance.now();
  logger.info('action started');
  ctx.onStep?.({ phase: 'start', action: action.name });
  let output: Out;
  try {
    output = await action.run(input, { ...ctx, logger });
  } catch (e) {
    const error = ctx.signal.aborted && !(e instanceof UpdateEngineError) ? abortError(ctx.signal) : asUpdateEngineError(e, action.name);
    const durationMs = Math.round(performance.now() - startMs);
    logger.warn({ durationMs, code: error.code, err: error }, 'action failed');
    ctx.onStep?.({ phase: 'error', action: action.name, durationMs, error });
    throw error;
  }
  const durationMs = Math.round(performance.now() - startMs);
  const figures = action.figures?.(output) ?? {};
  logger.info({ durationMs, ...figures }, 'action finished');
  ctx.onStep?.({ phase: 'end', action: action.name, durationMs, figures });
  return output;
}

/**
 * Bonds steps into one action: the output of each is the input of the next, checked at compile
 * time (a mismatch is a type error on the offending argument). The chain's own run logs each step;
 * its name is the steps' names joined by " -> ".
 */
export function chain<const T extends readonly [AnyAction, ...AnyAction[]]>(...actions: T & Bonded<T>): Action<InputOf<T[0]>, OutputOf<Last<T>>> {
  const steps: readonly AnyAction[] = actions;
  const bonded: Action<InputOf<T[0]>, OutputOf<Last<T>>> = {
    name: steps.map((s) => s.name).join(' -> '),
    async run(input, ctx) {
      let value: unknown = input;
      for (const step of steps) {
        // The types were checked by Bonded<T>; at run time each step gets the previous output.
        value = await runAction(step as Action<unknown, unknown>, value, ctx);
      }
      return value as OutputOf<Last<T>>;
    },
  };
  CHAINS.add(bonded);
  return bonded;
}

/** The actions made by chain(). */
const CHAINS = new WeakSet<object>();

/** An action from a name and a function (for small steps and tests). */
export function action<In, Out>(name: string, run: (input: In, ctx: ActionContext) => Promise<Out>, figures?: (output: Out) => ActionFigures): Action<In, Out> {
  return figures ? { name, run, figures } : { name, run };
}
