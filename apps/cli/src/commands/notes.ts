import type { CommandSpec } from '../args/command-spec.js';
import type { NotesJson } from '../output/json-types.js';
import { findVolume, resolveVolumeArgument } from './volume-argument.js';

/** `bp notes <volid> [text]`. */
export const notesCommand: CommandSpec = {
  name: 'notes',
  summary: 'Show or set the notes of a backup',
  usage: '<volid> [text] [options]',
  description: 'With a text, replaces the notes (an empty text "" clears them); without, prints them.',
  options: [],
  positionals: { min: 1, max: 2, names: 'a volume ID and optionally the new text' },
  examples: ['bp notes local:backup/100/qemu-2026-11-26T20:00:00Z', 'bp notes local:backup/100/qemu-2026-11-26T20:00:00Z "before upgrade"'],
  failureCode: 'BP_PROVIDER_FAILED',
  async run(context) {
    const target = await resolveVolumeArgument(context, context.positionals[0]);
    await findVolume(target);
    const text = context.positionals[1];
    if (text !== undefined) await target.storage.updateVolumeAttribute(target.volname, 'notes', text);
    const current = await target.storage.getVolumeAttribute(target.volname, 'notes');
    const notes = typeof current === 'string' ? current : '';
    const json: NotesJson = { volid: target.volid, notes };
    return { json, text: text !== undefined ? `Notes of ${target.volid} updated.` : notes };
  },
};
