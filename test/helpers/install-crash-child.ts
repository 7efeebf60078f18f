// A daemon (--once) that SIGKILLs itself at one point of the post-install step: after chunk N of
// the kernel copy, right after the kernel's rename, or when /postinst prints its first line.
// Usage: node bin/run-ts.js test/helpers/install-crash-child.ts '<JSON of InstallChildSpec>'

import { runDaemon } from '../../src/daemon/main.ts';
import { settingsSchema } from '../../src/config/schema.ts';
import { labIdentityPaths } from '../../src/demo/lab.ts';
import { silentLogger } from '../../src/platform/logger.ts';
import { RecordingRebooter } from '../fakes/recording-rebooter.ts';
import type { InstallChildSpec } from './install-crash.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as InstallChildSpec;
const die = () => process.kill(process.pid, 'SIGKILL');
const point = spec.point;
let chunks = 0;
const code = await runDaemon(settingsSchema.parse(spec.settingsInput), {
  once: true,
  logger: silentLogger(),
  signal: new AbortController().signal,
  identityPaths: labIdentityPaths(spec.identityDir),
  overrides: {
    rebooter: new RecordingRebooter(),
    installHooks: {
      kernel: {
        afterChunk: () => {
          chunks += 1;
          if (point?.kind === 'kernel-chunk' && chunks === point.chunk) die();
        },
        afterRename: () => {
          if (point?.kind === 'kernel-renamed') die();
        },
      },
      onPostinstLine: () => {
        if (point?.kind === 'postinst') die();
      },
    },
  },
});
process.exitCode = code;
