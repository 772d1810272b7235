/**
 * The gateway's cost, in one run: requests/s and latency with 32 connections against
 *   1. the upstream fixture directly (the ceiling),
 *   2. a bare pass-through proxy on node:http + undici (bench/lib/bare-proxy.ts: the floor of any Node gateway),
 *   3. `oms serve --upstream` with --durability strict, 4. with --durability relaxed, at the default log
 *      level (no line per call: the records are the access log), 5. relaxed with --log-level debug
 *      (one JSON line per call, like nginx's access log),
 *   6. `oms serve --upstream --workers 2` (strict): two gateway processes, one write path,
 *   7. nginx proxy_pass with a JSON access log (when nginx is installed; skipped with a note otherwise).
 * Each target runs in its own process; the load generator (this process) and the upstream share the
 * same cores, as they would on a small machine. Every call is a signed OUTSCALE API call (ReadVolumes),
 * so the OMS runs check the signature and record every call. Rounds alternate the targets so that a
 * noisy neighbour colours them all alike; the figures are the median of the rounds. Besides req/s and
 * latency, the CPU time the target's processes spent per call (from /proc): on two shared cores it is
 * the steadier figure, since throughput also moves with whatever else the cores run.
 *
 *   node --import tsx bench/gateway.ts [--seconds 6] [--rounds 3] [--connections 32]
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { signRequest } from '../src/identity/sigv4/index.js';
import { describeMachine } from './lib/machine.js';
import { fmt, summarize } from './lib/stats.js';
import { freePort } from './lib/http-client.js';
import { OMS_NODE_FLAGS } from '../src/cli/node-flags.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
  },
  strict: false,
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const WARMUP_MS = 1_500;
const REGION = 'eu-west-2';
const OMS = path.resolve('dist/cli/oms.js');
const work = mkdtempSync(path.join(tmpdir(), 'oms-bench-gw-'));
const children: ChildProcess[] = [];


async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const answer = await fetch(url, { method: 'POST', body: '{}' });
      await answer.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not answer`);
}

function startProcess(command: string, args: string[], options: { stderr?: 'ignore' | 'inherit' } = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', options.stderr ?? 'inherit'] });
  children.push(child);
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Peak resident memory of a process and its children, from /proc (Linux). */
function peakRssMb(pid: number): number {
  let total = 0;
  const pids = [pid];
  try {
    const kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    pids.push(...kids);
  } catch {
    // no children
  }
  for (const p of pids) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match) total += Number(match[1]) / 1024;
    } catch {
      // gone
    }
  }
  return total;
}

interface Target {
  name: string;
  url: string;
  /** Process whose peak memory is reported. */
  pid?: number;
  stop(): Promise<void>;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time of the target's processes (all threads, children included) per call of the measured window. */
  cpuUsPerCall: number;
}

/** CPU time (user + system, every thread) of a process and its children so far, in µs, from /proc (Linux). */
function cpuUs(pid: number): number {
  const pids = [pid];
  try {
    pids.push(...execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number));
  } catch {
    // no children
  }
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return (ticks * 1e6) / CLOCK_TICKS_PER_S;
}
// USER_HZ, the unit of /proc/PID/stat times (100 on common Linux builds; asked, not assumed).
const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

const BODY = JSON.stringify({ Filters: { VolumeIds: ['vol-12345678'] } });

async function measure(target: Target, key: { accessKeyId: string; secretKey: string }): Promise<Sample> {
  const url = `${target.url}/api/v1/ReadVolumes`;
  // Signed once: OMS accepts the same signed request for 5 minutes, so the load generator spends its
  // CPU on sending, not on HMACs.
  const headers = signRequest({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body: BODY, accessKeyId: key.accessKeyId, secretKey: key.secretKey, region: REGION });
  const pool = new Pool(target.url, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 10_000 });
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  let done = 0;
  const loops = Array.from({ length: CONNECTIONS }, async () => {
    while (!stop) {
      const start = process.hrtime.bigint();
      try {
        const answer = await pool.request({ path: '/api/v1/ReadVolumes', method: 'POST', headers, body: BODY });
        await answer.body.dump();
        if (answer.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      if (measuring) {
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        done++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  errors = 0;
  measuring = true;
  const cpuBefore = target.pid === undefined ? Number.NaN : cpuUs(target.pid);
  const startedAt = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const elapsedS = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const counted = done;
  const cpuUsPerCall = target.pid === undefined ? Number.NaN : (cpuUs(target.pid) - cpuBefore) / counted;
  stop = true;
  await Promise.all(loops);
  await pool.close();
  const stats = summarize(latencies);
  return { rps: counted / elapsedS, p50: stats.p50, p99: stats.p99, errors, cpuUsPerCall };
}

async function startOms(name: string, upstream: string, extra: string[]): Promise<Target & { key: { accessKeyId: string; secretKey: string } }> {
  const data = mkdtempSync(path.join(work, 'oms-'));
  const account = JSON.parse(execFileSync(process.execPath, [OMS, 'admin', 'create-account', '--data', data], { encoding: 'utf8' })) as { AccountId: string };
  const created = JSON.parse(execFileSync(process.execPath, [OMS, 'admin', 'create-access-key', '--data', data, '--account-id', account.AccountId], { encoding: 'utf8' })) as { AccessKeyId: string; SecretKey: string };
  const port = await freePort();
  // The log (at info: no line per call; at debug: one per call) goes to /dev/null.
  const child = startProcess(process.execPath, [...OMS_NODE_FLAGS, OMS, 'serve', '--data', data, '--port', String(port), '--upstream', upstream, ...extra], { stderr: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`);
  return {
    name,
    url,
    pid: child.pid,
    key: { accessKeyId: created.AccessKeyId, secretKey: created.SecretKey },
    stop: () => stopProcess(child),
  };
}

function nginxAvailable(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

async function startNginx(upstreamPort: number): Promise<Target> {
  const dir = mkdtempSync(path.join(work, 'nginx-'));
  const port = await freePort();
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format oms_json escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","status":$status,'
    '"request_length":$request_length,"bytes_sent":$body_bytes_sent,"request_time":$request_time,'
    '"upstream_response_time":"$upstream_response_time","user_agent":"$http_user_agent"}';
  access_log ${dir}/access.log oms_json;
  upstream api { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = startProcess('nginx', ['-c', path.join(dir, 'nginx.conf')]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/api/v1/ReadVolumes`);
  return { name: 'nginx proxy_pass + JSON access log', url, pid: child.pid, stop: () => stopProcess(child) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  console.log(`gateway benchmark: ${CONNECTIONS} connections, ${SECONDS} s per target per round, ${ROUNDS} rounds, ReadVolumes (${BODY.length}-byte body)`);
  console.log(`machine: ${describeMachine()}`);

  const upstreamPort = await freePort();
  const upstream = startProcess(process.execPath, ['--import', 'tsx', 'bench/lib/upstream-process.ts', String(upstreamPort)]);
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  await waitForHttp(`${upstreamUrl}/api/v1/ReadVolumes`);

  const barePort = await freePort();
  const bare = startProcess(process.execPath, ['--import', 'tsx', 'bench/lib/bare-proxy.ts', String(barePort), upstreamUrl]);
  await waitForHttp(`http://127.0.0.1:${barePort}/api/v1/ReadVolumes`);

  const strict = await startOms('OMS gateway, strict', upstreamUrl, ['--durability', 'strict']);
  const relaxed = await startOms('OMS gateway, relaxed', upstreamUrl, ['--durability', 'relaxed']);
  const targets: Array<Target & { key?: { accessKeyId: string; secretKey: string } }> = [
    { name: 'direct to the upstream', url: upstreamUrl, pid: upstream.pid, stop: async () => {} },
    { name: 'bare undici proxy (floor)', url: `http://127.0.0.1:${barePort}`, pid: bare.pid, stop: () => stopProcess(bare) },
    strict,
    relaxed,
    await startOms('OMS gateway, relaxed, --log-level debug', upstreamUrl, ['--durability', 'relaxed', '--log-level', 'debug']),
    await startOms('OMS gateway, strict, --workers 2', upstreamUrl, ['--durability', 'strict', '--workers', '2']),
  ];
  if (nginxAvailable()) targets.push(await startNginx(upstreamPort));
  else console.log('note: nginx is not installed (apt-get install -y nginx); its row is skipped');

  const samples = new Map<string, Sample[]>();
  const anyKey = strict.key;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of targets) {
      const sample = await measure(target, target.key ?? anyKey);
      const list = samples.get(target.name) ?? [];
      list.push(sample);
      samples.set(target.name, list);
      console.log(`  round ${round} ${target.name.padEnd(46)} ${sample.rps.toFixed(0).padStart(6)} req/s  p50 ${fmt(sample.p50)} ms  p99 ${fmt(sample.p99)} ms  CPU ${sample.cpuUsPerCall.toFixed(0)} µs/call  errors ${sample.errors}`);
    }
  }

  const summary = targets.map((target) => {
    const list = samples.get(target.name) as Sample[];
    return {
      target,
      rps: median(list.map((s) => s.rps)),
      p50: median(list.map((s) => s.p50)),
      p99: median(list.map((s) => s.p99)),
      errors: list.reduce((a, s) => a + s.errors, 0),
      cpuUsPerCall: median(list.map((s) => s.cpuUsPerCall)),
      rssMb: target.pid === undefined ? Number.NaN : peakRssMb(target.pid),
    };
  });
  const direct = summary[0]!;
  const floor = summary[1]!;
  console.log('\nmedian of rounds:');
  console.log('| target | req/s | vs direct | vs bare proxy | p50 ms | p99 ms | p50 over bare | CPU µs/call | peak RSS MB | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of summary) {
    console.log(
      `| ${row.target.name} | ${row.rps.toFixed(0)} | ${(row.rps / direct.rps).toFixed(2)} | ${(row.rps / floor.rps).toFixed(2)} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${row === direct ? '' : (row.p50 - floor.p50 >= 0 ? '+' : '') + fmt(row.p50 - floor.p50)} | ${row.cpuUsPerCall.toFixed(0)} | ${row.rssMb.toFixed(0)} | ${row.errors} |`,
    );
  }
  const find = (name: string) => summary.find((row) => row.target.name === name);
  const check = (label: string, ok: boolean, detail: string) => console.log(`${ok ? 'MET ' : 'MISS'} ${label}: ${detail}`);
  const s = find('OMS gateway, strict');
  const r = find('OMS gateway, relaxed');
  if (s && r) {
    check('throughput ≥ 0.90 of the bare proxy (strict)', s.rps / floor.rps >= 0.9, (s.rps / floor.rps).toFixed(2));
    check('throughput ≥ 0.90 of the bare proxy (relaxed)', r.rps / floor.rps >= 0.9, (r.rps / floor.rps).toFixed(2));
    check('p50 over the bare proxy < 1 ms (relaxed)', r.p50 - floor.p50 < 1, `${fmt(r.p50 - floor.p50)} ms`);
    check('p50 over the bare proxy < 2 ms (strict)', s.p50 - floor.p50 < 2, `${fmt(s.p50 - floor.p50)} ms`);
    check('peak memory < 300 MB', Math.max(s.rssMb, r.rssMb) < 300, `${Math.max(s.rssMb, r.rssMb).toFixed(0)} MB`);
    const w = find('OMS gateway, strict, --workers 2');
    if (w) console.log(`     --workers 2 vs 1 (strict): ${(w.rps / s.rps).toFixed(2)} × the throughput, ${w.rssMb.toFixed(0)} MB for the primary and both workers`);
    console.log(`     CPU per call over the bare proxy: strict +${(s.cpuUsPerCall - floor.cpuUsPerCall).toFixed(0)} µs, relaxed +${(r.cpuUsPerCall - floor.cpuUsPerCall).toFixed(0)} µs`);
  }

  for (const target of targets.slice(1)) await target.stop();
  await stopProcess(upstream);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  });
