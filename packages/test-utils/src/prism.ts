import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { freePort } from './ops.ts';

/**
 * Stoplight Prism (`prism mock --errors`) serving one OpenAPI document on loopback: every request
 * is validated against the document, and one that breaks it is answered 422 with the violations
 * (`validation` in the problem+json body) instead of a mocked response.
 */
export interface PrismMock {
  /** Base URL to send to (a loopback front that forwards every request to Prism unchanged). */
  readonly url: string;
  /**
   * Prism's `Prefer` header added to the requests that follow (e.g. `example=create` picks that
   * named response example), for clients that cannot set headers themselves; undefined adds none.
   */
  prefer: string | undefined;
  /** Prism's answer to the latest request (the adapters keep only a summary of a refusal). */
  last: { status: number; body: string } | undefined;
  /** Everything Prism printed so far (it logs each request and each violation). */
  output(): string;
  stop(): Promise<void>;
}

export interface PrismOptions {
  /** How long Prism may take to load the document and listen, in ms. @defaultValue 60000 */
  startTimeoutMs?: number;
}

/** The installed CLI's entry point: spawned with this Node, not whatever `prism` is on PATH. */
function prismEntry(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('@stoplight/prism-cli/package.json');
  const bin = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: Record<string, string> }).bin.prism;
  if (!bin) throw new Error('@stoplight/prism-cli has no `prism` bin');
  return join(dirname(pkgPath), bin);
}

/** Starts Prism on a free loopback port with `spec` (a path) and waits until it answers HTTP. */
export async function startPrism(spec: string, opts: PrismOptions = {}): Promise<PrismMock> {
  const port = await freePort();
  const child = spawn(process.execPath, [prismEntry(), 'mock', '--errors', '-h', '127.0.0.1', '-p', String(port), spec], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (b: Buffer) => {
    out += b.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const target = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (!running) throw new Error(`Prism exited before listening on ${target}:\n${out}`);
    // Any HTTP answer (Prism's 404 for an unknown path included) means it has loaded the document.
    if (
      await fetch(target).then(
        () => true,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Prism did not answer on ${target} within ${opts.startTimeoutMs ?? 60_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  let front: Server;
  const mock: PrismMock = {
    url: '',
    prefer: undefined,
    last: undefined,
    output: () => out,
    async stop() {
      await new Promise<void>((resolve) => {
        front.closeAllConnections();
        front.close(() => resolve());
      });
      if (running) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  front = createServer((req, res) => {
    const headers = { ...req.headers, ...(mock.prefer ? { prefer: mock.prefer } : {}) };
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        mock.last = { status: answer.statusCode ?? 502, body: body.toString('utf8') };
        res.writeHead(answer.statusCode ?? 502, answer.headers).end(body);
      });
    });
    upstream.on('error', (err) => res.writeHead(502).end(`Prism unreachable: ${err.message}`));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, '127.0.0.1', () => resolve());
  });
  (mock as { url: string }).url = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
  return mock;
}

/**
 * Prism's 422 body: what the request broke, one line per violation (`body.template.language: …
 * 'policy'`), deepest location first: a `oneOf` (Meta's Message) also reports every branch the
 * request was never meant for, at the top level.
 */
export function prismViolations(json: unknown): string[] {
  const validation = (json as { validation?: { location?: string[]; message?: string }[] } | undefined)?.validation ?? [];
  const sorted = [...validation].sort((a, b) => (b.location?.length ?? 0) - (a.location?.length ?? 0));
  return [...new Set(sorted.map((v) => `${(v.location ?? []).join('.')}: ${v.message ?? '?'}`))];
}

/** An OpenAPI document (YAML or JSON) as plain data, to read its examples. */
export function readOpenApi(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8');
  return (path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: -1 })) as Record<string, unknown>;
}
