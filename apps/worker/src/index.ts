export { type HeraldWorker, startWorker, type WorkerOptions } from './worker.ts';
