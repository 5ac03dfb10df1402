import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';

/** The single-page web client: upload, watch progress live, see and download the result. */
@ApiExcludeController()
@Controller()
export class WebController {
  private readonly page = readFileSync(join(__dirname, 'public', 'index.html'), 'utf8');

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  index(): string {
    return this.page;
  }
}
