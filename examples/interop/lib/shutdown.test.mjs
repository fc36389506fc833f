// Proves lib/shutdown.mjs (how as.mjs and ts-server.mjs stop) in a child process of its own: a
// server on 127.0.0.1 with installShutdown, stopped by each trigger.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const SHUTDOWN = new URL('./shutdown.mjs', import.meta.url).href;

// The child: a server with a request in flight that it never answers (its connection is open, not
// idle, so the server closes only once it closed it), which logs when it closed; installShutdown
// with beforeClose; and one line on stdout once ready: "ready <port>". "twice" on its stdin calls
// the shutdown function twice.
const fixture = (maxLifetime) => `
import * as http from 'node:http';
import { installShutdown } from ${JSON.stringify(SHUTDOWN)};
const server = http.createServer((req, res) => {
  if (req.url !== '/hang') { res.end('ok'); return; }
  const shutdown = installShutdown('fixture', server, {
    maxLifetime: ${maxLifetime},
    beforeClose: () => console.error('fixture: before close'),
  });
  process.stdin.on('data', (d) => { if (String(d).includes('twice')) { shutdown('first'); shutdown('second'); } });
  process.stdout.write(\`ready \${server.address().port}\\n\`);
});
server.on('close', () => console.error('fixture: server closed'));
server.listen(0, '127.0.0.1', () => {
  http.get({ host: '127.0.0.1', port: server.address().port, path: '/hang' }).on('error', () => {});
});
`;

/**
 * Runs the fixture with stdin as given ('pipe' or 'ignore', which is /dev/null) and resolves
 * {child, port, exited} once it is ready; exited resolves {code, signal, stderr}. It rejects if the
 * fixture is not ready within 10 s; the child is killed if it still runs when the test ends.
 */
function startFixture(t, { stdin = 'pipe', maxLifetime = 0 } = {}) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', fixture(maxLifetime)], {
    stdio: [stdin, 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stderr })); // exited, stdio read
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture not ready within 10 s; stderr: ${stderr}`)), 10_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^ready (\d+)\n/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]), exited }); }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited (${code ?? signal}) before ready; stderr: ${stderr}`));
    });
  });
}

/** Resolves what exited resolves, or rejects after ms. */
function within(exited, ms) {
  let timer;
  return Promise.race([
    exited,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

const shutdownLines = (stderr) => stderr.split('\n').filter((l) => l.includes('shutting down'));

test('stdin closed: logs why, runs beforeClose, closes open connections, exits 0', { timeout: 30_000 }, async (t) => {
  const { child, exited } = await startFixture(t);
  child.stdin.end();
  const { code, signal, stderr } = await within(exited, 5_000);
  assert.equal(code, 0, `exit ${code ?? signal}; stderr: ${stderr}`);
  assert.match(stderr, /^fixture: shutting down \(stdin closed\)\nfixture: before close\nfixture: server closed\n/);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  test(`${sig}: exits 0`, { timeout: 30_000 }, async (t) => {
    const { child, exited } = await startFixture(t);
    child.kill(sig);
    const { code, signal, stderr } = await within(exited, 5_000);
    assert.equal(code, 0, `exit ${code ?? signal}; stderr: ${stderr}`);
    assert.deepEqual(shutdownLines(stderr), [`fixture: shutting down (${sig})`]);
  });
}

test('shutdown called twice: one shutdown', { timeout: 30_000 }, async (t) => {
  const { child, exited } = await startFixture(t);
  child.stdin.write('twice\n');
  const { code, signal, stderr } = await within(exited, 5_000);
  assert.equal(code, 0, `exit ${code ?? signal}; stderr: ${stderr}`);
  assert.deepEqual(shutdownLines(stderr), ['fixture: shutting down (first)']);
  assert.equal(stderr.split('\n').filter((l) => l === 'fixture: before close').length, 1, stderr);
});

test('a /dev/null stdin is not a stop: it runs until told', { timeout: 30_000 }, async (t) => {
  const { child, port, exited } = await startFixture(t, { stdin: 'ignore' });
  // Still serving after the ready line, though /dev/null is at its end at once.
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(await res.text(), 'ok');
  assert.equal(child.exitCode, null);
  child.kill('SIGTERM');
  const { code, signal, stderr } = await within(exited, 5_000);
  assert.equal(code, 0, `exit ${code ?? signal}; stderr: ${stderr}`);
  assert.deepEqual(shutdownLines(stderr), ['fixture: shutting down (SIGTERM)']);
});

test('max lifetime: stops on its own after that many seconds', { timeout: 30_000 }, async (t) => {
  const { exited } = await startFixture(t, { maxLifetime: 1 });
  const started = Date.now();
  const { code, signal, stderr } = await within(exited, 10_000);
  assert.equal(code, 0, `exit ${code ?? signal}; stderr: ${stderr}`);
  assert.deepEqual(shutdownLines(stderr), ['fixture: shutting down (max lifetime 1s)']);
  assert.ok(Date.now() - started < 5_000);
});
