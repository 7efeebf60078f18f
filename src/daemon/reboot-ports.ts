// Builds the engine's reboot ports (RebootCoordinator, Rebooter, HealthGate) from the settings.
// Until src/reboot provides the strategies, only `reboot` and `off` are available here.

import { UpdateEngineError } from '../errors.ts';
import type { Settings } from '../config/schema.ts';
import type { Clock } from '../platform/clock.ts';
import { execArgv, splitCommand } from '../platform/exec.ts';
import type { Logger } from '../platform/logger.ts';
import type { HealthGate, RebootCoordinator, Rebooter } from './engine-deps.ts';

export interface RebootPorts {
  reboot: RebootCoordinator;
  rebooter: Rebooter;
  healthGate: HealthGate;
}

export function buildRebootPorts(settings: Settings, clock: Clock, logger: Logger): RebootPorts {
  const strategy = settings.rebootStrategy;
  const reboot: RebootCoordinator = {
    label: strategy,
    atStart: async () => undefined,
    afterHealthyBoot: async () => undefined,
    afterRollback: async () => undefined,
    async beforeReboot() {
      if (strategy === 'off') return 'stay';
      if (strategy === 'reboot') return 'reboot';
      throw new UpdateEngineError('ERR_NOT_IMPLEMENTED', `REBOOT_STRATEGY=${strategy}: not implemented yet`);
    },
  };
  const rebooter: Rebooter = {
    async reboot(reason) {
      const argv = splitCommand(settings.rebootCommand);
      logger.warn({ argv, reason }, 'Rebooting');
      const r = await execArgv(argv, { timeoutMs: 120_000 });
      if (r.exitCode !== 0) {
        throw new UpdateEngineError('ERR_REBOOT_COMMAND', `REBOOT_COMMAND "${settings.rebootCommand}" failed with exit ${r.exitCode ?? r.signal}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
      }
    },
  };
  const healthGate: HealthGate = async (signal) => {
    if (!settings.healthCheck) return true;
    const argv = splitCommand(settings.healthCheck);
    const deadline = clock.monotonicMs() + settings.healthTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const r = await execArgv(argv, { timeoutMs: Math.max(1000, Math.min(60_000, deadline - clock.monotonicMs())), signal }).catch((e: unknown) => ({ exitCode: -1, stderr: String(e) }));
      if (r.exitCode === 0) return true;
      logger.warn({ attempt, exitCode: r.exitCode }, 'Health check failed; retrying');
      if (clock.monotonicMs() + 5000 > deadline) return false;
      await clock.sleep(5000, signal);
    }
  };
  return { reboot, rebooter, healthGate };
}
