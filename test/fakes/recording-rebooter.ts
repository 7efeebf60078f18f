// A Rebooter that records reboot requests instead of running REBOOT_COMMAND (and never calls wall).

import type { Rebooter } from '../../src/reboot/rebooter.ts';

export class RecordingRebooter implements Rebooter {
  readonly reasons: string[] = [];
  async reboot(reason: string): Promise<void> {
    this.reasons.push(reason);
  }
}
