import Handlebars from 'handlebars';
import { describe, expect, it } from 'vitest';
import { compileTemplate, maxRenderedLength, maxTemplateLength, TemplateCompileError, TemplateRenderError } from '../src/index.ts';

const compileError = (content: string) => {
  try {
    compileTemplate('x', 1, content);
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a TemplateCompileError');
};

describe('templates as an attack surface', () => {
  it('no helper reaches the process: log is not available (it writes to the console)', () => {
    expect(compileError('{{log "pwned"}}')).toBeInstanceOf(TemplateCompileError);
  });

  it('helpers registered on the global Handlebars are invisible to templates', () => {
    Handlebars.registerHelper('readFile', () => 'FILE CONTENT');
    try {
      expect(compileError('{{readFile "/etc/passwd"}}')).toBeInstanceOf(TemplateCompileError);
    } finally {
      Handlebars.unregisterHelper('readFile');
    }
  });

  it.each([
    '{{#with constructor}}{{#with constructor}}{{this}}{{/with}}{{/with}}',
    '{{lookup (lookup this "constructor") "constructor"}}',
    '{{#each this}}{{@key}}={{this.constructor.name}};{{/each}}',
    '{{lookup __proto__ "polluted"}}',
  ])('%s yields no function, no prototype data', (content) => {
    const t = compileTemplate('x', 1, content);
    const context = Object.fromEntries(t.variables.map((v) => [v, 'plain']));
    const out = t.render({ ...context, name: 'Asha' }, 'B');
    expect(out).not.toMatch(/function|native code|Function|Object/);
  });

  it('a context whose keys are __proto__/constructor/prototype changes no object', () => {
    const context = JSON.parse('{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}},"name":"x"}');
    const t = compileTemplate('x', 1, '{{name}}');
    expect(t.render(context, 'B')).toBe('x');
    expect(({} as { isAdmin?: boolean }).isAdmin).toBeUndefined();
  });

  it('a template built to render something huge fails cleanly, naming the length', () => {
    const t = compileTemplate('bomb', 1, '{{a}}'.repeat(3000));
    let error: unknown;
    try {
      t.render({ a: 'x'.repeat(1024) }, 'B');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect((error as TemplateRenderError).code).toBe('render_failed');
    expect((error as Error).message).toContain(`rendered ${3000 * 1024} characters, over the limit of ${maxRenderedLength}`);
    // Below the limit it still renders.
    expect(t.render({ a: 'x' }, 'B')).toHaveLength(3000);
  });

  it('a template source over the limit does not compile, naming its length', () => {
    const err = compileError('x'.repeat(maxTemplateLength + 1));
    expect(err).toBeInstanceOf(TemplateCompileError);
    expect(err.message).toContain(`${maxTemplateLength + 1} characters`);
  });
});
