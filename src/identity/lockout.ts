import type { Clock } from '../domain/time.js';
import { US_PER_MS } from '../domain/time.js';

/**
 * Failed-authentication lockout (SPEC section 5): four failures in a row lock the key for 1 minute;
 * every further four add 1 minute, up to 10 minutes. A success resets the count. Only keys that exist
 * are tracked, and the map is bounded so that a flood of failures cannot grow memory without limit.
 */
export const FAILURES_PER_STEP = 4;
export const LOCK_STEP_MS = 60_000;
export const MAX_LOCK_MS = 10 * 60_000;
const MAX_TRACKED_KEYS = 100_000;

interface KeyFailures {
  consecutive: number;
  lockedUntilMs: number;
}

export class LockoutTracker {
  readonly #clock: Clock;
  readonly #byKey = new Map<string, KeyFailures>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  #nowMs(): number {
    return Math.floor(this.#clock.nowUs() / US_PER_MS);
  }

  /** Milliseconds the key stays locked, or 0 when it may try. */
  lockedForMs(accessKeyId: string): number {
    const entry = this.#byKey.get(accessKeyId);
    if (entry === undefined) return 0;
    return Math.max(0, entry.lockedUntilMs - this.#nowMs());
  }

  recordFailure(accessKeyId: string): void {
    let entry = this.#byKey.get(accessKeyId);
    if (entry === undefined) {
      if (this.#byKey.size >= MAX_TRACKED_KEYS) this.#evictUnlocked();
      entry = { consecutive: 0, lockedUntilMs: 0 };
      this.#byKey.set(accessKeyId, entry);
    }
    entry.consecutive += 1;
    if (entry.consecutive % FAILURES_PER_STEP === 0) {
      const steps = entry.consecutive / FAILURES_PER_STEP;
      entry.lockedUntilMs = this.#nowMs() + Math.min(steps * LOCK_STEP_MS, MAX_LOCK_MS);
    }
  }

  recordSuccess(accessKeyId: string): void {
    this.#byKey.delete(accessKeyId);
  }

  #evictUnlocked(): void {
    const now = this.#nowMs();
    for (const [key, entry] of this.#byKey) {
      if (entry.lockedUntilMs <= now) this.#byKey.delete(key);
      if (this.#byKey.size < MAX_TRACKED_KEYS / 2) return;
    }
  }
}
