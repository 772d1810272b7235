import { isUtf8 } from 'node:buffer';
import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from './json-bytes.js';

/**
 * Pieces of a record that come from the raw request (SPEC section 2): the header lines as received,
 * with the Authorization value hidden, and the payload with secret fields masked.
 */

export const MASK = '*****';

/** Fields whose values never reach a record. Matched as JSON keys, at any depth. */
export const DEFAULT_SECRET_FIELDS: readonly string[] = [
  'Password',
  'NewPassword',
  'OldPassword',
  'SecretKey',
  'SecretAccessKey',
  'PrivateKey',
  'Passphrase',
  'Token',
];

const HIDDEN_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie']);

/**
 * QueryHeaderRaw: `Name: value` lines in arrival order, joined by the two characters backslash and n
 * (as the OUTSCALE service returns them), sensitive values replaced by `*****`.
 * `rawHeaders` is Node's flat [name, value, name, value, …] list, which keeps order and case.
 */
export function formatHeaderRaw(rawHeaders: readonly string[]): string {
  const lines: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    lines.push(`${name}: ${HIDDEN_HEADERS.has(name.toLowerCase()) ? MASK : headerText(rawHeaders[i + 1] as string)}`);
  }
  return lines.join('\\n');
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A header value as the client wrote it. Node's HTTP parser hands header bytes over as latin1 text,
 * one character per byte, so `User-Agent: café` in UTF-8 would read `cafÃ©`: a value whose bytes are
 * valid UTF-8 is decoded as UTF-8; any other keeps one character per byte (HTTP's historical
 * ISO-8859-1). Used for QueryHeaderRaw and QueryUserAgent; sizes count the bytes (measureHeaderBytes).
 */
export function headerText(value: string): string {
  if (!NON_ASCII.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : value;
}

/**
 * QueryHeaderSize: bytes of the request head as received: the request line and each `Name: value`
 * line with its CRLF, and the blank line that ends the head. Node's HTTP parser hands over the head
 * as latin1 text, one character per byte received, so the bytes are counted as latin1: counting them
 * as UTF-8 would count a non-ASCII byte twice.
 */
export function measureHeaderBytes(method: string, url: string, httpVersion: string, rawHeaders: readonly string[]): number {
  let bytes = Buffer.byteLength(`${method} ${url} HTTP/${httpVersion}\r\n`, 'latin1') + 2;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    bytes += Buffer.byteLength(rawHeaders[i] as string, 'latin1') + 2 + Buffer.byteLength(rawHeaders[i + 1] as string, 'latin1') + 2;
  }
  return bytes;
}

export type SecretMasker = (payload: string) => string;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles the masker once. The payload is scanned as JSON text, not parsed and re-serialised, so every
 * byte outside a masked value stays as received. A value is masked when its key names a secret field:
 * compared without regard to case and after decoding escapes (`"Pass\u0077ord"` is `Password` to the
 * upstream's JSON parser), whatever the value is: a string, a number, `true`, an object or an array
 * becomes `"*****"`. A value left unterminated (a truncated or malformed body, still recorded with its
 * 400) is masked to the end of the payload rather than kept in clear.
 */
export function compileSecretMasker(secretFields: readonly string[] = DEFAULT_SECRET_FIELDS): SecretMasker {
  if (secretFields.length === 0) return (payload) => payload;
  const names: ReadonlySet<string> = new Set(secretFields.map((field) => field.toLowerCase()));
  // A payload that spells no secret name and holds no escape has no secret key: most payloads, unscanned.
  const mention = new RegExp(secretFields.map(escapeRegExp).join('|'), 'i');
  return (payload) => (payload.includes('"') && (payload.includes('\\') || mention.test(payload)) ? maskValues(payload, names) : payload);
}

function maskValues(text: string, names: ReadonlySet<string>): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) !== QUOTE) {
      i++;
      continue;
    }
    const end = stringEnd(text, i);
    const colon = skipSpace(text, end);
    if (text.charCodeAt(colon) === COLON && names.has(keyName(text.slice(i, end)).toLowerCase())) {
      const valueStart = skipSpace(text, colon + 1);
      const valueEnd = valueEndAt(text, valueStart);
      out += `${text.slice(copied, valueStart)}"${MASK}"`;
      copied = valueEnd;
      i = valueEnd;
      continue;
    }
    // Any other string (a value, or a key of no secret) is skipped whole: a secret name inside a
    // description, or a quote escaped in it, is not a key.
    i = end;
  }
  // copied moves past every masked value, which never ends at 0: still 0 means nothing was masked.
  return copied === 0 ? text : out + text.slice(copied);
}

/** Index just past the string token opening at `start` (its closing quote), or the text's end. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return text.length;
}

/** JSON's insignificant whitespace: space, tab, line feed, carriage return. */
function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && isJsonSpace(text.charCodeAt(i))) i++;
  return i;
}

/** The key as a JSON parser reads it: escapes decoded; a malformed escape leaves the text as written. */
function keyName(token: string): string {
  const inner = token.slice(1, token.endsWith('"') && token.length > 1 ? -1 : undefined);
  if (!inner.includes('\\')) return inner;
  try {
    return JSON.parse(`"${inner}"`) as string;
  } catch {
    return inner;
  }
}

/**
 * Index just past the value starting at `start`: a string token, a bracketed object or array (nested
 * brackets and strings inside counted), or anything else up to the next `,`, `}` or `]` (spaces before
 * that delimiter stay outside). Unterminated: the text's end.
 */
function valueEndAt(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === QUOTE) return stringEnd(text, start);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) i = stringEnd(text, i) - 1;
      else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
      else if ((c === CLOSE_OBJECT || c === CLOSE_ARRAY) && --depth === 0) return i + 1;
    }
    return text.length;
  }
  let end = start;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY) break;
    if (!isJsonSpace(c)) end = i + 1;
    if (c === QUOTE) {
      // A quote after a bare value (malformed): mask through that string as well.
      i = stringEnd(text, i) - 1;
      end = i + 1;
    }
  }
  return end === start ? start : end;
}
