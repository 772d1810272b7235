import { toWireLog, asciiJson, wireLogJson } from './src/domain/log.js';
import { generateLogBatches } from './bench/lib/generate-logs.js';
const batch = [...generateLogBatches({ records: 10000, seed: 1, startUs: Date.now()*1000 - 86400e6, spanDays: 1, batchSize: 10000 })][0]!;
const copies = batch.map((r) => JSON.parse(JSON.stringify(r)));
const fns: Record<string, () => unknown> = {
  toWireLog: () => { for (const r of batch) toWireLog(r); },
  stringifyRecord: () => { for (const r of batch) JSON.stringify(r); },
  stringifyParsedCopy: () => { for (const r of copies) JSON.stringify(r); },
  wireLogJsonCopy: () => { for (const r of copies) wireLogJson(r); },
  asciiOnly: () => { const s = JSON.stringify(copies[0]); for (let i = 0; i < 10000; i++) asciiJson(s); },
};
for (let rep = 0; rep < 3; rep++) for (const [n, f] of Object.entries(fns)) { const t = performance.now(); f(); if (rep === 2) console.log(n.padEnd(20), ((performance.now() - t) / 10).toFixed(2), 'µs/record'); }
