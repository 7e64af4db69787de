// Students' display names: 1–40 printable characters, unique within a workshop. A taken name gets a
// numeric suffix ("Ana (2)") rather than an error, so a class never stalls on a name clash.

export const DISPLAY_NAME_MAX = 40;

export type DisplayNameResult = { ok: true; name: string } | { ok: false; reason: string };

/**
 * Checks and tidies a name: NFC, surrounding blanks trimmed, inner runs of blanks made one space.
 * Control, format (bidi overrides, zero-width), private-use and unassigned code points are refused:
 * they could make one student's name impersonate another's on the teacher's dashboard.
 */
export function validateDisplayName(input: unknown): DisplayNameResult {
  if (typeof input !== 'string') return { ok: false, reason: 'Please enter a display name.' };
  const name = input.normalize('NFC').replace(/\s+/gu, ' ').trim();
  if (name.length === 0) return { ok: false, reason: 'Please enter a display name.' };
  if (/\p{C}/u.test(name)) return { ok: false, reason: 'The name may hold only printable characters.' };
  if ([...name].length > DISPLAY_NAME_MAX) {
    return { ok: false, reason: `The name may be at most ${DISPLAY_NAME_MAX} characters long.` };
  }
  return { ok: true, name };
}

/** `name`, or `name (2)`, `name (3)`, … — the first not taken (case-insensitively), within 40 chars. */
export function uniqueDisplayName(name: string, taken: (key: string) => boolean): string {
  if (!taken(displayNameKey(name))) return name;
  for (let n = 2; ; n++) {
    const suffix = ` (${n})`;
    const room = DISPLAY_NAME_MAX - suffix.length;
    const base = [...name].slice(0, room).join('').trimEnd();
    const candidate = `${base}${suffix}`;
    if (!taken(displayNameKey(candidate))) return candidate;
  }
}

/** The key names are compared by: "Ana" and "ana" are the same student to a teacher's eye. */
export function displayNameKey(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}
