// The low-speed guard: a window of waiting time with too few bytes aborts; enough bytes start a new
// window; time not spent waiting (a slow consumer) does not count.

import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LowSpeedError, LowSpeedGuard } from '../../src/omaha/low-speed-guard.ts';

const never = () => new Promise<never>(() => undefined);

describe('LowSpeedGuard', () => {
  it('aborts a wait that fills the window with too few bytes', async () => {
    const guard = new LowSpeedGuard(10, 100);
    guard.add(0);
    const e = await guard.wait(never()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LowSpeedError);
    expect((e as LowSpeedError).message).toBe('transfer below 10 B/s for 0.1 s (0 bytes received)');
  });

  it('keeps waiting while each window has enough bytes', async () => {
    const guard = new LowSpeedGuard(10, 100);
    guard.add(5);
    const read = sleep(150).then(() => 'data');
    // The first window closes with 5 bytes (>= 1 needed), the second is open when the read resolves.
    expect(await guard.wait(read)).toBe('data');
  });

  it('does not count time spent outside waits', async () => {
    const guard = new LowSpeedGuard(10, 100);
    for (let i = 0; i < 3; i++) {
      expect(await guard.wait(Promise.resolve(i))).toBe(i);
      await sleep(60);
    }
  });

  it('passes the read error through', async () => {
    const guard = new LowSpeedGuard(10, 1000);
    await expect(guard.wait(Promise.reject(new Error('reset')))).rejects.toThrow('reset');
  });
});
