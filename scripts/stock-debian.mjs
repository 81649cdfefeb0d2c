// A simulated attendee VM's processes as a stock Debian 12 would run them, on a machine that is
// not one: in a mount namespace of their own where root's .bashrc is Debian's (base-files'). Bash
// reads .bashrc when sshd starts it, so without this every SSH session of a simulated VM ran this
// machine's: on the CI machine pyenv's init, 0.15 s of CPU a session, and once a stale pyenv lock
// that hung every session. Used by test/helpers/room.ts and scripts/bench-fleet.mjs.

/** The argument vector that runs `args` so. */
export const asStockDebian = (args) => [
  'unshare',
  '--mount',
  '--propagation',
  'private',
  'sh',
  '-c',
  'if [ -e /root/.bashrc ]; then mount --bind -o ro "$0" /root/.bashrc || exit 1; fi; exec "$@"',
  '/usr/share/base-files/dot.bashrc',
  ...args,
]
