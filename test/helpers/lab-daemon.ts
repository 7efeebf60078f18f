// One `daemon --once` cycle on a lab machine, with a recording rebooter, as the security tests run it:
// resolves with the exit code as text, or "ERR_CODE: message" when the cycle fails.

import { runDaemon } from '../../src/daemon/main.ts';
import type { UpdateLab } from '../../src/demo/lab.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';

export function labDaemonOnce(lab: UpdateLab, settings: Record<string, string> = {}): Promise<string> {
  return runDaemon(lab.settings(settings), {
    once: true,
    logger: silentLogger(),
    signal: new AbortController().signal,
    identityPaths: lab.identityPaths(),
    overrides: { rebooter: new RecordingRebooter() },
  }).then(
    (code) => String(code),
    (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
  );
}
