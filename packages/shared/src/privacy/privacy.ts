/** What an erasure touched, per kind of record. */
export interface ErasureReport {
  phone_redacted: string;
  messages_anonymised: number;
  jobs_removed: number;
  settings_removed: number;
  orphan_events_removed: number;
  callbacks_removed: number;
  webhook_jobs_removed: number;
}

/** The placeholder that replaces an erased phone number. */
export const erasedPhone = 'erased';

/** `+919876543210` → `+91******3210`: enough to recognise in a report, not to contact. */
export const redactPhone = (phone: string): string =>
  phone.length > 7 ? `${phone.slice(0, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}` : '***';
