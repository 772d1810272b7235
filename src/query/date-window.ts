import { OmsError } from '../domain/oms-error.js';
import { MAX_EXACT_DATE_US, US_PER_DAY, US_PER_HOUR, type ParsedDate } from '../domain/time.js';

/**
 * The date window of a ReadApiLogs call (SPEC section 4, after the reference documentation):
 * - neither bound: the last 48 hours up to now;
 * - only After: [After, After + 48 h); only Before: [Before - 48 h, Before);
 * - both: exactly [After, Before), however long;
 * - a date-only Before means the end of that day, so After 2017-05-10 with Before 2017-05-10 is that day;
 * - After later than Before is an error;
 * - nothing older than the retention period is visible (32 days by default).
 */
export const DEFAULT_WINDOW_US = 48 * US_PER_HOUR;

export interface DateWindow {
  fromUs: number;
  /** Exclusive. */
  toUs: number;
}

export function resolveDateWindow(after: ParsedDate | undefined, before: ParsedDate | undefined, nowUs: number, retentionDays: number): DateWindow {
  const beforeUs = before === undefined ? undefined : before.dateOnly ? before.us + US_PER_DAY : before.us;
  let fromUs: number;
  let toUs: number;
  if (after === undefined && beforeUs === undefined) {
    toUs = nowUs;
    fromUs = nowUs - DEFAULT_WINDOW_US;
  } else if (after !== undefined && beforeUs === undefined) {
    fromUs = after.us;
    toUs = after.us + DEFAULT_WINDOW_US;
  } else if (after === undefined && beforeUs !== undefined) {
    toUs = beforeUs;
    fromUs = beforeUs - DEFAULT_WINDOW_US;
  } else {
    fromUs = (after as ParsedDate).us;
    toUs = beforeUs as number;
    // A date-only Before stands for its whole day, so an After at or past the end of that day falls on a
    // later day (After 2017-05-11 with Before 2017-05-10) and is later than Before, not an empty window.
    if (fromUs > toUs || (fromUs === toUs && (before as ParsedDate).dateOnly)) {
      throw new OmsError('InvalidParameterValue', 'Filters.QueryDateAfter must not be later than Filters.QueryDateBefore.');
    }
  }
  const oldestVisibleUs = nowUs - retentionDays * US_PER_DAY;
  // Far bounds (Before 2999-01-01) stop at the last exactly representable microsecond: page tokens carry
  // only safe integers, and no record is dated later anyway.
  fromUs = Math.min(Math.max(fromUs, oldestVisibleUs), MAX_EXACT_DATE_US);
  toUs = Math.min(toUs, MAX_EXACT_DATE_US);
  if (toUs < fromUs) toUs = fromUs;
  return { fromUs, toUs };
}
