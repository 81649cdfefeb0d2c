// What several of lab 2's step files share: helpers, constants, probes.
import {link} from '#net/ip.js'
// Lab 2's checks: the learner's XDP program, built, verified, test-run on crafted frames,
// pinned, attached by the plugin to every pod, and seen in trace_pipe.

/**
 * trace_pipe lines printed while `send` runs (a 2-second window). trace_pipe hands out what it
 * buffered before it was opened (older pods at the same addresses, too): only later lines count.
 */
export async function xdpIdOn(dev: string): Promise<number | undefined> {
  const l = await link(dev)
  return l?.xdp?.prog?.id ?? l?.xdp?.attached?.[0]?.prog.id
}
