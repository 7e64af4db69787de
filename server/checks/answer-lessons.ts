// The server's table of lesson answers: `lessonAnswers` of content/lesson-checks.ts, parsed once
// when this module loads (a bad declaration stops the server from starting). A page names an answer
// by `{ lesson, answer }`; what the right value is, the server works out from the session's state.

import { lessonAnswers } from '../../content/lesson-checks.ts';
import { NotFoundError } from '../../engine/errors.ts';
import { type Answer, parseAnswer } from './answer-schema.ts';

function parseTable(): ReadonlyMap<string, ReadonlyMap<string, Answer>> {
  const table = new Map<string, Map<string, Answer>>();
  for (const [lesson, answers] of Object.entries(lessonAnswers)) {
    const byId = new Map<string, Answer>();
    for (const [id, input] of Object.entries(answers)) {
      const parsed = parseAnswer(input);
      if (!parsed.ok)
        throw new Error(`content/lesson-checks.ts: lessonAnswers › ${lesson} › ${id}: ${parsed.message}`);
      byId.set(id, parsed.answer);
    }
    table.set(lesson, byId);
  }
  return table;
}

const TABLE = parseTable();

/** The answer `{ lesson, answer }` names, as the lessons declare it; a NotFoundError when there is none. */
export function lessonAnswer(request: { lesson: string; answer: string }): Answer {
  const answer = TABLE.get(request.lesson)?.get(request.answer);
  if (!answer) {
    throw new NotFoundError(`lesson "${request.lesson}" has no answer "${request.answer}"`, request.answer);
  }
  return answer;
}
