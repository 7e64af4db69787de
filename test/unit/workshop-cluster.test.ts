// The classroom model as a cluster node keeps it: seats held by a node and recognised by the hash of
// their token, a node restart that does not mark other nodes' students gone, a re-seat that keeps
// progress, and records from other nodes merged so that progress only grows.
import { describe, expect, it } from 'vitest';
import { MemoryWorkshopStore, type StudentRecord } from '../../server/workshop/store.ts';
import { type Student, studentRecord, WorkshopRegistry } from '../../server/workshop/workshop.ts';

const PASSWORD = 'a-long-teacher-password';

async function workshopOn(node: string, store = new MemoryWorkshopStore()) {
  const registry = new WorkshopRegistry({ store, node });
  const workshop = await registry.create({ name: 'Cluster', seats: 3, teacherPassword: PASSWORD });
  return { registry, workshop, store };
}

function join(
  workshop: Awaited<ReturnType<typeof workshopOn>>['workshop'],
  session: string,
  name: string,
  hash: string,
): Student {
  return workshop.reserveSeat().commit(session, name, undefined, hash);
}

describe('a workshop on a cluster node', () => {
  it('marks each seat with its node and token hash, and finds it by the hash alone', async () => {
    const { registry, workshop } = await workshopOn('node-1');
    const ada = join(workshop, 's1', 'Ada', 'hash-ada');
    expect(ada).toMatchObject({ node: 'node-1', tokenHash: 'hash-ada', sessionId: 's1' });
    expect(registry.byTokenHash('hash-ada')?.student.id).toBe(ada.id);
    expect(registry.byTokenHash('hash-nobody')).toBeUndefined();
    // The teacher's state never carries the hash.
    expect(JSON.stringify(workshop.state())).not.toContain('hash-ada');
  });

  it('keeps other nodes’ students present when it starts from the shared store', async () => {
    const { store, workshop } = await workshopOn('node-1');
    join(workshop, 's1', 'Ada', 'hash-ada');
    const restarted = new WorkshopRegistry({ store, node: 'node-2' });
    const ada = [...restarted.list()[0]!.students.values()][0]!;
    expect(ada.left).toBeUndefined();
    expect(ada.sessionId).toBe('s1');
    // A single server (no node) still hands every session back as gone after a restart.
    const alone = new WorkshopRegistry({ store });
    expect([...alone.list()[0]!.students.values()][0]!.left).toBeDefined();
  });

  it('re-seats a student with a new session and a notice, keeping their passed check', async () => {
    const { workshop } = await workshopOn('node-2');
    const ada = join(workshop, 's1', 'Ada', 'hash-ada');
    workshop.recordProgress('s1', { lesson: 'start-here', check: 'first-container', pass: true });
    const moved = workshop.reseat(ada.id, 's2', 'hash-new', {
      scope: 'node',
      lesson: 'start-here',
      removedContainers: [],
      removedImages: [],
    });
    expect(moved).toMatchObject({ sessionId: 's2', node: 'node-2', tokenHash: 'hash-new' });
    expect(moved.resetNotice).toMatchObject({ scope: 'node', lesson: 'start-here' });
    expect(moved.checks.get('start-here/first-container')?.passedAt).toBeDefined();
    expect(workshop.seatsTaken).toBe(1);
  });

  it('lets a freed seat be joined again, not re-seated by its old browser', async () => {
    const { registry, workshop } = await workshopOn('node-1');
    const ada = join(workshop, 's1', 'Ada', 'hash-ada');
    workshop.freeSeat(ada.id);
    expect(registry.byTokenHash('hash-ada')).toBeUndefined();
  });

  it('merges a record from another node so progress made here is not undone', async () => {
    const { workshop, store } = await workshopOn('node-1');
    const ada = join(workshop, 's1', 'Ada', 'hash-ada');
    const stale: StudentRecord = { ...studentRecord(ada), hand: new Date().toISOString() };
    workshop.recordProgress('s1', { lesson: 'start-here', check: 'first-container', pass: true });
    // The teacher's node raised-and-wrote Ada's record from its copy taken before the pass.
    const merged = workshop.applyStudent(stale);
    expect(merged.hand).toBe(stale.hand);
    expect(merged.checks.get('start-here/first-container')?.passedAt).toBeDefined();
    // This node holds Ada, so the merged record is written back for everyone.
    const kept = store.load()[0]!.students[0]!;
    expect(kept.hand).toBe(stale.hand);
    expect(kept.checks[0]?.passedAt).toBeDefined();
  });

  it('takes another node’s workshop record: seats, pause, end', async () => {
    const { workshop } = await workshopOn('node-1');
    const record = { ...workshop.record(), seats: 5, paused: new Date().toISOString() };
    workshop.applyRecord(record);
    expect(workshop.seats).toBe(5);
    expect(workshop.paused).toBe(record.paused);
    workshop.applyRecord({ ...record, ended: new Date().toISOString() });
    expect(workshop.active).toBe(false);
    expect(await workshop.checkTeacherPassword(PASSWORD)).toBe(true);
  });
});
