import { Module } from '@nestjs/common';
import { WebController } from './web.controller';

/** The single-page web client at /. */
@Module({ controllers: [WebController] })
export class WebModule {}
