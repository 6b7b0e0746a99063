import type { Context, MediaAttachment } from '../schemas/message.ts';
import { mediaUrlProblem } from '../security/media-url.ts';
import type { MetaBodyMapping, TemplateProviders } from './defaults.ts';
import { builtinVariables, deriveVariables } from './renderer.ts';

/** One thing wrong, named by its path in the request (`providers.meta.buttons[1].suffix_from`). */
export interface MappingIssue {
  path: string;
  message: string;
}

/** A context key whose value a provider fetches as media, and where the mapping names it. */
interface MediaRef {
  key: string;
  /** What it is used as, for messages: "the Meta header document". */
  use: string;
  /** The value must start with this (a Twilio Content template's fixed media URL prefix). */
  prefix?: string | undefined;
}

const isNamed = (item: MetaBodyMapping): item is { parameter_name: string; from: string } => typeof item !== 'string';

/**
 * What is wrong with a template's provider mappings, given the template's variables: every context
 * key a mapping reads must be a variable of the template (or a builtin), and each mapping must be
 * one the provider can send. Empty when the mappings can be saved.
 */
export function mappingIssues(providers: TemplateProviders, variables: readonly string[]): MappingIssue[] {
  const issues: MappingIssue[] = [];
  const known = new Set<string>([...variables, ...builtinVariables]);
  const ref = (path: string, key: string | undefined) => {
    if (key !== undefined && !known.has(key)) {
      const list = variables.length > 0 ? variables.join(', ') : 'none';
      issues.push({ path, message: `"${key}" is not a variable of this template (its variables: ${list})` });
    }
  };
  const add = (path: string, message: string) => issues.push({ path, message });

  const meta = providers.meta;
  if (meta) {
    const at = 'providers.meta';
    meta.params?.forEach((key, i) => {
      ref(`${at}.params[${i}]`, key);
    });
    if (meta.params && meta.body) add(`${at}.body`, 'give the body parameters either as params (the original form) or as body, not both');
    const body = meta.body ?? [];
    const named = body.filter(isNamed);
    if (named.length > 0 && named.length < body.length) {
      add(`${at}.body`, 'mixes positional and named parameters; a Meta template uses one parameter format');
    }
    const seenNames = new Map<string, number>();
    body.forEach((item, i) => {
      if (isNamed(item)) {
        ref(`${at}.body[${i}].from`, item.from);
        const first = seenNames.get(item.parameter_name);
        if (first !== undefined) add(`${at}.body[${i}].parameter_name`, `"${item.parameter_name}" is already body[${first}]`);
        else seenNames.set(item.parameter_name, i);
      } else ref(`${at}.body[${i}]`, item);
    });

    const header = meta.header;
    if (header?.type === 'text') {
      ref(`${at}.header.text_from`, header.text_from);
      const bodyNamed = named.length > 0;
      const bodyPositional = body.length > named.length || (meta.params?.length ?? 0) > 0;
      if (header.parameter_name === undefined && bodyNamed) {
        add(`${at}.header.parameter_name`, 'is required: the body parameters are named, so the template uses named parameters');
      }
      if (header.parameter_name !== undefined && bodyPositional) {
        add(`${at}.header.parameter_name`, 'must not be given: the body parameters are positional');
      }
    } else if (header) {
      const sources = [header.link_from, header.id_from, header.id].filter((s) => s !== undefined);
      if (sources.length !== 1) add(`${at}.header`, `a ${header.type} header takes exactly one of link_from, id_from or id`);
      ref(`${at}.header.link_from`, header.link_from);
      ref(`${at}.header.id_from`, header.id_from);
      if (header.type === 'document') {
        if (header.filename !== undefined && header.filename_from !== undefined) {
          add(`${at}.header.filename`, 'give filename or filename_from, not both');
        }
        ref(`${at}.header.filename_from`, header.filename_from);
      }
    }

    const indexes = new Map<number, number>();
    let copyCode: number | undefined;
    meta.buttons?.forEach((button, i) => {
      const bat = `${at}.buttons[${i}]`;
      const first = indexes.get(button.index);
      if (first !== undefined) add(`${bat}.index`, `${button.index} is already the index of buttons[${first}]`);
      else indexes.set(button.index, i);
      if (button.type === 'url') ref(`${bat}.suffix_from`, button.suffix_from);
      if (button.type === 'quick_reply') {
        if ((button.payload === undefined) === (button.payload_from === undefined)) {
          add(bat, 'a quick reply takes exactly one of payload or payload_from');
        }
        ref(`${bat}.payload_from`, button.payload_from);
      }
      if (button.type === 'copy_code') {
        // Meta: "Templates are limited to one copy code button."
        if (copyCode !== undefined) add(bat, `a template has at most one copy code button (buttons[${copyCode}] is one)`);
        else copyCode = i;
        ref(`${bat}.coupon_code_from`, button.coupon_code_from);
      }
    });
  }

  const twilio = providers.twilio;
  if (twilio) {
    const at = 'providers.twilio';
    for (const [n, key] of Object.entries(twilio.variables)) ref(`${at}.variables.${n}`, key);
    if (twilio.media) {
      if (Object.hasOwn(twilio.variables, twilio.media.variable)) {
        add(`${at}.media.variable`, `"${twilio.media.variable}" is also in variables; a Content variable has one value`);
      }
      ref(`${at}.media.url_from`, twilio.media.url_from);
      const problem = twilio.media.url_prefix !== undefined ? mediaUrlProblem(twilio.media.url_prefix) : undefined;
      if (problem) add(`${at}.media.url_prefix`, problem);
    }
  }

  providers.myoperator?.params.forEach((key, i) => {
    ref(`providers.myoperator.params[${i}]`, key);
  });
  return issues;
}

/** The context keys each mapping sends as a media link (checked when a message is accepted). */
function mediaRefs(providers: TemplateProviders): MediaRef[] {
  const refs: MediaRef[] = [];
  const header = providers.meta?.header;
  if (header && header.type !== 'text' && header.link_from !== undefined) {
    refs.push({ key: header.link_from, use: `the Meta header ${header.type}` });
  }
  const media = providers.twilio?.media;
  if (media) refs.push({ key: media.url_from, use: `Twilio content variable ${media.variable}`, prefix: media.url_prefix });
  return refs;
}

/**
 * What is wrong with a message's media, checked when it is accepted (from the in-memory template,
 * no database): every context value a mapping sends as a media link must be a public https URL
 * (whichever provider is configured, so that switching providers never turns an accepted message
 * into a failure), and an attachment goes only where it can: on a text message of a provider that
 * takes attachments.
 */
export function messageMediaIssues(input: {
  providers: TemplateProviders;
  context: Context;
  media?: MediaAttachment | undefined;
  /** The provider the message will go through. */
  provider: string;
  /** The template's type, for messages. */
  type: string;
}): MappingIssue[] {
  const issues: MappingIssue[] = [];
  for (const ref of mediaRefs(input.providers)) {
    const value = input.context[ref.key];
    if (value === undefined) continue; // a missing variable is reported on its own
    const path = `context.${ref.key}`;
    const problem = typeof value === 'string' ? mediaUrlProblem(value) : 'must be an https URL';
    if (problem) issues.push({ path, message: `${problem} (it is sent as ${ref.use})` });
    else if (ref.prefix !== undefined && !(typeof value === 'string' && value.startsWith(ref.prefix) && value.length > ref.prefix.length)) {
      issues.push({ path, message: `must start with ${ref.prefix}, the fixed part of the media URL of ${ref.use}` });
    }
  }
  if (input.media) {
    if (input.provider === 'myoperator') {
      issues.push({ path: 'media', message: "MyOperator's format for attachments is not public, so Herald sends none through it" });
    } else if (input.providers[input.provider as keyof TemplateProviders]) {
      issues.push({
        path: 'media',
        message: `template ${input.type} is sent as a ${input.provider} template; only a text message carries an attachment (give the template a media header instead)`,
      });
    }
  }
  return issues;
}

/** The variables a saved template declared beyond those its content prints (for its mappings). */
export function declaredVariables(doc: { content: string; variables: readonly string[] }): string[] {
  let printed: string[];
  try {
    printed = deriveVariables(doc.content);
  } catch {
    return [];
  }
  return doc.variables.filter((v) => !printed.includes(v));
}
