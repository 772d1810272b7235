import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OmsError } from '../domain/oms-error.js';
import { MAX_EXACT_DATE_US, US_PER_DAY, US_PER_HOUR, parseIsoDate, type ParsedDate } from '../domain/time.js';
import { DEFAULT_WINDOW_US, resolveDateWindow } from './date-window.js';

const RETENTION_DAYS = 32;

function date(text: string): ParsedDate {
  const parsed = parseIsoDate(text);
  assert.ok(parsed !== undefined, `${text} should parse`);
  return parsed;
}

function us(text: string): number {
  return date(text).us;
}

// A fixed "now" well after the dates of the examples, so that retention is not in play unless a test wants it.
const NOW = us('2017-05-20T12:00:00.123456Z');

describe('resolveDateWindow', () => {
  it('uses a 48-hour default window', () => {
    assert.equal(DEFAULT_WINDOW_US, 48 * US_PER_HOUR);
  });

  it('with neither bound, covers the last 48 hours up to now', () => {
    assert.deepEqual(resolveDateWindow(undefined, undefined, NOW, RETENTION_DAYS), { fromUs: NOW - 48 * US_PER_HOUR, toUs: NOW });
  });

  it('with only After, covers 48 hours from After', () => {
    assert.deepEqual(resolveDateWindow(date('2017-05-12T06:00:00Z'), undefined, NOW, RETENTION_DAYS), {
      fromUs: us('2017-05-12T06:00:00Z'),
      toUs: us('2017-05-14T06:00:00Z'),
    });
  });

  it('with only a date-only After, covers 48 hours from the start of that day', () => {
    assert.deepEqual(resolveDateWindow(date('2017-05-12'), undefined, NOW, RETENTION_DAYS), {
      fromUs: us('2017-05-12T00:00:00Z'),
      toUs: us('2017-05-14T00:00:00Z'),
    });
  });

  it('with only After, may reach past now: the window does not shrink to the present', () => {
    const window = resolveDateWindow(date('2017-05-20T00:00:00Z'), undefined, NOW, RETENTION_DAYS);
    assert.deepEqual(window, { fromUs: us('2017-05-20T00:00:00Z'), toUs: us('2017-05-22T00:00:00Z') });
  });

  it('with only Before, covers the 48 hours before it', () => {
    assert.deepEqual(resolveDateWindow(undefined, date('2017-05-12T06:00:00Z'), NOW, RETENTION_DAYS), {
      fromUs: us('2017-05-10T06:00:00Z'),
      toUs: us('2017-05-12T06:00:00Z'),
    });
  });

  it('with only a date-only Before, covers the 48 hours before the end of that day', () => {
    assert.deepEqual(resolveDateWindow(undefined, date('2017-05-12'), NOW, RETENTION_DAYS), {
      fromUs: us('2017-05-11T00:00:00Z'),
      toUs: us('2017-05-13T00:00:00Z'),
    });
  });

  it('with both, covers exactly [After, Before), however long', () => {
    assert.deepEqual(resolveDateWindow(date('2017-04-25T01:02:03.000004Z'), date('2017-05-19T23:00:00Z'), NOW, RETENTION_DAYS), {
      fromUs: us('2017-04-25T01:02:03.000004Z'),
      toUs: us('2017-05-19T23:00:00Z'),
    });
  });

  it('with both as the same date, covers exactly that whole day', () => {
    const window = resolveDateWindow(date('2017-05-10'), date('2017-05-10'), NOW, RETENTION_DAYS);
    assert.deepEqual(window, { fromUs: us('2017-05-10T00:00:00Z'), toUs: us('2017-05-11T00:00:00Z') });
    assert.equal(window.toUs - window.fromUs, US_PER_DAY);
    // After inclusive, Before exclusive: the first and last microseconds of the day are in, the next day is not.
    assert.ok(us('2017-05-10T00:00:00.000000Z') >= window.fromUs);
    assert.ok(us('2017-05-10T23:59:59.999999Z') < window.toUs);
    assert.ok(!(us('2017-05-11T00:00:00.000000Z') < window.toUs));
    assert.ok(!(us('2017-05-09T23:59:59.999999Z') >= window.fromUs));
  });

  it('a date-only Before means the end of that day, a date-time Before means that instant', () => {
    const dayEnd = resolveDateWindow(date('2017-05-09T12:00:00Z'), date('2017-05-10'), NOW, RETENTION_DAYS);
    assert.equal(dayEnd.toUs, us('2017-05-11T00:00:00Z'));
    const midnight = resolveDateWindow(date('2017-05-09T12:00:00Z'), date('2017-05-10T00:00:00Z'), NOW, RETENTION_DAYS);
    assert.equal(midnight.toUs, us('2017-05-10T00:00:00Z'));
  });

  it('a date-time After later in the day than a date-only Before of the same day is allowed', () => {
    assert.deepEqual(resolveDateWindow(date('2017-05-10T18:00:00Z'), date('2017-05-10'), NOW, RETENTION_DAYS), {
      fromUs: us('2017-05-10T18:00:00Z'),
      toUs: us('2017-05-11T00:00:00Z'),
    });
  });

  it('After equal to Before is an empty window, not an error', () => {
    const window = resolveDateWindow(date('2017-05-10T10:00:00Z'), date('2017-05-10T10:00:00Z'), NOW, RETENTION_DAYS);
    assert.equal(window.toUs - window.fromUs, 0);
  });

  describe('After later than Before is an InvalidParameterValue error', () => {
    const cases: [string, string][] = [
      ['2017-05-11', '2017-05-10'],
      ['2017-05-11T00:00:00Z', '2017-05-10'],
      ['2017-06-01', '2017-05-10'],
      ['2017-05-10T10:00:00.000001Z', '2017-05-10T10:00:00Z'],
      ['2017-05-11T00:00:00.000001Z', '2017-05-10'],
      ['2017-05-12T00:00:00Z', '2017-05-10T00:00:00Z'],
    ];
    for (const [after, before] of cases) {
      it(`After ${after} with Before ${before}`, () => {
        assert.throws(
          () => resolveDateWindow(date(after), date(before), NOW, RETENTION_DAYS),
          (err: unknown) =>
            err instanceof OmsError &&
            err.kind === 'InvalidParameterValue' &&
            err.details === 'Filters.QueryDateAfter must not be later than Filters.QueryDateBefore.',
        );
      });
    }
  });

  describe('nothing older than the retention period is visible', () => {
    const oldest = NOW - RETENTION_DAYS * US_PER_DAY;

    it('a window reaching past retention starts at the oldest visible microsecond', () => {
      const window = resolveDateWindow(date('2017-01-01'), date('2017-05-15'), NOW, RETENTION_DAYS);
      assert.deepEqual(window, { fromUs: oldest, toUs: us('2017-05-16T00:00:00Z') });
    });

    it('a window entirely older than retention is empty', () => {
      const window = resolveDateWindow(date('2017-01-01'), date('2017-01-10'), NOW, RETENTION_DAYS);
      assert.equal(window.fromUs, oldest);
      assert.equal(window.toUs, oldest);
    });

    it('only Before, older than retention, is empty too', () => {
      const window = resolveDateWindow(undefined, date('2017-01-10'), NOW, RETENTION_DAYS);
      assert.equal(window.toUs - window.fromUs, 0);
    });

    it('follows the configured retention', () => {
      const window = resolveDateWindow(date('2017-05-01'), date('2017-05-20'), NOW, 7);
      assert.equal(window.fromUs, NOW - 7 * US_PER_DAY);
    });

    it('a window exactly 32 days long ending now is kept whole', () => {
      const window = resolveDateWindow({ us: oldest, dateOnly: false }, { us: NOW, dateOnly: false }, NOW, RETENTION_DAYS);
      assert.deepEqual(window, { fromUs: oldest, toUs: NOW });
    });
  });

  it('stops far bounds at the last exactly representable microsecond', () => {
    const onlyAfter = resolveDateWindow(date('2255-06-05'), undefined, NOW, RETENTION_DAYS);
    assert.deepEqual(onlyAfter, { fromUs: us('2255-06-05'), toUs: MAX_EXACT_DATE_US });
    const farBefore = resolveDateWindow(date('2017-05-01'), date('2999-01-01'), NOW, RETENTION_DAYS);
    assert.deepEqual(farBefore, { fromUs: us('2017-05-01'), toUs: MAX_EXACT_DATE_US });
    const endOfTime = resolveDateWindow(date('2017-05-01'), date('9999-12-31T23:59:59.999999Z'), NOW, RETENTION_DAYS);
    assert.equal(endOfTime.toUs, MAX_EXACT_DATE_US);
    const farAfter = resolveDateWindow(date('2999-01-01'), undefined, NOW, RETENTION_DAYS);
    assert.deepEqual(farAfter, { fromUs: MAX_EXACT_DATE_US, toUs: MAX_EXACT_DATE_US });
    const farBoth = resolveDateWindow(date('2998-01-01'), date('2999-01-01'), NOW, RETENTION_DAYS);
    assert.deepEqual(farBoth, { fromUs: MAX_EXACT_DATE_US, toUs: MAX_EXACT_DATE_US });
  });

  it('always returns safe integers with fromUs <= toUs, or throws an OmsError', () => {
    const bound = fc.option(
      fc.date({ min: new Date(0), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }).chain((d) =>
        fc.oneof(
          fc.constant(date(d.toISOString().slice(0, 10))),
          fc.integer({ min: 0, max: 999 }).map((micro) => date(d.toISOString().replace('Z', `${String(micro).padStart(3, '0')}Z`))),
        ),
      ),
      { nil: undefined },
    );
    fc.assert(
      fc.property(bound, bound, fc.integer({ min: 40 * US_PER_DAY, max: MAX_EXACT_DATE_US }), fc.integer({ min: 1, max: 365 }), (after, before, now, days) => {
        let window;
        try {
          window = resolveDateWindow(after, before, now, days);
        } catch (err) {
          assert.ok(err instanceof OmsError && err.kind === 'InvalidParameterValue');
          assert.ok(after !== undefined && before !== undefined);
          return;
        }
        assert.ok(Number.isSafeInteger(window.fromUs) && Number.isSafeInteger(window.toUs));
        assert.ok(window.fromUs <= window.toUs);
        assert.ok(window.fromUs >= now - days * US_PER_DAY);
      }),
      { numRuns: 1_000 },
    );
  });
});
