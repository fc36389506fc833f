// Starting the interop scripts as child processes, the way the Go tests do: spawn, read the one
// JSON line from stdout (bounded wait), and stop them again by pid.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Every child still running when this process exits is killed, so a failed test never leaves
// an authorization server behind (and never keeps the test runner waiting on its pipes).
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
function track(child) {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/**
 * Spawns `node <script> ...args` in examples/interop and resolves with {child, info, stderr()}
 * once it printed its JSON line. stdin is a pipe: closing it stops as.mjs and mock-rs.mjs.
 */
export function startScript(script, args = [], { timeoutMs = 30_000, env } = {}) {
  const child = track(spawn(process.execPath, [path.join(DIR, script), ...args], {
    cwd: DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  }));
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      stop(child);
      reject(new Error(`${script} printed no JSON line within ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolve({ child, info: JSON.parse(out.slice(0, nl)), stderr: () => err });
        } catch (e) {
          stop(child);
          reject(new Error(`${script} printed a bad first line: ${out.slice(0, nl)}`));
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before printing its JSON line; stderr: ${err}`));
    });
  });
}

/** Stops a child started by startScript: SIGTERM, then SIGKILL after graceMs. Resolves on exit. */
export function stop(child, graceMs = 2000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}

/** Runs `node <script> ...args` to completion; resolves {code, stdout, stderr, json} (json: last stdout line parsed). */
export function runScript(script, args = [], { timeoutMs = 30_000, env } = {}) {
  const child = track(spawn(process.execPath, [path.join(DIR, script), ...args], {
    cwd: DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop();
      let json;
      try { json = JSON.parse(last); } catch { /* not JSON */ }
      resolve({ code: code ?? signal, stdout, stderr, json });
    });
  });
}
