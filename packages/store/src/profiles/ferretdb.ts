import type { RedisConnection } from '@herald/shared';
import { type Document, MongoServerError } from 'mongodb';
import { Mutex } from 'redis-semaphore';
import { decodeJson, type ServerProfile } from './profile.ts';

/**
 * FerretDB 1.24 on PostgreSQL (the stand-in where no MongoDB runs). Every workaround Herald needs
 * for it lives here, each with the measurement behind it; nothing outside this file knows them.
 *
 * - Serialised writes of one document. FerretDB runs an update as read, modify, write on two
 *   PostgreSQL connections without locking the row, so concurrent updates of one document are
 *   lost, even under `serializable`: 138 of 240 concurrent `$inc` on one counter were kept
 *   (packages/store/test/conformance.test.ts reproduces it). `exclusive` takes a Redis lock per
 *   document, in sorted order so two writers never deadlock.
 * - One update per statement, a few at a time. A multi-statement update (`bulkWrite`, an
 *   `updateMany` of several documents) holds a connection per statement until the command ends;
 *   a few of them at once exhaust FerretDB's pool and hang it for good (seen in the suite, before
 *   status events were written one `updateOne` at a time). Single-statement commands are sent
 *   `writeConcurrency` (4) at a time: each holds at most two connections, far below the pool, and
 *   one after another capped a batch at one round trip per message.
 * - Equality lookups instead of `$in`. FerretDB pushes an equality filter down to PostgreSQL
 *   (`_jsonb->'f' @> v`, served by the GIN indexes scripts/lib/ferretdb-gin.sql installs) but
 *   evaluates `$in` itself over every document: 7 ms against 620 ms for a webhook's lookup at
 *   2,000 messages.
 * - No B-tree indexes. FerretDB 1.24 never uses the indexes `createIndexes` makes (issue #4646),
 *   yet every write maintains them: with them at 100,000 messages insertMany went 4,811 → 3,688
 *   docs/s and updateOne 861 → 648/s (docs/ferretdb-tuning.md). The GIN expression indexes of the start script serve instead.
 * - Payloads as JSON strings. Keys may not contain `.` or start with `$`, and arrays may not
 *   nest: a provider's raw event can break any of these.
 * - A capped client pool. An update holds two of FerretDB's connections at once (the query, then
 *   the write); when every pooled connection is held by an update waiting for its second,
 *   FerretDB hangs. The sum of all processes' pools must stay below FerretDB's
 *   `pool_max_conns` (90 in the start script): 20 per client unless MONGO_URL says otherwise.
 * - No retryable writes: FerretDB has no sessions for them; the queues retry instead.
 * - New messages without their null fields. FerretDB decodes and re-encodes a whole document for
 *   every lookup and update, with a type entry for each field, so a field costs CPU on every
 *   write of the message even while it is null (a new message has about a dozen): leaving them
 *   out took 13 % off FerretDB's and PostgreSQL's CPU for a message's status update
 *   (docs/ferretdb-tuning.md). Read back, such a field is absent; a filter on null matches it.
 */
/** Single-statement writes in flight at once per batch (see above). */
const writeConcurrency = 4;

export function ferretdbProfile(locks: { redis: RedisConnection; prefix: string } | undefined): ServerProfile {
  async function exclusive<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    if (!locks) {
      throw new Error(
        'the store runs on FerretDB, which loses concurrent updates of one document: give connectStore a Redis connection for its locks',
      );
    }
    const held: Mutex[] = [];
    try {
      for (const key of [...new Set(keys)].sort()) {
        const mutex = new Mutex(locks.redis, `${locks.prefix}:lock:${key}`, {
          lockTimeout: 30_000,
          acquireTimeout: 60_000,
          retryInterval: 5,
        });
        await mutex.acquire();
        held.push(mutex);
      }
      return await fn();
    } finally {
      await Promise.all(held.map((m) => m.release().catch(() => undefined)));
    }
  }

  async function each<I, O>(items: I[], write: (item: I) => Promise<O>): Promise<O[]> {
    const out: O[] = new Array(items.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(writeConcurrency, items.length) }, async () => {
        while (next < items.length) {
          const i = next++;
          out[i] = await write(items[i] as I);
        }
      }),
    );
    return out;
  }

  return {
    name: 'ferretdb',
    clientOptions: (url) => ({
      ...(/[?&]maxPoolSize=/i.test(url) ? {} : { maxPoolSize: 20 }),
      retryWrites: false,
    }),
    btreeIndexes: false,
    exclusive,
    each,
    async increment(collection, ops) {
      await each(ops, ({ _id, inc, setOnInsert }) =>
        exclusive([`${collection.collectionName}:${_id}`], async () => {
          const update = { $inc: inc, $setOnInsert: setOnInsert } as Document;
          try {
            await collection.updateOne({ _id }, update, { upsert: true });
          } catch (err) {
            // Another deployment's first write of this counter raced ours (no lock covers a
            // process of another prefix); the document exists now.
            if (!(err instanceof MongoServerError && err.code === 11000)) throw err;
            await collection.updateOne({ _id }, update, { upsert: true });
          }
        }),
      );
    },
    async findWhereIn(collection, field, values, projection) {
      const found: never[] = [];
      // A few lookups at a time: each holds a FerretDB connection.
      for (let i = 0; i < values.length; i += 8) {
        const batch = await Promise.all(
          values.slice(i, i + 8).map((v) => collection.findOne({ [field]: v } as never, projection ? { projection } : {})),
        );
        for (const doc of batch) if (doc) found.push(doc as never);
      }
      return found;
    },
    newDocument: (doc) => Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== null)) as typeof doc,
    encodePayload: (value) => (typeof value === 'string' ? value : JSON.stringify(value)),
    decodePayload: decodeJson,
  };
}
