/**
 * Deterministic, realistic log records for benchmarks and load tests.
 *
 * The shape follows what an OUTSCALE region sees from its customers:
 * - accounts: one large account holds `bigAccountShare` of the traffic (40 % by default), the others
 *   follow a Zipf law (s = 1.1) over the rest;
 * - per account: 3 to 7 access keys (Zipf), 1 to 4 usual client IPs for ~95 % of calls, a pool of 50
 *   occasional IPs (CI runners, VPN exits) for ~3 %, and one-off IPs for ~2 %; 1 to 3 user agents
 *   among a handful of real clients (osc-cli, the Terraform provider, the SDKs);
 * - calls: ~150 names of the OUTSCALE API, Read* calls first and dominant (Zipf s = 1.2 over the
 *   ranked list, ~85 % of calls are reads);
 * - status codes: mostly 200, a few 400/403/409/429/500/503 and rare others;
 * - QueryHeaderRaw of 400 to 700 bytes shaped like the reference example (lines joined by the two
 *   characters backslash and n, Authorization masked), JSON payloads of 2 to 300 bytes;
 * - RequestId a UUID v4; QueryDate spread evenly over `spanDays`, increasing with a few seconds of jitter.
 *
 * Everything comes from one seeded generator: the same options give the same records on every run.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { LogRecord } from '../../src/domain/log.js';
import { toWireLog } from '../../src/domain/log.js';
import { OUTSCALE_CALL_NAMES } from '../../src/domain/outscale-call-names.js';
import { US_PER_DAY, US_PER_SECOND } from '../../src/domain/time.js';
import { Prng, WeightedPicker, zipfWeights } from './prng.js';

export interface LogModelOptions {
  seed?: number;
  accounts?: number;
  /** Share of all records that belong to the first account. */
  bigAccountShare?: number;
}

export interface GenerateLogsOptions extends LogModelOptions {
  records: number;
  batchSize?: number;
  /** QueryDate of the first record; default 2025-03-01T00:00:00Z. */
  startUs?: number;
  spanDays?: number;
  /** Share of records that replay an earlier record exactly (same AccountId and RequestId). */
  duplicateShare?: number;
}

export interface AccountProfile {
  AccountId: string;
  /** Expected share of all records. */
  share: number;
  accessKeys: WeightedPicker<string>;
  usualIps: WeightedPicker<string>;
  occasionalIps: readonly string[];
  userAgents: WeightedPicker<string>;
}

export interface LogModel {
  accounts: readonly AccountProfile[];
  accountPicker: WeightedPicker<AccountProfile>;
  /** Call names, most frequent first. */
  callNames: WeightedPicker<string>;
  statusCodes: WeightedPicker<number>;
}

export const DEFAULT_START_US = Date.UTC(2025, 2, 1) * 1_000;

const USER_AGENTS = [
  'osc-cli/1.11.0',
  'terraform-provider-outscale/1.0.1 (+https://registry.terraform.io/providers/outscale/outscale)',
  'osc-sdk-python/0.30.1 Python/3.11.6 Linux/6.1.0-18-amd64',
  'osc-sdk-go/2.27.0 go1.22.1 linux/amd64',
  'oAPI CLI v0.1 - 2018-09-28',
  'osc-sdk-js/0.15.0 node/20.11.1',
  'packer-plugin-outscale/1.2.0',
  'cluster-api-provider-outscale/0.3.1',
];

// Status codes of logged calls (401 and 404 are never logged, see SPEC section 3).
const STATUS_CODES = [200, 400, 403, 409, 429, 500, 503, 408, 413, 422, 502, 504];
const STATUS_WEIGHTS = [0.93, 0.02, 0.01, 0.008, 0.015, 0.007, 0.005, 0.0003, 0.0002, 0.0002, 0.0002, 0.0001];

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomText(prng: Prng, alphabet: string, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(prng.next() * alphabet.length)];
  return s;
}

const HEX_CODES = Buffer.from('0123456789abcdef', 'latin1');
const B36_CODES = Buffer.from('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'latin1');
const scratch = Buffer.alloc(256);

/** Lowercase hex (the per-character loop above is too slow for long values). */
function randomHex(prng: Prng, length: number): string {
  for (let i = 0; i < length; i += 8) {
    let v = prng.nextUint32();
    for (let j = i; j < i + 8 && j < length; j++, v >>>= 4) scratch[j] = HEX_CODES[v & 15] ?? 48;
  }
  return scratch.toString('latin1', 0, length);
}

/** Uppercase base 36. */
function randomBase36(prng: Prng, length: number): string {
  for (let i = 0; i < length; i += 5) {
    let v = prng.nextUint32();
    for (let j = i; j < i + 5 && j < length; j++, v = Math.floor(v / 36)) scratch[j] = B36_CODES[v % 36] ?? 48;
  }
  return scratch.toString('latin1', 0, length);
}

function randomIp(prng: Prng): string {
  return [prng.int(1, 223), prng.int(0, 255), prng.int(0, 255), prng.int(1, 254)].join('.');
}

function rankedCallNames(prng: Prng): string[] {
  const reads = OUTSCALE_CALL_NAMES.filter((n) => n.startsWith('Read'));
  const others = OUTSCALE_CALL_NAMES.filter((n) => !n.startsWith('Read'));
  const shuffle = (list: string[]) => {
    for (let i = list.length - 1; i > 0; i--) {
      const j = prng.int(0, i);
      [list[i], list[j]] = [list[j] as string, list[i] as string];
    }
    return list;
  };
  // The most called ones first, as seen from osc-cli and Terraform refresh loops.
  const head = ['ReadVms', 'ReadVolumes', 'ReadSecurityGroups', 'ReadTags', 'ReadNics', 'ReadPublicIps'];
  const restReads = shuffle(reads.filter((n) => !head.includes(n)));
  const restOthers = shuffle(others).slice(0, 150 - reads.length);
  // Interleave: reads keep the top ranks, a write call every fourth rank after the first 20.
  const ranked = [...head];
  let r = 0;
  let o = 0;
  while (r < restReads.length || o < restOthers.length) {
    const takeOther = ranked.length > 20 && ranked.length % 4 === 0 && o < restOthers.length;
    if (takeOther || r >= restReads.length) ranked.push(restOthers[o++] as string);
    else ranked.push(restReads[r++] as string);
  }
  return ranked;
}

export function createLogModel(options: LogModelOptions = {}): LogModel {
  const prng = new Prng((options.seed ?? 1) * 7919 + 17);
  const accountCount = options.accounts ?? 100;
  const bigShare = accountCount === 1 ? 1 : (options.bigAccountShare ?? 0.4);
  const zipf = zipfWeights(accountCount - 1, 1.1);
  const zipfTotal = zipf.reduce((a, b) => a + b, 0);
  const accountIds = new Set<string>();
  const accounts: AccountProfile[] = [];
  for (let i = 0; i < accountCount; i++) {
    let id: string;
    do id = String(prng.int(100_000, 999_999)) + String(prng.int(100_000, 999_999));
    while (accountIds.has(id));
    accountIds.add(id);
    const share = i === 0 ? bigShare : ((zipf[i - 1] ?? 0) / zipfTotal) * (1 - bigShare);
    const keyCount = prng.int(3, 7);
    const keys = Array.from({ length: keyCount }, () => randomText(prng, ID_ALPHABET, 20));
    const ipCount = prng.int(1, 4);
    const ips = Array.from({ length: ipCount }, () => randomIp(prng));
    const uaCount = prng.int(1, 3);
    const uas = Array.from({ length: uaCount }, () => prng.pick(USER_AGENTS));
    accounts.push({
      AccountId: id,
      share,
      accessKeys: new WeightedPicker(keys, zipfWeights(keyCount, 1.2)),
      usualIps: new WeightedPicker(ips, zipfWeights(ipCount, 1.5)),
      occasionalIps: Array.from({ length: 50 }, () => randomIp(prng)),
      userAgents: new WeightedPicker(uas, zipfWeights(uaCount, 1.5)),
    });
  }
  const names = rankedCallNames(prng);
  return {
    accounts,
    accountPicker: new WeightedPicker(
      accounts,
      accounts.map((a) => a.share),
    ),
    callNames: new WeightedPicker(names, zipfWeights(names.length, 1.2)),
    statusCodes: new WeightedPicker(STATUS_CODES, STATUS_WEIGHTS),
  };
}

const PAYLOAD_KEYS = ['VmIds', 'VolumeIds', 'SnapshotIds', 'SubnetIds', 'NetIds', 'SecurityGroupIds', 'NicIds'];
const ID_PREFIXES = ['i-', 'vol-', 'snap-', 'subnet-', 'vpc-', 'sg-', 'eni-'];

function randomPayload(prng: Prng, callName: string): string {
  const roll = prng.next();
  if (callName.startsWith('Read') && roll < 0.45) return '{}';
  if (roll < 0.15) return '{"DryRun":false}';
  const parts: string[] = [];
  // Up to 300 bytes including the `{"Filters":{…}}` wrapper of read calls.
  const wanted = prng.int(2, 286);
  let length = 2;
  while (length < wanted) {
    const k = prng.int(0, PAYLOAD_KEYS.length - 1);
    const ids: string[] = [];
    const idCount = prng.int(1, 4);
    for (let i = 0; i < idCount; i++) ids.push(`"${ID_PREFIXES[k] ?? 'x-'}${randomHex(prng, 8)}"`);
    const part = `"${PAYLOAD_KEYS[k] ?? 'Ids'}":[${ids.join(',')}]`;
    if (length + part.length + 1 > 286) break;
    parts.push(part);
    length += part.length + 1;
  }
  if (parts.length === 0) return '{}';
  // Joined, not concatenated: a flat string, as a JSON parser produces (see Prng.uuidV4).
  return (callName.startsWith('Read') ? ['{"Filters":{', parts.join(','), '}}'] : ['{', parts.join(','), '}']).join('');
}

function compactUtc(us: number): string {
  const iso = new Date(Math.floor(us / 1000)).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

function headerRaw(prng: Prng, userAgent: string, ip: string, dateUs: number, payloadBytes: number): string {
  // Lines in arrival order joined by the two characters `\` and `n`, as OUTSCALE returns them.
  const lines = [
    'Host: api.eu-west-2.outscale.com',
    'Accept: application/json',
    'Accept-Encoding: gzip, deflate, br',
    'Connection: keep-alive',
    `User-Agent: ${userAgent}`,
    'Content-Type: application/json; charset=utf-8',
    `X-Osc-Date: ${compactUtc(dateUs)}`,
    `X-Amz-Content-Sha256: ${randomHex(prng, 64)}`,
    'Authorization: *****',
    `Content-Length: ${payloadBytes}`,
  ];
  if (prng.next() < 0.6) lines.push(`Traceparent: 00-${randomHex(prng, 32)}-${randomHex(prng, 16)}-01`);
  if (prng.next() < 0.5) lines.push(`X-Request-Context: ${randomBase36(prng, prng.int(20, 120))}`);
  lines.push(`X-Forwarded-For: ${ip}`);
  return lines.join('\\n');
}

function* rawRecords(options: GenerateLogsOptions): Generator<LogRecord> {
  const model = createLogModel(options);
  const prng = new Prng(options.seed ?? 1);
  const startUs = options.startUs ?? DEFAULT_START_US;
  const spanUs = (options.spanDays ?? 32) * US_PER_DAY;
  const duplicateShare = options.duplicateShare ?? 0;
  const recent: LogRecord[] = [];
  for (let i = 0; i < options.records; i++) {
    if (duplicateShare > 0 && recent.length > 0 && prng.next() < duplicateShare) {
      yield { ...prng.pick(recent) };
      continue;
    }
    const account = model.accountPicker.pick(prng);
    const callName = model.callNames.pick(prng);
    const roll = prng.next();
    const ip =
      roll < 0.95 ? account.usualIps.pick(prng) : roll < 0.98 ? prng.pick(account.occasionalIps) : randomIp(prng);
    const userAgent = account.userAgents.pick(prng);
    const status = model.statusCodes.pick(prng);
    const jitterUs = prng.int(-2 * US_PER_SECOND, 2 * US_PER_SECOND);
    const dateUs = Math.max(startUs, startUs + Math.floor((i * spanUs) / options.records) + jitterUs);
    const payload = randomPayload(prng, callName);
    const payloadBytes = Buffer.byteLength(payload);
    const header = headerRaw(prng, userAgent, ip, dateUs, payloadBytes);
    const okSize = Math.round(Math.exp(prng.normal(7, 1.5)));
    const record: LogRecord = {
      AccountId: account.AccountId,
      CallDuration: Math.max(800, Math.round(Math.exp(prng.normal(11, 0.8)))),
      QueryAccessKey: account.accessKeys.pick(prng),
      QueryApiName: 'oapi',
      QueryApiVersion: '1.40',
      QueryCallName: callName,
      QueryDateUs: dateUs,
      QueryHeaderRaw: header,
      // Bytes on the wire: CRLF line ends, a blank line, and the Authorization value before masking.
      QueryHeaderSize: Buffer.byteLength(header) + 4 + 180,
      QueryIpAddress: ip,
      QueryPayloadRaw: payload,
      QueryPayloadSize: payloadBytes,
      QueryUserAgent: userAgent,
      RequestId: prng.uuidV4(),
      ResponseSize: status === 200 ? Math.min(5_000_000, Math.max(40, okSize)) : prng.int(150, 400),
      ResponseStatusCode: status,
    };
    if (duplicateShare > 0) {
      if (recent.length < 1000) recent.push(record);
      else recent[prng.int(0, 999)] = record;
    }
    yield record;
  }
}

/** Records in batches of `batchSize` (default 5,000), the last one possibly shorter. */
export function* generateLogBatches(options: GenerateLogsOptions): Generator<LogRecord[]> {
  const batchSize = options.batchSize ?? 5_000;
  let batch: LogRecord[] = [];
  for (const record of rawRecords(options)) {
    batch.push(record);
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Writes the generated records as NDJSON of wire Logs (the input of `oms admin import`) to a file path
 * or a stream; resolves with the number of lines written.
 */
export async function writeLogsNdjson(target: string | Writable, options: GenerateLogsOptions): Promise<number> {
  const out = typeof target === 'string' ? createWriteStream(target) : target;
  let lines = 0;
  for (const batch of generateLogBatches(options)) {
    let chunk = '';
    for (const record of batch) chunk += JSON.stringify(toWireLog(record)) + '\n';
    lines += batch.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  if (typeof target === 'string') {
    out.end();
    await once(out, 'finish');
  }
  return lines;
}
