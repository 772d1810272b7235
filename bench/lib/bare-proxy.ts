/**
 * The floor of what any Node gateway costs: a bare pass-through proxy on node:http and undici, with
 * nothing OMS does (no classification, signature, record). Headers and body pass through, plus
 * X-Forwarded-For; the answer streams back.
 *
 *   node --import tsx bench/lib/bare-proxy.ts PORT UPSTREAM_URL
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, upstream] = process.argv.slice(2);
if (port === undefined || upstream === undefined) throw new Error('usage: bare-proxy.ts PORT UPSTREAM_URL');
const pool = new Pool(upstream, { connections: 256, pipelining: 1, keepAliveTimeout: 4_000 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

createServer((req, res) => {
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!HOP_BY_HOP.has((req.rawHeaders[i] as string).toLowerCase())) headers.push(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  headers.push('X-Forwarded-For', req.socket.remoteAddress ?? '');
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.stream(
    { path: req.url ?? '/', method: (req.method ?? 'GET') as 'POST', headers, body: hasBody ? req : null },
    ({ statusCode, headers: answerHeaders }) => {
      for (const name of HOP_BY_HOP) delete answerHeaders[name];
      res.writeHead(statusCode, answerHeaders as Record<string, string | string[]>);
      return res;
    },
    (err) => {
      if (err === null) return;
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    },
  );
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
