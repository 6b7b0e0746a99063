/**
 * HTML for the console: a tagged template that escapes every interpolated value unless it is
 * markup built the same way (`Html`). Pages are built from these and nothing else, so no value a
 * user or a provider supplied (a message text, a provider's error, a template) reaches the page
 * unescaped.
 */
export class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => entities[c] as string);

type Value = Html | string | number | boolean | null | undefined | Value[];

function render(value: Value): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as Value) + (strings[i + 1] ?? '');
  return new Html(out);
}

export interface PageOptions {
  title: string;
  /** Which nav entry is current. */
  section: 'overview' | 'messages' | 'templates' | 'senders';
  who: { sub: string; role: string; tenant?: string | undefined };
}

const nav: Array<[PageOptions['section'], string, string]> = [
  ['overview', '/console', 'Overview'],
  ['messages', '/console/messages', 'Messages'],
  ['templates', '/console/templates', 'Templates'],
  ['senders', '/console/senders', 'Senders'],
];

/** The page frame: landmarks, a skip link, the navigation and who is signed in. Assets come from this server only. */
export function page(opts: PageOptions, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} — Herald console</title>
<link rel="stylesheet" href="/console/assets/uPlot.min.css">
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/htmx.min.js" defer></script>
<script src="/console/assets/uPlot.iife.min.js" defer></script>
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <span class="brand">Herald</span>
  <nav aria-label="Console">
    <ul>${nav.map(
      ([key, href, label]) => html`<li><a href="${href}"${key === opts.section ? new Html(' aria-current="page"') : ''}>${label}</a></li>`,
    )}</ul>
  </nav>
  <form method="post" action="/admin/logout" class="who">
    <span>${opts.who.sub} · ${opts.who.role}${opts.who.tenant ? ` · ${opts.who.tenant}` : ''}</span>
    <button type="submit">Sign out</button>
  </form>
</header>
<main id="main" tabindex="-1">
<h1>${opts.title}</h1>
${body}
</main>
</body>
</html>`.value;
}

export const when = (cond: unknown, value: Html | string): Html | string => (cond ? value : '');
