import { Inject } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Namespace } from 'socket.io';
import { DEPLOYMENTS_NAMESPACE, DeploymentWsEvent, ErrorCode, FathomError, type DeploymentView } from '@fathom/contracts';
import { Authenticator, presentedKey } from '../auth/authenticator';
import { mapError } from '../common/api-exception.filter';

/**
 * socket.io namespace /deployments (admin keys only): every socket gets `deployment.state` with a
 * deployment's view after each change of its state or of its workers' reports. Each API instance
 * emits to its own sockets what its reconciler sees change (every instance reads the registry each
 * second), so a change made on another instance arrives too, without a cross-instance adapter.
 */
// CORS and the Origin check: FathomIoAdapter (API_CORS_ORIGINS).
@WebSocketGateway({ namespace: DEPLOYMENTS_NAMESPACE })
export class DeploymentsGateway implements OnGatewayInit {
  @WebSocketServer()
  private readonly namespace!: Namespace;

  constructor(@Inject(Authenticator) private readonly authenticator: Authenticator) {}

  /** As /jobs: the key comes with the handshake (`auth: {token}` or a header); it must have models:admin. */
  afterInit(namespace: Namespace): void {
    namespace.use((socket, next) => {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      const key = typeof token === 'string' && token !== '' ? token : presentedKey(socket.handshake.headers);
      this.authenticator
        .authenticate(key)
        .then((principal) => {
          if (!principal)
            throw new FathomError(ErrorCode.Unauthorized, 'Send an API key in the handshake: io(url, { auth: { token: key } }).');
          if (!principal.scopes.includes('models:admin'))
            throw new FathomError(ErrorCode.Forbidden, 'This key lacks the scope models:admin that /deployments needs.', {
              scopes: ['models:admin'],
            });
          next();
        })
        .catch((error: unknown) => {
          const { error: body } = mapError(error).body;
          next(Object.assign(new Error(body.message), { data: body }));
        });
    });
  }

  /** Sends a deployment's view to this instance's sockets. */
  emit(view: DeploymentView): void {
    this.namespace?.emit(DeploymentWsEvent.State, view);
  }
}
