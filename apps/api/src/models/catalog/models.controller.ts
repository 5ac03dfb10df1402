import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { ModelListing } from '@fathom/contracts';
import { RequireScopes } from '../../auth/scopes.decorator';
import { ModelListDto } from './dto/model-list.dto';
import { ServedModelsService } from './served-models.service';

@ApiTags('models')
@Controller('v1/models')
export class ModelsController {
  constructor(@Inject(ServedModelsService) private readonly models: ServedModelsService) {}

  @Get()
  // Any valid key: a client picks its model from this list.
  @RequireScopes()
  @ApiOperation({ summary: 'Models that live workers serve now, with their task options' })
  @ApiResponse({ status: 200, type: ModelListDto })
  async list(): Promise<{ models: ModelListing[] }> {
    return { models: await this.models.listings() };
  }
}
