/**
 * The V8 flags `oms` runs with. The first line of cli/oms.ts and `npm start` pass them to Node, and the
 * benchmarks start `oms serve` with them; test/integration/docs-sync.test.ts checks that all agree.
 *
 * --max-semi-space-size=4 (MiB; Node 20's default grows to 16). A ReadApiLogs call allocates little on
 * the JavaScript heap, but its page and its answer are Buffers (about 200 KB for 100 logs), whose memory
 * V8 gives back only once a collection finds them dead. With 16 MiB semi-spaces, a young-generation
 * collection could come so seldom that V8 ran full mark-compact collections instead, prompted by that
 * memory: 17 to 30 of them in some runs of 1,800 calls of 100 logs, each stopping the server 3 to 10 ms,
 * which made the p99 of such pages; in other runs, 2. With 4 MiB a young collection comes every 30 to
 * 40 calls and frees the Buffers: no mark-compact after the start in any run (BENCHMARKS.md, ReadApiLogs).
 *
 * The price is on ingest: a batch's parsed records outlive a young collection more often and are copied
 * to the old generation, about 12 % more server CPU per ingested record (45,000 against 47,700
 * records/s in the same runs). An instance that only ingests can run `node dist/cli/oms.js serve`.
 */
export const OMS_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
