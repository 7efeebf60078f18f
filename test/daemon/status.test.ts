// Tests of the status table, StatusMachine (assertions, field resets, listeners) and the -status text.

import { describe, expect, it } from 'vitest';
import { ALLOWED_TRANSITIONS, StatusMachine, UPDATE_STATUSES, formatStatusText, isAllowedTransition, type UpdateStatus } from '../../src/daemon/status.ts';

const S = (name: string) => `UPDATE_STATUS_${name}` as UpdateStatus;

/** Every allowed edge, written out independently of the table in the source. */
const EXPECTED_EDGES = [
  'IDLE > CHECKING_FOR_UPDATE',
  'IDLE > UPDATED_NEED_REBOOT', // locksmithctl send-need-reboot
  'CHECKING_FOR_UPDATE > IDLE',
  'CHECKING_FOR_UPDATE > UPDATE_AVAILABLE',
  'CHECKING_FOR_UPDATE > UPDATED_NEED_REBOOT',
  'UPDATE_AVAILABLE > DOWNLOADING',
  'DOWNLOADING > VERIFYING',
  'VERIFYING > FINALIZING',
  'FINALIZING > UPDATED_NEED_REBOOT',
  'UPDATED_NEED_REBOOT > CHECKING_FOR_UPDATE',
  'UPDATED_NEED_REBOOT > IDLE',
  'REPORTING_ERROR_EVENT > IDLE',
  'REPORTING_ERROR_EVENT > UPDATED_NEED_REBOOT',
  ...['IDLE', 'CHECKING_FOR_UPDATE', 'UPDATE_AVAILABLE', 'DOWNLOADING', 'VERIFYING', 'FINALIZING', 'UPDATED_NEED_REBOOT'].map(
    (from) => `${from} > REPORTING_ERROR_EVENT`,
  ),
].sort();

describe('the transition table', () => {
  it('lists the eight statuses of update_engine', () => {
    expect(UPDATE_STATUSES).toHaveLength(8);
    expect(Object.keys(ALLOWED_TRANSITIONS).sort()).toEqual([...UPDATE_STATUSES].sort());
  });

  it('allows exactly the expected edges', () => {
    const edges: string[] = [];
    for (const from of UPDATE_STATUSES) {
      for (const to of UPDATE_STATUSES) {
        if (isAllowedTransition(from, to)) edges.push(`${from.slice(14)} > ${to.slice(14)}`);
      }
    }
    expect(edges.sort()).toEqual(EXPECTED_EDGES);
  });
});

describe('StatusMachine', () => {
  it('walks the happy path, carrying the offer and resetting progress on each transition', () => {
    const m = new StatusMachine();
    m.transition(S('CHECKING_FOR_UPDATE'));
    m.transition(S('UPDATE_AVAILABLE'), { newVersion: '2079.3.2', newSizeBytes: 399568805, lastCheckedTimeSeconds: 1556272591 });
    m.transition(S('DOWNLOADING'));
    m.update({ progress: 0.25, currentOperation: 'writing block 10 of 40' });
    expect(m.snapshot()).toMatchObject({ status: S('DOWNLOADING'), progress: 0.25, newVersion: '2079.3.2' });
    m.transition(S('VERIFYING'), { currentOperation: 'hashing the image' });
    expect(m.snapshot()).toMatchObject({ progress: 0, currentOperation: 'hashing the image' });
    m.transition(S('FINALIZING'));
    const done = m.transition(S('UPDATED_NEED_REBOOT'));
    expect(done).toEqual({
      status: S('UPDATED_NEED_REBOOT'),
      progress: 0,
      lastCheckedTimeSeconds: 1556272591,
      newVersion: '2079.3.2',
      newSizeBytes: 399568805,
      currentOperation: '',
      lastError: null,
    });
    expect(Object.isFrozen(done)).toBe(true);
  });

  it('throws ERR_INTERNAL on an illegal transition and changes nothing', () => {
    const m = new StatusMachine();
    const before = m.snapshot();
    expect(() => m.transition(S('DOWNLOADING'))).toThrow(
      expect.objectContaining({
        code: 'ERR_INTERNAL',
        message: 'Illegal status transition from UPDATE_STATUS_IDLE to UPDATE_STATUS_DOWNLOADING',
      }),
    );
    expect(m.snapshot()).toBe(before);
    expect(m.canTransition(S('DOWNLOADING'))).toBe(false);
    expect(m.canTransition(S('CHECKING_FOR_UPDATE'))).toBe(true);
  });

  it('rejects progress outside 0..1', () => {
    const m = new StatusMachine();
    expect(() => m.update({ progress: 1.5 })).toThrow(/fraction from 0 to 1, got 1.5/);
    expect(() => m.update({ progress: Number.NaN })).toThrow(/got NaN/);
  });

  it('clears the offer on IDLE and the last error on the next check', () => {
    const m = new StatusMachine({ status: S('DOWNLOADING'), newVersion: '2.0.0', newSizeBytes: 10, progress: 0.5 });
    m.transition(S('REPORTING_ERROR_EVENT'), { lastError: { code: 'ERR_PAYLOAD_HASH_MISMATCH', message: 'Block 3 hash differs' } });
    const idle = m.transition(S('IDLE'));
    expect(idle).toMatchObject({ newVersion: '0.0.0', newSizeBytes: 0, progress: 0, currentOperation: '' });
    expect(idle.lastError?.code).toBe('ERR_PAYLOAD_HASH_MISMATCH');
    expect(m.transition(S('CHECKING_FOR_UPDATE')).lastError).toBeNull();
  });

  it('keeps the pending update through a check while a reboot is pending', () => {
    const m = new StatusMachine({ status: S('UPDATED_NEED_REBOOT'), newVersion: '2.0.0', newSizeBytes: 10 });
    m.transition(S('CHECKING_FOR_UPDATE'));
    expect(m.transition(S('UPDATED_NEED_REBOOT')).newVersion).toBe('2.0.0');
  });

  it('notifies listeners with the new and previous snapshots until unsubscribed', () => {
    const m = new StatusMachine();
    const seen: string[] = [];
    const off = m.onChange((now, before) => seen.push(`${before.status.slice(14)}>${now.status.slice(14)}:${now.progress}`));
    m.transition(S('CHECKING_FOR_UPDATE'));
    m.update({ progress: 0.5 });
    off();
    m.transition(S('IDLE'));
    expect(seen).toEqual(['IDLE>CHECKING_FOR_UPDATE:0', 'CHECKING_FOR_UPDATE>CHECKING_FOR_UPDATE:0.5']);
  });

  it('runs every listener even when one throws, then reports the bug', () => {
    const m = new StatusMachine();
    let second = 0;
    m.onChange(() => {
      throw new Error('boom');
    });
    m.onChange(() => {
      second += 1;
    });
    expect(() => m.transition(S('CHECKING_FOR_UPDATE'))).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
    expect(second).toBe(1);
    expect(m.status).toBe(S('CHECKING_FOR_UPDATE'));
  });
});

describe('formatStatusText', () => {
  it('prints update_engine_client -status exactly', () => {
    const m = new StatusMachine({
      status: S('UPDATED_NEED_REBOOT'),
      lastCheckedTimeSeconds: 1556272591,
      newVersion: '2079.3.2',
      newSizeBytes: 399568805,
    });
    expect(formatStatusText(m.snapshot())).toBe(
      'LAST_CHECKED_TIME=1556272591\nPROGRESS=0.000000\nCURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT\nNEW_VERSION=2079.3.2\nNEW_SIZE=399568805\n',
    );
  });

  it('prints six decimals of progress and 0.0.0 when idle', () => {
    const m = new StatusMachine({ status: S('DOWNLOADING'), progress: 0.1234567, newVersion: '1.2.3', newSizeBytes: 5 });
    expect(formatStatusText(m.snapshot())).toContain('PROGRESS=0.123457\n');
    expect(formatStatusText(new StatusMachine().snapshot())).toBe(
      'LAST_CHECKED_TIME=0\nPROGRESS=0.000000\nCURRENT_OP=UPDATE_STATUS_IDLE\nNEW_VERSION=0.0.0\nNEW_SIZE=0\n',
    );
  });

  it('rests in UPDATED_NEED_REBOOT showing the pending update, or in IDLE without an offer', () => {
    const m = new StatusMachine({ status: S('CHECKING_FOR_UPDATE'), newVersion: '9.9.9', newSizeBytes: 9 });
    expect(m.rest({ version: '2.0.0', sizeBytes: 42 }, { lastCheckedTimeSeconds: 7 })).toMatchObject({
      status: S('UPDATED_NEED_REBOOT'),
      newVersion: '2.0.0',
      newSizeBytes: 42,
      progress: 1,
      lastCheckedTimeSeconds: 7,
    });
    m.transition(S('CHECKING_FOR_UPDATE'));
    expect(m.rest(undefined)).toMatchObject({ status: S('IDLE'), newVersion: '0.0.0', newSizeBytes: 0, progress: 0 });
  });
});
