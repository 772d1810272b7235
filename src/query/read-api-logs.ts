import { LOG_FIELDS } from '../domain/log.js';
import { US_PER_DAY, US_PER_MS, type Clock } from '../domain/time.js';
import type { LogCursor, LogQuery, LogStore } from '../store/index.js';
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

/**
 * A page ends early, with a NextPageToken, once its logs' text (the UTF-8 of their string fields)
 * would pass 16 MiB. Raw fields may hold 1 Mi characters each, so 1000 logs could otherwise make an
 * answer of gigabytes, held in memory at once; ordinary pages (about 1 KB a log) never come near it.
 */
export const PAGE_TEXT_BUDGET_BYTES = 16 * 1024 * 1024;

export interface ReadApiLogsResult {
  /** The JSON texts of the page's logs, with the fields `With` asks for, joined by commas, UTF-8. */
  logsJson: Buffer;
  nextPageToken?: string;
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
    maxBytes: PAGE_TEXT_BUDGET_BYTES,
  };
  if (state.afterSeq >= 0) query.after = { dateUs: state.afterDateUs, seq: state.afterSeq };

  const page = query.toUs <= query.fromUs ? { logsJson: Buffer.alloc(0), last: undefined, hasMore: false } : await readLogs(deps.store, query, request);
  const result: ReadApiLogsResult = { logsJson: page.logsJson };
  if (page.hasMore && page.last !== undefined) {
    result.nextPageToken = deps.pageTokens.encode(
      accountId,
      digest,
      { fromUs: state.fromUs, toUs: state.toUs, maxSeq: state.maxSeq, afterDateUs: page.last.dateUs, afterSeq: page.last.seq },
      nowMs,
    );
  }
  return result;
}

/** Every field (the default): the store's wire form as it is. A `With` that leaves fields out: projected records. */
async function readLogs(
  store: LogStore,
  query: LogQuery,
  request: ParsedReadApiLogs,
): Promise<{ logsJson: Buffer; last: LogCursor | undefined; hasMore: boolean }> {
  if (request.fields.length === LOG_FIELDS.length) return store.readWirePage(query);
  const page = await store.readPage(query);
  const last = page.records[page.records.length - 1];
  return {
    logsJson: Buffer.from(page.records.map((r) => JSON.stringify(projectLog(r, request.fields))).join(',')),
    last: last === undefined ? undefined : { dateUs: last.QueryDateUs, seq: last.ArrivalSeq },
    hasMore: page.hasMore,
  };
}

/**
 * The answer's bytes around the page's logs as the store gave them: one copy of the logs' bytes. The
 * byte count of the call's record and the socket write share this buffer (1000 logs: about 1 MB).
 */
export function encodeReadApiLogsAnswer(requestId: string, result: ReadApiLogsResult): Buffer {
  const token = result.nextPageToken === undefined ? '' : `,"NextPageToken":${JSON.stringify(result.nextPageToken)}`;
  return Buffer.concat([
    Buffer.from(`{"ResponseContext":{"RequestId":${JSON.stringify(requestId)}},"Logs":[`),
    result.logsJson,
    Buffer.from(`]${token}}`),
  ]);
}
