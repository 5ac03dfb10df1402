import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { sql } from 'kysely';
import type { Database } from '@fathom/database';
import { RedisAvailability, type RedisClient } from '@fathom/queue';
import { Public } from '../auth/scopes.decorator';
import { DATABASE } from '../infrastructure/database.providers';
import { REDIS } from '../infrastructure/redis.providers';
import { ServedModelsService } from '../models/catalog/served-models.service';

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(ServedModelsService) private readonly models: ServedModelsService,
    @Inject(RedisAvailability) private readonly availability: RedisAvailability,
    @Inject(DATABASE) private readonly db: Database,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: Redis and the database answer (live workers are reported, not required: pools may scale to zero)' })
  readyz(): Promise<HealthCheckResult> {
    return this.health.check([
      async () => {
        const session = this.indicators.check('redis');
        // Known to be down: answer at once (the probe notices its return). Otherwise one PING,
        // bounded by REDIS_COMMAND_TIMEOUT_MS like every command.
        if (!this.availability.available) return session.down({ message: 'unavailable' });
        try {
          await this.redis.ping();
          return session.up();
        } catch (error) {
          this.availability.failed(error);
          return session.down({ message: error instanceof Error ? error.message : 'unreachable' });
        }
      },
      async () => {
        const session = this.indicators.check('database');
        try {
          await sql`SELECT 1`.execute(this.db);
          return session.up();
        } catch (error) {
          return session.down({ message: error instanceof Error ? error.message : 'unreachable' });
        }
      },
      // Information only (ADR 0015): a pool scaled to zero has no live worker, and jobs for a
      // serving deployment still queue for the worker they wake (ADR 0013).
      async () => {
        const session = this.indicators.check('workers');
        if (!this.availability.available) return session.up({ alive: null, message: 'unknown while Redis is unavailable' });
        const workers = await this.models.liveWorkers().catch(() => null);
        return session.up({ alive: workers?.length ?? null });
      },
    ]);
  }
}
