/**
 * SQL literals for ClickHouse, written by the declared type of the column they are compared with.
 *
 * Debian's ClickHouse 18.16 has no server-side query parameters (`{name:Type}` arrived in 19.x), so
 * every value of a query is a literal in its text. A value is never inspected to guess its type: the
 * caller says which column it is for, and a value that does not fit that column's type is refused
 * (RangeError, a bug in the caller) instead of being written some other way. Strings are quoted with
 * every byte that could end or bend the literal escaped, following the string-literal rules of the
 * ClickHouse SQL reference (backslash escapes; `\xHH` for any byte): quotes, backslashes and all
 * control characters, NUL included. Anything else, Unicode included, passes as its UTF-8 bytes.
 * The same text is valid on current ClickHouse versions.
 */

/** A `String` literal: '...' with \\, \' and every control character as \xHH. */
export function stringLiteral(value: string): string {
  if (typeof value !== 'string') throw new RangeError('a String literal needs a string');
  let out = "'";
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x27 || c === 0x5c || c < 0x20 || c === 0x7f) {
      out += value.slice(start, i);
      out += c === 0x27 ? "\\'" : c === 0x5c ? '\\\\' : `\\x${c.toString(16).padStart(2, '0')}`;
      start = i + 1;
    }
  }
  return out + value.slice(start) + "'";
}

/** An integer literal for an Int64/UInt64/UInt16 column: a safe integer within [min, max], in decimal. */
export function integerLiteral(value: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): string {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`an integer literal in [${min}, ${max}] was expected`);
  }
  return String(value);
}

/** Column types that OMS compares with literals. */
export type LiteralType = 'String' | 'Int64' | 'UInt64' | 'UInt16';

const INTEGER_RANGES: Record<Exclude<LiteralType, 'String'>, [number, number]> = {
  Int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UInt64: [0, Number.MAX_SAFE_INTEGER],
  UInt16: [0, 65_535],
};

/** A literal for a column of `type`. */
export function literalFor(type: LiteralType, value: string | number): string {
  if (type === 'String') {
    if (typeof value !== 'string') throw new RangeError('a String column takes a string');
    return stringLiteral(value);
  }
  if (typeof value !== 'number') throw new RangeError(`a ${type} column takes a number`);
  const [min, max] = INTEGER_RANGES[type];
  return integerLiteral(value, min, max);
}

/** `(v1, v2, ...)` for `column IN (...)`; the list must not be empty. */
export function listLiteral(type: LiteralType, values: readonly (string | number)[]): string {
  if (values.length === 0) throw new RangeError('an IN list needs at least one value');
  return `(${values.map((v) => literalFor(type, v)).join(', ')})`;
}

/** `[n1, n2, ...]` of UInt64 values (safe integers >= 0); the list must not be empty. */
export function arrayLiteral(values: readonly number[]): string {
  if (values.length === 0) throw new RangeError('an array literal needs at least one value');
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += integerLiteral(values[i] as number, 0);
  }
  return out + ']';
}
