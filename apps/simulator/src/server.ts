import closeWithGrace from 'close-with-grace';
import { optionsFromEnv, parseSimulatorEnv, readEnv } from './env.ts';
import { startSimulator } from './start.ts';

const parsed = parseSimulatorEnv(readEnv());
if (!parsed.ok) {
  console.error(parsed.error);
  process.exit(1);
}

const { logLevel, ...options } = optionsFromEnv(parsed.env);
const simulator = await startSimulator({ ...options, logger: { level: logLevel } });
simulator.app.log.info({ url: simulator.url, webhookBaseUrl: options.webhookBaseUrl }, 'WhatsApp provider simulator listening');

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) simulator.app.log.error(err, 'closing after an error');
  else simulator.app.log.info({ signal }, 'closing');
  await simulator.close();
});
