// `$(…)` at the prompt without a server: the parser (quotes, nesting, limits, refusals), the
// expansion's word splitting, and completion inside an unfinished `$(`; `$NAME` from the environment.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: shell syntax under test, not templates
import { describe, expect, it } from 'vitest';
import {
  expandLine,
  MAX_SUBSTITUTION_DEPTH,
  MAX_SUBSTITUTIONS,
  type ParsedLine,
  parseLine,
  splitPartial,
  splitWords,
} from '../../server/terminal/words.ts';

function parsed(line: string): ParsedLine {
  const result = parseLine(line);
  if (!result.ok) throw new Error(result.error);
  return result;
}

/** Expands with a stand-in runner that answers each inner command's words from `outputs`. */
async function expand(line: string, outputs: Record<string, string>) {
  const ran: string[] = [];
  const run = async (inner: ParsedLine): Promise<string> => {
    const words = await expandLine(inner, run);
    const key = words.join(' ');
    ran.push(key);
    return outputs[key] ?? '';
  };
  return { words: await expandLine(parsed(line), run), ran };
}

describe('parseLine with $(…)', () => {
  it('finds a substitution and keeps the rest of the line as words', () => {
    const line = parsed('docker rm $(docker ps -aq)');
    expect(line.substitutions).toBe(1);
    expect(line.words).toHaveLength(3);
    expect(line.words[2]).toEqual([
      {
        kind: 'substitution',
        source: 'docker ps -aq',
        quoted: false,
        line: {
          words: [
            [{ kind: 'text', text: 'docker' }],
            [{ kind: 'text', text: 'ps' }],
            [{ kind: 'text', text: '-aq' }],
          ],
          substitutions: 0,
          variables: false,
        },
      },
    ]);
  });

  it('reads quotes and parentheses inside the command, and nested substitutions', () => {
    const line = parsed(`docker inspect -f '{{.Name}}' "$(docker ps -q --filter 'name=a)b')"`);
    const sub = line.words[4]!.find((part) => part.kind === 'substitution');
    expect(sub).toMatchObject({
      kind: 'substitution',
      quoted: true,
      source: "docker ps -q --filter 'name=a)b'",
    });
    const nested = parsed('docker rm $(docker ps -q --filter ancestor=$(docker images -q busybox))');
    expect(nested.substitutions).toBe(2);
  });

  it('leaves single-quoted and escaped $(…) literal', () => {
    expect(parsed(`docker run busybox sh -c 'echo $(id -u)'`).substitutions).toBe(0);
    expect(parsed('docker run busybox echo \\$(x)').substitutions).toBe(0);
    expect(parsed('docker run busybox echo "\\$(x)"').substitutions).toBe(0);
  });

  it('computes $((…)) as bash does, inside and outside quotes', async () => {
    expect((await expand('docker run busybox echo $((40+2)) "x-$(( (7 - 10) * 3 / 2 ))"', {})).words).toEqual(
      ['docker', 'run', 'busybox', 'echo', '42', 'x--4'],
    );
    expect((await expand('echo $((17 % 5)) $((-2))', {})).words).toEqual(['echo', '2', '-2']);
  });

  it('refuses what it cannot run, in a shell’s words', () => {
    const error = (line: string) => {
      const result = parseLine(line);
      return result.ok ? undefined : result.error;
    };
    expect(error('docker rm $(docker ps -aq')).toBe("unexpected EOF while looking for matching `)'");
    expect(error('docker rm $(docker ps -aq | head -1)')).toContain('`|` is not supported here');
    expect(error('docker rm `docker ps -aq`')).toContain('write $(…) instead');
    expect(error('docker run busybox echo $((x+2))')).toContain('arithmetic expansion');
    expect(error('docker run busybox echo $((1/0))')).toContain('division by 0');
    const deep = `docker rm ${'$(docker ps '.repeat(MAX_SUBSTITUTION_DEPTH + 1)}${')'.repeat(MAX_SUBSTITUTION_DEPTH + 1)}`;
    expect(error(deep)).toContain(`nested too deeply (at most ${MAX_SUBSTITUTION_DEPTH} levels`);
    const many = `docker rm ${'$(docker ps -q) '.repeat(MAX_SUBSTITUTIONS + 1)}`;
    expect(error(many)).toContain(`at most ${MAX_SUBSTITUTIONS} here`);
    expect(error('docker rm '.concat('$(docker ps -q) '.repeat(MAX_SUBSTITUTIONS)))).toBeUndefined();
  });

  it('keeps $(…) as typed for checks that run nothing (splitWords)', () => {
    expect(splitWords('docker rmi $(docker images -q)')).toEqual({
      ok: true,
      words: ['docker', 'rmi', '$(docker images -q)'],
    });
  });
});

describe('expandLine', () => {
  it('splits an unquoted output into words and drops trailing newlines', async () => {
    const { words, ran } = await expand('docker rm $(docker ps -aq)', {
      'docker ps -aq': 'aaa111\nbbb222\n\n',
    });
    expect(ran).toEqual(['docker ps -aq']);
    expect(words).toEqual(['docker', 'rm', 'aaa111', 'bbb222']);
  });

  it('keeps a quoted output as one word, inner newlines and all', async () => {
    const { words } = await expand('docker run busybox echo "ids: $(docker ps -aq)."', {
      'docker ps -aq': 'a1\nb2\n',
    });
    expect(words).toEqual(['docker', 'run', 'busybox', 'echo', 'ids: a1\nb2.']);
  });

  it('drops a word that is only an empty unquoted substitution, keeps an empty quoted one', async () => {
    expect((await expand('docker rm $(docker ps -aq)', {})).words).toEqual(['docker', 'rm']);
    expect((await expand('docker rm "$(docker ps -aq)"', {})).words).toEqual(['docker', 'rm', '']);
  });

  it('joins output to the text around it as a shell does', async () => {
    const { words } = await expand('docker tag x pre$(docker ps -q)post', { 'docker ps -q': ' a b ' });
    expect(words).toEqual(['docker', 'tag', 'x', 'pre', 'a', 'b', 'post']);
  });

  it('runs inner substitutions first', async () => {
    const { words, ran } = await expand(
      'docker rm $(docker ps -q --filter ancestor=$(docker images -q busybox))',
      {
        'docker images -q busybox': 'img1\n',
        'docker ps -q --filter ancestor=img1': 'c1\nc2\n',
      },
    );
    expect(ran).toEqual(['docker images -q busybox', 'docker ps -q --filter ancestor=img1']);
    expect(words).toEqual(['docker', 'rm', 'c1', 'c2']);
  });
});

describe('completion inside $(', () => {
  it('gives the words of the command being substituted', () => {
    expect(splitPartial('docker rm $(docker p')).toEqual({ words: ['docker'], current: 'p' });
    expect(splitPartial('docker rm $(docker ps) ')).toEqual({
      words: ['docker', 'rm', '$(docker ps)'],
      current: '',
    });
  });
});

describe('hostile lines', () => {
  it('refuses a line of thousands of nested $( without exhausting the stack, at the prompt and in completion', () => {
    const deep = `docker rm ${'$('.repeat(30_000)}`;
    const result = parseLine(deep);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain('nested too deeply');
    expect(parseLine(`${deep}${')'.repeat(30_000)}`).ok).toBe(false);
    expect(splitPartial(deep)).toEqual({ words: [], current: '' });
  });
});

describe('$NAME at the prompt', () => {
  const env: Record<string, string> = { REGISTRY: '127.0.0.1:5000', TWO: 'a b' };
  const lookup = (name: string) => env[name];
  const run = async () => '';
  const words = (line: string) => expandLine(parsed(line), run, lookup);

  it('expands $NAME and ${NAME} from the environment, as a shell does', async () => {
    expect(parsed('docker push $REGISTRY/hello:v1').variables).toBe(true);
    expect(await words('docker push $REGISTRY/hello:v1')).toEqual([
      'docker',
      'push',
      '127.0.0.1:5000/hello:v1',
    ]);
    expect(await words('docker tag a ${REGISTRY}x')).toEqual(['docker', 'tag', 'a', '127.0.0.1:5000x']);
  });

  it("keeps '$NAME' and \\$NAME literal, splits an unquoted value and not a quoted one", async () => {
    expect(await words(`echo '$REGISTRY' \\$REGISTRY`)).toEqual(['echo', '$REGISTRY', '$REGISTRY']);
    expect(await words('echo $TWO')).toEqual(['echo', 'a', 'b']);
    expect(await words('echo "$TWO"')).toEqual(['echo', 'a b']);
    expect(parsed(`docker run busybox sh -c 'echo $HOME'`).variables).toBe(false);
  });

  it('gives an unset variable no word when unquoted and an empty one when quoted', async () => {
    expect(await words('echo $NOPE x')).toEqual(['echo', 'x']);
    expect(await words('echo "$NOPE" x')).toEqual(['echo', '', 'x']);
  });

  it('leaves $1, $? and a lone $ literal, and refuses ${A:-x} as a bad substitution', async () => {
    expect(await words('echo $1 $? $')).toEqual(['echo', '$1', '$?', '$']);
    expect(parseLine('echo ${A:-x}')).toEqual({ ok: false, error: '${A:-x}: bad substitution' });
    expect(parseLine('echo ${A')).toMatchObject({ ok: false });
  });

  it('writes a variable back as typed for checks that run nothing (splitWords)', () => {
    expect(splitWords('docker push ${REGISTRY}/a')).toEqual({
      ok: true,
      words: ['docker', 'push', '${REGISTRY}/a'],
    });
  });
});
