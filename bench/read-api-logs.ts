/**
 * ReadApiLogs latency over HTTP next to the bare SQL time of the same page, in one run.
 *
 * Builds a store of N realistic records (default 2 million: 100 accounts, one holding 40 %), starts a
 * real `oms serve` process on it, and for four filter shapes and pages of 100 and 1000 records sends
 * signed ReadApiLogs calls one at a time from this process (the load generator shares the two cores),
 * timing each until its last byte; the same query then runs straight against the store in this process,
 * twice: as records (readPage) and as the server reads it, wire JSON written by SQLite (readWirePage).
 * The same call also goes to a minimal server on the same store (bench/lib/minimal-read-server.ts:
 * node:http, the same read, the same envelope and a record per call, nothing else; the same Node flags),
 * the two taking the same windows in alternate blocks of 50 calls: HTTP minus minimal is what OMS's own
 * layer costs (Fastify, the signature check, validation, the page token, building its record), apart
 * from what any server of this store on these two cores pays.
 *
 * Before the first line, --warmup calls (default 1200, window only, pages of 100 and 1000 in turn) are
 * sent to each server and not counted. A server that has just started compiles its code and grows its
 * heap during its first calls, and its write thread builds its identity filter a slice at a time, 4,096
 * stored identities with each append (appender.ts): on 2M records, the first 490 own records each take
 * that much longer to commit, on the core the calls share. Both would otherwise land in the first line's
 * tail alone.
 *
 *   node --import tsx bench/read-api-logs.ts [--records N] [--queries N] [--warmup N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { formatIsoUs, US_PER_DAY, US_PER_HOUR } from '../src/domain/index.js';
import { signRequest } from '../src/identity/sigv4/index.js';
import { PAGE_TEXT_BUDGET_BYTES } from '../src/query/read-api-logs.js';
import type { LogQuery } from '../src/store/index.js';
import { SqliteLogStore } from '../src/store/sqlite/sqlite-log-store.js';
import { openCredentialStore } from '../src/server.js';
import { createLogModel, generateLogBatches } from './lib/generate-logs.js';
import { createPoster, freePort } from './lib/http-client.js';
import { describeMachine } from './lib/machine.js';
import { Prng } from './lib/prng.js';
import { fmt, summarize } from './lib/stats.js';
import { OMS_NODE_FLAGS } from '../src/cli/node-flags.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000000' },
    queries: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '1200' },
    keep: { type: 'boolean', default: false },
  },
  strict: false,
});
const RECORDS = Number(values.records);
const QUERIES = Number(values.queries);
const WARMUP_CALLS = Number(values.warmup);
const SEED = 7;
/** Calls in a row to one server before the other takes the same windows. */
const BLOCK_CALLS = 50;
const REGION = 'eu-west-2';


// A keep-alive client on node:http: fetch's own overhead on 1 MB answers would be charged to the server.
const { post, close: closePoster } = createPoster(1);

async function main(): Promise<void> {
  console.log(`machine: ${describeMachine()}`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'oms-bench-read-'));
  const config = loadConfig({ dataDir, port: '0' }, {});
  if (config.store.kind !== 'sqlite') throw new Error('this benchmark runs on the SQLite store');
  const storePath = config.store.path;
  const nowUs = Date.now() * 1000;
  const startUs = nowUs - 31 * US_PER_DAY;
  const spanDays = 30.9;

  // 1. The store, filled through the LogStore interface as the import command fills it.
  const store = new SqliteLogStore({ path: storePath });
  const importStarted = performance.now();
  let imported = 0;
  for (const batch of generateLogBatches({ records: RECORDS, seed: SEED, startUs, spanDays, batchSize: 10_000 })) {
    imported += (await store.append(batch)).inserted;
  }
  const importSeconds = (performance.now() - importStarted) / 1000;
  await store.optimize();
  console.log(`store: ${imported} records imported in ${importSeconds.toFixed(1)} s (${Math.round(imported / importSeconds)} records/s), ${(statSync(storePath).size / imported).toFixed(0)} bytes/record`);

  // 2. A key of the big account (40 % of the records) for the signed calls.
  const model = createLogModel({ seed: SEED });
  const big = model.accounts[0]!;
  const { credentials } = openCredentialStore(config);
  await credentials.createAccount({ accountId: big.AccountId });
  const key = await credentials.createAccessKey(big.AccountId);
  await credentials.close();

  // 3. A real server process on the same files.
  const port = await freePort();
  const server = spawn(process.execPath, [...OMS_NODE_FLAGS, 'dist/cli/oms.js', 'serve', '--data', dataDir, '--port', String(port), '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      if (i > 200) throw new Error('oms serve did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // The floor of any Node HTTP answer of that size: a bare node:http server in its own process answering
  // a ready-made body of the requested length, timed by the same client.
  const floorPort = await freePort();
  const floorServer = spawn(
    process.execPath,
    ['-e', `const b=Buffer.alloc(4<<20,120);require('node:http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.setHeader('content-type','application/json');s.end(b.subarray(0,Number(q.headers['x-size'])))})}).listen(${floorPort},'127.0.0.1')`],
    { stdio: 'ignore' },
  );
  const floorUrl = `http://127.0.0.1:${floorPort}/`;

  // The minimal server of the same store (see the top of this file); it prints `ready` once listening.
  const minimalPort = await freePort();
  const minimalServer = spawn(process.execPath, [...OMS_NODE_FLAGS, '--import', 'tsx', 'bench/lib/minimal-read-server.ts', String(minimalPort), storePath, big.AccountId], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    minimalServer.stdout.once('data', () => resolve());
    minimalServer.once('exit', (code) => reject(new Error(`the minimal server exited (${code})`)));
  });
  const minimalUrl = `http://127.0.0.1:${minimalPort}/api/v1/ReadApiLogs`;
  for (let i = 0; ; i++) {
    try {
      await post(floorUrl, { 'x-size': '1' }, '{}');
      break;
    } catch {
      if (i > 200) throw new Error('the floor server did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const prng = new Prng(SEED * 31);
  const spanUs = spanDays * US_PER_DAY;
  const commonNames = Array.from({ length: 20 }, () => model.callNames.pick(prng));
  type Shape = { name: string; filters: () => { sql: Partial<LogQuery>; api: Record<string, unknown> } };
  const shapes: Shape[] = [
    { name: 'window only', filters: () => ({ sql: {}, api: {} }) },
    {
      name: 'call names',
      filters: () => {
        const names = [...new Set(Array.from({ length: prng.int(1, 3) }, () => prng.pick(commonNames)))];
        return { sql: { callNames: names }, api: { QueryCallNames: names } };
      },
    },
    {
      name: 'one rare IP',
      filters: () => {
        const ip = prng.pick(big.occasionalIps);
        return { sql: { ipAddresses: [ip] }, api: { QueryIpAddresses: [ip] } };
      },
    },
    { name: 'rare status codes', filters: () => ({ sql: { statusCodes: [500, 503] }, api: { ResponseStatusCodes: [500, 503] } }) },
  ];

  const sqlStore = new SqliteLogStore({ path: storePath });
  const maxSeq = await sqlStore.highWaterMark();
  const rows: string[] = [];
  console.log(`\nReadApiLogs, big account (${Math.round(big.share * 100)} % of records), 48-hour windows at random, ${QUERIES} calls per line, one at a time`);
  // One signed call, timed from signing to the last byte of the answer.
  const omsUrl = `${base}/api/v1/ReadApiLogs`;
  const signedCall = async (fromUs: number, pageSize: number, filters: Record<string, unknown>, url = omsUrl) => {
    const body = JSON.stringify({ Filters: { QueryDateAfter: formatIsoUs(fromUs), QueryDateBefore: formatIsoUs(fromUs + 48 * US_PER_HOUR), ...filters }, ResultsPerPage: pageSize });
    const started = performance.now();
    const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body, accessKeyId: key.AccessKeyId, secretKey: key.SecretKey, region: REGION });
    const response = await post(url, headers, body);
    return { response, elapsedMs: performance.now() - started };
  };
  for (let i = 0; i < WARMUP_CALLS; i++) {
    const { response } = await signedCall(startUs + Math.floor(prng.next() * (spanUs - 48 * US_PER_HOUR)), i % 2 === 0 ? 100 : 1000, {});
    if (response.status !== 200) throw new Error(`ReadApiLogs answered ${response.status} during the warm-up`);
    await signedCall(startUs + Math.floor(prng.next() * (spanUs - 48 * US_PER_HOUR)), i % 2 === 0 ? 100 : 1000, {}, minimalUrl);
  }
  console.log('shape               page   SQL p50   SQL p99  wire p50  wire p99  HTTP p50  HTTP p99  added p50  minimal p50  minimal p99  OMS-minimal p50  floor p50  floor p99  logs/page');
  for (const shape of shapes) {
    for (const pageSize of [100, 1000]) {
      const sqlMs: number[] = [];
      const wireMs: number[] = [];
      const httpMs: number[] = [];
      const minimalMs: number[] = [];
      let logs = 0;
      let bytes = 0;
      // The first calls of a shape warm the server's JIT and page cache; they are not counted.
      const warmup = BLOCK_CALLS;
      const windows = Array.from({ length: warmup + QUERIES }, () => {
        const fromUs = startUs + Math.floor(prng.next() * (spanUs - 48 * US_PER_HOUR));
        return { fromUs, toUs: fromUs + 48 * US_PER_HOUR, f: shape.filters() };
      });
      // The same windows go to OMS and to the minimal server in blocks of BLOCK_CALLS calls, each call
      // preceded by the same two reads in this process, the block's first server alternating: each server
      // sees the pacing and the OS cache of the other, never the other's record commit during its own
      // calls, and a drift of the host's speed during the line falls on both alike.
      for (let blockStart = -warmup; blockStart < QUERIES; blockStart += BLOCK_CALLS) {
        const blockEnd = Math.min(QUERIES, blockStart + BLOCK_CALLS);
        const targets = ((blockStart + warmup) / BLOCK_CALLS) % 2 === 0 ? (['oms', 'minimal'] as const) : (['minimal', 'oms'] as const);
        for (const target of targets) {
          for (let q = blockStart; q < blockEnd; q++) {
            const { fromUs, toUs, f } = windows[q + warmup] as (typeof windows)[number];
            const t0 = performance.now();
            const page = await sqlStore.readPage({ accountId: big.AccountId, fromUs, toUs, maxSeq, limit: pageSize, ...f.sql });
            const sqlElapsed = performance.now() - t0;
            // The read the server makes for a default call, byte budget included: the page's logs written as
            // JSON and joined by SQLite.
            const tw = performance.now();
            const wire = await sqlStore.readWirePage({ accountId: big.AccountId, fromUs, toUs, maxSeq, limit: pageSize, maxBytes: PAGE_TEXT_BUDGET_BYTES, ...f.sql });
            const wireElapsed = performance.now() - tw;
            if (wire.count !== page.records.length) throw new Error('readWirePage and readPage disagree');

            const { response, elapsedMs } = await signedCall(fromUs, pageSize, f.api, target === 'oms' ? omsUrl : minimalUrl);
            if (response.status !== 200) throw new Error(`${target === 'oms' ? 'ReadApiLogs' : 'the minimal server'} answered ${response.status}: ${response.text.slice(0, 300)}`);
            if (q < 0) continue;
            // SQL and wire as the first reads of each window in this process, as before the minimal server.
            if (target === targets[0]) {
              sqlMs.push(sqlElapsed);
              wireMs.push(wireElapsed);
            }
            if (target === 'minimal') {
              minimalMs.push(elapsedMs);
              continue;
            }
            httpMs.push(elapsedMs);
            logs += page.records.length;
            bytes += Buffer.byteLength(response.text);
          }
        }
      }
      const sql = summarize(sqlMs);
      const wireSql = summarize(wireMs);
      const http = summarize(httpMs);
      const least = summarize(minimalMs);
      const floorMs: number[] = [];
      const size = String(Math.round(bytes / QUERIES));
      for (let q = -5; q < QUERIES; q++) {
        const t2 = performance.now();
        await post(floorUrl, { 'x-size': size, 'content-type': 'application/json' }, '{}');
        if (q >= 0) floorMs.push(performance.now() - t2);
      }
      const floor = summarize(floorMs);
      const row = `${shape.name.padEnd(18)} ${String(pageSize).padStart(5)} ${fmt(sql.p50).padStart(9)} ${fmt(sql.p99).padStart(9)} ${fmt(wireSql.p50).padStart(9)} ${fmt(wireSql.p99).padStart(9)} ${fmt(http.p50).padStart(9)} ${fmt(http.p99).padStart(9)} ${fmt(http.p50 - wireSql.p50).padStart(10)} ${fmt(least.p50).padStart(12)} ${fmt(least.p99).padStart(12)} ${fmt(http.p50 - least.p50).padStart(16)} ${fmt(floor.p50).padStart(10)} ${fmt(floor.p99).padStart(10)} ${Math.round(logs / QUERIES).toString().padStart(10)}`;
      console.log(row);
      rows.push(row);
    }
  }
  console.log('(times in ms; SQL: the page read as records (LogStore.readPage: the statement and its 17 columns per row);');
  console.log(' wire: the same page as the server reads it for a default call (LogStore.readWirePage: the logs\' JSON written and joined by SQLite);');
  console.log(' HTTP: from signing the call to its last byte received by this process, the server being another process;');
  console.log(' added: HTTP minus wire, what signing, HTTP, authentication, the answer\'s assembly and the call\'s own record cost;');
  console.log(' minimal: the same call to a node:http server making the same store read and writing a record per call, nothing else;');
  console.log(' OMS-minimal: HTTP p50 minus minimal p50, what OMS\'s own layer costs over the least a server of this store does;');
  console.log(' floor: a bare node:http server answering a ready-made body of the same average size, same client)');

  await sqlStore.close();
  closePoster();
  floorServer.kill();
  minimalServer.kill('SIGTERM');
  await new Promise((r) => minimalServer.once('exit', r));
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await store.close();
  if (!values.keep) rmSync(dataDir, { recursive: true, force: true });
  else console.log(`kept ${dataDir}`);
}

await main();
