// fast-check arbitraries for WebSocket fuzzing: text frames (arbitrary text, arbitrary JSON, valid client
// messages with fields swapped for hostile values) and binary terminal frames.

import fc from 'fast-check';

/** Any JSON value, prototype-polluting keys and huge numbers included. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    -1,
    0,
    1e308,
    -0,
    2 ** 53 + 1,
    '',
    '../x',
    'main\u0000',
    'x'.repeat(65),
    '__proto__',
    [],
    {},
    { __proto__: { polluted: true } },
  ),
);

/** Valid client messages of every type, as the page sends them. */
export const validClientMessage = fc.oneof(
  fc.record({
    type: fc.constantFrom('terminal.open', 'terminal.resize'),
    terminal: fc.constantFrom('main', 'left', 'fz'),
    cols: fc.integer({ min: 2, max: 300 }),
    rows: fc.integer({ min: 1, max: 100 }),
  }),
  fc.record({
    type: fc.constant('terminal.run'),
    terminal: fc.constantFrom('main', 'fz'),
    command: fc.string({ maxLength: 30 }),
  }),
  fc.record({ type: fc.constant('terminal.close'), terminal: fc.constantFrom('main', 'fz') }),
  fc.record({
    type: fc.constant('check'),
    id: fc.string({ minLength: 1, maxLength: 8 }),
    // A check is named by lesson and id; a hostile value there comes from mutatedClientMessage.
    lesson: fc.constantFrom('start-here', '01-image-vs-container', 'no-such-lesson'),
    check: fc.constantFrom('first-container', 'two-containers', 'no.such_check'),
  }),
  fc.record({ type: fc.constant('state.get'), id: fc.string({ minLength: 1, maxLength: 8 }) }),
  fc.constant({ type: 'ping' }),
);

/** A valid message with one field replaced, removed, or an unknown one added. */
const mutatedClientMessage = fc
  .tuple(
    validClientMessage,
    fc.constantFrom('replace', 'remove', 'add'),
    fc.constantFrom(
      'type',
      'terminal',
      'cols',
      'rows',
      'command',
      'id',
      'check',
      'lesson',
      'to',
      '__proto__',
      'constructor',
    ),
    hostileValue,
  )
  .map(([message, op, key, value]) => {
    const copy: Record<string, unknown> = { ...message };
    if (op === 'remove') delete copy[key];
    else Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    return copy;
  });

/** The text of one frame. */
export const textFrame: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.json({ maxDepth: 4 }),
  mutatedClientMessage.map((m) => JSON.stringify(m)),
  mutatedClientMessage.map((m) => JSON.stringify(m).slice(0, -1)),
  // JSON.parse turns "__proto__" in text into an own key, unlike an object literal.
  fc.constantFrom(
    '{"type":"ping","__proto__":{"type":"terminal.open"}}',
    '{"__proto__":{"type":"ping"}}',
    '{"type":"constructor"}',
    '{"type":"toString"}',
    `{"type":"ping","x":${'['.repeat(1000)}${']'.repeat(1000)}}`,
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
    '1e999',
    '"\\ud800"',
  ),
);

/** A binary frame: `[channel][payload]`, or nothing at all. */
export const binaryFrame: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: 300 });

export type Frame = { text: string } | { binary: Uint8Array };

export const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 4, arbitrary: textFrame.map((text) => ({ text })) },
  { weight: 1, arbitrary: binaryFrame.map((binary) => ({ binary })) },
);
