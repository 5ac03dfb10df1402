import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerOptions } from './logger';

describe('log redaction', () => {
  function logLine(write: (logger: pino.Logger) => void): string {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    write(pino(loggerOptions('test', 'info'), sink));
    return out;
  }

  it("never prints the arguments of the command an ioredis error carries (AUTH's are the password)", () => {
    // The shape ioredis gives a refused AUTH: the reply's text, and the command with its arguments.
    const error = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
      command: { name: 'auth', args: ['hunter2-secret'] },
    });
    const asErr = [logLine((l) => l.error(error)), logLine((l) => l.error({ err: error }, 'failed'))];
    for (const line of asErr) expect(line).toContain('WRONGPASS');
    for (const line of [...asErr, logLine((l) => l.warn({ error }))]) expect(line).not.toContain('hunter2-secret');
  });

  it('never prints credentials headers', () => {
    const line = logLine((l) => l.info({ req: { headers: { authorization: 'Bearer abc123', 'x-api-key': 'k-123' } } }, 'request'));
    expect(line).not.toContain('abc123');
    expect(line).not.toContain('k-123');
  });
});
