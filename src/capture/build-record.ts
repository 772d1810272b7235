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
    lines.push(`${name}: ${HIDDEN_HEADERS.has(name.toLowerCase()) ? MASK : rawHeaders[i + 1]}`);
  }
  return lines.join('\\n');
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
 * Compiles the masker once: string values of the secret fields are replaced in the raw text, which
 * keeps the rest of the payload byte for byte (re-serialising parsed JSON would not). A value left
 * unterminated (a truncated or malformed body, still recorded with its 400) is masked to the end of
 * the payload rather than kept in clear.
 */
export function compileSecretMasker(secretFields: readonly string[] = DEFAULT_SECRET_FIELDS): SecretMasker {
  if (secretFields.length === 0) return (payload) => payload;
  const pattern = new RegExp(`("(?:${secretFields.map(escapeRegExp).join('|')})"\\s*:\\s*)"(?:[^"\\\\]|\\\\[\\s\\S])*(?:"|\\\\?$)`, 'g');
  return (payload) => (payload.includes('"') ? payload.replace(pattern, `$1"${MASK}"`) : payload);
}
