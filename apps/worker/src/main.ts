import { createLogger, loadConfigOrExit } from '@herald/shared';
import { startWorkerHttp, type WorkerHttp } from './http.ts';
import { type HeraldWorker, startWorker } from './worker.ts';

const config = loadConfigOrExit('worker');
const log = createLogger(config.LOG_LEVEL, 'herald-worker');

// Signal handlers go in before the workers start: a worker takes jobs as soon as it exists, and
// a SIGTERM in that moment must still wait for them.
let worker: HeraldWorker | undefined;
let http: WorkerHttp | undefined;
let stopping: Promise<void> | undefined;
function stop(signal: string): void {
  if (stopping) return;
  log.info({ signal }, 'finishing in-flight jobs, then exiting');
  stopping = (async () => {
    while (!worker) await new Promise((r) => setTimeout(r, 50));
    await worker.close();
    await http?.close();
  })();
  stopping.then(
    () => process.exit(0),
    (err) => {
      log.error({ err }, 'close failed');
      process.exit(1);
    },
  );
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

worker = await startWorker({ config, log });
http = await startWorkerHttp(worker, config.HOST, config.WORKER_METRICS_PORT);
log.info(
  {
    provider: config.WHATSAPP_PROVIDER,
    concurrency: config.WORKER_CONCURRENCY,
    mps: config.PROVIDER_MPS,
    metrics_port: http.port,
  },
  'worker started',
);
