import Handlebars from 'handlebars';

/** Names every template may use without the caller supplying them. */
export const builtinVariables = ['brand_name'] as const;

const builtinHelpers = new Set(['if', 'unless', 'each', 'with', 'lookup']);

export class TemplateCompileError extends Error {
  readonly code = 'template_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'TemplateCompileError';
  }
}

export class TemplateRenderError extends Error {
  readonly code: 'variable_missing' | 'render_failed';
  constructor(code: 'variable_missing' | 'render_failed', message: string) {
    super(message);
    this.name = 'TemplateRenderError';
    this.code = code;
  }
}

// An isolated Handlebars environment: no helper registered elsewhere in the process (and none
// that reaches the file system or the process) is visible to templates. Prototype access stays at Handlebars'
// default (disabled), so `{{constructor.constructor}}` renders nothing.
const hbs = Handlebars.create();
// `log` writes to the process's console: a template must not reach the process at all.
hbs.unregisterHelper('log');

type Node = hbs.AST.Node;

/** The variables a template reads, in order of first use, builtins excluded. */
export function deriveVariables(content: string): string[] {
  let ast: hbs.AST.Program;
  try {
    ast = hbs.parse(content);
  } catch (err) {
    throw new TemplateCompileError((err as Error).message.split('\n')[0] ?? 'does not parse');
  }
  const found: string[] = [];
  const add = (name: string) => {
    if (!found.includes(name) && !(builtinVariables as readonly string[]).includes(name)) found.push(name);
  };
  const visitPath = (node: Node) => {
    if (node.type !== 'PathExpression') return;
    const path = node as hbs.AST.PathExpression;
    if (path.data || path.original === 'this' || path.parts.length === 0) return;
    add(path.parts[0] as string);
  };
  const visitParams = (params: hbs.AST.Expression[]) => {
    for (const p of params) {
      if (p.type === 'SubExpression') visitCall(p as hbs.AST.SubExpression);
      else visitPath(p);
    }
  };
  const visitCall = (node: hbs.AST.MustacheStatement | hbs.AST.SubExpression | hbs.AST.BlockStatement) => {
    const name = node.path.type === 'PathExpression' ? (node.path as hbs.AST.PathExpression).original : '';
    if (node.params.length === 0 && !builtinHelpers.has(name)) visitPath(node.path);
    visitParams(node.params);
  };
  const visitProgram = (program: hbs.AST.Program | undefined) => {
    for (const stmt of program?.body ?? []) {
      if (stmt.type === 'MustacheStatement') visitCall(stmt as hbs.AST.MustacheStatement);
      else if (stmt.type === 'BlockStatement') {
        const block = stmt as hbs.AST.BlockStatement;
        visitCall(block);
        // Inside each/with the context changes; the flat context of a message has no nesting.
        const name = block.path.type === 'PathExpression' ? (block.path as hbs.AST.PathExpression).original : '';
        if (name !== 'each' && name !== 'with') visitProgram(block.program);
        visitProgram(block.inverse);
      }
    }
  };
  visitProgram(ast);
  return found;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const controlChars = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/** A context value as it may appear in a message: control characters (but newlines, tabs) removed. */
export const cleanValue = (value: string | number | boolean): string | number | boolean =>
  typeof value === 'string' ? value.replace(controlChars, '') : value;

/** Longest template source accepted, in characters. */
export const maxTemplateLength = 16_384;
/**
 * Longest text a render may produce, in characters: far above any provider's limit (Meta 4,096),
 * low enough that a template built to explode (nested each over long values) fails cleanly.
 */
export const maxRenderedLength = 65_536;

export type RenderContext = Record<string, string | number | boolean>;

export interface CompiledTemplate {
  type: string;
  version: number;
  variables: string[];
  render(context: RenderContext, brandName: string): string;
}

/**
 * Compiles once; `render` is then cheap. Output is plain WhatsApp text: nothing is HTML-escaped,
 * and control characters are stripped from context values (newlines and tabs are kept).
 */
export function compileTemplate(type: string, version: number, content: string, variables?: string[]): CompiledTemplate {
  if (content.length > maxTemplateLength) {
    throw new TemplateCompileError(`template is ${content.length} characters, over the limit of ${maxTemplateLength}`);
  }
  const vars = variables ?? deriveVariables(content);
  let fn: HandlebarsTemplateDelegate;
  try {
    fn = hbs.compile(content, { noEscape: true, strict: false, knownHelpersOnly: false });
    // Compilation is lazy in Handlebars; force it so a broken template fails here, not per send.
    fn({});
  } catch (err) {
    throw new TemplateCompileError((err as Error).message.split('\n')[0] ?? 'does not compile');
  }
  return {
    type,
    version,
    variables: vars,
    render(context, brandName) {
      const missing = vars.filter((v) => !Object.hasOwn(context, v));
      if (missing.length > 0) {
        throw new TemplateRenderError('variable_missing', `template ${type} needs ${missing.join(', ')}`);
      }
      // A null-prototype object: context keys like __proto__ or constructor are plain data.
      const data: Record<string, string | number | boolean> = Object.create(null);
      for (const [key, value] of Object.entries(context)) {
        data[key] = cleanValue(value);
      }
      data.brand_name = brandName;
      let text: string;
      try {
        text = fn(data, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
      } catch (err) {
        throw new TemplateRenderError('render_failed', `template ${type}: ${(err as Error).message}`);
      }
      if (text.length > maxRenderedLength) {
        throw new TemplateRenderError(
          'render_failed',
          `template ${type} rendered ${text.length} characters, over the limit of ${maxRenderedLength}`,
        );
      }
      return text;
    },
  };
}

/** Keeps one compiled template per (type, version). */
export class TemplateCache {
  readonly #compiled = new Map<string, CompiledTemplate>();

  get(type: string, version: number, content: string, variables?: string[]): CompiledTemplate {
    const key = `${type}@${version}`;
    let compiled = this.#compiled.get(key);
    if (!compiled) {
      compiled = compileTemplate(type, version, content, variables);
      // Old versions of the same type are not needed once a newer one is compiled.
      for (const k of this.#compiled.keys()) if (k.startsWith(`${type}@`)) this.#compiled.delete(k);
      this.#compiled.set(key, compiled);
    }
    return compiled;
  }
}
