import { Inject } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Namespace } from 'socket.io';
import { DEPLOYMENTS_NAMESPACE, DeploymentWsEvent, type DeploymentView } from '@fathom/contracts';
import { Authenticator } from '../auth/authenticator';
import { authenticateSockets } from '../auth/socket-authentication';

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
    authenticateSockets(namespace, this.authenticator, 'models:admin');
  }

  /** Sends a deployment's view to this instance's sockets. */
  emit(view: DeploymentView): void {
    this.namespace?.emit(DeploymentWsEvent.State, view);
  }
}
