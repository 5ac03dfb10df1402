import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attempt, openLoop } from './open-loop';

const image = { name: 'x.png', bytes: Buffer.from('bytes') };

describe('the load runs of scenario 6', () => {
  let server: Server;
  let base: string;
  const arrivals: number[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      arrivals.push(performance.now());
      req.resume();
      req.on('end', () => {
        switch (req.url) {
          case '/ok':
            res.writeHead(200, { 'x-fathom-job-id': 'j1' }).end('artifact');
            return;
          case '/accepted':
            res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'j2' }));
            return;
          case '/full':
            res.writeHead(503, { 'retry-after': '5' }).end('{}');
            return;
          case '/busy':
            res.writeHead(429).end('{}');
            return;
          case '/hang':
            return; // never answers: the client's timeout must end it
          default:
            res.writeHead(500).end('boom');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('tells every kind of answer apart, and a request left hanging from an error', async () => {
    const at = (path: string) => attempt({ url: `${base}${path}` }, image, 300, performance.now());
    expect(await at('/ok')).toMatchObject({ outcome: 'ok', status: 200, jobId: 'j1' });
    expect(await at('/accepted')).toMatchObject({ outcome: 'accepted', status: 202, jobId: 'j2' });
    expect(await at('/full')).toMatchObject({ outcome: 'refused', status: 503, retryAfter: '5' });
    const busy = await at('/busy');
    expect(busy).toMatchObject({ outcome: 'refused', status: 429 });
    expect(busy.retryAfter).toBeUndefined();
    expect(await at('/boom')).toMatchObject({ outcome: 'error', status: 500 });
    const hung = await at('/hang');
    expect(hung.outcome).toBe('timeout');
    expect(hung.settledMs - hung.sentMs).toBeGreaterThanOrEqual(290);
  });

  it('sends at the fixed rate however slowly the server answers, and waits for every request', async () => {
    arrivals.length = 0;
    const run = await openLoop({ url: `${base}/hang` }, [image], 20, 0.5, 1500); // none times out while sending
    expect(run.attempts).toHaveLength(10);
    expect(run.attempts.every((a) => a.outcome === 'timeout')).toBe(true);
    // Ten arrivals, though none was ever answered (a closed loop would have sent one), each sent no
    // earlier than its due time i × 50 ms on the run's own clock (a timer may fire up to 1 ms early).
    // Only a lower bound: a loaded machine sends late, never early.
    expect(arrivals).toHaveLength(10);
    run.attempts.forEach((a, i) => expect(a.sentMs).toBeGreaterThanOrEqual(i * 50));
    expect(run.inFlightAtEnd).toBe(10);
  });
});
