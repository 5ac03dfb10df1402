// Imported by main.ts before anything else: the OpenTelemetry SDK must patch `http` before Fastify,
// Nest and socket.io load. With no OTLP endpoint configured it starts nothing.
import { startTracing } from '@fathom/telemetry';

export const tracing = startTracing('fathom-api');
