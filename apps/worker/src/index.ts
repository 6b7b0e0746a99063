export { maintenanceQueueName, type Retention, retentionSchedulerId, startRetention } from './retention.ts';
export { type HeraldWorker, startWorker, type WorkerOptions } from './worker.ts';
