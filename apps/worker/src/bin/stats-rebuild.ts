// `pnpm stats:rebuild`: recomputes the per-day statistics counters from the messages (see
// packages/store). The repair when `herald_stats_counter_errors_total` grew, or a
// process died between a message write and its counter write. It reads every message (minutes
// per few hundred thousand on FerretDB); pause sending first (POST /api/notifications/sending/pause)
// so that no counter changes while it runs, and resume after.
import { createRedis, loadConfigOrExit } from '@herald/shared';
import { connectStore } from '@herald/store';

const config = loadConfigOrExit('worker');
const redis = createRedis(config);
const store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
try {
  const started = Date.now();
  const counters = await store.statistics.rebuild();
  process.stdout.write(
    `statistics counters rebuilt: ${counters} documents (tenant × day × type) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
} finally {
  await store.close();
  await redis.quit();
}
