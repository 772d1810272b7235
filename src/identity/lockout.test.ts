import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { US_PER_MS, type Clock } from '../domain/time.js';
import { FAILURES_PER_STEP, LOCK_STEP_MS, LockoutTracker, MAX_LOCK_MS } from './lockout.js';

class ManualClock implements Clock {
  #us: number;
  constructor(startMs: number) {
    this.#us = startMs * US_PER_MS;
  }
  nowUs(): number {
    return this.#us;
  }
  advanceMs(ms: number): void {
    this.#us += ms * US_PER_MS;
  }
}

const KEY = 'AKIAOMSTEST000000001';
const OTHER_KEY = 'AKIAOMSTEST000000002';
const START_MS = Date.UTC(2024, 0, 2, 10, 0, 0);
const MINUTE_MS = 60_000;

function setup(): { clock: ManualClock; lockout: LockoutTracker } {
  const clock = new ManualClock(START_MS);
  return { clock, lockout: new LockoutTracker(clock) };
}

function fail(lockout: LockoutTracker, times: number, key = KEY): void {
  for (let i = 0; i < times; i++) lockout.recordFailure(key);
}

describe('LockoutTracker', () => {
  it('follows the spec: four failures, one minute steps, ten minutes at most', () => {
    assert.equal(FAILURES_PER_STEP, 4);
    assert.equal(LOCK_STEP_MS, MINUTE_MS);
    assert.equal(MAX_LOCK_MS, 10 * MINUTE_MS);
  });

  it('a key never seen is not locked', () => {
    const { lockout } = setup();
    assert.equal(lockout.lockedForMs(KEY), 0);
  });

  it('three failures in a row do not lock the key', () => {
    const { lockout } = setup();
    fail(lockout, 3);
    assert.equal(lockout.lockedForMs(KEY), 0);
  });

  it('the fourth failure in a row locks the key for 60 seconds', () => {
    const { lockout } = setup();
    fail(lockout, 4);
    assert.equal(lockout.lockedForMs(KEY), MINUTE_MS);
  });

  it('the lock counts down with the clock and expires after exactly 60 seconds', () => {
    const { clock, lockout } = setup();
    fail(lockout, 4);
    clock.advanceMs(15_000);
    assert.equal(lockout.lockedForMs(KEY), 45_000);
    clock.advanceMs(44_999);
    assert.equal(lockout.lockedForMs(KEY), 1);
    clock.advanceMs(1);
    assert.equal(lockout.lockedForMs(KEY), 0);
    clock.advanceMs(3_600_000);
    assert.equal(lockout.lockedForMs(KEY), 0);
  });

  it('a success resets the count', () => {
    const { lockout } = setup();
    fail(lockout, 3);
    lockout.recordSuccess(KEY);
    fail(lockout, 3);
    assert.equal(lockout.lockedForMs(KEY), 0);
    fail(lockout, 1);
    assert.equal(lockout.lockedForMs(KEY), MINUTE_MS);
  });

  it('a success after a lock expired starts again from one minute', () => {
    const { clock, lockout } = setup();
    fail(lockout, 8);
    clock.advanceMs(2 * MINUTE_MS);
    lockout.recordSuccess(KEY);
    fail(lockout, 4);
    assert.equal(lockout.lockedForMs(KEY), MINUTE_MS);
  });

  it('eight failures in a row lock the key for 2 minutes', () => {
    const { clock, lockout } = setup();
    fail(lockout, 4);
    clock.advanceMs(MINUTE_MS);
    fail(lockout, 3);
    assert.equal(lockout.lockedForMs(KEY), 0);
    fail(lockout, 1);
    assert.equal(lockout.lockedForMs(KEY), 2 * MINUTE_MS);
  });

  it('every further four failures add one minute', () => {
    const { clock, lockout } = setup();
    for (let step = 1; step <= 10; step++) {
      fail(lockout, 4);
      assert.equal(lockout.lockedForMs(KEY), step * MINUTE_MS, `after ${step * 4} failures`);
      clock.advanceMs(step * MINUTE_MS);
      assert.equal(lockout.lockedForMs(KEY), 0);
    }
  });

  it('caps the lock at 10 minutes', () => {
    const { clock, lockout } = setup();
    for (let step = 1; step <= 20; step++) {
      fail(lockout, 4);
      assert.ok(lockout.lockedForMs(KEY) <= MAX_LOCK_MS);
      clock.advanceMs(MAX_LOCK_MS);
    }
    fail(lockout, 4);
    assert.equal(lockout.lockedForMs(KEY), MAX_LOCK_MS);
  });

  it('counts each key on its own', () => {
    const { lockout } = setup();
    fail(lockout, 4, KEY);
    fail(lockout, 3, OTHER_KEY);
    assert.equal(lockout.lockedForMs(KEY), MINUTE_MS);
    assert.equal(lockout.lockedForMs(OTHER_KEY), 0);
    lockout.recordSuccess(OTHER_KEY);
    assert.equal(lockout.lockedForMs(KEY), MINUTE_MS);
  });

  it('reads a clock with sub-millisecond precision without rounding the lock up', () => {
    const clock: Clock = { nowUs: () => START_MS * US_PER_MS + 999 };
    const lockout = new LockoutTracker(clock);
    fail(lockout, 4);
    assert.equal(lockout.lockedForMs(KEY), MINUTE_MS);
  });

  it('locks for min(n / 4, 10) minutes after n failures with no success, when the caller stops at each lock', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 80 }), (failures) => {
        const { clock, lockout } = setup();
        let expected = 0;
        for (let n = 1; n <= failures; n++) {
          // Let any lock run out first, as the authenticator refuses locked keys before checking them.
          clock.advanceMs(lockout.lockedForMs(KEY));
          lockout.recordFailure(KEY);
          expected = n % 4 === 0 ? Math.min(n / 4, 10) * MINUTE_MS : 0;
        }
        assert.equal(lockout.lockedForMs(KEY), expected);
      }),
      { numRuns: 200 },
    );
  });

  it('stays bounded under a flood of keys and keeps the keys that are locked', () => {
    const { lockout } = setup();
    fail(lockout, 4, KEY);
    for (let i = 0; i < 150_000; i++) lockout.recordFailure(`FLOOD${i}`);
    assert.equal(lockout.lockedForMs(KEY), MINUTE_MS);
    fail(lockout, 4, OTHER_KEY);
    assert.equal(lockout.lockedForMs(OTHER_KEY), MINUTE_MS);
  });
});
