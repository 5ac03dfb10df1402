/**
 * Loaded with `node --require` into the API and the worker that `npm start` runs. Node has no
 * PR_SET_PDEATHSIG, so each child watches the IPC channel the launcher opened to it: the channel
 * closes when the launcher goes, however it goes (SIGKILL included). The child then stops as on
 * SIGTERM (its graceful shutdown), and kills itself if that has not ended within
 * START_STOP_GRACE_MS. Imports nothing: it runs before the app's own first line.
 */
const DEFAULT_GRACE_MS = 10_000;

if (process.channel) {
  // The channel must not keep a process alive that would otherwise exit.
  process.channel.unref();
  process.once('disconnect', () => {
    const grace = Number(process.env.START_STOP_GRACE_MS) || DEFAULT_GRACE_MS;
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), grace).unref();
    process.kill(process.pid, 'SIGTERM');
  });
}
