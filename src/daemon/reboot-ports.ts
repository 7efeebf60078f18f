// Builds the engine's reboot ports from the settings: the REBOOT_STRATEGY (src/reboot), the
// CommandRebooter for REBOOT_COMMAND, and the health gate for HEALTH_CHECK / HEALTH_TIMEOUT.

import type { Settings } from '../config/schema.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { createRebootStrategy } from '../reboot/create-reboot-strategy.ts';
import { runHealthGate } from '../reboot/health-gate.ts';
import { CommandRebooter } from '../reboot/rebooter.ts';
import type { EngineDeps } from './engine-deps.ts';
import { environmentWithoutSecrets } from '../config/secret-env.ts';

export type RebootPorts = Pick<EngineDeps, 'reboot' | 'rebooter' | 'healthGate'>;

export function buildRebootPorts(settings: Settings, machineId: string, clock: Clock, logger: Logger): RebootPorts {
  // The commands never see the settings' secrets (issue 14).
  const childEnv = environmentWithoutSecrets(process.env, settings);
  return {
    reboot: createRebootStrategy(settings, { machineId, clock, logger }),
    rebooter: new CommandRebooter({ command: settings.rebootCommand, logger, env: childEnv }),
    healthGate: (signal) => runHealthGate({ command: settings.healthCheck, timeoutMs: settings.healthTimeoutMs, clock, signal, logger, env: childEnv }),
  };
}
