import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordsWithinBudget } from './log-store.js';

describe('recordsWithinBudget', () => {
  const cases: [readonly number[], number | undefined, number, string][] = [
    [[5, 5, 5], 10, 2, 'stops before the record that would pass the budget'],
    [[5, 5], 10, 2, 'takes records that fill the budget exactly'],
    [[20, 1], 10, 1, 'always takes the first record, however large'],
    [[3, 20, 1], 10, 1, 'does not skip a large record to take a smaller one after it'],
    [[10, 0, 1], 10, 2, 'takes an empty record while the budget is full'],
    [[], 10, 0, 'takes nothing from an empty page'],
    [[1e9, 1e9], undefined, 2, 'takes everything without a budget'],
  ];
  for (const [textBytes, maxBytes, expected, name] of cases) {
    it(name, () => assert.equal(recordsWithinBudget(textBytes, maxBytes), expected));
  }
});
