export { parseReadApiLogsRequest, type ParsedReadApiLogs, type ReadApiLogsRequest, type ApiLogFilters } from './parse-request.js';
export { resolveDateWindow, type DateWindow } from './date-window.js';
export { PageTokenCodec, digestFilters, PAGE_TOKEN_TTL_MS } from './page-token.js';
export { encodeReadApiLogsAnswer, readApiLogs, type ReadApiLogsDeps, type ReadApiLogsResult } from './read-api-logs.js';
export { projectLog } from './project-fields.js';
