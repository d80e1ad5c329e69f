/**
 * `protocam demo` (issue 4): a demo complex with four cameras fed from a generated clip, so a
 * new user sees recording, playback and export working without camera hardware. The cameras
 * use the recorder's `file` source (a local clip looped in real time), which crosses no
 * network and so counts as a secured connection (W 6.4, M 6.1).
 * Idempotent: a second run reuses the complex, cameras and users it made the first time.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Actor } from '../audit/audit.js';
import { DomainError } from '../lib/errors.js';
import { makeTestClip } from '../media/test-clips.js';
import type { Policy } from '../policy/index.js';
import type { RegistryService } from '../registry/index.js';
import type { UsersService } from '../users/index.js';

export const DEMO_COMPLEX = 'Democomplex De Linde';
export const DEMO_CAMERAS = ['Hal begane grond', 'Lifthal', 'Fietsenberging', 'Achteringang'] as const;
const DEMO_ACTOR: Actor = { id: null, label: 'demo' };

export interface DemoDeps {
  registry: Pick<
    RegistryService,
    | 'listComplexes'
    | 'createComplex'
    | 'createBuilding'
    | 'createEntrance'
    | 'listCameras'
    | 'createCamera'
    | 'activateCamera'
  >;
  users: Pick<UsersService, 'addUser'>;
  policy: () => Policy;
  ffmpegPath: string;
  dataDir: string;
}

export interface DemoUser {
  username: string;
  role: string;
  /** One-time sign-in path (password and TOTP are chosen there); null when the user existed. */
  signInPath: string | null;
}

export interface DemoSetup {
  complexId: string;
  cameraIds: string[];
  users: DemoUser[];
}

/** Roles that may view footage for some purpose: the people a demo should let in. */
export function footageRoles(policy: Policy): string[] {
  return policy.roles
    .filter((role) => role.permissions.some((p) => p.categories.includes('footage')))
    .map((role) => role.id);
}

export async function setUpDemo(deps: DemoDeps): Promise<DemoSetup> {
  const clip = join(deps.dataDir, 'demo', 'demo-clip.mp4');
  if (!existsSync(clip)) {
    await mkdir(join(deps.dataDir, 'demo'), { recursive: true });
    await makeTestClip(deps.ffmpegPath, clip, { seconds: 10 });
  }

  const complexes = await deps.registry.listComplexes({ limit: 200 });
  let complex = complexes.items.find((c) => c.name === DEMO_COMPLEX);
  const cameraIds: string[] = [];
  if (!complex) {
    complex = await deps.registry.createComplex(DEMO_ACTOR, { name: DEMO_COMPLEX, ownership: 'corporation' });
    const building = await deps.registry.createBuilding(DEMO_ACTOR, { complexId: complex.id, name: 'Blok A' });
    // A sign at the entrance (W 3.2, M 3.2): the demo shows a compliant installation.
    const entrance = await deps.registry.createEntrance(DEMO_ACTOR, {
      buildingId: building.id,
      name: 'Hoofdingang',
      signPresent: true,
    });
    for (const name of DEMO_CAMERAS) {
      const camera = await deps.registry.createCamera(DEMO_ACTOR, {
        buildingId: building.id,
        entranceId: entrance.id,
        name,
        goals: ['protect-persons'],
        streamUrl: pathToFileURL(clip).toString(),
        connectionSecured: true,
      });
      await deps.registry.activateCamera(DEMO_ACTOR, camera.id);
      cameraIds.push(camera.id);
    }
  } else {
    const cameras = await deps.registry.listCameras({ complexId: complex.id, limit: 200 });
    cameraIds.push(...cameras.items.map((c) => c.id));
  }

  const users: DemoUser[] = [];
  for (const role of footageRoles(deps.policy())) {
    const username = `demo-${role}`;
    try {
      const issued = await deps.users.addUser(DEMO_ACTOR, { username, displayName: `Demo ${role}`, roles: [role] });
      users.push({ username, role, signInPath: issued.signInPath });
    } catch (error) {
      // Made by an earlier demo run: its password and TOTP were chosen then.
      if (!(error instanceof DomainError) || error.kind !== 'conflict') throw error;
      users.push({ username, role, signInPath: null });
    }
  }
  return { complexId: complex.id, cameraIds, users };
}
