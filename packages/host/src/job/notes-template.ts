import { BpError } from '@bp/api';

/** Values of the notes-template variables. */
export interface NotesVariables {
  guestname: string;
  vmid: number;
  node: string;
  cluster: string;
}

/**
 * Renders a vzdump `notes-template` as PVE's `generate_notes` does: `\\` and `\n` are unescaped
 * (any other escape fails), then `{{guestname}}`, `{{vmid}}`, `{{node}}` and `{{cluster}}` are
 * replaced; unknown `{{...}}` stay as written.
 */
export function renderNotesTemplate(template: string, variables: NotesVariables): string {
  const unescaped = template.replace(/\\(.)/gs, (_match, char: string) => {
    if (char === '\\') return '\\';
    if (char === 'n') return '\n';
    throw new BpError('BP_INVALID_CONFIG', `notes-template has an unexpected escape character '${char}'; only \\n and \\\\ are allowed`, {
      details: { template },
    });
  });
  return unescaped.replace(/\{\{(guestname|vmid|node|cluster)\}\}/g, (_match, name: keyof NotesVariables) => String(variables[name]));
}
