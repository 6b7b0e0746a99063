// The baseline for send-message: a bare Fastify route that only does `queue.add`, in its own
// process like the API. Herald's route adds validation, auth, MongoDB and idempotency on top.
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
const queue = new Queue('send', { connection: redis, prefix: process.env.QUEUE_PREFIX ?? '{bench-baseline}' });
const app = Fastify({ logger: false });
let n = 0;
app.post('/send', async (request, reply) => {
  await queue.add('send', request.body as object, { jobId: `b${process.pid}-${n++}`, attempts: 3 });
  return reply.code(202).send({ status: 'queued' });
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as { port: number }).port })}\n`);
process.on('SIGTERM', async () => {
  await app.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  await redis.quit();
  process.exit(0);
});
