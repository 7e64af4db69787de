// The in-page editor's limits on the session workspace, shared by the request table (which the site
// imports), the workspace module that enforces them and the editor that says them before sending.
// Constants only: no Node import, so the page's bundle can carry it.

/**
 * Largest file the editor opens or saves, in UTF-8 bytes. A save travels as one WebSocket message,
 * and the socket's default `maxPayload` (server/limits.ts, 64 KiB) closes the socket on a bigger
 * one: 48 KiB of text leaves room for the JSON around it and some escaping.
 */
export const EDIT_FILE_MAX_BYTES = 48 * 1024;

/**
 * Largest `workspace.write` message the editor sends: text full of quotes or backslashes grows
 * when JSON escapes it, and the page refuses it itself rather than have the server drop the socket.
 */
export const EDIT_MESSAGE_MAX_BYTES = 60 * 1024;

/** Files and directories the workspace may hold before the editor refuses to create another. */
export const WORKSPACE_MAX_ENTRIES = 500;

/** Longest workspace path a request may name (characters). */
export const WORKSPACE_PATH_MAX = 1024;

/** Longest name of one file or directory (bytes), as Linux's NAME_MAX. */
export const WORKSPACE_NAME_MAX_BYTES = 255;
