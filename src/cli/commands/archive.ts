import type { Command } from 'commander';
import { formatIsoUs, US_PER_DAY, US_PER_SECOND } from '../../domain/index.js';
import { ClientError, DayArchive, identifyAccount, type ArchiveSummary, type RetryOptions } from '../../client/index.js';
import { addClientOptions, untilStopped, openClient, parseDateFlag, parsePositiveNumber, processDeps, type ClientDeps, type ClientFlags } from './api.js';

/** The retention of ReadApiLogs: a first run starts at the oldest record still readable. */
export const DEFAULT_SINCE_DAYS = 32;
export const DEFAULT_ARCHIVE_LATE_S = 600;

export interface ArchiveFlags extends ClientFlags {
  out?: string;
  since?: string;
  follow?: boolean;
  late?: string;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * `oms archive --out DIR`: the final days since the checkpoint (or --since on a first run), one gzip
 * NDJSON file each (see client/day-archive.ts). Progress: a bar with records and ETA when standard
 * error is a terminal, otherwise one JSON line per day written. The summary goes to standard output.
 */
export async function runArchive(flags: ArchiveFlags, deps: ClientDeps, signal: AbortSignal): Promise<ArchiveSummary> {
  if (flags.out === undefined || flags.out === '') throw new ClientError('Usage', '--out DIR is required');
  const nowUs = () => (deps.nowMs ?? Date.now)() * 1000;
  const sinceUs = flags.since === undefined ? nowUs() - DEFAULT_SINCE_DAYS * US_PER_DAY : parseDateFlag('--since', flags.since);
  const lateUs = Math.round(parsePositiveNumber('--late', flags.late, DEFAULT_ARCHIVE_LATE_S) * US_PER_SECOND);
  const client = openClient(flags, deps);
  const tty = deps.stderr.isTTY === true;
  const follow = flags.follow === true;
  const retry: RetryOptions = {
    signal,
    // A one-off run gives up after a few minutes of trouble; --follow keeps trying, as tail does.
    ...(follow ? {} : { maxAttempts: 8 }),
    onRetry: (err, delayMs) => deps.stderr.write(`${tty ? '\n' : ''}oms archive: ${(err as Error).message}; trying again in ${Math.ceil(delayMs / 1000)} s\n`),
  };
  const started = Date.now();
  let recordsDone = 0;
  let daysDone = 0;
  let lastDraw = 0;
  const draw = (dayRecords: number, day: string, daysLeft: number) => {
    if (!tty || Date.now() - lastDraw < 200) return;
    lastDraw = Date.now();
    const total = daysDone + daysLeft;
    const width = 24;
    const filled = total === 0 ? width : Math.min(width, Math.round((daysDone / total) * width));
    const perDay = daysDone === 0 ? Number.NaN : (Date.now() - started) / 1000 / daysDone;
    deps.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${daysDone}/${total} days  ${(recordsDone + dayRecords).toLocaleString('en-US')} records  ${day}  ETA ${formatDuration(perDay * daysLeft)}   `,
    );
  };
  let daysLeftEstimate = Math.max(0, Math.floor((nowUs() - lateUs - sinceUs) / US_PER_DAY));

  try {
    const accountId = await identifyAccount(client, retry);
    const archive = new DayArchive({
      client,
      outDir: flags.out,
      sinceUs,
      lateUs,
      follow,
      nowUs,
      signal,
      retry,
      onRecords: (dayRecords, day) => draw(dayRecords, day, daysLeftEstimate),
      onDay: (written) => {
        daysDone += 1;
        recordsDone += written.Records;
        daysLeftEstimate = written.daysLeft;
        if (tty) {
          lastDraw = 0;
          draw(0, written.Day, written.daysLeft);
        } else {
          deps.stderr.write(JSON.stringify({ Day: written.Day, File: written.File, Records: written.Records, Sha256: written.Sha256, DaysDone: daysDone, DaysLeft: written.daysLeft }) + '\n');
        }
      },
      onResume: (nextFrom) => {
        if (flags.since === undefined) return;
        deps.stderr.write(
          tty ? `oms archive: ${flags.out} continues from its checkpoint, ${nextFrom}; --since applies to a first run only\n` : JSON.stringify({ ContinuesFrom: nextFrom, SinceIgnored: true }) + '\n',
        );
      },
      onWaiting: (day, finalAtUs) => {
        const line = `oms archive: up to date; ${day} is written once it is final, at ${formatIsoUs(finalAtUs)}`;
        deps.stderr.write(tty ? `\n${line}\n` : JSON.stringify({ Waiting: day, FinalAt: formatIsoUs(finalAtUs) }) + '\n');
      },
    });
    const summary = await archive.run(accountId);
    if (tty && daysDone > 0) deps.stderr.write('\n');
    deps.stdout.write(JSON.stringify({ Out: flags.out, ...summary, Interrupted: signal.aborted }) + '\n');
    return summary;
  } catch (err) {
    if (tty && daysDone > 0) deps.stderr.write('\n');
    if (signal.aborted) {
      deps.stdout.write(JSON.stringify({ Out: flags.out, Interrupted: true }) + '\n');
      return { AccountId: null, DaysWritten: daysDone, Records: recordsDone, NextFrom: '' };
    }
    throw err;
  } finally {
    await client.close();
  }
}

export function registerArchive(program: Command): void {
  const archive = program
    .command('archive')
    .description('keep the account\'s logs beyond the 32 days: one gzip NDJSON file per UTC day, resumable, with a manifest')
    .option('--out <dir>', 'the archive directory (required)')
    .option('--since <date>', `where a first run starts (default: ${DEFAULT_SINCE_DAYS} days ago, the oldest record kept)`)
    .option('--follow', 'keep going: write each day once it is final')
    .option('--late <seconds>', `a day is final this long after it ends (default ${DEFAULT_ARCHIVE_LATE_S})`);
  addClientOptions(archive).action(async (flags: ArchiveFlags) => {
    await untilStopped((signal) => runArchive(flags, processDeps(), signal));
  });
}
