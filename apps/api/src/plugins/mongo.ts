import {
  Batcher,
  type Collections,
  collections,
  connectMongo,
  type MessageDocument,
  prepareDatabase,
  type SettingsDocument,
} from '@herald/shared';
import fp from 'fastify-plugin';
import { MongoBulkWriteError, type MongoClient } from 'mongodb';

type SettingsView = Pick<SettingsDocument, 'opted_out' | 'disabled_types'> | null;

declare module 'fastify' {
  interface FastifyInstance {
    mongo: Collections & {
      client: MongoClient;
      /**
       * The accept path's two database calls, coalesced across concurrent requests (one insertMany,
       * one find by $in per event-loop turn): under load the database does a round trip per batch
       * rather than per request.
       */
      batched: { insertMessage(doc: MessageDocument): Promise<void>; settingsOf(phone: string): Promise<SettingsView> };
    };
  }
}

/** MongoDB: one client, indexes and default templates ensured at start, closed on close. */
export default fp(
  async (app) => {
    const client = await connectMongo(app.config.MONGO_URL);

    const c = collections(client.db());
    app.addHook('onClose', async () => {
      await c.stats.idle(); // counter changes already taken are written before the client goes
      await client.close();
    });
    c.stats.onError = (err) => {
      app.log.error({ err }, 'statistics counters not updated; `pnpm stats:rebuild` repairs them');
    };
    await prepareDatabase(c);

    const inserts = new Batcher<MessageDocument, undefined>(async (docs) => {
      if (docs.length === 1) {
        await c.messages.insertOne(docs[0] as MessageDocument);
        c.stats.add({ after: docs[0] as MessageDocument });
        return [undefined];
      }
      let results: (Error | undefined)[];
      try {
        await c.messages.insertMany(docs, { ordered: false });
        results = docs.map(() => undefined);
      } catch (err) {
        // Per-document errors (a duplicate id) fail that request only; anything else fails all.
        if (!(err instanceof MongoBulkWriteError)) throw err;
        const failed = new Map<number, Error>();
        for (const we of [err.writeErrors].flat()) failed.set(we.index, new Error(we.errmsg ?? 'insert failed'));
        if (failed.size === 0) throw err;
        results = docs.map((_, i) => failed.get(i) ?? undefined);
      }
      c.stats.add(...docs.filter((_, i) => results[i] === undefined).map((after) => ({ after })));
      return results;
    });
    const settings = new Batcher<string, SettingsView>(async (phones) => {
      const unique = [...new Set(phones)];
      const found = await c.settings
        .find(unique.length === 1 ? { _id: unique[0] as string } : { _id: { $in: unique } }, {
          projection: { opted_out: 1, disabled_types: 1 },
        })
        .toArray();
      const byPhone = new Map(found.map((d) => [d._id, d]));
      return phones.map((p) => byPhone.get(p) ?? null);
    });

    app.decorate('mongo', {
      ...c,
      client,
      batched: { insertMessage: (doc: MessageDocument) => inserts.add(doc), settingsOf: (phone: string) => settings.add(phone) },
    });
  },
  { name: 'mongo', dependencies: ['config'] },
);
