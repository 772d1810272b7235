/**
 * `npm run bench`: every benchmark, one after the other, each in its own process so that one's heap and
 * page cache do not colour the next. Extra arguments (e.g. --records 500000) go to each of them.
 */
import { spawnSync } from 'node:child_process';

const BENCHES = ['bench/store-import.ts', 'bench/import-cli.ts', 'bench/ingest.ts', 'bench/read-api-logs.ts', 'bench/gateway.ts', 'bench/clickhouse-store.ts'];
const args = process.argv.slice(2);
let failed = false;
for (const bench of BENCHES) {
  console.log(`\n=== ${bench} ${args.join(' ')}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', bench, ...args], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`${bench} failed with exit code ${result.status}`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
