import { Injectable } from '@nestjs/common';

/** The sample's fixed user list. A real application checks passwords against its own user store. */
export interface DemoUser {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
}

export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'alice', name: 'Alice', groups: ['admin', 'staff'] },
  { id: 'bob', name: 'Bob', groups: ['staff'] },
  { id: 'carol', name: 'Carol', groups: [] },
  { id: 'mallory', name: 'Mallory', groups: ['admin', 'banned'] },
];

/** Every demo user's first password: `<id>-password`. */
export const demoPassword = (id: string): string => `${id}-password`;

export function groupsOf(userId: string): readonly string[] {
  return DEMO_USERS.find((user) => user.id === userId)?.groups ?? [];
}

/** The demo users' passwords, in memory: each application instance starts from the demo ones. */
@Injectable()
export class UsersService {
  private readonly passwords = new Map(DEMO_USERS.map((user) => [user.id, demoPassword(user.id)]));

  /** The user whose id and password these are, or undefined. */
  check(id: unknown, password: unknown): DemoUser | undefined {
    if (typeof id !== 'string' || typeof password !== 'string') return undefined;
    const user = DEMO_USERS.find((candidate) => candidate.id === id);
    return user !== undefined && this.passwords.get(id) === password ? user : undefined;
  }

  find(id: string): DemoUser | undefined {
    return DEMO_USERS.find((user) => user.id === id);
  }

  setPassword(id: string, password: string): void {
    this.passwords.set(id, password);
  }
}
