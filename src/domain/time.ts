/**
 * Dates as OMS handles them: integer microseconds since the Unix epoch inside, ISO 8601 UTC with six
 * fractional digits on the wire (`2021-08-11T09:55:02.842375Z`, the form OUTSCALE returns).
 */

export const US_PER_MS = 1_000;
export const US_PER_SECOND = 1_000_000;
export const US_PER_HOUR = 3_600 * US_PER_SECOND;
export const US_PER_DAY = 24 * US_PER_HOUR;

// Years 1970..9999 only (in UTC): anything else is a typo or an attack.
// Up to MAX_EXACT_DATE_US (2255-06-05T23:47:34.740991Z) every microsecond is an exact safe integer.
// Later dates are still accepted as far query bounds (`QueryDateBefore: 2999-01-01`), but a double
// no longer holds each of their microseconds, so date-window.ts clamps windows to this bound and
// records are never dated that far (ingest refuses dates in the future).
export const MAX_EXACT_DATE_US = Number.MAX_SAFE_INTEGER;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

export interface ParsedDate {
  us: number;
  /** true when the text was a date without a time (`2017-05-10`). */
  dateOnly: boolean;
}

const MAX_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Gregorian calendar, without allocating a Date (dates are parsed once per ingested record). */
function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1] ?? 0;
}

function validCalendarDate(year: number, month: number, day: number): boolean {
  return year >= 1970 && year <= 9999 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * Parses an ISO 8601 date or date-time strictly: `2024-02-30`, `yesterday` or `2024-01-01T25:00` are
 * rejected rather than rolled over as `Date.parse` would. A date-time without an offset is UTC.
 * Returns undefined when the text is not such a date.
 */
export function parseIsoDate(text: string): ParsedDate | undefined {
  if (text.length > 40) return undefined;
  const canonical = parseCanonicalUs(text);
  if (canonical !== undefined) return { us: canonical, dateOnly: false };
  const d = DATE_ONLY.exec(text);
  if (d) {
    const [year, month, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
    if (!validCalendarDate(year, month, day)) return undefined;
    return { us: Date.UTC(year, month - 1, day) * US_PER_MS, dateOnly: true };
  }
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (!validCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = m[7] ?? '';
  const fractionUs = Number((fraction + '000000').slice(0, 6));
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = sign * (oh * 60 + om);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  const us = ms * US_PER_MS + fractionUs;
  // An offset can move a 1970-01-01 local time before the epoch, or a 9999-12-31 one into year 10000.
  if (us < 0 || ms > MAX_DATE_MS) return undefined;
  return { us, dateOnly: false };
}

/** The digits text[from..to) as a number, or -1 if one of them is not a digit. */
function digitsAt(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * The form OMS itself writes and every ingested or imported record carries, `2021-08-11T09:55:02.842375Z`,
 * read without regular expressions (once per record on the ingest path). Anything else, valid or not,
 * returns undefined and goes through the general parser, which gives the same result for this form.
 */
function parseCanonicalUs(text: string): number | undefined {
  if (
    text.length !== 27 ||
    text.charCodeAt(4) !== 45 || // -
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(10) !== 84 || // T
    text.charCodeAt(13) !== 58 || // :
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 46 || // .
    text.charCodeAt(26) !== 90 // Z
  ) {
    return undefined;
  }
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 7);
  const day = digitsAt(text, 8, 10);
  const hour = digitsAt(text, 11, 13);
  const minute = digitsAt(text, 14, 16);
  const second = digitsAt(text, 17, 19);
  const fractionUs = digitsAt(text, 20, 26);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || fractionUs < 0) return undefined;
  if (!validCalendarDate(year, month, day)) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second) * US_PER_MS + fractionUs;
}

const US_PER_MINUTE = 60 * US_PER_SECOND;
// Records are formatted in date order (pages, imports, archives), so most share the minute of the one
// before: its `YYYY-MM-DDTHH:MM:` prefix is computed once. toISOString per record cost 1.5 µs.
let cachedMinute = Number.NaN;
let cachedMinutePrefix = '';

/** `2021-08-11T09:55:02.842375Z` from microseconds since the epoch. */
export function formatIsoUs(us: number): string {
  const minute = Math.floor(us / US_PER_MINUTE);
  if (minute !== cachedMinute) {
    cachedMinutePrefix = new Date(minute * 60_000).toISOString().slice(0, 17);
    cachedMinute = minute;
  }
  const inMinute = us - minute * US_PER_MINUTE;
  const second = Math.floor(inMinute / US_PER_SECOND);
  const micro = inMinute - second * US_PER_SECOND;
  return `${cachedMinutePrefix}${second < 10 ? '0' : ''}${second}.${String(micro).padStart(6, '0')}Z`;
}

/** Clock abstraction so that tests control time instead of sleeping. */
export interface Clock {
  nowUs(): number;
}

/**
 * Wall-clock milliseconds (so that NTP corrections are followed) with the microseconds taken from the
 * monotonic high-resolution timer: QueryDate carries six fractional digits, as OUTSCALE's do.
 */
export const systemClock: Clock = {
  nowUs: () => Date.now() * US_PER_MS + Math.floor((performance.now() % 1) * US_PER_MS),
};
