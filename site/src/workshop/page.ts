// What the classroom pages' scripts share: finding the page's elements by id and type, and reading the
// fields of the server's JSON answers that have no type of their own (`redirect`, `error.message`).

/** The element with this id, checked to be of this type (the server-rendered page is not typed). */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`#${id}: missing or not a ${type.name}`);
  return element;
}

/** The answer's body as JSON, or undefined when it is none (an empty reply, a proxy's HTML page). */
export async function jsonBody(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

/** The router's `{ error: { message } }`, when the body is one with a non-empty message. */
export function errorMessage(body: unknown): string | undefined {
  const error = field(body, 'error');
  const message = field(error, 'message');
  return typeof message === 'string' && message !== '' ? message : undefined;
}

/** The `{ redirect }` the join and sign-in routes answer with, when the body has one. */
export function redirectOf(body: unknown): string | undefined {
  const redirect = field(body, 'redirect');
  return typeof redirect === 'string' && redirect !== '' ? redirect : undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;
}
