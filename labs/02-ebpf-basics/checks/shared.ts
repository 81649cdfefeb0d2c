// What several of lab 2's step files share: helpers, constants, probes.
import {join} from 'node:path'
import {link} from '#net/ip.js'
import {sourceNewerThanObject} from '#bpf/build.js'
import {objectOf} from '#engine/lab-module.js'
import {pinnedProgram, type Lab2Context} from '../context.js'

export async function xdpIdOn(dev: string): Promise<number | undefined> {
  const l = await link(dev)
  return l?.xdp?.prog?.id ?? l?.xdp?.attached?.[0]?.prog.id
}

/**
 * Whether the pinned program is not what the workspace's source builds now: the edit was not reloaded,
 * and (when the workspace's .o is older than its .c) not built either. `pinned` names the pin as the
 * message should (e.g. "the pinned program the pods run"). Undefined when they are the same, or when
 * that cannot be told.
 */
export async function staleProgram(
  ctx: Lab2Context,
  pinned = 'the pinned program',
): Promise<{message: string; hint: string} | undefined> {
  const pin = pinnedProgram(ctx.program.xdpPin())
  const l = await ctx.program.loaded()
  if (!pin || !l.ok || !l.tag || pin.tag === l.tag) return undefined
  const file = ctx.program.fileName
  const obj = join(ctx.program.workspace, objectOf(file))
  const notBuilt = sourceNewerThanObject(obj) !== undefined
  return {
    message: `${pinned} (tag ${pin.tag}) is not the one ${file} builds now (tag ${l.tag}): your program was not reloaded since you edited it${notBuilt ? ` (nor built: ${file} is newer than ${objectOf(file)})` : ''}`,
    hint: `ebpfcni bpf build && ebpfcni bpf load --replace, then check again: --replace gives the new program to every veth that ran the old one.`,
  }
}

/** What a trace_pipe line printed (after "bpf_trace_printk: "), without the task, CPU and timestamp before it. */
export const printed = (line: string): string => line.replace(/^.*?bpf_trace_printk:\s*/, '').trim()
