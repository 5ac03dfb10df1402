import { timingSafeEqual, createHash } from 'node:crypto';
import { createParamDecorator, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ErrorCode, FathomError } from '@fathom/contracts';
import { API_CONFIG, type ApiConfig } from '../../config/api.config';

interface AdminRequest {
  headers: Record<string, string | string[] | undefined>;
  adminKeyId?: string;
}

/** Admin routes need `Authorization: Bearer <secret>` of one of API_ADMIN_KEYS; the key's id is kept for the log. */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  constructor(@Inject(API_CONFIG) private readonly config: ApiConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AdminRequest>();
    if (this.config.API_ADMIN_KEYS.length === 0) {
      throw new FathomError(ErrorCode.AdminDisabled, 'The admin API is off: set API_ADMIN_KEYS (id:secret pairs) to turn it on.');
    }
    const header = request.headers.authorization;
    const presented = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    // Compare digests, so neither the length nor the content of a key leaks through timing.
    const digest = (value: string) => createHash('sha256').update(value).digest();
    const key = presented && this.config.API_ADMIN_KEYS.find((k) => timingSafeEqual(digest(k.secret), digest(presented)));
    if (!key) throw new FathomError(ErrorCode.Unauthorized, 'Send an admin key as `Authorization: Bearer <key>`.');
    request.adminKeyId = key.id;
    return true;
  }
}

/** The id of the admin key that authorised this request. */
export const AdminKeyId = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  return context.switchToHttp().getRequest<AdminRequest>().adminKeyId ?? 'unknown';
});
