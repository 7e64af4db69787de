// The Go-template engine behind `--format`, checked against the outputs Docker documents
// (docs.docker.com "Format command and log output", `docker ps/images/inspect --format`) and Go's
// text/template rules for what those pages leave out.
import { describe, expect, it } from 'vitest';
import { formatList, type ListFormat } from '../../engine/cli/formatter.ts';
import { parseTemplate, renderTemplate, sprintf } from '../../engine/cli/template.ts';

const run = (template: string, value: unknown) => parseTemplate(template).execute(value);

const container = {
  Name: '/Web_Server',
  Args: ['-c', 'sleep 10'],
  Image: 'busybox:latest',
  Config: { Labels: { 'com.example.version': '1.0', 'com.example.vendor': 'ACME' }, Env: null },
  NetworkSettings: {
    Networks: { bridge: { IPAddress: '172.17.0.2' }, other: { IPAddress: '10.0.0.5' } },
    Ports: {
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
      '443/tcp': [{ HostIp: '', HostPort: '8443' }],
    },
  },
  State: { Running: true, ExitCode: 0, Pid: 42 },
};

describe("Docker's template functions, as documented", () => {
  it('join, split, lower, upper, title, json', () => {
    expect(run('{{join .Args " , "}}', container)).toBe('-c , sleep 10');
    expect(run('{{split .Image ":"}}', container)).toBe('[busybox latest]');
    expect(run('{{lower .Name}}', container)).toBe('/web_server');
    expect(run('{{upper .Name}}', container)).toBe('/WEB_SERVER');
    expect(run('{{title "hello world-wide web"}}', container)).toBe('Hello World-Wide Web');
    expect(run('{{json .Config.Labels}}', container)).toBe(
      '{"com.example.version":"1.0","com.example.vendor":"ACME"}',
    );
    // Docker's json does not escape HTML characters.
    expect(run('{{json .}}', { A: '<b>&' })).toBe('{"A":"<b>&"}');
  });

  it('println inside range prints one line per network', () => {
    expect(run('{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}', container)).toBe(
      '172.17.0.2\n10.0.0.5\n',
    );
  });

  it("inspect's port loop: variables, index and a field of a parenthesised pipeline", () => {
    expect(
      run(
        '{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}',
        container,
      ),
    ).toBe(' 443/tcp -> 8443  80/tcp -> 8080 ');
  });

  it('index on a map with a dotted key, len, slice, pad, truncate', () => {
    expect(run('{{index .Config.Labels "com.example.version"}}', container)).toBe('1.0');
    expect(run('{{len .Args}} {{len .Name}}', container)).toBe('2 11');
    expect(run('{{slice .Image 0 7}}', container)).toBe('busybox');
    expect(run('[{{pad .Image 2 1}}]', container)).toBe('[  busybox:latest ]');
    expect(run('{{truncate .Image 4}}', container)).toBe('busy');
  });

  it('printf and print as Go formats them', () => {
    expect(run('{{printf "%s has pid %d" .Name .State.Pid}}', container)).toBe('/Web_Server has pid 42');
    expect(run('{{printf "%-8s|%5.2f|%q|%v" "ab" 3.14159 "x" .Args}}', container)).toBe(
      'ab      | 3.14|"x"|[-c sleep 10]',
    );
    expect(run('{{print 1 2 "a" 3}}', container)).toBe('1 2a3');
    expect(sprintf('%d%%', [50])).toBe('50%');
  });

  it('comparisons and logic', () => {
    expect(run('{{if eq .State.ExitCode 0}}ok{{else}}failed{{end}}', container)).toBe('ok');
    expect(run('{{if eq .Image "a" "busybox:latest"}}one of{{end}}', container)).toBe('one of');
    expect(run('{{if and .State.Running (gt .State.Pid 1)}}up{{end}}', container)).toBe('up');
    expect(run('{{if or .Config.Env .Args}}{{not .State.Running}}{{end}}', container)).toBe('false');
    expect(run('{{if lt 1 2}}{{if ne "a" "b"}}yes{{end}}{{end}}', container)).toBe('yes');
    expect(() => run('{{eq 1 "1"}}', container)).toThrow(/incompatible types for comparison/);
  });
});

describe("Go's text/template control and printing", () => {
  it('if, else if, else', () => {
    const t = '{{if eq .N 1}}one{{else if eq .N 2}}two{{else}}many{{end}}';
    expect([1, 2, 3].map((N) => run(t, { N }))).toEqual(['one', 'two', 'many']);
  });

  it('range over a list, a map (sorted keys), nothing (else), with break and continue', () => {
    expect(run('{{range $i, $e := .}}{{$i}}={{$e}};{{end}}', ['a', 'b'])).toBe('0=a;1=b;');
    expect(run('{{range $k, $v := .}}{{$k}}:{{$v}} {{end}}', { b: 2, a: 1 })).toBe('a:1 b:2 ');
    expect(run('{{range .}}x{{else}}empty{{end}}', [])).toBe('empty');
    expect(
      run(
        '{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}',
        [1, 2, 3, 4, 5],
      ),
    ).toBe('13');
  });

  it('with, variables, $ and assignment', () => {
    expect(run('{{with .State}}{{.Pid}}{{end}}', container)).toBe('42');
    expect(run('{{with .Config.Env}}set{{else}}unset{{end}}', container)).toBe('unset');
    expect(run('{{$n := .Name}}{{range .Args}}{{$n}}{{end}}', container)).toBe('/Web_Server/Web_Server');
    expect(run('{{range .Args}}{{$.Image}} {{end}}', container)).toBe('busybox:latest busybox:latest ');
    expect(run('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}', {})).toBe('2');
  });

  it('pipelines pass the value as the last argument', () => {
    expect(run('{{.Image | upper}}', container)).toBe('BUSYBOX:LATEST');
    expect(run('{{.Image | printf "%s!"}}', container)).toBe('busybox:latest!');
    expect(run('{{"," | split "a,b,c"}}', {})).toBe('[a b c]');
  });

  it('trim markers and comments', () => {
    expect(run('a  {{- .X -}}  b {{/* a comment */}}c', { X: 1 })).toBe('a1b c');
    expect(run('{{- /* only a comment */ -}}\n x', {})).toBe('x');
  });

  it('prints values as Go does: lists, maps, nil and a missing key', () => {
    expect(run('{{.}}', { b: [1, 'x'], a: { c: true } })).toBe('map[a:map[c:true] b:[1 x]]');
    expect(run('{{.Config.Env}}', container)).toBe('<nil>');
    expect(run('{{.Missing}}', container)).toBe('<no value>');
    expect(run('{{1.5}} {{-3}} {{"\\t"}}', {})).toBe('1.5 -3 \t');
  });

  it('fails as Go does', () => {
    expect(() => run('{{nope .X}}', {})).toThrow('template: :1: function "nope" not defined');
    expect(() => run('{{if .X}}', {})).toThrow('template: :1: unexpected EOF');
    expect(() => run('{{end}}', {})).toThrow(/unexpected \{\{end\}\}/);
    expect(() => run('{{.X.Y}}', { X: null })).toThrow(/nil pointer evaluating interface \{\}\.Y/);
    expect(() => run('{{index .A 5}}', { A: [1] })).toThrow(/index out of range: 5/);
    // A format comes from whoever types at the terminal: its work and output are bounded.
    expect(() => run('{{range 999999}}{{range 999999}}{{end}}{{end}}', {})).toThrow(/more than 200000 steps/);
    expect(run('{{printf "%999999999d" 1}}', {}).length).toBe(10_000);
    // inspect runs on raw JSON with missingkey=error, as Docker's fallback does.
    expect(() => renderTemplate('{{.Nope}}', {})).toThrow('map has no entry for key "Nope"');
  });
});

describe('--format for list commands', () => {
  const list: ListFormat = {
    defaultTable: 'table {{.ID}}\t{{.Image}}\t{{.Names}}',
    headers: { ID: 'CONTAINER ID', Image: 'IMAGE', Names: 'NAMES', Labels: 'LABELS', Label: 'LABEL' },
  };
  const rows = [
    {
      ID: 'a87ecb4f327c',
      Image: 'busybox',
      Names: 'web',
      Labels: 'com.example=1',
      Label: (k: unknown) => `v(${k})`,
    },
    { ID: '01946d9d34d8', Image: 'layerlab/webapp', Names: 'api', Labels: '', Label: () => '' },
  ];

  it('table TEMPLATE: Docker’s header names, tabwriter columns (min width 10, padding 3)', () => {
    expect(formatList('table {{.ID}}\\t{{.Labels}}', rows, list)).toBe(
      'CONTAINER ID   LABELS\na87ecb4f327c   com.example=1\n01946d9d34d8\n',
    );
  });

  it('table alone is the default columns; no format is the same', () => {
    const expected =
      'CONTAINER ID   IMAGE             NAMES\na87ecb4f327c   busybox           web\n01946d9d34d8   layerlab/webapp   api\n';
    expect(formatList('table', rows, list)).toBe(expected);
    expect(formatList(undefined, rows, list)).toBe(expected);
  });

  it('a bare template renders once per row; json is {{json .}}', () => {
    expect(formatList('{{.ID}}: {{.Image}}', rows, list)).toBe(
      'a87ecb4f327c: busybox\n01946d9d34d8: layerlab/webapp\n',
    );
    expect(formatList('json', rows.slice(0, 1), list)).toBe(
      // docker/cli marshals a row context as a map: keys sorted.
      '{"ID":"a87ecb4f327c","Image":"busybox","Labels":"com.example=1","Names":"web"}\n',
    );
  });

  it('header cells are not transformed by functions, and a method column is headed by its name', () => {
    expect(formatList('table {{upper .Names}}\t{{.Label "k"}}', rows.slice(0, 1), list)).toBe(
      'NAMES     LABEL\nWEB       v(k)\n',
    );
  });

  it('prints the header even with no rows', () => {
    expect(formatList('table {{.ID}}\t{{.Names}}', [], list)).toBe('CONTAINER ID   NAMES\n');
  });
});
