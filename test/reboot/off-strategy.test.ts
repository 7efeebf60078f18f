import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { OffStrategy } from '../../src/reboot/off-strategy.ts';
import { createLogger } from '../../src/platform/logger.ts';

describe('off strategy', () => {
  it('never reboots and says how to finish the update', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({
        write(c, _e, cb) {
          lines.push(String(c));
          cb();
        },
      }),
      pretty: false,
    });
    const s = new OffStrategy(logger);
    const ctx = { signal: new AbortController().signal };
    await s.atStart(ctx, 'idle');
    expect(await s.beforeReboot(ctx)).toBe('stay');
    expect(lines.join('')).toContain('reboot by hand');
    await s.afterHealthyBoot(ctx);
    await s.afterRollback(ctx);
    expect(await s.lockHeld()).toBe(false);
    expect(s.name).toBe('off');
  });
});
