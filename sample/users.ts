/** The sample's fixed user list. A real application checks passwords against its own user store. */
export interface DemoUser {
  readonly id: string;
  readonly password: string;
  readonly groups: readonly string[];
}

export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'alice', password: 'alice-password', groups: ['admin', 'staff'] },
  { id: 'bob', password: 'bob-password', groups: ['staff'] },
  { id: 'mallory', password: 'mallory-password', groups: ['admin', 'banned'] },
];

export function findUser(id: unknown, password: unknown): DemoUser | undefined {
  return DEMO_USERS.find((user) => user.id === id && user.password === password);
}

export function groupsOf(userId: string): readonly string[] {
  return DEMO_USERS.find((user) => user.id === userId)?.groups ?? [];
}
