// Tests of the typed action chain: feeder -> action(s) -> collector, the compile-time bond between
// steps (checked by tsc through the @ts-expect-error lines), abort, error wrapping and the log lines.

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { action, chain, runAction, type Action, type ActionContext, type StepEvent } from '../../src/daemon/action.ts';
import { UpdateEngineError } from '../../src/errors.ts';
import { createLogger } from '../../src/platform/logger.ts';

function context(options: { signal?: AbortSignal } = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const progress: Array<[number, string | undefined]> = [];
  const steps: StepEvent[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const ctx: ActionContext = {
    signal: options.signal ?? new AbortController().signal,
    progress: (fraction, detail) => progress.push([fraction, detail]),
    logger: createLogger({ destination: sink, pretty: false, level: 'info' }),
    onStep: (e) => steps.push(e),
  };
  return { ctx, lines, progress, steps };
}

const parse = action(
  'parse',
  async (text: string) => Number.parseInt(text, 10),
  (n) => ({ value: n }),
);
const double = action('double', async (n: number, ctx) => {
  ctx.progress(0.5, 'half way');
  return n * 2;
});
const describeNumber = action(
  'describe',
  async (n: number) => ({ text: `n=${n}`, bytes: n }),
  (o) => ({ bytes: o.bytes }),
);

describe('runAction', () => {
  it('passes the feeder value through one action to the collector and logs start and end with figures', async () => {
    const { ctx, lines, steps } = context();
    const out = await runAction(parse, '42', ctx);
    expect(out).toBe(42);
    expect(lines.map((l) => [l.msg, l.action])).toEqual([
      ['action started', 'parse'],
      ['action finished', 'parse'],
    ]);
    expect(lines[1]).toMatchObject({ value: 42 });
    expect(typeof lines[1]?.durationMs).toBe('number');
    expect(steps.map((s) => s.phase)).toEqual(['start', 'end']);
  });

  it('refuses to start when already aborted, with the abort reason', async () => {
    const ac = new AbortController();
    ac.abort(new UpdateEngineError('ERR_ABORTED', 'Stopped by SIGTERM'));
    const { ctx, lines } = context({ signal: ac.signal });
    let ran = false;
    const a = action('never', async () => {
      ran = true;
    });
    await expect(runAction(a, undefined, ctx)).rejects.toMatchObject({ code: 'ERR_ABORTED', message: 'Stopped by SIGTERM' });
    expect(ran).toBe(false);
    expect(lines).toEqual([]);
  });

  it('keeps an UpdateEngineError, turns anything else into ERR_INTERNAL, and logs the failure', async () => {
    const { ctx, lines, steps } = context();
    const bad = action('verify', async () => {
      throw new UpdateEngineError('ERR_PAYLOAD_SIGNATURE', 'No signature verifies');
    });
    await expect(runAction(bad, undefined, ctx)).rejects.toMatchObject({ code: 'ERR_PAYLOAD_SIGNATURE' });
    const buggy = action('buggy', async () => {
      throw new TypeError('x is undefined');
    });
    await expect(runAction(buggy, undefined, ctx)).rejects.toMatchObject({
      code: 'ERR_INTERNAL',
      message: 'Action "buggy" failed unexpectedly: x is undefined',
    });
    expect(lines.filter((l) => l.msg === 'action failed').map((l) => [l.action, l.code])).toEqual([
      ['verify', 'ERR_PAYLOAD_SIGNATURE'],
      ['buggy', 'ERR_INTERNAL'],
    ]);
    expect(steps.filter((s) => s.phase === 'error').length).toBe(2);
  });

  it('reports a foreign error thrown after an abort as the abort', async () => {
    const ac = new AbortController();
    const { ctx } = context({ signal: ac.signal });
    const a = action('download', async () => {
      ac.abort(new Error('shutdown'));
      throw new Error('socket hang up');
    });
    await expect(runAction(a, undefined, ctx)).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });
});

describe('chain', () => {
  it('runs the steps in order, each on the previous output, with one log line pair per step', async () => {
    const { ctx, lines, progress } = context();
    const cycle = chain(parse, double, describeNumber);
    expect(cycle.name).toBe('parse -> double -> describe');
    const out = await runAction(cycle, '21', ctx);
    expect(out).toEqual({ text: 'n=42', bytes: 42 });
    expect(lines.map((l) => `${l.msg} ${String(l.action ?? l.chain)}`)).toEqual([
      'action started parse -> double -> describe',
      'action started parse',
      'action finished parse',
      'action started double',
      'action finished double',
      'action started describe',
      'action finished describe',
      'action finished parse -> double -> describe',
    ]);
    expect(lines.find((l) => l.action === 'describe' && l.msg === 'action finished')).toMatchObject({ bytes: 42 });
    expect(progress).toEqual([[0.5, 'half way']]);
  });

  it('stops at the failing step and does not run the rest', async () => {
    const { ctx } = context();
    let described = false;
    const fail = action('fail', async (_n: number): Promise<number> => {
      throw new UpdateEngineError('ERR_DOWNLOAD_TRANSFER', 'Connection reset');
    });
    const after = action('after', async (n: number) => {
      described = true;
      return n;
    });
    await expect(runAction(chain(parse, fail, after), '1', ctx)).rejects.toMatchObject({ code: 'ERR_DOWNLOAD_TRANSFER' });
    expect(described).toBe(false);
  });

  it('stops between steps once aborted', async () => {
    const ac = new AbortController();
    const { ctx } = context({ signal: ac.signal });
    const stopAfter = action('stop', async (n: number) => {
      ac.abort();
      return n;
    });
    await expect(runAction(chain(parse, stopAfter, double), '1', ctx)).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('types: the chain takes the first input and gives the last output; mismatched steps do not compile', () => {
    const ok: Action<string, { text: string; bytes: number }> = chain(parse, double, describeNumber);
    expect(ok.name).toBe('parse -> double -> describe');
    const toText = action('to-text', async (n: number) => String(n));
    const wide = action('wide', async (v: string | number) => v);
    // @ts-expect-error double takes a number, parse's output; toText gives a string
    chain(parse, toText, double);
    // @ts-expect-error a step must take exactly the previous output, not a wider type
    chain(parse, wide);
    // @ts-expect-error the chain's input is a string, not a number
    const wrongInput: Action<number, number> = chain(parse, double);
    expect(wrongInput.name).toBe('parse -> double');
  });
});
