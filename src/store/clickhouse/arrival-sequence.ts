/**
 * ArrivalSeq for ClickHouse, which has no autoincrement and no transactions.
 *
 * Each writing process (an `oms serve` replica, an `oms admin import`) claims a writer slot, a number
 * in [0, 4096), and allocates on its own:
 *
 *     ArrivalSeq = tick * 4096 + WriterId        tick = max(previous tick + 1, now in ms since 2024)
 *
 *     53 bits:   | tick (41 bits, ms since 2024-01-01, until 2093) | WriterId (12 bits) |
 *
 * - Unique: two slots never produce the same value, and one slot never twice (tick only grows).
 * - Strictly increasing per writer in arrival order: the keyset (QueryDateUs, ArrivalSeq) is a total
 *   order and ties on QueryDate keep arrival order, as the LogStore contract requires.
 * - Close to arrival time across writers: ticks follow the clock, so records of different replicas
 *   are ordered by the millisecond they were allocated. A writer faster than 1,000 records/ms per
 *   second runs its ticks ahead of the clock; that is harmless (still unique, still increasing).
 * - The high-water mark is the highest ArrivalSeq any writer has recorded in `writers` (written after
 *   the rows it covers are stored), so a snapshot taken with it contains only stored rows.
 *
 * What a single SQLite writer gives and this does not: with several writers at once, a batch of
 * writer A allocated before a batch of writer B may become visible after it. A paging session whose
 * mark was read in between still returns every record that was stored when its first page was read,
 * once, in order (they are all visible and below the mark, and keyset paging never moves them); a
 * record of A's late batch is returned by that session only if it falls after the cursor, and in any
 * case by the next query. No repeat and no gap, at the price of that late record's placement. With a
 * single writer (one replica, or the import alone) the order is exactly the SQLite one.
 *
 * Slots: a writer takes a random slot that no other instance has used in the last day, writes its
 * claim, then reads the claims again and gives the slot up if another instance claimed it too (both
 * may give up; they retry with other random slots). Two writers can both keep a slot only if each
 * read the claims before the other wrote its own, which the order write-then-read excludes.
 */
export const WRITER_SLOTS = 4096;
/** 2024-01-01T00:00:00Z in ms: the origin of ticks. */
export const TICK_EPOCH_MS = Date.UTC(2024, 0, 1);
/** A claim older than this frees its slot (the instance stopped without releasing it). */
export const SLOT_IDLE_MS = 86_400_000;

export class ArrivalSequence {
  readonly writerId: number;
  #tick: number;

  /** `floor`: the high-water mark at start, so that this writer allocates above everything stored. */
  constructor(writerId: number, floor: number) {
    if (!Number.isInteger(writerId) || writerId < 0 || writerId >= WRITER_SLOTS) throw new RangeError('writer slot out of range');
    this.writerId = writerId;
    this.#tick = Math.floor(floor / WRITER_SLOTS);
  }

  /** `count` values, increasing, all above every value allocated before. */
  allocate(count: number, nowMs: number): number[] {
    const values = new Array<number>(count);
    let tick = Math.max(this.#tick + 1, nowMs - TICK_EPOCH_MS);
    for (let i = 0; i < count; i++) {
      values[i] = tick * WRITER_SLOTS + this.writerId;
      tick++;
    }
    this.#tick = tick - 1;
    return values;
  }

  /** Moves the floor up (another writer's mark seen), never down. */
  raiseFloor(seq: number): void {
    this.#tick = Math.max(this.#tick, Math.floor(seq / WRITER_SLOTS));
  }
}
