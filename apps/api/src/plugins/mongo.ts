import { type Collections, collections, connectMongo, prepareDatabase } from '@herald/shared';
import fp from 'fastify-plugin';
import type { MongoClient } from 'mongodb';

declare module 'fastify' {
  interface FastifyInstance {
    mongo: Collections & { client: MongoClient };
  }
}

/** MongoDB: one client, indexes and default templates ensured at start, closed on close. */
export default fp(
  async (app) => {
    const client = await connectMongo(app.config.MONGO_URL);
    app.addHook('onClose', () => client.close());
    const c = collections(client.db());
    await prepareDatabase(c);
    app.decorate('mongo', { ...c, client });
  },
  { name: 'mongo', dependencies: ['config'] },
);
