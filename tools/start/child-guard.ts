/**
 * `node child-guard.js COMMAND ARGS…`: runs a program that is not Node (redis-server) so that it
 * cannot outlive the launcher. The launcher spawns this guard with an IPC channel; when the channel
 * closes (the launcher died, even by SIGKILL) the guard stops the program with SIGTERM, then
 * SIGKILL after START_STOP_GRACE_MS. SIGTERM or SIGINT to the guard is passed on the same way. The
 * guard tells the launcher the program's pid, and ends as the program ended (same code, same signal).
 */
import { spawn } from 'node:child_process';

const DEFAULT_GRACE_MS = 10_000;
const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  console.error('usage: node child-guard.js COMMAND [ARGS…]');
  process.exit(2);
}

const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let ending = false;

function end(signal: NodeJS.Signals): void {
  if (ending || child.exitCode !== null || child.signalCode !== null) return;
  ending = true;
  child.kill(signal);
  const grace = Number(process.env.START_STOP_GRACE_MS) || DEFAULT_GRACE_MS;
  setTimeout(() => child.kill('SIGKILL'), grace).unref();
}

child.once('spawn', () => process.send?.({ pid: child.pid }));
child.once('error', (error) => {
  console.error(`child-guard: ${command}: ${error.message}`);
  process.exit(127);
});
child.once('exit', (code, signal) => {
  process.channel?.unref();
  if (signal === null) process.exit(code ?? 1);
  // Die of the same signal, so the launcher reads the program's own ending.
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
});
process.once('disconnect', () => end('SIGTERM'));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => end(signal));
