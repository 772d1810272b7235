import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { arrayLiteral } from './literals.js';

describe('arrayLiteral', () => {
  it('writes safe non-negative integers as a ClickHouse array literal, in order', () => {
    assert.equal(arrayLiteral([0]), '[0]');
    assert.equal(arrayLiteral([7, Number.MAX_SAFE_INTEGER, 42]), '[7,9007199254740991,42]');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { minLength: 1, maxLength: 50 }), (values) => {
        assert.deepEqual(JSON.parse(arrayLiteral(values)), values);
      }),
    );
  });

  it('refuses an empty list and every value that is not a UInt64 held exactly', () => {
    assert.throws(() => arrayLiteral([]), RangeError);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
      assert.throws(() => arrayLiteral([1, bad]), RangeError, String(bad));
    }
  });
});
