export type { LogStore, LogAppender, AppendResult, LogCursor, LogQuery, LogPage, WireLogPage } from './log-store.js';
export { wirePageOf } from './log-store.js';
export { RetentionScheduler, type RetentionOptions } from './retention.js';
