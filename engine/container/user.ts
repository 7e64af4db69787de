// Docker's `User` forms — `name`, `uid`, `uid:gid`, `name:group` — resolved against the container's
// own /etc/passwd and /etc/group, the way runc's libcontainer/user does.

import { InvalidArgumentError } from '../errors.ts';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** From passwd, for `HOME` when the image does not set it. */
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 7 || line.startsWith('#')) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: f[3] ? f[3].split(',').filter(Boolean) : [] });
  }
  return out;
}

const NUMERIC = /^[0-9]+$/;

/** Resolves `spec` (empty = root) given the container's passwd and group file contents. */
export function resolveUser(
  spec: string,
  passwdText: string | undefined,
  groupText: string | undefined,
): ResolvedUser {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const passwd = parsePasswd(passwdText);
  const groups = parseGroup(groupText);

  let uid = 0;
  let gid = 0;
  let home = '/';
  let userName: string | undefined;
  if (userPart === '') {
    const root = passwd.find((p) => p.uid === 0);
    if (root) ({ gid, home, name: userName } = root);
  } else if (NUMERIC.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    if (entry) ({ gid, home, name: userName } = entry);
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) {
      throw new InvalidArgumentError(
        `unable to find user ${userPart}: no matching entries in passwd file`,
        spec,
      );
    }
    ({ uid, gid, home, name: userName } = entry);
  }

  if (groupPart !== undefined && groupPart !== '') {
    if (NUMERIC.test(groupPart)) {
      gid = Number(groupPart);
    } else {
      const group = groups.find((g) => g.name === groupPart);
      if (!group) {
        throw new InvalidArgumentError(
          `unable to find group ${groupPart}: no matching entries in group file`,
          spec,
        );
      }
      gid = group.gid;
    }
  }
  // Supplementary groups come from /etc/group membership, only when no group was forced.
  const additionalGids =
    groupPart === undefined && userName !== undefined
      ? groups.filter((g) => g.members.includes(userName) && g.gid !== gid).map((g) => g.gid)
      : [];
  return { uid, gid, additionalGids, home };
}
