export {
  ALGORITHM_PROFILES,
  EMPTY_PAYLOAD_SHA256,
  SigningKeyCache,
  buildCanonicalHeaders,
  buildCanonicalRequest,
  buildStringToSign,
  canonicalHeaderValue,
  canonicalQueryCandidates,
  canonicalQueryString,
  canonicalUri,
  canonicalUriCandidates,
  computeSignature,
  credentialScope,
  deriveSigningKey,
  formatSigningDate,
  isSigningAlgorithm,
  parseSigningDate,
  sha256Hex,
  splitPathAndQuery,
  uriEncode,
} from './canonical-request.js';
export type { AlgorithmProfile, CanonicalRequestParts, SigningAlgorithm } from './canonical-request.js';
export { DEFAULT_MAX_SKEW_MS, parseAuthorization, verifySignature } from './verify-signature.js';
export type {
  AuthorizationFailureCode,
  ParseAuthorizationResult,
  ParsedAuthorization,
  ReceivedRequest,
  VerifyFailureCode,
  VerifyOptions,
  VerifyResult,
} from './verify-signature.js';
export { signRequest } from './sign-request.js';
export type { SignRequestInput } from './sign-request.js';
