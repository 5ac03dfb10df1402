import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { KeysController } from './keys.controller';

/** API keys (/v1/keys) and the audit log (/v1/audit), over the stores in infrastructure/. */
@Module({ controllers: [KeysController, AuditController] })
export class KeysModule {}
