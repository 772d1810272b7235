import { US_PER_DAY, type Clock } from '../domain/time.js';
import type { LogStore } from './log-store.js';

export interface RetentionOptions {
  retentionDays: number;
  clock: Clock;
  /** How often the purge runs while the server is up. */
  intervalMs?: number;
  onPurged?: (deleted: number) => void;
  onError?: (err: unknown) => void;
}

/** Deletes what is older than the retention period (SPEC section 3), now and then every interval. */
export class RetentionScheduler {
  readonly #store: LogStore;
  readonly #options: RetentionOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(store: LogStore, options: RetentionOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Purges once; returns the number of records deleted. */
  async purgeOnce(): Promise<number> {
    this.#running ??= (async () => {
      try {
        const cutoffUs = this.#options.clock.nowUs() - this.#options.retentionDays * US_PER_DAY;
        const deleted = await this.#store.purgeBefore(cutoffUs);
        this.#options.onPurged?.(deleted);
        return deleted;
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  start(): void {
    const run = () => {
      this.purgeOnce().catch((err: unknown) => this.#options.onError?.(err));
    };
    run();
    this.#timer = setInterval(run, this.#options.intervalMs ?? 3_600_000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => 0);
  }
}
