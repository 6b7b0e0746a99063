export { type PaceDecision, type PacedSender, SenderPace } from './pacing/sender-pace.ts';
export { type AcceptDeps, createAcceptProcessor } from './processors/accept.ts';
export { maintenanceQueueName, type Retention, retentionSchedulerId, startRetention } from './retention.ts';
export { DEFAULT_SENDER_ID, type SenderResolver, type SendingSender, StaticSenders } from './senders.ts';
export { type HeraldWorker, startWorker, type WorkerOptions } from './worker.ts';
