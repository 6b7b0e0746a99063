// `pnpm stats:rebuild`: recomputes the per-day statistics counters from the messages (see
// DailyStats in packages/shared). The repair when `herald_stats_counter_errors_total` grew, or a
// process died between a message write and its counter write. It reads every message (minutes
// per few hundred thousand on FerretDB); pause sending first (POST /api/notifications/sending/pause)
// so that no counter changes while it runs, and resume after.
import { collections, connectMongo, loadConfigOrExit, rebuildDailyStats } from '@herald/shared';

const config = loadConfigOrExit('worker');
const client = await connectMongo(config.MONGO_URL);
try {
  const db = collections(client.db());
  const started = Date.now();
  const counters = await rebuildDailyStats(db.messages, db.dailyStats);
  process.stdout.write(
    `statistics counters rebuilt: ${counters} documents (tenant × day × type) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
} finally {
  await client.close();
}
