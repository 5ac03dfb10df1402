import type { Namespace, Socket } from 'socket.io';
import { ErrorCode, FathomError, type Scope } from '@fathom/contracts';
import { mapError } from '../common/api-exception.filter';
import { presentedKey, type Authenticator } from './authenticator';
import type { Principal } from './principal';

/**
 * Sockets of `namespace` authenticate in the handshake (`auth: {token}`, or an Authorization /
 * X-API-Key header): a missing or bad key, or one without `scope`, is refused before the
 * connection opens, with a connect_error whose `data` is {code, message}. The socket then acts as
 * its key (socketPrincipal). One rule for every namespace (/jobs, /deployments, /evaluations).
 */
export function authenticateSockets(namespace: Namespace, authenticator: Authenticator, scope?: Scope): void {
  namespace.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const key = typeof token === 'string' && token !== '' ? token : presentedKey(socket.handshake.headers);
    authenticator
      .authenticate(key)
      .then((principal) => {
        if (!principal)
          throw new FathomError(ErrorCode.Unauthorized, 'Send an API key in the handshake: io(url, { auth: { token: key } }).');
        if (scope && !principal.scopes.includes(scope)) {
          throw new FathomError(ErrorCode.Forbidden, `This key lacks the scope ${scope} that ${namespace.name} needs.`, {
            scopes: [scope],
          });
        }
        (socket.data as { principal?: Principal }).principal = principal;
        next();
      })
      .catch((error: unknown) => {
        const { error: body } = mapError(error).body;
        next(Object.assign(new Error(body.message), { data: body }));
      });
  });
}

/** The key a socket authenticated as (authenticateSockets), if any. */
export function socketPrincipal(socket: Socket): Principal | undefined {
  return (socket.data as { principal?: Principal }).principal;
}
