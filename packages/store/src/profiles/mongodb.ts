import { type AnyBulkWriteOperation, MongoBulkWriteError } from 'mongodb';
import { decodeJson, type ServerProfile } from './profile.ts';

/**
 * MongoDB proper: its own guarantees, no workarounds. A single-document update is atomic, so a
 * conditional update (filter on the state read) is a compare-and-set and needs no lock; `$inc`
 * never loses a concurrent increment; `bulkWrite` and `$in` are served by the indexes; writes run
 * concurrently on the driver's pool; payloads are stored as documents; B-tree indexes serve
 * history.
 */
export const mongodbProfile: ServerProfile = {
  name: 'mongodb',
  clientOptions: () => ({}),
  btreeIndexes: true,
  exclusive: (_keys, fn) => fn(),
  each: (items, write) => Promise.all(items.map(write)),
  async increment(collection, ops) {
    if (ops.length === 0) return;
    const bulk: AnyBulkWriteOperation<{ _id: string }>[] = ops.map(({ _id, inc, setOnInsert }) => ({
      updateOne: { filter: { _id }, update: { $inc: inc, $setOnInsert: setOnInsert } as never, upsert: true },
    }));
    try {
      await collection.bulkWrite(bulk, { ordered: false });
    } catch (err) {
      // Two processes creating the same counter at once: the loser's upsert fails with a
      // duplicate key and the document now exists, so that one update (only that one: the
      // others applied) succeeds on a second try.
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const failed = [err.writeErrors].flat();
      if (failed.some((e) => e.code !== 11000)) throw err;
      await collection.bulkWrite(
        failed.map((e) => bulk[e.index] as AnyBulkWriteOperation<{ _id: string }>),
        { ordered: false },
      );
    }
  },
  findWhereIn: (collection, field, values, projection) =>
    collection.find({ [field]: { $in: values } } as never, projection ? { projection } : {}).toArray() as never,
  newDocument: (doc) => doc,
  encodePayload: (value) => value,
  decodePayload: decodeJson,
};
