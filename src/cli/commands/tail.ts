import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { LOG_FIELDS, formatIsoUs, US_PER_SECOND } from '../../domain/index.js';
import { ClientError, LogFollower, type WireLog } from '../../client/index.js';
import { addClientOptions, untilStopped, openClient, parseDateFlag, parsePositiveNumber, processDeps, type ClientDeps, type ClientFlags } from './api.js';

export const TAIL_FORMATS = ['ndjson', 'json', 'table', 'csv'] as const;
export type TailFormat = (typeof TAIL_FORMATS)[number];

export const DEFAULT_INTERVAL_S = 5;
export const DEFAULT_TAIL_LATE_S = 60;

export interface TailFlags extends ClientFlags {
  interval?: string;
  ignore?: string;
  count?: string;
  write?: string;
  format?: string;
  since?: string;
  late?: string;
}

/** How records look on the way out: a head, one piece per record, a tail when stopping. */
interface Formatter {
  head(): string;
  record(log: WireLog, index: number): string;
  end(count: number): string;
}

function csvValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : String(value);
  // RFC 4180: quote a field holding a comma, a quote or a line break; double the quotes inside.
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const TABLE_COLUMNS: { field: string; title: string; width: number }[] = [
  { field: 'QueryDate', title: 'QueryDate', width: 27 },
  { field: 'QueryCallName', title: 'Call', width: 26 },
  { field: 'ResponseStatusCode', title: 'Status', width: 6 },
  { field: 'CallDuration', title: 'ms', width: 8 },
  { field: 'QueryIpAddress', title: 'IP', width: 15 },
  { field: 'QueryAccessKey', title: 'AccessKey', width: 20 },
  { field: 'RequestId', title: 'RequestId', width: 36 },
];

function cell(text: string, width: number): string {
  // Control characters would break the columns (and could drive the terminal): shown as a dot.
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '.');
  return clean.length > width ? clean.slice(0, width - 1) + '…' : clean.padEnd(width);
}

function formatter(format: TailFormat): Formatter {
  switch (format) {
    case 'ndjson':
      return { head: () => '', record: (log) => JSON.stringify(log) + '\n', end: () => '' };
    case 'json':
      // One JSON array, complete once the command stops (Ctrl-C, --count).
      return { head: () => '[', record: (log, i) => `${i === 0 ? '\n' : ',\n'}${JSON.stringify(log)}`, end: (n) => (n === 0 ? ']\n' : '\n]\n') };
    case 'csv':
      return {
        head: () => LOG_FIELDS.join(',') + '\r\n',
        record: (log) => LOG_FIELDS.map((f) => csvValue(log[f])).join(',') + '\r\n',
        end: () => '',
      };
    case 'table':
      return {
        head: () => TABLE_COLUMNS.map((c) => cell(c.title, c.width)).join(' ').trimEnd() + '\n',
        record: (log) =>
          TABLE_COLUMNS.map((c) => {
            const value = log[c.field];
            if (c.field === 'CallDuration' && typeof value === 'number') return cell((value / 1000).toFixed(1), c.width);
            return cell(value === undefined ? '-' : String(value), c.width);
          })
            .join(' ')
            .trimEnd() + '\n',
        end: () => '',
      };
  }
}

/**
 * `oms tail`: follows the account's logs, like osc-logs but complete (see client/log-follower.ts for
 * what is guaranteed). Stops after --count records, or cleanly on SIGINT/SIGTERM, closing the output
 * (a --format json array is then complete).
 */
export async function runTail(flags: TailFlags, deps: ClientDeps, signal: AbortSignal): Promise<number> {
  const format = (flags.format ?? 'ndjson') as TailFormat;
  if (!TAIL_FORMATS.includes(format)) throw new ClientError('Usage', `--format must be one of ${TAIL_FORMATS.join(', ')}, got ${JSON.stringify(String(flags.format).slice(0, 32))}`);
  const intervalMs = parsePositiveNumber('--interval', flags.interval, DEFAULT_INTERVAL_S) * 1000;
  const lateUs = Math.round(parsePositiveNumber('--late', flags.late, DEFAULT_TAIL_LATE_S) * US_PER_SECOND);
  const count = flags.count === undefined ? undefined : parsePositiveNumber('--count', flags.count, 0, true);
  const ignore = new Set((flags.ignore ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''));
  const nowUs = () => (deps.nowMs ?? Date.now)() * 1000;
  const sinceUs = flags.since === undefined ? nowUs() : parseDateFlag('--since', flags.since);
  const client = openClient(flags, deps);

  let out: NodeJS.WritableStream = deps.stdout;
  let file: ReturnType<typeof createWriteStream> | undefined;
  if (flags.write !== undefined) {
    // Appended to, as osc-logs does, so that a restarted tail keeps what the last one wrote.
    file = createWriteStream(flags.write, { flags: 'a', mode: 0o640 });
    await new Promise<void>((resolve, reject) => {
      file!.once('open', () => resolve());
      file!.once('error', (err: NodeJS.ErrnoException) => reject(new ClientError('Output', `cannot open ${flags.write}: ${err.code ?? err.message}`)));
    });
    out = file;
  }
  let outputError: NodeJS.ErrnoException | undefined;
  out.on('error', (err: NodeJS.ErrnoException) => {
    outputError ??= err;
  });
  const stopOnOutputError = new AbortController();
  const stop = AbortSignal.any([signal, stopOnOutputError.signal]);

  const fmt = formatter(format);
  let printed = 0;
  let pending = fmt.head();
  const flush = async () => {
    if (pending === '' || outputError !== undefined) return;
    const text = pending;
    pending = '';
    if (!out.write(text)) await new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('error', done);
        resolve();
      };
      out.once('drain', done);
      out.once('error', done);
    });
  };

  const follower = new LogFollower({
    client,
    sinceUs,
    lateUs,
    nowUs,
    ignoreCalls: ignore,
    retry: {
      signal: stop,
      onRetry: (err, delayMs) => deps.stderr.write(`oms tail: ${(err as Error).message}; trying again in ${Math.ceil(delayMs / 1000)} s\n`),
    },
  });
  deps.stderr.write(`oms tail: following ${client.profile.apiBaseUrl} from ${formatIsoUs(sinceUs)}; records up to ${lateUs / US_PER_SECOND} s late are caught\n`);

  try {
    while (!stop.aborted) {
      const roundStart = Date.now();
      try {
        await follower.poll((log) => {
          pending += fmt.record(log, printed);
          printed += 1;
          if (pending.length > 1 << 20) void flush();
          return count === undefined || printed < count;
        });
      } catch (err) {
        if (stop.aborted) break;
        throw err;
      }
      await flush();
      if (outputError !== undefined) {
        stopOnOutputError.abort();
        break;
      }
      if (count !== undefined && printed >= count) break;
      try {
        await sleep(Math.max(0, intervalMs - (Date.now() - roundStart)), undefined, { signal: stop });
      } catch {
        break;
      }
    }
  } finally {
    pending += fmt.end(printed);
    await flush();
    await client.close();
    if (file !== undefined) {
      await new Promise<void>((resolve) => file!.end(() => resolve()));
    }
  }
  // A closed pipe (`oms tail | head`) is a normal way to stop; another output failure is not.
  if (outputError !== undefined && outputError.code !== 'EPIPE') {
    throw new ClientError('Output', `cannot write ${flags.write ?? 'the output'}: ${outputError.code ?? outputError.message}`);
  }
  return printed;
}

export function registerTail(program: Command): void {
  const tail = program
    .command('tail')
    .description('follow the account\'s logs as they arrive (every page, each record once, late arrivals caught)')
    .option('-i, --interval <seconds>', `pause between two reads (default ${DEFAULT_INTERVAL_S})`)
    .option('-I, --ignore <calls>', 'call names not to print, comma-separated, e.g. ReadApiLogs,ReadVms')
    .option('-c, --count <n>', 'stop after printing this many records')
    .option('-w, --write <file>', 'append to this file instead of standard output')
    .option('--format <format>', `${TAIL_FORMATS.join(', ')} (default ndjson)`)
    .option('--since <date>', 'print records from this date on (default: now)')
    .option('--late <seconds>', `catch records that become readable up to this long after their QueryDate (default ${DEFAULT_TAIL_LATE_S})`);
  addClientOptions(tail).action(async (flags: TailFlags) => {
    await untilStopped((signal) => runTail(flags, processDeps(), signal));
  });
}
