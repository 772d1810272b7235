/**
 * Following an account's logs as they arrive (`oms tail`), without printing one twice or missing one
 * that arrives late.
 *
 * ReadApiLogs orders by QueryDate, but a record becomes readable some time after its QueryDate (the
 * front end's batch, a gateway spool that waited for the store), so a record may appear behind others
 * already read. Each round makes two reads:
 *
 *    sweptUntil            highWater         now
 *   ─────┼─────────────────────┼───────────────┼──────────▶ QueryDate
 *        │◀──── sweep ────▶│   │◀──── fresh ──────────────▶  (up to now + FUTURE_MARGIN)
 *        │  [sweptUntil, now − late)       [max(highWater, sweptUntil), …)
 *
 * - fresh: from the newest QueryDate printed (inclusive: several records share a timestamp) onwards,
 *   every page; this is what makes new records show within one interval;
 * - sweep: each stretch of time is read once more when it is `late` old, to catch what arrived after
 *   the fresh read passed it. Every record is thus read about twice, however long `late` is.
 *
 * A RequestId set of everything read with QueryDate >= sweptUntil (bucketed by second so that the part
 * older than sweptUntil is dropped in one step) makes sure no record is printed twice; nothing older
 * than sweptUntil is ever read again, so the set stays bounded by the records of the last `late`
 * seconds plus one interval.
 *
 * The guarantee: a record whose QueryDate is at or after the start and that becomes readable less than
 * `late` after its QueryDate (as the client's clock sees it; a server clock behind the client's
 * shortens the bound by the difference) is printed exactly once. A record that takes longer to appear
 * than that is not printed: no client of ReadApiLogs can tell it from one that never existed.
 */
import { formatIsoUs, parseIsoDate, US_PER_SECOND } from '../domain/time.js';
import { MAX_RESULTS_PER_PAGE, readAllPages, type ApiCaller, type RetryOptions, type WireLog } from './read-api-logs.js';

/** How far past the client's clock a fresh read looks: the server's clock may be ahead (5 min is what
 * signatures tolerate, SPEC section 5). */
export const FUTURE_MARGIN_US = 10 * 60 * US_PER_SECOND;

export interface LogFollowerOptions {
  client: ApiCaller;
  /** Records from this QueryDate on (microseconds). */
  sinceUs: number;
  /** How late a record may become readable and still be printed (microseconds). */
  lateUs: number;
  /** Client clock, microseconds. */
  nowUs: () => number;
  /** Call names not to print (osc-logs --ignore); they are still read and remembered. */
  ignoreCalls?: ReadonlySet<string>;
  retry?: RetryOptions;
}

export class LogFollower {
  readonly #client: ApiCaller;
  readonly #lateUs: number;
  readonly #nowUs: () => number;
  readonly #ignore: ReadonlySet<string>;
  readonly #retry: RetryOptions;
  #highWaterUs: number;
  #sweptUntilUs: number;
  /** second of QueryDate -> RequestIds read with a QueryDate in that second. */
  readonly #seen = new Map<number, Set<string>>();
  #seenCount = 0;

  constructor(options: LogFollowerOptions) {
    this.#client = options.client;
    this.#lateUs = options.lateUs;
    this.#nowUs = options.nowUs;
    this.#ignore = options.ignoreCalls ?? new Set();
    this.#retry = options.retry ?? {};
    this.#highWaterUs = options.sinceUs;
    this.#sweptUntilUs = options.sinceUs;
  }

  /** Records remembered for deduplication right now (for tests and progress). */
  get rememberedCount(): number {
    return this.#seenCount;
  }

  /**
   * One round: the fresh read, then the sweep. `emit` is called once per new record, in the order read;
   * returning false stops the round (for --count). Returns the number of records emitted.
   */
  async poll(emit: (log: WireLog) => boolean | void): Promise<number> {
    const nowUs = this.#nowUs();
    let emitted = 0;
    let stopped = false;
    const take = (log: WireLog): void => {
      if (stopped) return;
      if (!this.#remember(log)) return;
      if (typeof log.QueryCallName === 'string' && this.#ignore.has(log.QueryCallName)) return;
      emitted += 1;
      if (emit(log) === false) stopped = true;
    };

    const freshFromUs = Math.max(this.#highWaterUs, this.#sweptUntilUs);
    await this.#readWindow(freshFromUs, nowUs + FUTURE_MARGIN_US, take, () => stopped);
    if (stopped) return emitted;

    const sweepToUs = nowUs - this.#lateUs;
    if (sweepToUs > this.#sweptUntilUs) {
      await this.#readWindow(this.#sweptUntilUs, sweepToUs, take, () => stopped);
      if (stopped) return emitted;
      this.#sweptUntilUs = sweepToUs;
      this.#forgetBefore(sweepToUs);
    }
    return emitted;
  }

  async #readWindow(fromUs: number, toUs: number, take: (log: WireLog) => void, stopped: () => boolean): Promise<void> {
    const params = {
      Filters: { QueryDateAfter: formatIsoUs(fromUs), QueryDateBefore: formatIsoUs(toUs) },
      ResultsPerPage: MAX_RESULTS_PER_PAGE,
    };
    for await (const page of readAllPages(this.#client, params, this.#retry)) {
      for (const log of page.Logs ?? []) {
        take(log);
        if (stopped()) return;
      }
    }
  }

  /** true when the record was not read before. */
  #remember(log: WireLog): boolean {
    const dateUs = typeof log.QueryDate === 'string' ? parseIsoDate(log.QueryDate)?.us : undefined;
    const id = log.RequestId;
    // A log without a date or an id cannot be deduplicated; it is passed on as read.
    if (dateUs === undefined || typeof id !== 'string') return true;
    const second = Math.floor(dateUs / US_PER_SECOND);
    let ids = this.#seen.get(second);
    if (ids === undefined) {
      ids = new Set();
      this.#seen.set(second, ids);
    }
    if (ids.has(id)) return false;
    ids.add(id);
    this.#seenCount += 1;
    if (dateUs > this.#highWaterUs) this.#highWaterUs = dateUs;
    return true;
  }

  /** Drops the seconds that lie wholly before `us`: no read goes there again. */
  #forgetBefore(us: number): void {
    const firstKept = Math.floor(us / US_PER_SECOND);
    for (const [second, ids] of this.#seen) {
      if (second < firstKept) {
        this.#seenCount -= ids.size;
        this.#seen.delete(second);
      }
    }
  }
}
