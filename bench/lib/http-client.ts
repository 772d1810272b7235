import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/** A TCP port free on the loopback interface right now, for a server process the bench starts. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export type Post = (url: string, headers: Record<string, string>, body: string | Buffer) => Promise<{ status: number; text: string }>;

/**
 * A keep-alive POST client on node:http with at most `connections` sockets: fetch's own overhead on
 * large bodies and answers would be charged to the server being measured.
 */
export function createPoster(connections: number): { post: Post; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const post: Post = (url, headers, body) =>
    new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}
