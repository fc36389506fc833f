// How the interop servers (as.mjs, ts-server.mjs, mock-rs.mjs) stop, as README.md promises: on
// SIGTERM or SIGINT, when their stdin is a pipe and gets closed (a parent that holds it stops them by
// closing it, or by dying), and after --max-lifetime seconds (mock-rs.mjs: 10 minutes). lib/proc.mjs
// and the Go tests stop them this way (stdin closed, SIGTERM, then SIGKILL).

import * as fs from 'node:fs';

/**
 * Installs the stop triggers for `server` (a node:http Server) in this process: SIGTERM, SIGINT,
 * the end of (or an error on) stdin when stdin is a pipe or a socket (a terminal or /dev/null
 * stdin is ignored), and, when maxLifetime > 0, maxLifetime seconds. The first trigger logs
 * "<name>: shutting down (<why>)" to stderr, calls beforeClose (if given), closes the server and
 * all its connections, and exits with status 0 once it closed, or after 1 s at the latest; later
 * triggers do nothing. Returns the shutdown function, (why) => void.
 */
export function installShutdown(name, server, { maxLifetime = 0, beforeClose } = {}) {
  let closing = false;
  const shutdown = (why) => {
    if (closing) return;
    closing = true;
    console.error(`${name}: shutting down (${why})`);
    beforeClose?.();
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    const st = fs.fstatSync(0);
    if (st.isFIFO() || st.isSocket()) {
      process.stdin.on('end', () => shutdown('stdin closed'));
      process.stdin.on('error', () => shutdown('stdin error'));
      process.stdin.resume();
    }
  } catch { /* no stdin */ }
  if (maxLifetime > 0) {
    setTimeout(() => shutdown(`max lifetime ${maxLifetime}s`), maxLifetime * 1000).unref();
  }
  return shutdown;
}
