/**
 * Ingest throughput: NDJSON batches of 1,000 realistic records posted to a real `oms serve` process
 * (POST /oms/v1/ingest, bearer token, fresh SQLite store) from several keep-alive connections, next to
 * the bare `LogStore.append` of the same batches into a fresh file in this process, in one run. The
 * answer of each batch is read and checked: every record must be reported Accepted, so the figure is
 * of durable records (a 200 is sent once the store append resolved).
 *
 *   node --import tsx bench/ingest.ts [--records N] [--connections N] [--gzip] [--cpu-prof DIR]
 *   (default 200,000 records, 4 connections; --records above 400,000 is capped at 400,000)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { toWireLog, US_PER_DAY, type LogRecord } from '../src/domain/index.js';
import { SqliteLogStore } from '../src/store/sqlite/sqlite-log-store.js';
import { generateLogBatches } from './lib/generate-logs.js';
import { createPoster, freePort } from './lib/http-client.js';
import { describeMachine } from './lib/machine.js';
import { OMS_NODE_FLAGS } from '../src/cli/node-flags.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    connections: { type: 'string', default: '4' },
    gzip: { type: 'boolean', default: false },
    // Writes a V8 CPU profile of the server process into this directory (open it in Chrome DevTools).
    'cpu-prof': { type: 'string' },
  },
  strict: false,
});
const BATCH = 1_000;
const RECORDS = Math.max(BATCH, Math.min(Number(values.records), 400_000));
const CONNECTIONS = Math.max(1, Number(values.connections));
const TOKEN = 'bench-ingest-token-0123456789abcdef';

const { post, close: closePoster } = createPoster(CONNECTIONS);

/**
 * CPU seconds (user + system) a process has used, from /proc (Linux; clock ticks of 1/100 s). On a
 * shared machine wall-clock rates depend on the neighbours; CPU time per record much less so.
 */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function waitHealthy(base: string): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('oms serve did not start');
}

async function main(): Promise<void> {
  console.log(`machine: ${describeMachine()}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'oms-bench-ingest-'));
  const startUs = Date.now() * 1000 - 30 * US_PER_DAY;
  const batches: LogRecord[][] = [...generateLogBatches({ records: RECORDS, seed: 11, startUs, spanDays: 29, batchSize: BATCH })];
  const bodies = batches.map((batch) => {
    const text = batch.map((r) => JSON.stringify(toWireLog(r))).join('\n') + '\n';
    return values.gzip === true ? gzipSync(text, { level: 1 }) : Buffer.from(text, 'utf8');
  });
  const totalBytes = bodies.reduce((sum, b) => sum + b.length, 0);
  console.log(`input: ${RECORDS} records in ${bodies.length} NDJSON batches of ${BATCH}, ${(totalBytes / 2 ** 20).toFixed(0)} MiB${values.gzip === true ? ' gzip' : ''}, ${CONNECTIONS} connections`);

  // Baseline: the same batches appended straight to a fresh store, no HTTP, no parsing, no validation.
  const bare = new SqliteLogStore({ path: path.join(dir, 'bare.db') });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (const batch of batches) await bare.append(batch);
  const bareSeconds = (performance.now() - t0) / 1000;
  const bareCpu = process.cpuUsage(cpu0);
  const bareCpuSeconds = (bareCpu.user + bareCpu.system) / 1e6;
  await bare.close();

  // The server: a separate process, as in production, on its own fresh data directory.
  const port = await freePort();
  const built = existsSync('dist/cli/oms.js');
  const args = built ? ['dist/cli/oms.js'] : ['--import', 'tsx', 'src/cli/oms.ts'];
  const profile = typeof values['cpu-prof'] === 'string' ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : [];
  const server = spawn(process.execPath, [...OMS_NODE_FLAGS, ...profile, ...args, 'serve', '--data', path.join(dir, 'server'), '--port', String(port), '--log-level', 'warn'], {
    env: { ...process.env, OMS_INGEST_TOKEN: TOKEN, OMS_INGEST_MAX_BATCHES: String(Math.max(8, CONNECTIONS)) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  let accepted = 0;
  let ingestSeconds = 0;
  let serverCpuSeconds = 0;
  try {
    await waitHealthy(base);
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' };
    if (values.gzip === true) headers['content-encoding'] = 'gzip';
    // Warm-up on records the timed run does not contain (another account range, same shape).
    const warm = [...generateLogBatches({ records: 5 * BATCH, seed: 99, startUs, spanDays: 29, batchSize: BATCH, accounts: 3 })];
    for (const batch of warm) {
      const body = Buffer.from(batch.map((r) => JSON.stringify({ ...toWireLog(r), RequestId: `warm-${r.RequestId}` })).join('\n'));
      const answer = await post(`${base}/oms/v1/ingest`, { ...headers, 'content-encoding': 'identity' }, body);
      if (answer.status !== 200) throw new Error(`warm-up answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    }

    let next = 0;
    const serverCpu0 = cpuSecondsOf(server.pid as number);
    const started = performance.now();
    const worker = async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as Buffer;
        const answer = await post(`${base}/oms/v1/ingest`, headers, body);
        if (answer.status !== 200) throw new Error(`ingest answered ${answer.status}: ${answer.text.slice(0, 300)}`);
        const report = JSON.parse(answer.text) as { Accepted: number; Duplicates: number; Rejected: unknown[] };
        if (report.Rejected.length > 0) throw new Error(`ingest rejected records: ${answer.text.slice(0, 300)}`);
        accepted += report.Accepted;
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    ingestSeconds = (performance.now() - started) / 1000;
    serverCpuSeconds = cpuSecondsOf(server.pid as number) - serverCpu0;
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    closePoster();
    rmSync(dir, { recursive: true, force: true });
  }
  if (accepted !== RECORDS) throw new Error(`accepted ${accepted} of ${RECORDS}`);

  const rate = (s: number) => Math.round(RECORDS / s);
  const us = (s: number) => ((s * 1e6) / RECORDS).toFixed(1);
  const label = `POST /oms/v1/ingest, ${CONNECTIONS} connections${values.gzip === true ? ', gzip' : ''}`;
  console.log(`\n${'path'.padEnd(52)} ${'records/s'.padStart(10)} ${'ratio'.padStart(6)}   CPU µs/record (ratio)`);
  console.log(`${`bare LogStore.append, batches of ${BATCH} (baseline)`.padEnd(52)} ${String(rate(bareSeconds)).padStart(10)} ${'1.00'.padStart(6)}   ${us(bareCpuSeconds)} (1.00)`);
  console.log(
    `${label.padEnd(52)} ${String(rate(ingestSeconds)).padStart(10)} ${(bareSeconds / ingestSeconds).toFixed(2).padStart(6)}   ${us(serverCpuSeconds)} (${(serverCpuSeconds / bareCpuSeconds).toFixed(2)}, server process)`,
  );
  console.log('(ingest: HTTP, UTF-8 check, JSON.parse and validation of every line, group-committed appends, answer read; every record Accepted)');
}

await main();
