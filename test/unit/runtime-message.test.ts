// How runtime errors read: runc's logrus lines and crun's plain lines become one clean sentence.
import { describe, expect, it } from 'vitest';
import { runtimeMessage } from '../../engine/runtime/shim.ts';

describe('runtimeMessage', () => {
  it("keeps only the message of runc's logrus lines, unescaped", () => {
    const stderr =
      'time="2026-11-23T10:48:08Z" level=warning msg="deprecated"\n' +
      'time="2026-11-23T10:48:08Z" level=error msg="runc create failed: exec: \\"nope\\": executable file not found in $PATH"\n';
    expect(runtimeMessage(stderr)).toBe(
      'runc create failed: exec: "nope": executable file not found in $PATH',
    );
  });

  it("passes crun's plain lines through, once each", () => {
    const stderr = 'executable file `nope` not found in $PATH: No such file or directory\n';
    expect(runtimeMessage(`${stderr}${stderr}`)).toBe(
      'executable file `nope` not found in $PATH: No such file or directory',
    );
  });
});
