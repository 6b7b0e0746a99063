// `pnpm senders:reencrypt`: seals every sender's credentials and webhook secrets with the first
// SENDER_KEYS key — the middle step of a key rotation (docs/security.md): put the new key first in
// SENDER_KEYS on every process, run this, then drop the old key. Safe while Herald runs (each write
// is compare-and-set) and safe to repeat. Exits 1 when a sender could not be opened (its key is no
// longer listed): dropping a key then would lose that sender's secrets.
import { createRedis, loadConfigOrExit, reencryptSenders, SecretBox } from '@herald/shared';
import { connectStore } from '@herald/store';

const config = loadConfigOrExit('worker');
const box = SecretBox.fromKeys(config.SENDER_KEYS);
if (!box) {
  process.stderr.write('config: SENDER_KEYS: required to re-encrypt senders\n');
  process.exit(1);
}
const redis = createRedis(config);
const store = await connectStore({ url: config.MONGO_URL, locks: { redis, prefix: config.QUEUE_PREFIX } });
let failed = false;
try {
  const report = await reencryptSenders(store.senders, box);
  process.stdout.write(`senders re-encrypted with key ${report.key_id}: ${report.reencrypted}\n`);
  for (const u of report.unreadable) process.stdout.write(`not readable (sealed with key ${u.key_id}, not in SENDER_KEYS): ${u.id}\n`);
  failed = report.unreadable.length > 0;
} finally {
  await store.close();
  await redis.quit();
}
if (failed) process.exit(1);
