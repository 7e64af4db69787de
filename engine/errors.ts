// Typed errors for everything the engine reports. Messages read like Docker's own because learners
// will meet Docker's wording again; `code` is stable for programs, `input` names what was wrong.

export type ErrorCode =
  | 'INVALID_REFERENCE'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INVALID_ARGUMENT'
  | 'REGISTRY'
  | 'UNAUTHORIZED'
  | 'DIGEST_MISMATCH'
  | 'SIZE_EXCEEDED'
  | 'UNSAFE_LAYER'
  | 'UNSUPPORTED'
  | 'RUNTIME'
  | 'PLATFORM'
  | 'BUILD'
  | 'CANCELLED'
  | 'STORE';

export class LayerlabError extends Error {
  readonly code: ErrorCode;
  /** The offending input (a reference, a path, an id), with credentials removed. */
  readonly input: string | undefined;

  constructor(code: ErrorCode, message: string, options: { input?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.input = options.input;
  }
}

export class InvalidReferenceError extends LayerlabError {
  /**
   * "invalid reference format: <reason>"; without a reason, the bare "invalid reference format" Docker
   * prints when it has nothing more precise. `message` replaces the whole text, for the few refusals
   * Docker words differently (a 64-hex repository name).
   */
  constructor(input: string, reason?: string, message?: string) {
    super(
      'INVALID_REFERENCE',
      message ?? `invalid reference format${reason === undefined ? '' : `: ${reason}`}`,
      { input },
    );
  }
}

export class NotFoundError extends LayerlabError {
  constructor(message: string, input?: string) {
    super('NOT_FOUND', message, input === undefined ? {} : { input });
  }
}

export class ConflictError extends LayerlabError {
  constructor(message: string, input?: string) {
    super('CONFLICT', message, input === undefined ? {} : { input });
  }
}

export class InvalidArgumentError extends LayerlabError {
  constructor(message: string, input?: string) {
    super('INVALID_ARGUMENT', message, input === undefined ? {} : { input });
  }
}

export class RegistryError extends LayerlabError {
  /** HTTP status, when the registry answered. */
  readonly status: number | undefined;
  constructor(message: string, options: { input?: string; status?: number; cause?: unknown } = {}) {
    super(options.status === 401 ? 'UNAUTHORIZED' : 'REGISTRY', message, options);
    this.status = options.status;
  }
}

export class DigestMismatchError extends LayerlabError {
  constructor(expected: string, actual: string, what: string) {
    super('DIGEST_MISMATCH', `${what}: digest mismatch: expected ${expected}, got ${actual}`, {
      input: expected,
    });
  }
}

export class SizeExceededError extends LayerlabError {
  constructor(what: string, limit: number) {
    super('SIZE_EXCEEDED', `${what}: exceeds the limit of ${limit} bytes`, { input: what });
  }
}

export class UnsafeLayerError extends LayerlabError {
  constructor(path: string, reason: string) {
    super('UNSAFE_LAYER', `refusing layer entry ${JSON.stringify(path)}: ${reason}`, { input: path });
  }
}

export class RuntimeError extends LayerlabError {
  constructor(message: string, options: { input?: string; cause?: unknown } = {}) {
    super('RUNTIME', message, options);
  }
}

export class BuildError extends LayerlabError {
  constructor(message: string, options: { input?: string; cause?: unknown } = {}) {
    super('BUILD', message, options);
  }
}

export class CancelledError extends LayerlabError {
  constructor(what: string) {
    super('CANCELLED', `${what}: cancelled`, { input: what });
  }
}

export class StoreError extends LayerlabError {
  constructor(message: string, options: { input?: string; cause?: unknown } = {}) {
    super('STORE', message, options);
  }
}

/** Removes user:password@ from URLs and Authorization values from text we are about to show. */
export function redact(text: string): string {
  return text
    .replace(/(\w+:\/\/)[^/@\s]+@/g, '$1')
    .replace(/(authorization:\s*)(\S+\s+)?\S+/gi, '$1[redacted]');
}
