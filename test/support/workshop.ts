// A real server in classroom mode for integration tests: one workshop started at once, the machine
// reading as roomy (or as the test says), and the workshop's service and join code handed back.

import { type WorkshopPluginOptions, workshopPlugin } from '../../server/workshop/plugin.ts';
import type { WorkshopService } from '../../server/workshop/service.ts';
import { startTestServer, type TestServer } from './server.ts';

export interface TestWorkshop {
  srv: TestServer;
  service: WorkshopService;
  /** The started workshop's join code. */
  code: string;
}

/**
 * Starts a server (on `options.server.root` when given: a restart) whose workshop `name` has `seats` seats and the teacher password given. `server`
 * passes options to the server (limits, trusted proxies); `freeMemoryBytes` is what the machine
 * reads as free (plenty by default), so admission depends only on seats and limits.
 */
export async function startWorkshopServer(
  workshop: { name: string; seats: number; teacherPassword: string } & Pick<
    WorkshopPluginOptions,
    'adminPassword' | 'readers' | 'leaveGraceMs' | 'stuck'
  >,
  options: {
    server?: Omit<Parameters<typeof startTestServer>[0], 'plugins'>;
    freeMemoryBytes?: () => number;
  } = {},
): Promise<TestWorkshop> {
  let service: WorkshopService | undefined;
  const srv: TestServer = await startTestServer({
    ...options.server,
    plugins: [
      workshopPlugin({
        // Anonymous readers are let in unless the test says otherwise (the boundary tests do).
        readers: true,
        ...workshop,
        out: () => {},
        load: async () => ({
          sessions: srv.server.sessions.count,
          runningContainers: 0,
          freeMemoryBytes: options.freeMemoryBytes?.() ?? 2 ** 40,
        }),
        onReady: (s) => {
          service = s;
        },
      }),
    ],
  });
  if (!service) throw new Error(`workshop ${workshop.name}: the plugin never became ready`);
  return { srv, service, code: service.workshops.active()[0]!.code };
}
