import { createHash, timingSafeEqual } from 'node:crypto';

export type BearerCheck = 'ok' | 'missing' | 'wrong';
export type BearerVerifier = (authorization: string | undefined) => BearerCheck;

// RFC 6750 section 2.1: `Bearer` then the credential; RFC 9110 section 11.1: the scheme is case-insensitive.
const BEARER = /^bearer +([^ ]+) *$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Compiles the ingest token check once, at startup. The comparison is constant-time and on SHA-256
 * digests, so neither the content nor the length of the expected token leaks through timing.
 */
export function compileBearerVerifier(token: string): BearerVerifier {
  const expected = digest(token);
  return (authorization) => {
    if (authorization === undefined || authorization === '') return 'missing';
    const match = BEARER.exec(authorization);
    if (match === null) return 'missing';
    return timingSafeEqual(digest(match[1] as string), expected) ? 'ok' : 'wrong';
  };
}
