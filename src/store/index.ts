export type { LogStore, LogAppender, AppendResult, LogCursor, LogQuery, LogPage } from './log-store.js';
export { RetentionScheduler, type RetentionOptions } from './retention.js';
