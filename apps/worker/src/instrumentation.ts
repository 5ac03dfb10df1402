/**
 * Imported first by main.ts, before reflect-metadata, Nest and BullMQ load: the OpenTelemetry SDK
 * must be running before the modules it instruments are required. Off (no OTLP endpoint), it
 * starts nothing.
 */
import { startTracing } from '@fathom/telemetry';

export const tracing = startTracing('fathom-worker');
