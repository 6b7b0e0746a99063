import { describe, expect, it } from 'vitest';
import {
  compileTemplate,
  defaultTemplates,
  deriveVariables,
  type RenderContext,
  TemplateCache,
  TemplateCompileError,
  TemplateRenderError,
} from '../src/index.ts';

/** A context that supplies every variable of a template, each as `<name>-value`. */
const contextFor = (variables: readonly string[]): RenderContext => Object.fromEntries(variables.map((v) => [v, `${v}-value`]));

function renderError(fn: () => unknown): TemplateRenderError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateRenderError);
    return err as TemplateRenderError;
  }
  throw new Error('expected a TemplateRenderError');
}

describe('default templates', () => {
  it('are the eleven of SPEC 6', () => {
    expect(defaultTemplates.map((t) => t.type).sort()).toEqual(
      [
        'churn_risk',
        'delivery_confirmed',
        'delivery_delayed',
        'delivery_reminder',
        'new_product',
        'order_confirmation',
        'pause_confirmation',
        'payment_confirmation',
        'payment_reminder',
        'subscription_confirmation',
        'system_alert',
      ].sort(),
    );
  });

  it.each(defaultTemplates.map((t) => [t.type, t] as const))('%s: derived variables equal its variables list', (_type, template) => {
    expect([...deriveVariables(template.content)].sort()).toEqual([...template.variables].sort());
  });

  it.each(defaultTemplates.map((t) => [t.type, t] as const))('%s renders with its variables and keeps its symbols', (_type, template) => {
    const text = compileTemplate(template.type, 1, template.content).render(contextFor(template.variables), 'Acme Dairy');
    for (const v of template.variables) expect(text).toContain(`${v}-value`);
    expect(text).not.toContain('{{');
    // ₹, ✓, emoji survive unchanged (the seeds garbled them).
    const symbols = template.content.match(/[^\p{ASCII}]+/gu) ?? [];
    for (const s of symbols) expect(text).toContain(s);
  });

  it('renders the SPEC example exactly, brand_name included', () => {
    const t = compileTemplate(
      'delivery_reminder',
      1,
      'Hi {{customer_name}}, your {{brand_name}} delivery is scheduled for {{delivery_date}}.',
    );
    expect(t.variables).toEqual(['customer_name', 'delivery_date']);
    expect(t.render({ customer_name: 'Asha', delivery_date: '2026-02-01' }, 'Acme Dairy')).toBe(
      'Hi Asha, your Acme Dairy delivery is scheduled for 2026-02-01.',
    );
    const payment = defaultTemplates.find((t) => t.type === 'payment_confirmation');
    if (!payment) throw new Error('payment_confirmation missing');
    expect(compileTemplate(payment.type, 1, payment.content).render({ amount: 450, period: 'January', payment_method: 'UPI' }, 'X')).toBe(
      '✓ Payment received! ₹450 for January via UPI.',
    );
  });
});

describe('deriveVariables', () => {
  it('lists each variable once, in order of first use, without brand_name', () => {
    expect(deriveVariables('{{b}} {{brand_name}} {{a}} {{b}}')).toEqual(['b', 'a']);
  });

  it('finds variables inside if/unless/else blocks and helper parameters', () => {
    expect(deriveVariables('{{#if vip}}Dear {{name}}{{else}}Hi {{nick}}{{/if}}{{#unless paid}}!{{/unless}}')).toEqual([
      'vip',
      'name',
      'nick',
      'paid',
    ]);
  });

  it('ignores @data variables and this', () => {
    expect(deriveVariables('{{@root.x}}{{this}} {{y}}')).toEqual(['y']);
  });

  it('a template that does not parse is a TemplateCompileError', () => {
    expect(() => deriveVariables('Hi {{name')).toThrow(TemplateCompileError);
  });
});

describe('rendering', () => {
  it('makes brand_name available without the caller supplying it', () => {
    const t = compileTemplate('x', 1, '{{brand_name}}: {{msg}}');
    expect(t.variables).toEqual(['msg']);
    expect(t.render({ msg: 'hello' }, 'Acme')).toBe('Acme: hello');
  });

  it('the configured brand wins over a brand_name in the context', () => {
    expect(compileTemplate('x', 1, '{{brand_name}}').render({ brand_name: 'Spoof' }, 'Acme')).toBe('Acme');
  });

  it('does no HTML escaping: &, <, >, quotes, backticks and = are kept', () => {
    const value = `Tom & Jerry <b>"quoted"</b> 'single' \`tick\` a=b`;
    const t = compileTemplate('x', 1, 'Note: {{note}}');
    expect(t.render({ note: value }, 'B')).toBe(`Note: ${value}`);
    // The template's own text is not escaped either.
    expect(compileTemplate('y', 1, 'A & B <"{{v}}">').render({ v: 'c' }, 'B')).toBe('A & B <"c">');
  });

  it('strips control characters from values but keeps newlines and tabs', () => {
    const t = compileTemplate('x', 1, '[{{v}}]');
    expect(t.render({ v: 'a\u0000b\u0007c\u001bd\u007fe\nf\tg\u000bh\u000ci' }, 'B')).toBe('[abcde\nf\tghi]');
  });

  it('keeps the template text itself, newlines included', () => {
    expect(compileTemplate('x', 1, 'Line 1\nLine {{n}}').render({ n: 2 }, 'B')).toBe('Line 1\nLine 2');
  });

  it('renders numbers and booleans as text', () => {
    expect(compileTemplate('x', 1, '{{n}} {{f}} {{t}}').render({ n: 12.5, f: false, t: true }, 'B')).toBe('12.5 false true');
  });

  it('a missing variable is a TemplateRenderError naming it', () => {
    const t = compileTemplate('order_confirmation', 1, 'Order #{{order_id}} on {{delivery_date}}, ₹{{total_amount}}');
    const err = renderError(() => t.render({ order_id: 'A1' }, 'B'));
    expect(err.code).toBe('variable_missing');
    expect(err.message).toContain('delivery_date');
    expect(err.message).toContain('total_amount');
    expect(err.message).not.toContain('order_id');
  });

  it('an empty string supplies a variable', () => {
    expect(compileTemplate('x', 1, '[{{v}}]').render({ v: '' }, 'B')).toBe('[]');
  });

  it('extra context keys are ignored', () => {
    expect(compileTemplate('x', 1, '{{a}}').render({ a: '1', unused: 'zzz' }, 'B')).toBe('1');
  });

  it.each([
    ['an unclosed mustache', 'Hi {{name'],
    ['an unclosed block', '{{#if a}}yes'],
    ['a mismatched block', '{{#if a}}x{{/each}}'],
    ['a partial', 'Hi {{> footer}}'],
    ['an unknown helper', '{{shout name}}'],
  ])('a template with %s does not compile: TemplateCompileError', (_what, content) => {
    let error: unknown;
    try {
      compileTemplate('bad', 1, content);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TemplateCompileError);
    expect((error as TemplateCompileError).code).toBe('template_invalid');
    expect((error as Error).message.length).toBeGreaterThan(0);
  });
});

describe('prototype safety', () => {
  const harmful = /function|native code|\[object|prototype|process|require/i;

  it.each([
    '{{constructor.constructor}}',
    '{{__proto__}}',
    '{{__proto__.constructor}}',
    '{{v.constructor}}',
    '{{v.constructor.constructor}}',
    '{{v.__proto__}}',
    '{{v.__defineGetter__}}',
    '{{lookup v "constructor"}}',
    '{{#with v}}{{constructor.name}}{{/with}}',
  ])('%s renders nothing harmful', (content) => {
    const t = compileTemplate('x', 1, content);
    // Whatever the template reads, the caller supplies it as plain strings.
    const context: RenderContext = { v: 'value', ...contextFor(t.variables) };
    const out = t.render(context, 'B');
    expect(out).not.toMatch(harmful);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('{{constructor}} with no such context key is a missing variable, not Object.prototype.constructor', () => {
    const t = compileTemplate('x', 1, '[{{constructor}}]');
    const err = renderError(() => t.render({}, 'B'));
    expect(err.message).toContain('constructor');
  });

  it('context keys __proto__ and constructor are plain data and pollute nothing', () => {
    // JSON.parse makes "__proto__" an own key, the way a request body arrives.
    const context = JSON.parse('{"__proto__":"p","constructor":"c","name":"Asha","polluted":"no"}') as RenderContext;
    const t = compileTemplate('x', 1, '{{name}}|{{constructor}}|{{__proto__}}');
    expect(t.render(context, 'B')).toBe('Asha|c|p');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('a __proto__ object in the context does not leak into other lookups', () => {
    const context = JSON.parse('{"__proto__":{"secret":"leak"},"name":"Asha"}') as RenderContext;
    const t = compileTemplate('x', 1, '{{name}}{{#if secret}}LEAK{{/if}}');
    // `secret` is a variable the context does not supply itself.
    expect(() => t.render(context, 'B')).toThrow(TemplateRenderError);
    expect(compileTemplate('y', 1, '{{name}}').render(context, 'B')).toBe('Asha');
    expect(({} as Record<string, unknown>).secret).toBeUndefined();
  });
});

describe('TemplateCache', () => {
  it('compiles once per (type, version): the same object comes back', () => {
    const cache = new TemplateCache();
    const a = cache.get('greet', 1, 'Hi {{name}}');
    const b = cache.get('greet', 1, 'Hi {{name}}');
    expect(b).toBe(a);
    expect(a.render({ name: 'Asha' }, 'B')).toBe('Hi Asha');
  });

  it('a new version replaces the old one', () => {
    const cache = new TemplateCache();
    const v1 = cache.get('greet', 1, 'Hi {{name}}');
    const v2 = cache.get('greet', 2, 'Hello {{name}} from {{city}}');
    expect(v2).not.toBe(v1);
    expect(v2.version).toBe(2);
    expect(v2.variables).toEqual(['name', 'city']);
    expect(v2.render({ name: 'Asha', city: 'Pune' }, 'B')).toBe('Hello Asha from Pune');
    expect(cache.get('greet', 2, 'ignored: cached')).toBe(v2);
    // v1 was dropped: asking for it again compiles afresh.
    expect(cache.get('greet', 1, 'Hi {{name}}')).not.toBe(v1);
  });

  it('types are cached independently, even when one name prefixes another', () => {
    const cache = new TemplateCache();
    const pay = cache.get('pay', 1, 'P {{a}}');
    const payReminder = cache.get('pay_reminder', 1, 'R {{b}}');
    cache.get('pay', 2, 'P2 {{a}}');
    expect(cache.get('pay_reminder', 1, 'R {{b}}')).toBe(payReminder);
    expect(cache.get('pay', 2, 'x')).not.toBe(pay);
  });

  it('uses the stored variables list when given', () => {
    const cache = new TemplateCache();
    const t = cache.get('x', 3, 'Hi {{name}}', ['name', 'extra']);
    expect(t.variables).toEqual(['name', 'extra']);
    expect(() => t.render({ name: 'A' }, 'B')).toThrow(/extra/);
  });

  it('a template that does not compile is not cached', () => {
    const cache = new TemplateCache();
    expect(() => cache.get('x', 1, 'Hi {{name')).toThrow(TemplateCompileError);
    expect(() => cache.get('x', 1, 'Hi {{name')).toThrow(TemplateCompileError);
  });
});
