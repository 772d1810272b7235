import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_EXACT_DATE_US, US_PER_DAY, US_PER_HOUR, US_PER_MS, US_PER_SECOND, formatIsoUs, parseIsoDate, systemClock } from './time.js';

const WIRE_FORM = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function usOf(text: string): number {
  const parsed = parseIsoDate(text);
  assert.ok(parsed !== undefined, `${text} should parse`);
  return parsed.us;
}

describe('parseIsoDate', () => {
  describe('rejects what is not a real ISO 8601 date', () => {
    const rejected: [string, string][] = [
      ['2024-02-30', 'a day past the end of February'],
      ['2023-02-29', 'a leap day in a common year'],
      ['2100-02-29', 'a leap day in a century year that is not a leap year'],
      ['2024-04-31', 'the 31st of a 30-day month'],
      ['2024-00-10', 'month 0'],
      ['2024-13-01', 'month 13'],
      ['2024-01-00', 'day 0'],
      ['2024-02-30T00:00:00Z', 'an impossible day with a time'],
      ['yesterday', 'a word'],
      ['now', 'another word'],
      ['', 'the empty string'],
      ['2024-1-1', 'single-digit month and day'],
      ['2024-01-1', 'a single-digit day'],
      ['24-01-01', 'a two-digit year'],
      ['+002024-01-01', 'an expanded year'],
      ['20240101', 'the basic format without dashes'],
      ['2024-01-01T24:00', 'hour 24'],
      ['2024-01-01T24:00:00Z', 'hour 24 with seconds'],
      ['2024-01-01T25:00', 'hour 25'],
      ['2024-01-01T10:60', 'minute 60'],
      ['2024-01-01T10:00:60Z', 'a leap second'],
      ['2024-01-01T10', 'an hour without minutes'],
      ['2024-01-01T10:00:00.Z', 'a dot without fraction digits'],
      ['2024-01-01T10:00:00.1234567890Z', 'ten fraction digits'],
      ['2024-01-01T10:00:00+24:00', 'an offset of 24 hours'],
      ['2024-01-01T10:00:00+05:60', 'an offset with 60 minutes'],
      ['2024-01-01T10:00:00+5', 'a one-digit offset'],
      ['2024-01-01T10:00:00+05:3', 'a one-digit offset minute'],
      ['2024-01-01T10:00:00 Z', 'a space before the zone'],
      ['2024-01-01T10:00:00ZZ', 'a doubled zone'],
      [' 2024-01-01', 'a leading space'],
      ['2024-01-01 ', 'a trailing space'],
      ['2024-01-01\n', 'a trailing newline'],
      ['2024-01-01\u0000', 'a trailing NUL'],
      ['1969-12-31', 'a date before 1970'],
      ['1969-12-31T23:59:59.999999Z', 'the last microsecond before 1970'],
      ['0000-01-01', 'year zero'],
      ['1970-01-01T00:30:00+01:00', 'a 1970 local time that is before the epoch in UTC'],
      ['2024-01-01T10:00:00.123456789Z' + ' '.repeat(20), 'overlong text'],
      ['2024-01-01T10:00:00.000000000+00:00' + '0'.repeat(10), 'text longer than 40 characters'],
      ['2'.repeat(100_000), 'a very long run of digits'],
      ['２０２４-01-01', 'full-width digits'],
      ['٢٠٢٤-01-01', 'Arabic-Indic digits'],
    ];
    for (const [text, why] of rejected) {
      it(`rejects ${JSON.stringify(text)} (${why})`, () => {
        assert.equal(parseIsoDate(text), undefined);
      });
    }
  });

  it('accepts dates up to the end of year 9999 as far bounds, and nothing later', () => {
    assert.deepEqual(parseIsoDate('9999-12-31'), { us: Date.UTC(9999, 11, 31) * US_PER_MS, dateOnly: true });
    assert.deepEqual(parseIsoDate('2999-01-01'), { us: Date.UTC(2999, 0, 1) * US_PER_MS, dateOnly: true });
    assert.equal(parseIsoDate('9999-12-31T23:59:59Z')?.us, Date.UTC(9999, 11, 31, 23, 59, 59) * US_PER_MS);
    assert.notEqual(parseIsoDate('9999-12-31T23:59:59.999999Z'), undefined);
    assert.equal(parseIsoDate('9999-12-31T23:00:00-02:00'), undefined);
    assert.equal(parseIsoDate('10000-01-01'), undefined);
  });

  it('holds every microsecond exactly up to 2255-06-05T23:47:34.740991Z', () => {
    assert.deepEqual(parseIsoDate('2255-06-05T23:47:34.740991Z'), { us: MAX_EXACT_DATE_US, dateOnly: false });
    assert.equal(parseIsoDate('2255-06-05T23:47:34.740990Z')?.us, MAX_EXACT_DATE_US - 1);
  });

  it('accepts the epoch itself', () => {
    assert.deepEqual(parseIsoDate('1970-01-01'), { us: 0, dateOnly: true });
    assert.deepEqual(parseIsoDate('1970-01-01T00:00:00Z'), { us: 0, dateOnly: false });
    assert.deepEqual(parseIsoDate('1970-01-01T01:00:00+01:00'), { us: 0, dateOnly: false });
  });

  it('accepts leap days of leap years', () => {
    assert.equal(usOf('2024-02-29'), Date.UTC(2024, 1, 29) * US_PER_MS);
    assert.equal(usOf('2000-02-29T12:00:00Z'), Date.UTC(2000, 1, 29, 12) * US_PER_MS);
  });

  it('flags a date without a time as date-only, at midnight UTC', () => {
    assert.deepEqual(parseIsoDate('2017-05-10'), { us: Date.UTC(2017, 4, 10) * US_PER_MS, dateOnly: true });
    assert.equal(parseIsoDate('2017-05-10T00:00:00Z')?.dateOnly, false);
    assert.equal(parseIsoDate('2017-05-10T00:00')?.dateOnly, false);
  });

  it('reads a date-time without an offset as UTC', () => {
    assert.equal(usOf('2020-06-14T10:20:30'), Date.UTC(2020, 5, 14, 10, 20, 30) * US_PER_MS);
    assert.equal(usOf('2020-06-14T10:20'), Date.UTC(2020, 5, 14, 10, 20) * US_PER_MS);
    assert.equal(usOf('2020-06-14 10:20:30'), usOf('2020-06-14T10:20:30Z'));
  });

  it('applies offsets in every accepted spelling', () => {
    const utc = usOf('2020-06-14T10:20:30Z');
    assert.equal(usOf('2020-06-14T10:20:30z'), utc);
    assert.equal(usOf('2020-06-14T12:20:30+02:00'), utc);
    assert.equal(usOf('2020-06-14T12:20:30+0200'), utc);
    assert.equal(usOf('2020-06-14T12:20:30+02'), utc);
    assert.equal(usOf('2020-06-14T04:50:30-05:30'), utc);
    assert.equal(usOf('2020-06-14T10:20:30+00:00'), utc);
    assert.equal(usOf('2020-06-14T10:20:30-00:00'), utc);
  });

  it('crosses a day boundary when the offset says so', () => {
    assert.equal(usOf('2020-06-15T01:00:00+02:00'), Date.UTC(2020, 5, 14, 23) * US_PER_MS);
    assert.equal(usOf('2020-12-31T23:00:00-02:00'), Date.UTC(2021, 0, 1, 1) * US_PER_MS);
  });

  it('keeps fractional seconds to the microsecond and truncates digits beyond', () => {
    const base = usOf('2021-08-11T09:55:02Z');
    assert.equal(usOf('2021-08-11T09:55:02.8Z'), base + 800_000);
    assert.equal(usOf('2021-08-11T09:55:02.84Z'), base + 840_000);
    assert.equal(usOf('2021-08-11T09:55:02.842Z'), base + 842_000);
    assert.equal(usOf('2021-08-11T09:55:02.842375Z'), base + 842_375);
    assert.equal(usOf('2021-08-11T09:55:02.8423759Z'), base + 842_375);
    assert.equal(usOf('2021-08-11T09:55:02.842375999Z'), base + 842_375);
    assert.equal(usOf('2021-08-11T09:55:02.000001Z'), base + 1);
    assert.equal(usOf('2021-08-11T09:55:02,5Z'), base + 500_000);
  });

  it('accepts the reference examples', () => {
    assert.equal(usOf('2020-06-14T00:00:00.000Z'), Date.UTC(2020, 5, 14) * US_PER_MS);
    assert.equal(usOf('2017-05-10T12:34:56.789Z'), Date.UTC(2017, 4, 10, 12, 34, 56, 789) * US_PER_MS);
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60, unit: 'binary' }), (text) => {
        const parsed = parseIsoDate(text);
        if (parsed !== undefined) {
          assert.ok(Number.isInteger(parsed.us) && parsed.us >= 0 && parsed.us < Date.UTC(10000, 0, 1) * US_PER_MS);
        }
      }),
    );
  });

  it('agrees with Date for every valid UTC date-time with milliseconds', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date('2255-01-01T00:00:00Z'), noInvalidDate: true }), (date) => {
        const text = date.toISOString();
        assert.equal(usOf(text), date.getTime() * US_PER_MS);
      }),
    );
  });
});

describe('formatIsoUs', () => {
  it('writes the exact OUTSCALE form with six fraction digits', () => {
    const us = Date.UTC(2021, 7, 11, 9, 55, 2) * US_PER_MS + 842_375;
    assert.equal(formatIsoUs(us), '2021-08-11T09:55:02.842375Z');
  });

  it('pads microseconds with zeros on the left', () => {
    const second = Date.UTC(2021, 7, 11, 9, 55, 2) * US_PER_MS;
    assert.equal(formatIsoUs(second), '2021-08-11T09:55:02.000000Z');
    assert.equal(formatIsoUs(second + 1), '2021-08-11T09:55:02.000001Z');
    assert.equal(formatIsoUs(second + 10), '2021-08-11T09:55:02.000010Z');
    assert.equal(formatIsoUs(second + 999), '2021-08-11T09:55:02.000999Z');
    assert.equal(formatIsoUs(second + 1_000), '2021-08-11T09:55:02.001000Z');
    assert.equal(formatIsoUs(second + 5_007), '2021-08-11T09:55:02.005007Z');
    assert.equal(formatIsoUs(second + 999_999), '2021-08-11T09:55:02.999999Z');
  });

  // formatIsoUs keeps the minute of the previous call: the answer must not depend on what came before.
  it('gives the same text whatever was formatted before it', () => {
    const reference = (us: number): string => {
      const ms = Math.floor(us / US_PER_MS);
      return new Date(ms).toISOString().slice(0, 23) + String(us - ms * US_PER_MS).padStart(3, '0') + 'Z';
    };
    const minuteAround = Date.UTC(2024, 1, 29, 23, 59) * US_PER_MS;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: MAX_EXACT_DATE_US }), fc.integer({ min: minuteAround - 120 * US_PER_SECOND, max: minuteAround + 120 * US_PER_SECOND })), { minLength: 1, maxLength: 20 }),
        (dates) => {
          for (const us of dates) assert.equal(formatIsoUs(us), reference(us));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('formats the epoch and the last representable microsecond', () => {
    assert.equal(formatIsoUs(0), '1970-01-01T00:00:00.000000Z');
    assert.equal(formatIsoUs(MAX_EXACT_DATE_US), '2255-06-05T23:47:34.740991Z');
  });

  // Up to 2^53 microseconds (year 2255) every microsecond is a safe integer; beyond, a double cannot
  // hold each microsecond, so the exact round trip is checked over the exact range, and over every
  // year up to 9999 at the second.
  it('round-trips: parsing the formatted text gives back the same microsecond', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_EXACT_DATE_US }), (us) => {
        const text = formatIsoUs(us);
        assert.match(text, WIRE_FORM);
        assert.deepEqual(parseIsoDate(text), { us, dateOnly: false });
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips whole seconds in every year from 1970 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31, 23, 59, 59) / 1000 }), (seconds) => {
        const us = seconds * US_PER_SECOND;
        const text = formatIsoUs(us);
        assert.equal(text, new Date(seconds * 1000).toISOString().replace('.000Z', '.000000Z'));
        assert.deepEqual(parseIsoDate(text), { us, dateOnly: false });
      }),
      { numRuns: 2_000 },
    );
  });

  it('writes whole milliseconds as Date does, within the exact range', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(MAX_EXACT_DATE_US / US_PER_MS), noInvalidDate: true }), (d) => {
        assert.equal(formatIsoUs(d.getTime() * US_PER_MS), d.toISOString().replace('Z', '000Z'));
      }),
    );
  });

  it('round-trips microseconds near day, second and millisecond boundaries', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: -2, max: 2 }), (day, delta) => {
        const us = Math.max(0, day * US_PER_DAY + delta);
        assert.equal(parseIsoDate(formatIsoUs(us))?.us, us);
      }),
    );
  });
});

describe('time constants and clock', () => {
  it('define hours and days in microseconds', () => {
    assert.equal(US_PER_SECOND, 1_000_000);
    assert.equal(US_PER_HOUR, 3_600_000_000);
    assert.equal(US_PER_DAY, 86_400_000_000);
  });

  it('the system clock reads the current time in microseconds, within the current millisecond', () => {
    const before = Date.now() * US_PER_MS;
    const now = systemClock.nowUs();
    const after = (Date.now() + 1) * US_PER_MS;
    assert.ok(Number.isSafeInteger(now));
    assert.ok(now >= before && now < after);
  });
});
