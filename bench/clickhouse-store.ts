/**
 * The ClickHouse log store next to the SQLite one, on the same generated records, in one run:
 *
 *   node --import tsx bench/clickhouse-store.ts [--records N] [--batch N] [--queries N]
 *
 * Three stores, each fresh: SQLite (the baseline), ClickHouse single node, ClickHouse 2-shard cluster
 * (two server processes on this machine, started here as the tests start them, from Debian's
 * clickhouse-server). For each:
 *   1. import: N records (default 2,000,000, bench/lib/generate-logs.ts, seed 1) through
 *      LogStore.append in batches of --batch (default 10,000): records/s over the time spent in
 *      append (the generation of each batch is not counted);
 *   2. on-disk bytes per record: the SQLite file (and its WAL), or the active parts of every table of
 *      the database on every node (system.parts bytes_on_disk), after merges had 10 s to run, also
 *      printed by table (logs, log_ids); the servers compress parts with ZSTD, as docs/deployment.md
 *      tells operators to;
 *   3. LogStore.readPage of 100 records for the four filter shapes of bench/read-api-logs.ts (window
 *      only; call names; one rare IP; rare status codes), the big account (40 % of the records), random
 *      48-hour windows, --queries (default 200) per shape after a warm-up: p50 / p99 in ms. Each read has
 *      ReadApiLogs' byte budget (PAGE_TEXT_BUDGET_BYTES), as the server's reads do (ClickHouse streams
 *      every page).
 * The same queries (same seed) run against each store.
 */
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { US_PER_DAY, US_PER_HOUR } from '../src/domain/time.js';
import { ClickHouseLogStore } from '../src/store/clickhouse/clickhouse-log-store.js';
import { ClickHouseNode } from '../src/store/clickhouse/clickhouse-node.js';
import { PAGE_TEXT_BUDGET_BYTES } from '../src/query/read-api-logs.js';
import type { LogQuery, LogStore } from '../src/store/log-store.js';
import { SqliteLogStore } from '../src/store/sqlite/sqlite-log-store.js';
import { startClickHouse, startClickHouseCluster } from '../test/fixtures/clickhouse-server.js';
import { createLogModel, DEFAULT_START_US, generateLogBatches } from './lib/generate-logs.js';
import { describeMachine } from './lib/machine.js';
import { Prng } from './lib/prng.js';
import { fmt, summarize } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000000' },
    batch: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '200' },
  },
  strict: false,
});
const RECORDS = Number(values.records);
const BATCH = Number(values.batch);
const QUERIES = Number(values.queries);
const SPAN_DAYS = 32;
const SEED = 1;
const GENERATOR = { records: RECORDS, seed: SEED, startUs: DEFAULT_START_US, spanDays: SPAN_DAYS };

interface Result {
  name: string;
  recordsPerSecond: number;
  imported: number;
  bytesPerRecord: number;
  shapes: { name: string; p50: number; p99: number; rows: number }[];
}

const model = createLogModel(GENERATOR);
const big = model.accounts[0]!;

type Shape = { name: string; filters: (prng: Prng, common: readonly string[]) => Partial<LogQuery> };
const SHAPES: Shape[] = [
  { name: 'window only', filters: () => ({}) },
  { name: 'call names', filters: (prng, common) => ({ callNames: [...new Set(Array.from({ length: prng.int(1, 3) }, () => prng.pick(common)))] }) },
  { name: 'one rare IP', filters: (prng) => ({ ipAddresses: [prng.pick(big.occasionalIps)] }) },
  { name: 'rare status codes', filters: () => ({ statusCodes: [500, 503] }) },
];

/** Seconds spent in LogStore.append only: generating the records (about 16 µs each here) is left out. */
async function importInto(store: LogStore): Promise<{ imported: number; seconds: number }> {
  let imported = 0;
  let appendMs = 0;
  for (const batch of generateLogBatches({ ...GENERATOR, batchSize: BATCH })) {
    const started = performance.now();
    imported += (await store.append(batch)).inserted;
    appendMs += performance.now() - started;
  }
  return { imported, seconds: appendMs / 1000 };
}

async function measureReads(store: LogStore): Promise<Result['shapes']> {
  const maxSeq = await store.highWaterMark();
  const spanUs = SPAN_DAYS * US_PER_DAY;
  const out: Result['shapes'] = [];
  for (const shape of SHAPES) {
    const prng = new Prng(SEED * 31 + shape.name.length);
    const common = Array.from({ length: 20 }, () => model.callNames.pick(prng));
    const samples: number[] = [];
    let rows = 0;
    const warmup = Math.max(5, Math.floor(QUERIES / 10));
    for (let q = -warmup; q < QUERIES; q++) {
      const fromUs = DEFAULT_START_US + Math.floor(prng.next() * (spanUs - 48 * US_PER_HOUR));
      const query: LogQuery = { accountId: big.AccountId, fromUs, toUs: fromUs + 48 * US_PER_HOUR, maxSeq, limit: 100, maxBytes: PAGE_TEXT_BUDGET_BYTES, ...shape.filters(prng, common) };
      const t0 = performance.now();
      const page = await store.readPage(query);
      const elapsed = performance.now() - t0;
      if (q < 0) continue;
      samples.push(elapsed);
      rows += page.records.length;
    }
    const s = summarize(samples);
    out.push({ name: shape.name, p50: s.p50, p99: s.p99, rows: Math.round(rows / QUERIES) });
  }
  return out;
}

/** Bytes of the active parts of every table of the database, summed over the nodes, by table. */
async function clickHouseBytes(urls: readonly string[], database: string): Promise<Map<string, number>> {
  const byTable = new Map<string, number>();
  for (const url of urls) {
    const node = new ClickHouseNode({ url });
    const rows = await node.rows(`SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = '${database}' AND active GROUP BY table`);
    for (const [table, bytes] of rows) byTable.set(String(table), (byTable.get(String(table)) ?? 0) + Number(bytes));
    await node.close();
  }
  return byTable;
}

async function runSqlite(): Promise<Result> {
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-bench-ch-sqlite-'));
  const file = path.join(dir, 'logs.db');
  const store = new SqliteLogStore({ path: file });
  try {
    const { imported, seconds } = await importInto(store);
    await store.optimize();
    const shapes = await measureReads(store);
    const bytes = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    return { name: 'SQLite (baseline)', recordsPerSecond: imported / seconds, imported, bytesPerRecord: bytes / imported, shapes };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runClickHouse(name: string, urls: readonly string[], cluster: string | undefined): Promise<Result> {
  const database = 'oms_bench';
  const store = new ClickHouseLogStore({ nodes: urls.map((url) => ({ url, requestTimeoutMs: 120_000 })), database, ...(cluster === undefined ? {} : { cluster }) });
  try {
    await store.ready();
    const { imported, seconds } = await importInto(store);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const byTable = await clickHouseBytes(urls, database);
    const bytes = [...byTable.values()].reduce((a, b) => a + b, 0);
    const tables = [...byTable].sort((a, b) => b[1] - a[1]).map(([table, b]) => `${table} ${(b / imported).toFixed(1)}`);
    console.log(`${name}: bytes/record by table (all nodes): ${tables.join(', ')}`);
    const shapes = await measureReads(store);
    return { name, recordsPerSecond: imported / seconds, imported, bytesPerRecord: bytes / imported, shapes };
  } finally {
    await store.close();
  }
}

console.log(`machine: ${describeMachine()}`);
console.log(`records: ${RECORDS}, batches of ${BATCH}, 100 accounts (the first holds 40 %), ${SPAN_DAYS} days; reads: ${QUERIES} pages of 100 per shape, big account, 48-hour windows`);
const results: Result[] = [];
results.push(await runSqlite());
{
  const server = await startClickHouse();
  try {
    results.push(await runClickHouse('ClickHouse, single node', [server.httpUrl], undefined));
  } finally {
    await server.destroy();
  }
}
{
  const cluster = await startClickHouseCluster(2);
  try {
    results.push(await runClickHouse('ClickHouse, 2 shards', cluster.servers.map((s) => s.httpUrl), cluster.name));
  } finally {
    await cluster.destroy();
  }
}

const baseline = results[0] as Result;
console.log('\nstore                      imported   records/s  ratio   bytes/record  ratio');
for (const r of results) {
  console.log(
    `${r.name.padEnd(26)} ${String(r.imported).padStart(9)} ${Math.round(r.recordsPerSecond).toString().padStart(11)} ${(r.recordsPerSecond / baseline.recordsPerSecond).toFixed(2).padStart(6)} ${Math.round(r.bytesPerRecord).toString().padStart(14)} ${(r.bytesPerRecord / baseline.bytesPerRecord).toFixed(2).padStart(6)}`,
  );
}
console.log('\nreadPage, 100 records, p50 / p99 ms (rows per page)');
console.log(`${'shape'.padEnd(20)}${results.map((r) => r.name.padStart(28)).join('')}`);
for (let i = 0; i < SHAPES.length; i++) {
  const cells = results.map((r) => {
    const s = r.shapes[i]!;
    return `${fmt(s.p50)} / ${fmt(s.p99)} (${s.rows})`.padStart(28);
  });
  console.log(`${SHAPES[i]!.name.padEnd(20)}${cells.join('')}`);
}
