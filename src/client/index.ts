export { ClientError, ApiCallError, isRetryable, type ClientErrorKind, type OscErrorBody } from './client-error.js';
export { resolveClientProfile, normaliseEndpoint, defaultApiBaseUrl, DEFAULT_PROFILE, DEFAULT_REGION, type ClientProfile, type ResolveProfileOptions } from './osc-profile.js';
export { OscClient, prepareCall, CLIENT_USER_AGENT, DEFAULT_TIMEOUT_MS, type OscClientOptions, type PreparedRequest } from './osc-client.js';
export { readAllPages, withRetry, MAX_RESULTS_PER_PAGE, type ApiCaller, type ReadApiLogsAnswer, type ReadApiLogsParams, type RetryOptions, type WireLog } from './read-api-logs.js';
export { LogFollower, FUTURE_MARGIN_US, type LogFollowerOptions } from './log-follower.js';
export { DayArchive, dayOf, identifyAccount, loadManifest, MANIFEST_FORMAT, CHECKPOINT_FORMAT, type ArchiveSummary, type DayArchiveOptions, type DayWritten, type Manifest, type ManifestFile } from './day-archive.js';
