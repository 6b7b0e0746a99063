import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the published spec (or Prism's reading of it) contradicts the provider's own
 * documentation, so that a request the provider accepts would be refused. The specs in
 * contracts/provider-specs stay byte for byte as published; the contract tests serve a corrected
 * copy, and check that each erratum still corrects something (`was` is what the published spec
 * says at `path`): once the provider fixes its spec, that check fails and the erratum goes.
 */
export interface Erratum {
  spec: 'meta' | 'twilio';
  /** Keys from the document's root to the corrected value. */
  path: (string | number)[];
  /** The published value. */
  was: unknown;
  /** The value served to Prism instead. */
  now: unknown;
  /** Why the published value is wrong, with the source that says so. */
  why: string;
}

const metaButtonSubTypes = ['quick_reply', 'url', 'catalog'];
const metaIndexPattern = '^[2-6, 11-14]$';
const indexWhy =
  "Meta's own description of the field says 'Position index of the button (0-9)' and its own example sends index '0'; the pattern (a character class) refuses 0, 1 and 7-9";
const copyCodeWhy =
  "Meta documents coupon code templates sent with a button of sub_type 'copy_code' and a 'coupon_code' parameter (Templates > Marketing templates > Coupon code templates); the spec's enum lacks it";

export const errata: Erratum[] = [
  {
    spec: 'meta',
    path: ['components', 'schemas', 'TemplateComponent', 'properties', 'index', 'pattern'],
    was: metaIndexPattern,
    now: '^[0-9]$',
    why: indexWhy,
  },
  {
    spec: 'meta',
    path: ['components', 'schemas', 'ButtonComponent', 'allOf', 1, 'properties', 'index', 'pattern'],
    was: metaIndexPattern,
    now: '^[0-9]$',
    why: indexWhy,
  },
  {
    spec: 'meta',
    path: ['components', 'schemas', 'TemplateComponent', 'properties', 'sub_type', 'enum'],
    was: metaButtonSubTypes,
    now: [...metaButtonSubTypes, 'copy_code'],
    why: copyCodeWhy,
  },
  {
    spec: 'meta',
    path: ['components', 'schemas', 'ButtonComponent', 'allOf', 1, 'properties', 'sub_type', 'enum'],
    was: metaButtonSubTypes,
    now: [...metaButtonSubTypes, 'copy_code'],
    why: copyCodeWhy,
  },
  {
    spec: 'meta',
    path: ['components', 'schemas', 'BaseMessageProperties', 'properties', 'biz_opaque_callback_data'],
    was: undefined,
    now: { type: 'string', maxLength: 512 },
    why: "Meta documents biz_opaque_callback_data on every message sent to /messages ('an arbitrary string, useful for tracking… included in statuses object within webhook payloads… Maximum 512 characters'); v23.0 lists it only for calls, and its message schemas allow no other property",
  },
  // Not the spec's error but Prism's reading of it: a form array is its name repeated (Twilio takes
  // MediaUrl once per URL), while Prism reads every form field as one string
  // (stoplightio/prism#2473, open) and so refuses any MediaUrl. The corrected schema also takes
  // that string, still checked as a URL.
  {
    spec: 'twilio',
    path: [
      'paths',
      '/2010-04-01/Accounts/{AccountSid}/Messages.json',
      'post',
      'requestBody',
      'content',
      'application/x-www-form-urlencoded',
      'schema',
      'properties',
      'MediaUrl',
      'type',
    ],
    was: 'array',
    now: ['array', 'string'],
    why: 'Prism reads a repeated form field as one string (stoplightio/prism#2473); Twilio takes MediaUrl once per URL',
  },
  {
    spec: 'twilio',
    path: [
      'paths',
      '/2010-04-01/Accounts/{AccountSid}/Messages.json',
      'post',
      'requestBody',
      'content',
      'application/x-www-form-urlencoded',
      'schema',
      'properties',
      'MediaUrl',
      'format',
    ],
    was: undefined,
    now: 'uri',
    why: 'the single MediaUrl Prism reads as a string is still checked as a URL, like the items of the array',
  },
];

/** The value at `path`, or undefined. */
export function valueAt(doc: unknown, path: (string | number)[]): unknown {
  let node = doc;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

/** A corrected copy of `doc` written as JSON to a temporary file (Prism reads JSON and YAML alike); returns its path. */
export function writeCorrectedSpec(doc: Record<string, unknown>, spec: Erratum['spec'], name: string): string {
  const copy = structuredClone(doc);
  for (const erratum of errata.filter((e) => e.spec === spec)) {
    const parent = valueAt(copy, erratum.path.slice(0, -1));
    if (parent === null || typeof parent !== 'object') throw new Error(`erratum path ${erratum.path.join('.')} not found`);
    (parent as Record<string | number, unknown>)[erratum.path.at(-1) as string | number] = erratum.now;
  }
  const file = join(mkdtempSync(join(tmpdir(), 'herald-spec-')), `${name}.json`);
  writeFileSync(file, JSON.stringify(copy));
  return file;
}
