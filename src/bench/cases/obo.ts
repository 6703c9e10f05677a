/**
 * `allegro bench obo`: OBO user sessions per second for N users, in one run, three ways — allegro-ts's (the app
 * token cached, one connection pool: one request per user session), the app re-authenticated for every user on the
 * same pool (what both BDKs' authenticators do: two requests and an RS512 signature per user session), and the
 * BDKs' whole graph per session (a new app with new connections for every user: TLS handshakes included) — then
 * operations per second through one OBO session (presence, IM lookup, a message through the Agent). Against a
 * sandbox in a child process with its control API (../sandbox-process.ts): N users are created and the seeded app
 * is installed for them. Loopback only; bounded in time.
 */
import { AppSession } from '../../auth/app-session.js';
import { loadAppConfig } from '../../config.js';
import { OboApp } from '../../obo/app.js';
import { openPools } from '../../pools.js';
import { load } from '../harness.js';
import { loadErrors, loadTable, makeReport, measuresTable, type BenchReport } from '../report.js';
import { spawnSandbox } from '../sandbox-process.js';

/** Options of {@link runOboBench}. */
export interface OboBenchOptions {
  /** Users the app acts for (default 16). */
  users?: number;
  /** Seconds per case (default 3), after a warm-up of a third of it (at most 1 s). */
  seconds?: number;
  /** Operations in flight (default 8). */
  concurrency?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

/** Run the benchmark (about 6 × (seconds + warm-up) plus start-up and the users' creation). */
export async function runOboBench(options: OboBenchOptions = {}): Promise<BenchReport> {
  const userCount = options.users ?? 16;
  const seconds = options.seconds ?? 3;
  const concurrency = options.concurrency ?? 8;
  const progress = options.progress ?? (() => undefined);
  const sandbox = await spawnSandbox(true, undefined, ['--control']);
  const config = await loadAppConfig(sandbox.configPath);
  const pools = openPools(config, ['pod', 'sessionAuth'], config.app.key);
  const app = await OboApp.create(config);
  try {
    const control = async (path: string, body: unknown) => {
      const pod = pools.httpOf('pod')!;
      return pod.request<Record<string, unknown>>({ method: 'POST', url: `${sandbox.podUrl}/sandbox/v1${path}`, json: body, idempotent: false });
    };
    const users: number[] = [];
    for (let i = 0; i < userCount; i++) users.push((await control('/users', { username: `bench-obo-${i}-${Date.now().toString(36)}` })).userId as number);
    await control(`/apps/${encodeURIComponent(config.app.appId)}/install`, { userIds: users });
    progress(`${userCount} users created, the app ${config.app.appId} installed for them`);

    const sessionOptions = {
      app: config.app, http: { pod: pools.httpOf('pod')!, ...(pools.httpOf('sessionAuth') === undefined ? {} : { sessionAuth: pools.httpOf('sessionAuth')! }) },
      podUrl: config.pod.url, sessionAuthUrl: config.sessionAuth.url, minRefreshIntervalMs: 0, jwtLifetimeSeconds: config.auth.jwtLifetimeSeconds,
    };
    const cached = new AppSession(sessionOptions);
    const user = (n: number) => ({ userId: users[n % users.length]! });
    const sessionCases = [];
    for (const [name, op] of [
      ['user session, app token cached (allegro-ts)', (n: number) => cached.authenticateUser(user(n))],
      ['user session, app re-authenticated per user (BDK authenticators)', (n: number) => new AppSession(sessionOptions).authenticateUser(user(n))],
      ['user session, new app and connections per user (BDK OBO services)', async (n: number) => {
        const fresh = await OboApp.create(config);
        try {
          await fresh.user(users[n % users.length]!);
        } finally {
          await fresh.close();
        }
      }],
    ] as const) {
      sessionCases.push({ name, result: await load(op, { concurrency, seconds }) });
      progress(`measured ${name}`);
    }

    const alice = await app.user('alice');
    const bob = (await alice.users({ usernames: ['bob'] }))[0]!.id;
    const im = await alice.createIm([bob]);
    const opCases = [];
    for (const [name, op] of [
      ['presence (GET /pod/v2/user/presence)', () => alice.presence()],
      ['IM create or find (POST /pod/v1/im/create)', () => alice.createIm([bob])],
      ['message through the Agent (POST /agent/v4/stream/{sid}/message/create)', (n: number) => alice.send(im, `<messageML>OBO benchmark message ${n}</messageML>`)],
    ] as const) {
      opCases.push({ name, result: await load(op, { concurrency, seconds }) });
      progress(`measured ${name}`);
    }
    const [withCache, reauth, fresh] = sessionCases.map((c) => c.result.opsPerSec) as [number, number, number];
    return makeReport({
      name: 'obo',
      title: `OBO sessions and operations against the sandbox on loopback (${userCount} users)`,
      method: `A sandbox (in memory) in a child process; ${userCount} users with the seeded app installed. Each case keeps ${concurrency} ` +
        `operations in flight over HTTPS for ${seconds} s after a warm-up; a user session is one authentication of a user ` +
        '(round robin over the users). allegro-ts authenticates the app once and reuses its token; the BDK authenticators ' +
        'authenticate the app again (a fresh RS512 JWT) for every user session; the BDKs\' OBO services also build new ' +
        'HTTP clients per session. Operations go through one session of alice.',
      tables: [
        loadTable('user sessions', sessionCases),
        measuresTable('ratios', [
          ['cached app token ÷ app re-authenticated per user', withCache / reauth, '×'],
          ['cached app token ÷ new app and connections per user', withCache / fresh, '×'],
        ]),
        loadTable('operations through one OBO session', opCases),
      ],
      notes: [...loadErrors(sessionCases), ...loadErrors(opCases), `app authentications of the cached session: ${cached.appLogins}`],
    });
  } finally {
    await app.close();
    await pools.close();
    await sandbox.stop();
  }
}
