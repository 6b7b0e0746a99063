import {
  type Config,
  defaultSenderId,
  describeClosedWindow,
  type ServiceWindows,
  type TemplateDocument,
  type TemplateProviders,
  type WindowState,
  windowEnforced,
} from '@herald/shared';

/**
 * How one message goes out with respect to the recipient's 24-hour window, decided when it is
 * sent (the window may have closed since accept; a scheduled message is decided at its send_at):
 * - `as-mapped`: as before the window existed: the provider template when the template has a
 *   mapping for the provider, else the text;
 * - `text`: the rendered text, leaving the mapping aside (prefer_text_in_window, window open);
 * - `refuse`: text only, window closed: a permanent failure without a provider round trip.
 * `note` goes on the message's timeline with the `sent` event.
 */
export type WindowChoice =
  | { form: 'as-mapped' | 'text'; note: string | null }
  | { form: 'refuse'; code: 'outside_service_window'; message: string };

export async function chooseForm(
  deps: { config: Pick<Config, 'SERVICE_WINDOW_PROVIDERS'>; windows?: Pick<ServiceWindows, 'state'> | undefined },
  input: {
    provider: string;
    template: Pick<TemplateDocument, 'type' | 'providers' | 'prefer_text_in_window'>;
    phone: string;
    sender?: string | undefined;
    now?: Date;
  },
): Promise<WindowChoice> {
  const { provider, template } = input;
  const mapped = template.providers?.[provider as keyof TemplateProviders] !== undefined;
  const enforced = windowEnforced(deps.config, provider);
  if (!deps.windows || (mapped && !template.prefer_text_in_window)) return { form: 'as-mapped', note: null };
  if (!enforced) {
    return mapped
      ? { form: 'text', note: `sent as text: ${provider} does not enforce the 24 h window` }
      : { form: 'as-mapped', note: null };
  }
  const state: WindowState = await deps.windows.state(input.sender ?? defaultSenderId, input.phone, input.now ?? new Date());
  const until = state.closesAt?.toISOString();
  if (state.open) return { form: mapped ? 'text' : 'as-mapped', note: `sent as text: inside the 24 h window until ${until}` };
  if (mapped) return { form: 'as-mapped', note: `sent as template: outside the 24 h window (${describeClosedWindow(state)})` };
  return {
    form: 'refuse',
    code: 'outside_service_window',
    message: `not sent: template ${template.type} can only go as free-form text and ${describeClosedWindow(state)}; ${provider} would refuse it (give the template a ${provider} mapping)`,
  };
}

/** The mappings the adapter sees: without the provider's own when the text is to go instead. */
export function providersFor(choice: WindowChoice, providers: TemplateProviders, provider: string): TemplateProviders {
  if (choice.form !== 'text') return providers;
  const { [provider as keyof TemplateProviders]: _left, ...rest } = providers;
  return rest;
}
