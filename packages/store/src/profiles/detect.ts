import type { RedisConnection } from '@herald/shared';
import type { Db } from 'mongodb';
import { ferretdbProfile } from './ferretdb.ts';
import { mongodbProfile } from './mongodb.ts';
import type { ServerProfile } from './profile.ts';

/** FerretDB names itself in `buildInfo` (`ferretdbVersion`); MongoDB does not. */
export async function detectProfile(db: Db, locks?: { redis: RedisConnection; prefix: string }): Promise<ServerProfile> {
  const info = await db.admin().command({ buildInfo: 1 });
  return typeof info.ferretdbVersion === 'string' ? ferretdbProfile(locks) : mongodbProfile;
}

export type ProfileName = ServerProfile['name'];

/** A profile by name: for the conformance suite, which runs every operation under each. */
export function profileNamed(name: ProfileName, locks?: { redis: RedisConnection; prefix: string }): ServerProfile {
  return name === 'ferretdb' ? ferretdbProfile(locks) : mongodbProfile;
}
