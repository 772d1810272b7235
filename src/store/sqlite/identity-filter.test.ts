import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { filterBits, IdentityFilter, MAX_FILTER_BITS } from './identity-filter.js';
import { identityHash } from './schema.js';

const hash48 = fc.integer({ min: -(2 ** 47), max: 2 ** 47 - 1 });

describe('IdentityFilter', () => {
  it('has no false negatives, whatever the hashes and however full it is', () => {
    fc.assert(
      fc.property(fc.array(hash48, { maxLength: 400 }), fc.integer({ min: 1, max: 500 }), (hashes, capacity) => {
        const filter = new IdentityFilter(capacity);
        for (const hash of hashes) filter.add(hash);
        assert.equal(filter.count, hashes.length);
        for (const hash of hashes) assert.ok(filter.mightContain(hash), `lost ${hash}`);
      }),
    );
  });

  it('answers "not stored" for most other identities: under 1 % false positives at capacity, under 5 % at 1.5 times (while a larger one is built)', () => {
    const capacity = 100_000;
    const filter = new IdentityFilter(capacity);
    const stored = (i: number) => identityHash('123456789012', `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
    const other = (i: number) => identityHash('210987654321', `ffffffff-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
    const falsePositives = () => {
      let n = 0;
      for (let i = 0; i < 100_000; i++) if (filter.mightContain(other(i))) n++;
      return n / 100_000;
    };
    for (let i = 0; i < capacity; i++) filter.add(stored(i));
    const atCapacity = falsePositives();
    for (let i = capacity; i < 1.5 * capacity; i++) filter.add(stored(i));
    const overfilled = falsePositives();
    assert.ok(atCapacity < 0.01, `false positives at capacity: ${atCapacity}`);
    assert.ok(overfilled < 0.05, `false positives at 1.5 times the capacity: ${overfilled}`);
  });

  it('tells apart hashes that differ only in their high 16 bits', () => {
    const filter = new IdentityFilter(1_000);
    const low = 123_456_789;
    filter.add(low);
    let aliases = 0;
    for (let high = 1; high < 1_000; high++) if (filter.mightContain(low + high * 2 ** 32)) aliases++;
    assert.ok(aliases < 20, `${aliases} of 999`);
  });

  it('sizes its table as a power of two of at least 10 bits an identity, never past 2^31 bits, where probes stay in the table', () => {
    for (const capacity of [1, 100, 102, 1_000_000, 2_000_001, 107_374_182, 214_748_365, 1e9, 1e12]) {
      const bits = filterBits(capacity);
      assert.equal(Math.log2(bits) % 1, 0, `${capacity}: ${bits}`);
      assert.ok(bits <= MAX_FILTER_BITS, `${capacity}: ${bits}`);
      if (capacity * 10 <= MAX_FILTER_BITS) assert.ok(bits >= capacity * 10, `${capacity}: ${bits}`);
      // The masked probe of any 32-bit value is a non-negative bit index inside the table.
      for (const probe of [-1, -(2 ** 31), 2 ** 31 - 1, 0x9e3779b9 | 0]) {
        const bit = probe & (bits - 1);
        assert.ok(bit >= 0 && bit < bits, `${capacity}: probe ${probe} gave bit ${bit}`);
      }
    }
  });
});
