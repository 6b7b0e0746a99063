import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { compileTemplate, deriveVariables, messageStatuses, TemplateCompileError, TemplateRenderError } from '@herald/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readSession, type Session, sameOrigin } from '../plugins/session.ts';
import { Html, html, page, when } from './html.ts';

// The console at /console (issue 15): server-rendered pages, htmx for the live template preview,
// uPlot for the per-day chart. Every page reads through the JSON API itself (an in-process
// request carrying a one-minute token of the signed-in person), so roles, tenant scoping and
// validation are exactly the API's: a viewer's resend is the API's 403, not a rule of its own.

type Json = Record<string, unknown> & { [k: string]: unknown };
type Events = { status: string; at: string; source: string; attempt?: number | null; detail?: string | null; reply?: Json }[];

const require = createRequire(import.meta.url);
const asset = (path: string) => readFileSync(require.resolve(path));
const own = (name: string) => readFileSync(new URL(`./assets/${name}`, import.meta.url));

/** Served from this server only (no CDN): the two libraries' own builds and the console's files. */
const assets: Record<string, { body: Buffer; type: string }> = {
  'htmx.min.js': { body: asset('htmx.org/dist/htmx.min.js'), type: 'text/javascript' },
  'uPlot.iife.min.js': { body: asset('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { body: asset('uplot/dist/uPlot.min.css'), type: 'text/css' },
  'console.js': { body: own('console.js'), type: 'text/javascript' },
  'console.css': { body: own('console.css'), type: 'text/css' },
};

const safeMethods = new Set(['GET', 'HEAD']);
const pct = (n: unknown) => (typeof n === 'number' ? `${(n * 100).toFixed(1)} %` : '—');
const ms = (n: unknown) => (typeof n === 'number' ? `${Math.round(n)} ms` : '—');
const time = (iso: unknown) => (typeof iso === 'string' ? iso.replace('T', ' ').slice(0, 19) : '—');
const finalStatuses = new Set(['delivered', 'read', 'failed', 'cancelled', 'suppressed', 'expired']);

declare module 'fastify' {
  interface FastifyRequest {
    session: Session;
  }
}

export default async function consoleRoutes(app: FastifyInstance): Promise<void> {
  app.decorateRequest('session', null as unknown as Session);

  /** The JSON API as the signed-in person. */
  async function api(request: FastifyRequest, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) {
    const { sub, role, tenant } = request.session;
    const token = app.jwt.sign({ sub, role, ...(tenant ? { tenant } : {}) }, { expiresIn: 60 });
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, 'x-request-id': String(request.id) },
      ...(payload ? { payload } : {}),
    });
    return { status: res.statusCode, body: (res.body ? res.json() : {}) as Json };
  }

  const send = (
    reply: FastifyReply,
    request: FastifyRequest,
    title: string,
    section: Parameters<typeof page>[0]['section'],
    body: Html,
    code = 200,
  ) =>
    reply
      .code(code)
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(page({ title, section, who: request.session }, body));

  const problem = (body: Json) => html`<p class="error" role="alert">${String(body.message ?? body.error ?? 'The request failed')}</p>`;

  app.get<{ Params: { name: string } }>('/console/assets/:name', { schema: { hide: true } }, (request, reply) => {
    const found = assets[request.params.name];
    if (!found) return reply.code(404).send({ error: 'not_found', message: 'no such asset' });
    return reply.header('content-type', found.type).header('cache-control', 'public, max-age=3600').send(found.body);
  });

  // Signed in (the session /admin/login made) for every page; same-origin for every change.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/console') || request.url.startsWith('/console/assets/')) return;
    const session = readSession(app, request);
    if (!session) {
      if (safeMethods.has(request.method)) {
        const path = request.url.split('?')[0] ?? '/console';
        return reply
          .code(302)
          .header('location', `/admin/login?next=${encodeURIComponent(path)}`)
          .send();
      }
      return reply.code(401).send({ error: 'unauthorized', message: 'sign in at /admin/login' });
    }
    if (!safeMethods.has(request.method) && !sameOrigin(app, request)) {
      return reply.code(403).send({ error: 'forbidden', message: 'cross-site request refused' });
    }
    request.session = session;
  });

  // Overview ---------------------------------------------------------------------------------------
  app.get('/console', { schema: { hide: true } }, async (request, reply) => {
    const stats = await api(request, 'GET', '/api/notifications/statistics?days=30');
    if (stats.status !== 200) return send(reply, request, 'Overview', 'overview', problem(stats.body), stats.status);
    const s = stats.body as {
      total: number;
      by_status: Record<string, number>;
      rates: Record<string, number | null>;
      latency_ms: { queued_to_sent: { p95: number | null }; sent_to_delivered: { p95: number | null } };
      by_day: { day: string; total: number; by_status: Record<string, number> }[];
      queue: Record<string, number>;
    };
    const series = {
      days: s.by_day.map((d) => d.day),
      sent: s.by_day.map((d) => (d.by_status.sent ?? 0) + (d.by_status.delivered ?? 0) + (d.by_status.read ?? 0)),
      delivered: s.by_day.map((d) => (d.by_status.delivered ?? 0) + (d.by_status.read ?? 0)),
      read: s.by_day.map((d) => d.by_status.read ?? 0),
      failed: s.by_day.map((d) => d.by_status.failed ?? 0),
    };
    const card = (label: string, value: string) => html`<div class="card"><dt>${label}</dt><dd>${value}</dd></div>`;
    return send(
      reply,
      request,
      'Overview',
      'overview',
      html`<dl class="cards">
  ${card('Messages, 30 days', String(s.total))}
  ${card('Delivery rate', pct(s.rates.delivery))}
  ${card('Read rate', pct(s.rates.read))}
  ${card('Queued → sent p95', ms(s.latency_ms.queued_to_sent.p95))}
  ${card('Sent → delivered p95', ms(s.latency_ms.sent_to_delivered.p95))}
  ${card('Queue: waiting / active / delayed / failed', `${s.queue.waiting} / ${s.queue.active} / ${s.queue.delayed} / ${s.queue.failed}`)}
</dl>
<section aria-labelledby="daily">
  <h2 id="daily">Per day: sent, delivered, read, failed</h2>
  <div id="daily-chart" class="chart" role="img" aria-label="Messages sent, delivered, read and failed per day over 30 days; the same figures are in the table below" data-series="${JSON.stringify(series)}"></div>
  <details><summary>The figures as a table</summary>
  <table><thead><tr><th scope="col">Day</th><th scope="col">Sent</th><th scope="col">Delivered</th><th scope="col">Read</th><th scope="col">Failed</th></tr></thead>
  <tbody>${series.days.map(
    (day, i) =>
      html`<tr><th scope="row">${day}</th><td>${series.sent[i]}</td><td>${series.delivered[i]}</td><td>${series.read[i]}</td><td>${series.failed[i]}</td></tr>`,
  )}</tbody></table></details>
</section>`,
    );
  });

  // Messages ---------------------------------------------------------------------------------------
  const filters = ['phone', 'reference_id', 'status', 'message_type', 'sender', 'from', 'to'] as const;
  app.get('/console/messages', { schema: { hide: true } }, async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const params = new URLSearchParams({ limit: '25' });
    for (const f of filters) {
      const v = q[f]?.trim();
      if (!v) continue;
      // A date range given as days (the form's date fields) covers the whole of the last day.
      params.set(
        f,
        f === 'to' && /^\d{4}-\d\d-\d\d$/.test(v)
          ? `${v}T23:59:59.999Z`
          : f === 'from' && /^\d{4}-\d\d-\d\d$/.test(v)
            ? `${v}T00:00:00Z`
            : v,
      );
    }
    if (q.cursor) params.set('cursor', q.cursor);
    // A search needs at least one filter: the whole history, newest first, is an index scan on
    // MongoDB but a read of every message on FerretDB (a minute over 200,000), and nobody wants
    // to wait on a page they only passed through.
    const searched = [...params.keys()].some((k) => k !== 'limit' && k !== 'cursor');
    const res = searched
      ? await api(request, 'GET', `/api/notifications/history?${params}`)
      : { status: 200, body: { items: [], total: null, next_cursor: null } as Json };
    const items = (res.body.items ?? []) as Json[];
    const next = res.body.next_cursor as string | null | undefined;
    const input = (name: (typeof filters)[number], label: string, type = 'text') =>
      html`<div class="field"><label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" type="${type}" value="${q[name] ?? ''}"></div>`;
    const nextParams = new URLSearchParams(
      Object.entries(q).filter((e): e is [string, string] => typeof e[1] === 'string' && e[0] !== 'cursor'),
    );
    if (next) nextParams.set('cursor', next);
    return send(
      reply,
      request,
      'Messages',
      'messages',
      html`<form method="get" action="/console/messages" class="search" role="search" aria-label="Find messages">
  ${input('phone', 'Phone (any format)', 'search')}
  ${input('reference_id', 'Reference id')}
  <div class="field"><label for="f-status">Status</label><select id="f-status" name="status"><option value="">any</option>${messageStatuses.map(
    (st) => html`<option${q.status === st ? new Html(' selected') : ''}>${st}</option>`,
  )}</select></div>
  ${input('message_type', 'Type')}
  ${input('sender', 'Sender')}
  ${input('from', 'From', 'date')}
  ${input('to', 'To', 'date')}
  <div class="field"><button type="submit">Search</button></div>
</form>
${res.status === 200 ? '' : problem(res.body)}
<p class="count" aria-live="polite">${
        !searched
          ? 'Find messages by phone, reference, status, type, sender or dates.'
          : res.status === 200
            ? `${String(res.body.total ?? items.length)} messages`
            : ''
      }</p>
<div class="scroll"><table class="list">
<thead><tr><th scope="col">Created</th><th scope="col">Phone</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Sender</th><th scope="col">Reference</th></tr></thead>
<tbody>${items.map(
        (m) =>
          html`<tr><td>${time(m.created_at)}</td><td><a href="/console/messages/${String(m.id)}">${String(m.phone)}</a></td><td>${String(m.message_type)}</td><td><span class="status s-${String(m.status)}">${String(m.status)}</span></td><td>${String(m.sender ?? '')}</td><td>${String(m.reference_id ?? '')}</td></tr>`,
      )}</tbody></table></div>
${when(next, html`<p><a class="button" href="/console/messages?${nextParams.toString()}">Next page</a></p>`)}`,
      res.status === 200 ? 200 : res.status,
    );
  });

  app.get<{ Params: { id: string } }>('/console/messages/:id', { schema: { hide: true } }, async (request, reply) => {
    const res = await api(request, 'GET', `/api/notifications/messages/${encodeURIComponent(request.params.id)}`);
    if (res.status !== 200) return send(reply, request, 'Message', 'messages', problem(res.body), res.status);
    const m = res.body;
    const events = (m.events ?? []) as Events;
    const admin = request.session.role === 'admin';
    const done = (request.query as { done?: string }).done;
    const failed = (request.query as { failed?: string }).failed;
    const fields: Array<[string, unknown]> = [
      ['Id', m.id],
      ['Phone', m.phone],
      ['Type', m.message_type],
      ['Status', m.status],
      ['Sender', m.sender],
      ['Sent by (failover)', m.sent_by],
      ['Provider', m.provider],
      ['Provider id', m.provider_message_id],
      ['Reference', m.reference_id],
      ['Attempts', m.attempts],
      ['Created', time(m.created_at)],
      ['Sent', time(m.sent_at)],
      ['Delivered', time(m.delivered_at)],
      ['Read', time(m.read_at)],
    ];
    const error = m.error as { code?: string; message?: string } | null;
    return send(
      reply,
      request,
      `Message ${String(m.phone)}`,
      'messages',
      html`${when(done, html`<p class="notice" role="status">${done === 'resent' ? 'Queued again.' : 'Cancelled.'}</p>`)}
${when(failed, html`<p class="error" role="alert">${failed ?? ''}</p>`)}
<dl class="fields">${fields.filter(([, v]) => v !== null && v !== undefined && v !== '—').map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl>
${when(error, html`<p class="error">Provider error <code>${error?.code ?? ''}</code>: ${error?.message ?? ''}</p>`)}
<section aria-labelledby="text"><h2 id="text">Text</h2><pre class="text">${String(m.message_text ?? '(no text sent)')}</pre></section>
<section aria-labelledby="timeline"><h2 id="timeline">Timeline</h2>
<ol class="timeline">${events.map(
        (e) =>
          html`<li class="ev ev-${e.status}"><span class="st">${e.status}</span> <time datetime="${e.at}">${time(e.at)}</time> <span class="src">${e.source}${e.attempt ? ` · attempt ${e.attempt}` : ''}</span>${when(e.detail, html`<div class="detail">${e.detail ?? ''}</div>`)}${when(e.reply, html`<div class="detail">reply: ${String((e.reply as Json | undefined)?.title ?? '')}</div>`)}</li>`,
      )}</ol></section>
${when(
  admin,
  html`<div class="actions">
${when(m.status === 'failed', html`<form method="post" action="/console/messages/${String(m.id)}/resend"><button type="submit">Resend</button></form>`)}
${when(m.status === 'queued' || m.status === 'scheduled', html`<form method="post" action="/console/messages/${String(m.id)}/cancel"><button type="submit" class="danger">Cancel</button></form>`)}
</div>`,
)}
${when(!admin && !finalStatuses.has(String(m.status)), html`<p class="muted">Viewers can look but not change messages.</p>`)}`,
    );
  });

  for (const action of ['resend', 'cancel'] as const) {
    app.post<{ Params: { id: string } }>(`/console/messages/:id/${action}`, { schema: { hide: true } }, async (request, reply) => {
      const id = encodeURIComponent(request.params.id);
      const res =
        action === 'resend'
          ? await api(request, 'POST', `/api/notifications/resend/${id}`)
          : await api(request, 'DELETE', `/api/notifications/messages/${id}`);
      if (res.status >= 400) {
        if (res.status === 403) return send(reply, request, 'Not allowed', 'messages', problem(res.body), 403);
        return reply
          .code(303)
          .header('location', `/console/messages/${id}?failed=${encodeURIComponent(String(res.body.message ?? res.status))}`)
          .send();
      }
      const target = action === 'resend' ? String(res.body.id ?? request.params.id) : request.params.id;
      return reply
        .code(303)
        .header('location', `/console/messages/${encodeURIComponent(target)}?done=${action === 'resend' ? 'resent' : 'cancelled'}`)
        .send();
    });
  }

  // Templates --------------------------------------------------------------------------------------
  app.get('/console/templates', { schema: { hide: true } }, async (request, reply) => {
    const res = await api(request, 'GET', '/api/notifications/templates');
    const items = (res.body.items ?? []) as Json[];
    return send(
      reply,
      request,
      'Templates',
      'templates',
      html`${res.status === 200 ? '' : problem(res.body)}<div class="scroll"><table class="list">
<thead><tr><th scope="col">Type</th><th scope="col">Version</th><th scope="col">Active</th><th scope="col">Category</th><th scope="col">Meta status</th><th scope="col">Quality</th><th scope="col">Updated</th></tr></thead>
<tbody>${items.map((t) => {
        const ps = t.provider_status as { status?: string; quality?: string } | null;
        return html`<tr><td><a href="/console/templates/${String(t.type)}">${String(t.type)}</a></td><td>${String(t.version)}</td><td>${t.active ? 'yes' : 'no'}</td><td>${String(t.category)}</td><td>${ps?.status ?? '—'}</td><td>${ps?.quality ?? '—'}</td><td>${time(t.updated_at)}</td></tr>`;
      })}</tbody></table></div>`,
    );
  });

  const sampleContext = (variables: string[]) => Object.fromEntries(variables.map((v) => [v, `<${v}>`]));

  app.get<{ Params: { type: string } }>('/console/templates/:type', { schema: { hide: true } }, async (request, reply) => {
    const type = encodeURIComponent(request.params.type);
    const [res, versions] = await Promise.all([
      api(request, 'GET', `/api/notifications/templates/${type}`),
      api(request, 'GET', `/api/notifications/templates/${type}/versions`),
    ]);
    if (res.status !== 200) return send(reply, request, 'Template', 'templates', problem(res.body), res.status);
    const t = res.body;
    const admin = request.session.role === 'admin';
    const q = request.query as { saved?: string; failed?: string };
    const context = JSON.stringify(sampleContext((t.variables as string[]) ?? []), null, 1);
    return send(
      reply,
      request,
      `Template ${String(t.type)}`,
      'templates',
      html`${when(q.saved, html`<p class="notice" role="status">Saved as version ${q.saved ?? ''}.</p>`)}
${when(q.failed, html`<p class="error" role="alert">${q.failed ?? ''}</p>`)}
<form method="post" action="/console/templates/${String(t.type)}" class="editor" hx-post="/console/templates/${String(t.type)}/preview" hx-trigger="load, input delay:250ms" hx-target="#preview" hx-swap="innerHTML">
  <div class="field"><label for="content">Content (Handlebars)</label>
  <textarea id="content" name="content" rows="8"${admin ? '' : new Html(' readonly')}>${String(t.content)}</textarea></div>
  <div class="field"><label for="context">Sample context (JSON)</label>
  <textarea id="context" name="context" rows="4">${context}</textarea></div>
  ${when(admin, html`<button type="submit">Save as a new version</button>`)}
</form>
<section aria-labelledby="pv"><h2 id="pv">Preview</h2><div id="preview" aria-live="polite"></div></section>
<section aria-labelledby="vs"><h2 id="vs">Versions</h2><ol class="versions">${((versions.body.items ?? []) as Json[]).map(
        (v) =>
          html`<li><strong>v${String(v.version)}</strong> ${time(v.updated_at)} ${String(v.updated_by ?? '')}<pre>${String(v.content)}</pre>${when(
            admin && v.version !== t.version,
            html`<form method="post" action="/console/templates/${String(t.type)}/rollback"><input type="hidden" name="version" value="${String(v.version)}"><button type="submit">Roll back to v${String(v.version)}</button></form>`,
          )}</li>`,
      )}</ol></section>`,
    );
  });

  // The live preview: the draft compiled and rendered here (nothing is saved), its error inline.
  app.post<{ Params: { type: string } }>('/console/templates/:type/preview', { schema: { hide: true } }, async (request, reply) => {
    const body = (request.body ?? {}) as { content?: string; context?: string };
    let out: Html;
    try {
      let context: Record<string, string | number | boolean> = {};
      try {
        context = body.context ? JSON.parse(body.context) : {};
      } catch {
        throw new TemplateRenderError('render_failed', 'the sample context is not valid JSON');
      }
      const content = String(body.content ?? '');
      const compiled = compileTemplate(request.params.type, 0, content, deriveVariables(content));
      const text = compiled.render(context, app.config.BRAND_NAME);
      out = html`<pre class="text" data-preview="ok">${text}</pre><p class="muted">${text.length} characters</p>`;
    } catch (err) {
      if (!(err instanceof TemplateCompileError || err instanceof TemplateRenderError)) throw err;
      out = html`<p class="error" role="alert" data-preview="error">${err.message}</p>`;
    }
    return reply.header('content-type', 'text/html; charset=utf-8').send(out.value);
  });

  async function saveTemplate(request: FastifyRequest, reply: FastifyReply, content: string) {
    const type = encodeURIComponent((request.params as { type: string }).type);
    const current = await api(request, 'GET', `/api/notifications/templates/${type}`);
    const t = current.body;
    const res = await api(request, 'PUT', `/api/notifications/templates/${type}`, {
      content,
      ...(current.status === 200 ? { active: t.active, category: t.category, providers: t.providers } : {}),
    });
    if (res.status === 403) return send(reply, request, 'Not allowed', 'templates', problem(res.body), 403);
    const to =
      res.status < 300
        ? `/console/templates/${type}?saved=${String(res.body.version)}`
        : `/console/templates/${type}?failed=${encodeURIComponent(String(res.body.message ?? res.status))}`;
    return reply.code(303).header('location', to).send();
  }

  app.post<{ Params: { type: string } }>('/console/templates/:type', { schema: { hide: true } }, async (request, reply) =>
    saveTemplate(request, reply, String((request.body as { content?: string } | undefined)?.content ?? '')),
  );

  app.post<{ Params: { type: string } }>('/console/templates/:type/rollback', { schema: { hide: true } }, async (request, reply) => {
    const version = Number((request.body as { version?: string } | undefined)?.version);
    const versions = await api(request, 'GET', `/api/notifications/templates/${encodeURIComponent(request.params.type)}/versions`);
    const found = ((versions.body.items ?? []) as Json[]).find((v) => v.version === version);
    if (!found) return send(reply, request, 'Template', 'templates', problem({ message: `no version ${version}` }), 404);
    return saveTemplate(request, reply, String(found.content));
  });

  // Senders ----------------------------------------------------------------------------------------
  app.get('/console/senders', { schema: { hide: true } }, async (request, reply) => {
    const res = await api(request, 'GET', '/api/v1/admin/senders');
    const items = (res.body.items ?? []) as Json[];
    return send(
      reply,
      request,
      'Senders',
      'senders',
      html`${res.status === 200 ? '' : problem(res.body)}<p class="muted">Credentials and webhook secrets are never shown.</p><div class="scroll"><table class="list">
<thead><tr><th scope="col">Sender</th><th scope="col">Provider</th><th scope="col">Tenant</th><th scope="col">Pace (msg/s)</th><th scope="col">Breaker</th><th scope="col">Last webhook</th><th scope="col">Fallback</th><th scope="col">State</th></tr></thead>
<tbody>${items.map((s) => {
        const b = s.breaker as { state?: string; failures?: number; retry_at?: string | null; last_error?: string | null } | null;
        return html`<tr><td>${String(s.label)}<br><code>${String(s.id)}</code></td><td>${String(s.provider)}</td><td>${String(s.tenant ?? '—')}</td><td>${String(s.mps)}</td><td><span class="breaker b-${b?.state ?? 'unknown'}">${b?.state ?? 'unknown'}</span>${when(b && (b.failures ?? 0) > 0, ` · ${b?.failures} failures`)}${when(b?.retry_at, ` · probe at ${time(b?.retry_at)}`)}${when(b?.last_error, ` · last ${b?.last_error}`)}</td><td>${s.last_webhook_at ? html`<time datetime="${String(s.last_webhook_at)}">${time(s.last_webhook_at)}</time>` : 'none yet'}</td><td>${String(s.fallback ?? '—')}</td><td>${s.disabled ? 'disabled' : 'enabled'}${s.default ? ' · default' : ''}</td></tr>`;
      })}</tbody></table></div>`,
    );
  });
}
