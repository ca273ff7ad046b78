import type { RefusalCode } from '../../context/session-transport.js';
import { CROSS_ORIGIN_MESSAGE } from '../../exceptions/csrf-rejected.exception.js';

/** The `extensions.code` of a refused GraphQL operation, for each refusal (Apollo's names for the first two). */
export const GRAPHQL_REFUSAL_CODES: Readonly<Record<RefusalCode, string>> = {
  unauthenticated: 'UNAUTHENTICATED',
  forbidden: 'FORBIDDEN',
  reauthenticate: 'REAUTHENTICATE',
  store_unavailable: 'SESSION_STORE_UNAVAILABLE',
  csrf: 'FORBIDDEN',
};

const MESSAGES: Readonly<Record<RefusalCode, string>> = {
  unauthenticated: 'Not connected',
  forbidden: 'Permission denied',
  reauthenticate: 'Reauthentication required',
  store_unavailable: 'Session store unavailable',
  csrf: CROSS_ORIGIN_MESSAGE,
};

/**
 * A refused GraphQL resolver (over HTTP or graphql-ws). Not an `HttpException` on purpose: GraphQL servers turn
 * those into their own codes (Apollo makes a 503 `INTERNAL_SERVER_ERROR`), while graphql-js copies an error's own
 * `extensions` into the response, on Apollo and Mercurius alike. The rest of the query still resolves.
 */
export class GraphQLRefusalError extends Error {
  readonly extensions: { readonly code: string };

  constructor(
    readonly refusal: RefusalCode,
    message: string = MESSAGES[refusal],
  ) {
    super(message);
    this.name = 'GraphQLRefusalError';
    this.extensions = { code: GRAPHQL_REFUSAL_CODES[refusal] };
  }
}
