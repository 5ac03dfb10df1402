import { Global, Logger, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyStore, ApiKeyVerifier } from '@fathom/database';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { Authenticator } from './authenticator';
import { ScopesGuard } from './scopes.guard';

/**
 * Who is calling: the Authenticator (keys → principal, used by the HTTP hook and the socket
 * handshake) and the global ScopesGuard. Global, so the gateway can authenticate sockets.
 */
@Global()
@Module({
  providers: [
    {
      provide: ApiKeyVerifier,
      inject: [ApiKeyStore, API_CONFIG],
      useFactory: (keys: ApiKeyStore, c: ApiConfig) => {
        const logger = new Logger('ApiKeys');
        return new ApiKeyVerifier(keys, {
          cacheMs: c.API_KEY_CACHE_MS,
          onTouchError: (error) => logger.warn({ msg: "could not record a key's last use", error: error.message }),
        });
      },
    },
    Authenticator,
    { provide: APP_GUARD, useClass: ScopesGuard },
  ],
  exports: [Authenticator],
})
export class AuthModule {}
