/**
 * `oms admin import` end to end (read, gunzip, parse, validate, append) next to the bare store append of
 * the same records, in one run: the difference is what the command itself costs per record.
 *
 *   node --import tsx bench/import-cli.ts [--records N]   (default 200,000: an NDJSON file of ~1 KB lines)
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { US_PER_DAY } from '../src/domain/index.js';
import { SqliteLogStore } from '../src/store/sqlite/sqlite-log-store.js';
import { generateLogBatches, writeLogsNdjson } from './lib/generate-logs.js';
import { describeMachine } from './lib/machine.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '2000000' } }, strict: false });
// The CLI run needs an NDJSON file on disk; cap it at 400k records (~450 MB) whatever the store benches use.
const RECORDS = Math.min(Number(values.records), 400_000);

console.log(`machine: ${describeMachine()}`);
const dir = mkdtempSync(path.join(tmpdir(), 'oms-bench-import-'));
const startUs = Date.now() * 1000 - 30 * US_PER_DAY;
const options = { records: RECORDS, seed: 3, startUs, spanDays: 29 };

const plain = path.join(dir, 'logs.ndjson');
await writeLogsNdjson(plain, options);
const gz = path.join(dir, 'logs.ndjson.gz');
const through = new PassThrough();
const gzDone = pipeline(through, createGzip({ level: 6 }), createWriteStream(gz));
await writeLogsNdjson(through, options);
through.end();
await gzDone;
console.log(`input: ${RECORDS} records, ${(statSync(plain).size / 2 ** 20).toFixed(0)} MiB NDJSON, ${(statSync(gz).size / 2 ** 20).toFixed(0)} MiB gzip`);

// Baseline: the same records appended straight to a fresh store, no parsing, no validation.
const bare = new SqliteLogStore({ path: path.join(dir, 'bare.db') });
const t0 = performance.now();
for (const batch of generateLogBatches({ ...options, batchSize: 5_000 })) await bare.append(batch);
const bareSeconds = (performance.now() - t0) / 1000;
await bare.close();

function runImport(file: string, data: string): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['dist/cli/oms.js', 'admin', 'import', '--data', data, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = (performance.now() - started) / 1000;
  const report = JSON.parse(result.stdout) as { Imported: number; Rejected: unknown[] };
  if (report.Imported !== RECORDS || report.Rejected.length > 0) throw new Error(`import reported ${result.stdout.slice(0, 300)}`);
  return seconds;
}
const plainSeconds = runImport(plain, path.join(dir, 'plain'));
const gzSeconds = runImport(gz, path.join(dir, 'gz'));
const rate = (s: number) => Math.round(RECORDS / s);
console.log('\nimport path                          records/s   ratio to bare append');
console.log(`bare LogStore.append (baseline)   ${String(rate(bareSeconds)).padStart(12)}   1.00`);
console.log(`oms admin import FILE.ndjson      ${String(rate(plainSeconds)).padStart(12)}   ${(bareSeconds / plainSeconds).toFixed(2)}`);
console.log(`oms admin import FILE.ndjson.gz   ${String(rate(gzSeconds)).padStart(12)}   ${(bareSeconds / gzSeconds).toFixed(2)}`);
console.log('(the command figures include process start, reading, gunzip, JSON.parse and validation of every line)');
rmSync(dir, { recursive: true, force: true });
