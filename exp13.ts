import Database from 'better-sqlite3';
import { wireLogJson, toWireLog } from './src/domain/log.js';
import { formatIsoUs } from './src/domain/time.js';
import { generateLogBatches } from './bench/lib/generate-logs.js';
const batch = [...generateLogBatches({ records: 10000, seed: 1, startUs: Date.now()*1000 - 86400e6, spanDays: 1, batchSize: 10000 })][0]!.map((r) => JSON.parse(JSON.stringify(r)));
const db = new Database(':memory:');
const st = db.prepare(`SELECT json_object('AccountId', ?, 'CallDuration', ?, 'QueryAccessKey', ?, 'QueryApiName', ?, 'QueryApiVersion', ?, 'QueryCallName', ?, 'QueryDate', ?, 'QueryHeaderRaw', ?, 'QueryHeaderSize', ?, 'QueryIpAddress', ?, 'QueryPayloadRaw', ?, 'QueryPayloadSize', ?, 'QueryUserAgent', ?, 'RequestId', ?, 'ResponseSize', ?, 'ResponseStatusCode', ?)`).pluck();
const bind0 = db.prepare('SELECT ?').pluck();
const fns: Record<string, () => unknown> = {
  js: () => { for (const r of batch) wireLogJson(r); },
  jsNoAscii: () => { for (const r of batch) JSON.stringify(toWireLog(r)); },
  sql: () => { for (const r of batch) st.get(r.AccountId, r.CallDuration, r.QueryAccessKey, r.QueryApiName, r.QueryApiVersion, r.QueryCallName, formatIsoUs(r.QueryDateUs), r.QueryHeaderRaw, r.QueryHeaderSize, r.QueryIpAddress, r.QueryPayloadRaw, r.QueryPayloadSize, r.QueryUserAgent, r.RequestId, r.ResponseSize, r.ResponseStatusCode); },
  bindOneBig: () => { for (const r of batch) bind0.get(r.QueryHeaderRaw); },
};
for (let rep = 0; rep < 4; rep++) for (const [n, f] of Object.entries(fns)) { const t = performance.now(); f(); if (rep >= 2) console.log(n.padEnd(12), ((performance.now() - t) / 10).toFixed(2), 'µs/record'); }
