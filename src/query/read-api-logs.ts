import type { Log } from '../domain/log.js';
import { US_PER_DAY, US_PER_MS, type Clock } from '../domain/time.js';
import type { LogQuery, LogStore } from '../store/index.js';
import { resolveDateWindow } from './date-window.js';
import { digestFilters, type PageState, type PageTokenCodec } from './page-token.js';
import type { ParsedReadApiLogs } from './parse-request.js';
import { projectLog } from './project-fields.js';

export interface ReadApiLogsDeps {
  store: LogStore;
  pageTokens: PageTokenCodec;
  clock: Clock;
  retentionDays: number;
}

export interface ReadApiLogsResult {
  Logs: Partial<Log>[];
  NextPageToken?: string;
}

function nonEmpty<T>(values: readonly T[] | undefined): readonly T[] | undefined {
  return values === undefined || values.length === 0 ? undefined : values;
}

/**
 * ReadApiLogs for the caller's account (SPEC section 4): filter, order by QueryDate then arrival,
 * paginate with a token that pins the window and the snapshot, then project the fields of `With`.
 * An EIM user's key sees the whole account: only the account id scopes the read.
 */
export async function readApiLogs(accountId: string, request: ParsedReadApiLogs, deps: ReadApiLogsDeps): Promise<ReadApiLogsResult> {
  const nowUs = deps.clock.nowUs();
  const nowMs = Math.floor(nowUs / US_PER_MS);
  const digest = digestFilters(request.filters, request.dateAfter, request.dateBefore);

  let state: PageState;
  if (request.nextPageToken !== undefined) {
    state = deps.pageTokens.decode(request.nextPageToken, accountId, digest, nowMs);
  } else {
    const window = resolveDateWindow(request.dateAfter, request.dateBefore, nowUs, deps.retentionDays);
    state = { ...window, maxSeq: await deps.store.highWaterMark(), afterDateUs: -1, afterSeq: -1 };
  }

  // Records that aged out since the first page are gone; never show what retention removed.
  const oldestVisibleUs = nowUs - deps.retentionDays * US_PER_DAY;
  const f = request.filters;
  const query: LogQuery = {
    accountId,
    fromUs: Math.max(state.fromUs, oldestVisibleUs),
    toUs: state.toUs,
    maxSeq: state.maxSeq,
    callNames: nonEmpty(f.QueryCallNames),
    accessKeys: nonEmpty(f.QueryAccessKeys),
    apiNames: nonEmpty(f.QueryApiNames),
    ipAddresses: nonEmpty(f.QueryIpAddresses),
    userAgents: nonEmpty(f.QueryUserAgents),
    requestIds: nonEmpty(f.RequestIds),
    statusCodes: nonEmpty(f.ResponseStatusCodes),
    limit: request.resultsPerPage,
  };
  if (state.afterSeq >= 0) query.after = { dateUs: state.afterDateUs, seq: state.afterSeq };

  const page = query.toUs <= query.fromUs ? { records: [], hasMore: false } : await deps.store.readPage(query);
  const result: ReadApiLogsResult = { Logs: page.records.map((r) => projectLog(r, request.fields)) };
  const last = page.records[page.records.length - 1];
  if (page.hasMore && last !== undefined) {
    result.NextPageToken = deps.pageTokens.encode(
      accountId,
      digest,
      { fromUs: state.fromUs, toUs: state.toUs, maxSeq: state.maxSeq, afterDateUs: last.QueryDateUs, afterSeq: last.ArrivalSeq },
      nowMs,
    );
  }
  return result;
}
