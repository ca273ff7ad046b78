/** The checked policy with its defaults (a `ResolvedSessionPolicy`). */
export const SESSION_POLICY = Symbol('nestjs-connected:policy');
/** The `SessionStore` in use. */
export const SESSION_STORE = Symbol('nestjs-connected:store');
