import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/scopes.decorator';
import { readWebPage } from './web-page';

/** The single-page web client: upload, watch progress live, see and download the result. */
@ApiExcludeController()
@Public()
@Controller()
export class WebController {
  private readonly page = readWebPage();

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  index(): string {
    return this.page;
  }
}
