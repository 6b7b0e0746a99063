/** The digits of a phone number: `+91 98765-43210` → `919876543210` (providers' wa_id form). */
export function digitsOf(phone: string): string {
  return phone.replace(/\D/g, '');
}
