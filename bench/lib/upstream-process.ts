/**
 * The OUTSCALE-like upstream fixture in its own process, for benchmarks: it must not share an event
 * loop with the proxy or the load generator it is measured next to.
 *
 *   node --import tsx bench/lib/upstream-process.ts PORT
 */
import { startUpstreamFixture } from '../../test/fixtures/upstream-fixture.js';

const port = Number(process.argv[2] ?? '0');
const upstream = await startUpstreamFixture({ port, keepRequests: false });
process.stdout.write(`ready ${upstream.url}\n`);
process.on('SIGTERM', () => {
  void upstream.close().then(() => process.exit(0));
});
