// gflags spellings as update_engine_client's users type them, and the glog lines and C++ double
// formatting of its -watch_for_updates output.

import { describe, expect, it } from 'vitest';
import { normalizeArgv } from '../../src/cli/update-engine-client.ts';
import { formatCppDouble, glogPrefix, glogStatusLines } from '../../src/cli/glog-status.ts';
import { IDLE_SNAPSHOT } from '../../src/daemon/status.ts';
import { failure } from '../helpers/errors.ts';

describe('gflags spellings', () => {
  it.each([
    [['-status'], ['--status']],
    [['--status'], ['--status']],
    [['-status=true'], ['--status']],
    [['--status=TRUE'], ['--status']],
    [['-status', 'true'], ['--status']],
    [['-status', 'false', '-update'], ['--update']],
    [['-status=0', '-update=yes'], ['--update']],
    [['-nostatus', '-update'], ['--update']],
    [
      ['-socket', '/s', '-status'],
      ['--socket', '/s', '--status'],
    ],
    [
      ['-socket=/s', '-status'],
      ['--socket=/s', '--status'],
    ],
    [['-h'], ['-h']],
    [
      ['--', '-status'],
      ['--', '-status'],
    ],
  ])('%j -> %j', (argv, expected) => {
    expect(normalizeArgv(argv)).toEqual(expected);
  });

  it('a boolean flag with another value is a usage error naming the flag', async () => {
    const e = await failure((async () => normalizeArgv(['-status=maybe']))());
    expect([e.code, e.message]).toEqual(['ERR_USAGE', 'Invalid value "maybe" for -status: expected true or false']);
  });
});

describe('glog output of -watch_for_updates', () => {
  it('formats doubles as C++ ostream does', () => {
    expect([0, 1, 0.5, 0.25, 0.123456789, 0.999999, 0.9999999, 1e-7, 0.0001, 0.00001234].map(formatCppDouble)).toEqual([
      '0',
      '1',
      '0.5',
      '0.25',
      '0.123457',
      '0.999999',
      '1',
      '1e-07',
      '0.0001',
      '1.234e-05',
    ]);
  });

  it('writes glog prefixes and the six lines of StatusUpdateSignalHandler', () => {
    const date = new Date(2026, 11, 6, 9, 5, 7, 123);
    expect(glogPrefix(date, 42, 79)).toBe('I1206 09:05:07.123000    42 update_engine_client.cc:79] ');
    const lines = glogStatusLines(
      { ...IDLE_SNAPSHOT, status: 'UPDATE_STATUS_DOWNLOADING', progress: 0.25, newVersion: '2.0.0', newSizeBytes: 4096, lastCheckedTimeSeconds: 1556272591 },
      date,
      42,
    );
    expect(lines.map((l) => l.slice(l.indexOf('cc:')))).toEqual([
      'cc:79] Got status update:',
      'cc:80]   last_checked_time: 1556272591',
      'cc:81]   progress: 0.25',
      'cc:82]   current_operation: UPDATE_STATUS_DOWNLOADING',
      'cc:83]   new_version: 2.0.0',
      'cc:84]   new_size: 4096',
    ]);
    // Outside DOWNLOADING update_engine's progress is 0 (reset when the download action completes).
    expect(glogStatusLines({ ...IDLE_SNAPSHOT, status: 'UPDATE_STATUS_UPDATED_NEED_REBOOT', progress: 1 }, date, 42)[2]).toMatch(/progress: 0$/);
  });
});
