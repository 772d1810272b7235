import { generateLogBatches } from './bench/lib/generate-logs.js';
const batch = [...generateLogBatches({ records: 10, seed: 1, startUs: Date.now()*1000 - 86400e6, spanDays: 1, batchSize: 10 })][0]!;
const s = JSON.stringify(batch[0]); console.log(s.length); console.log(s.slice(0, 1500));
const h = batch[0]!.QueryHeaderRaw; let t = performance.now(); for (let i = 0; i < 100000; i++) JSON.stringify(h); console.log('stringify header', ((performance.now()-t)/100).toFixed(2), 'µs', h.length);
const p = 'x'.repeat(1000); t = performance.now(); for (let i = 0; i < 100000; i++) JSON.stringify(p); console.log('stringify plain 1000', ((performance.now()-t)/100).toFixed(2), 'µs');
