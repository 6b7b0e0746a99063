export { callbackSignatureHeader, verifyCallbackSignature } from './callbacks.ts';
export * from './client.ts';
export type * from './types.ts';
