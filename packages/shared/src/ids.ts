import { monotonicFactory } from 'ulid';

const ulid = monotonicFactory();

/** Message ids: `msg_` + a ULID (sortable by creation time). */
export const newMessageId = (): string => `msg_${ulid()}`;

export const messageIdPattern = /^msg_[0-9A-HJKMNP-TV-Z]{26}$/;
export const isMessageId = (value: string): boolean => messageIdPattern.test(value);
