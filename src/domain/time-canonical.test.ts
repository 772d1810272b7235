import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatIsoUs, parseIsoDate } from './time.js';

describe('parseIsoDate on the canonical form', () => {
  it('reads every canonical date back to its microseconds', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (us) => {
        assert.deepEqual(parseIsoDate(formatIsoUs(us)), { us, dateOnly: false });
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses canonical-looking texts that are not dates, as the general form does', () => {
    for (const text of ['2024-02-30T00:00:00.000000Z', '2023-02-29T00:00:00.000000Z', '2024-13-01T00:00:00.000000Z', '2024-00-10T00:00:00.000000Z', '2024-01-01T24:00:00.000000Z', '2024-01-01T00:60:00.000000Z', '2024-01-01T00:00:60.000000Z', '1969-12-31T23:59:59.999999Z', '2024-01-01T00:00:00.00000aZ', '2024-01-0xT00:00:00.000000Z', '+024-01-01T00:00:00.000000Z']) {
      assert.equal(parseIsoDate(text), undefined, text);
    }
    assert.deepEqual(parseIsoDate('2024-02-29T12:34:56.123456Z'), { us: Date.UTC(2024, 1, 29, 12, 34, 56) * 1000 + 123456, dateOnly: false });
  });
});
