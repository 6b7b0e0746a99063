import type { Config } from '../config/config.ts';

/** What an inbound text asks of Herald: to stop (`out`), to start again (`in`), or nothing. */
export type KeywordIntent = 'out' | 'in' | null;

/**
 * Reads an inbound text against the configured keywords (OPT_OUT_KEYWORDS, OPT_IN_KEYWORDS, kept
 * upper-case by the config): the whole text, trimmed, in any case, must be the keyword, so
 * "please stop by tomorrow" changes nothing.
 */
export function keywordIntent(text: string, keywords: Pick<Config, 'OPT_OUT_KEYWORDS' | 'OPT_IN_KEYWORDS'>): KeywordIntent {
  const word = text.trim().toUpperCase();
  if (keywords.OPT_OUT_KEYWORDS.includes(word)) return 'out';
  if (keywords.OPT_IN_KEYWORDS.includes(word)) return 'in';
  return null;
}
