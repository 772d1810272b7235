/**
 * The least a ReadApiLogs server on this store does, as a baseline for bench/read-api-logs.ts: node:http,
 * the body parsed as JSON, the same store read as `oms serve` makes for a default call (the snapshot
 * bound, then LogStore.readWirePage with the page byte budget), the same envelope around the logs, and
 * after the answer one record of the call appended through the store's write thread, as OMS appends its
 * own. Nothing else OMS does: no Fastify, no signature check, no validation, no page token.
 *
 * The record matters to the comparison: each commit by the write thread empties the reading connection's
 * page cache (SQLite's WAL mode resets it when another connection has written), and it takes CPU on one
 * of the two cores while the next call arrives. Without it, this server's reads would run on a warm cache
 * that `oms serve`'s never have, and it would look faster for a reason that is not the HTTP layer.
 *
 *   node --import tsx bench/lib/minimal-read-server.ts PORT STORE_PATH ACCOUNT_ID
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { formatHeaderRaw, measureHeaderBytes } from '../../src/capture/build-record.js';
import { PAGE_TEXT_BUDGET_BYTES } from '../../src/query/read-api-logs.js';
import type { LogQuery } from '../../src/store/index.js';
import { SqliteLogStore } from '../../src/store/sqlite/sqlite-log-store.js';

const [port, storePath, accountId] = process.argv.slice(2);
if (port === undefined || storePath === undefined || accountId === undefined) throw new Error('usage: minimal-read-server.ts PORT STORE_PATH ACCOUNT_ID');
const store = new SqliteLogStore({ path: storePath });

interface BenchRequest {
  Filters: { QueryDateAfter: string; QueryDateBefore: string; QueryCallNames?: string[]; QueryIpAddresses?: string[]; ResponseStatusCodes?: number[] };
  ResultsPerPage: number;
}

/** The bench's calls only: a 48-hour window in full ISO form and the filters of its four shapes. */
function toQuery(request: BenchRequest, maxSeq: number): LogQuery {
  const f = request.Filters;
  return {
    accountId: accountId as string,
    fromUs: Date.parse(f.QueryDateAfter) * 1000,
    toUs: Date.parse(f.QueryDateBefore) * 1000,
    maxSeq,
    callNames: f.QueryCallNames,
    ipAddresses: f.QueryIpAddresses,
    statusCodes: f.ResponseStatusCodes,
    limit: request.ResultsPerPage,
    maxBytes: PAGE_TEXT_BUDGET_BYTES,
  };
}

async function answer(body: Buffer): Promise<Buffer> {
  const request = JSON.parse(body.toString('utf8')) as BenchRequest;
  const page = await store.readWirePage(toQuery(request, await store.highWaterMark()));
  return Buffer.concat([Buffer.from(`{"ResponseContext":{"RequestId":"${randomUUID()}"},"Logs":[`), page.logsJson, Buffer.from(']}')]);
}

createServer((req, res) => {
  const startedUs = Date.now() * 1000;
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    answer(body).then(
      (out) => {
        res.on('finish', () => {
          store.append([
            {
              AccountId: accountId,
              CallDuration: Date.now() * 1000 - startedUs,
              QueryAccessKey: 'AKIAMINIMALSERVER000',
              QueryApiName: 'oapi',
              QueryApiVersion: '1.0',
              QueryCallName: 'ReadApiLogs',
              QueryDateUs: startedUs,
              QueryHeaderRaw: formatHeaderRaw(req.rawHeaders),
              QueryHeaderSize: measureHeaderBytes(req.method ?? 'POST', req.url ?? '/', req.httpVersion, req.rawHeaders),
              QueryIpAddress: req.socket.remoteAddress ?? '',
              QueryPayloadRaw: body.toString('utf8'),
              QueryPayloadSize: body.length,
              QueryUserAgent: req.headers['user-agent'] ?? '',
              RequestId: randomUUID(),
              ResponseSize: out.length,
              ResponseStatusCode: 200,
            },
          ]).catch((err: unknown) => process.stderr.write(`minimal-read-server: append failed: ${String(err)}\n`));
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(out);
      },
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
