import {join} from 'node:path'
import {CheckSkip, fail, type CheckDefinition} from '#checks/engine.js'
import {DEFAULT_XDP_PIN, pinnedProgram, type Lab2Context} from '../context.js'
import {objGet, PROG_TYPE, testRun} from '#bpf/object.js'
import {closeFd} from '#bpf/ffi.js'
import {arp, ipv4Tcp} from '#bpf/frames.js'
import {xdpVerdictName, XDP_ACT} from '#bpf/attach.js'
import {hostPeer, link, links} from '#net/ip.js'
import {attachments} from '#net/attachments.js'
import {httpGet} from '#net/probes.js'
import {staleProgram, xdpIdOn} from './shared.js'

/**
 * Why a failed ADD left something. Whether the plugin's error path undoes anything depends on the
 * workspace (lab 1's production step makes fail() undo), and the check sees only what was left.
 */
const NOTHING_TO_UNDO =
  'test the pin first in ADD, before the address and the veth are made: then a missing pin leaves nothing behind, whatever the error path undoes'

/** Step attach's checks (lab.yaml orders the run). */
export const ATTACH_CHECKS: Array<CheckDefinition<Lab2Context>> = [
  {
    id: 'bpf.pinned',
    cost: 'cheap',
    title: `the program is pinned at the config's xdpPin (else ${DEFAULT_XDP_PIN}, where bpf load pins it), and is the current build`,
    hint: 'ebpfcni bpf build && ebpfcni bpf load --replace',
    run: async (ctx) => {
      const pin = ctx.program.xdpPin()
      const p = pinnedProgram(pin)
      if (!p) fail(`nothing is pinned at ${pin}${pinSource(ctx)}`)
      if (p.type !== PROG_TYPE.XDP) fail(`${pin} holds a program of type ${p.type}, not XDP (${PROG_TYPE.XDP})`)
      const stale = await staleProgram(ctx)
      if (stale) fail(`${stale.message}: the pin is stale`, stale.hint)
      return `${pin}${pinSource(ctx)}: XDP program ${p.id}, tag ${p.tag}`
    },
  },
  {
    id: 'cni.add.attaches-xdp',
    title: "ADD attaches the pinned program to every pod's host veth",
    hint: `In ADD, after \`ip link set "$hostveth" master …\`: ip link set dev "$hostveth" xdpgeneric pinned "$xdp_pin" ($xdp_pin: the config's xdpPin, else ${DEFAULT_XDP_PIN}, where bpf load pins it)`,
    run: async (ctx) => {
      const pinned = pinnedProgram(ctx.program.xdpPin())
      if (!pinned) throw new CheckSkip('needs the program pinned (bpf.pinned)')
      const pods = [await ctx.plugin.podA(), await ctx.plugin.podB()]
      for (const p of pods) {
        if (!p.outcome.ok) {
          const elsewhere = otherPin(p.outcome.problem, ctx.program.xdpPin(), configNamesPin(ctx))
          if (elsewhere) fail(`ADD failed: ${p.outcome.problem}. ${elsewhere.message}`, elsewhere.hint)
          // Walked: an earlier run's attach to the bridge outlives the fix, and the kernel then refuses XDP
          // on every port of that bridge (dev_xdp_attach: an upper device already has a program).
          if (/upper device already has a program/.test(p.outcome.problem ?? '')) {
            const bridge = ctx.plugin.bridgeOf(p.net)
            const onBridge = (await links()).find((l) => l.ifname === bridge)
            const id = onBridge?.xdp?.prog?.id ?? onBridge?.xdp?.attached?.[0]?.prog.id
            if (id)
              fail(
                `ADD failed: ${p.outcome.problem}. The bridge ${bridge} runs XDP program ${id}, left by an earlier attach to the bridge: the kernel refuses XDP on a port whose upper device (its bridge) has a program`,
                `Remove it: ebpfcni bpf detach --dev ${bridge} (or ip link set dev ${bridge} xdpgeneric off). Your ADD attaches to "$hostveth", the port.`,
              )
          }
          fail(`ADD failed: ${p.outcome.problem}`, emptyPinHint(p.outcome.problem))
        }
        const host = await hostPeer(p.netnsPath, p.att.ifname)
        if (!host) fail(`cannot find pod ${p.name}'s host veth`)
        const id = await xdpIdOn(host.ifname)
        if (!id) {
          // ADD attached the pin, but to another interface of this namespace (the bridge, the host's own eth0);
          // other pods' host veths on the bridge run it rightly.
          const bridge = ctx.plugin.bridgeOf(p.net)
          const on = (await links()).filter(
            (l) => l.master !== bridge && (l.xdp?.prog?.id ?? l.xdp?.attached?.[0]?.prog.id) === pinned.id,
          )
          if (on.length)
            fail(
              `pod ${p.name}'s host veth ${host.ifname} has no XDP program; the pinned program runs on ${on.map((l) => l.ifname).join(', ')} instead`,
              `Attach to the host veth: ip link set dev "$hostveth" xdpgeneric pinned "$xdp_pin" ($CNI_IFNAME names the pod's end, inside the pod's netns). Remove the stray attachment: ${on.map((l) => `ip link set dev ${l.ifname} xdpgeneric off`).join('; ')}`,
            )
          fail(`pod ${p.name}'s host veth ${host.ifname} has no XDP program`)
        }
        if (id !== pinned.id)
          fail(
            `${host.ifname} runs XDP program ${id}, not the pinned one (${pinned.id}): attach the pinned program rather than loading a copy`,
          )
        // Walked: `xdp` (not `xdpgeneric`) picks native mode on a veth, and every other check passes:
        // the attach works; it is the mode the step asks that differs, and the message says why it asks.
        const notGeneric = (await attachments(host.ifname)).find((x) => x.hook === 'xdp' && x.mode !== 'generic')
        if (notGeneric)
          fail(
            `your ADD attaches the pinned program ${id} to pod ${p.name}'s host veth ${host.ifname}, and that works, but in ${notGeneric.mode === 'native' ? 'native (driver)' : notGeneric.mode} mode, where the step asks generic mode (xdpgeneric): generic runs on any interface, native only where the driver has XDP (veth's has), and on a veth native mode also changes the host end's receive path (it turns on NAPI)`,
            `In ADD: ip link set dev "$hostveth" xdpgeneric pinned "$xdp_pin" (plain \`xdp\` lets the kernel pick native mode). More in docs/learner.md, "Going further: lab 2". Pods you made before the fix keep native mode until you add them again.`,
          )
      }
      return `both pods' host veths run program ${pinned.id}`
    },
  },
  {
    id: 'cni.add.needs-pin',
    title:
      "with nothing pinned at the config's xdpPin, ADD fails with an error naming the pin, and leaves no veth and no address",
    hint: 'First in ADD, before the address and the veth are made: [ -e "$xdp_pin" ] || error 5 "no XDP program pinned at $xdp_pin"; never `|| true` on the attach.',
    run: async (ctx) => {
      // A pin path that cannot exist: this check's own, under a directory nobody made.
      const pin = join(ctx.pods.tmp, 'no-such-pin', 'xdp_prog')
      // A /30: one address for a pod. Had the failed ADD kept it, the ADD with the pin finds none.
      const net = ctx.plugin.checkNet('nopin', {xdpPin: pin})
      const bridge = ctx.plugin.bridgeOf(net)
      ctx.pods.warmNetns(2) // the ADD without the pin, and the one with it
      const p = await ctx.pods.attach(net, 'nopin')
      if (p.outcome.ok)
        fail(
          `ADD succeeded with nothing pinned at ${pin}: a pod without the program it should run`,
          'check the pin exists before attaching, and fail the ADD if it does not (an `|| true` hides it)',
        )
      const err = p.outcome.calls.at(-1)?.error
      if (!err) fail(`ADD without the pin failed without an error JSON: ${p.outcome.problem}`)
      if (!`${err.msg} ${err.details ?? ''}`.includes(pin))
        fail(
          `ADD without the pin failed with "${err.msg}", which does not name the pin ${pin}`,
          emptyPinHint(`${err.msg} ${err.details ?? ''}`),
        )
      if (await link(p.att.ifname, p.netnsName))
        fail(`the failed ADD left ${p.att.ifname} in the pod's netns`, NOTHING_TO_UNDO)
      const stray = (await links()).filter((l) => l.master === bridge)
      if (stray.length)
        fail(
          `after an ADD failed for want of the pin, ${stray.length} veth(s) are left on ${bridge}: ${stray.map((l) => l.ifname).join(', ')}`,
          NOTHING_TO_UNDO,
        )
      if (!pinnedProgram(ctx.program.xdpPin()))
        throw new CheckSkip(
          `an ADD without a pin failed naming it and left no veth; proving it freed its address needs the program pinned at ${ctx.program.xdpPin()} (bpf.pinned)`,
        )
      const real = ctx.plugin.checkNet('nopin', {xdpPin: ctx.program.xdpPin()})
      const ok = await ctx.pods.attach(real, 'nopin-after')
      // An ADD with the pin that fails on the learner's own network too fails for its own reason, not a leak.
      const a = ok.outcome.ok ? undefined : await ctx.plugin.podA()
      if (a && !a.outcome.ok)
        throw new CheckSkip(
          `an ADD without a pin failed naming it and left no veth; whether it freed its address needs a successful ADD with the pin, and that fails on your network too (cni.add.attaches-xdp): ${a.outcome.problem}`,
        )
      if (!ok.outcome.ok)
        fail(
          `after an ADD failed for want of the pin, an ADD with the pin failed in the same /30, whose one address the failed ADD had to leave free (did it keep it?): ${ok.outcome.problem}`,
          NOTHING_TO_UNDO,
        )
      return `an ADD without a pin failed naming ${pin}; no veth left on ${bridge}, and the /30's one address was free for the next ADD`
    },
  },
  {
    id: 'bpf.traffic-passes',
    title: 'pods still reach each other with the program attached',
    hint: 'A program that returns XDP_DROP or XDP_ABORTED on a path real traffic takes (ARP) breaks the pods.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      if (!b.ip) throw new CheckSkip('needs two pods')
      const r = await httpGet(b.netnsPath, `http://${a.ip}/get`)
      if (!r.ok) {
        // What the pinned program (the one on the pods' veths) gives the frames this exchange needs.
        const pin = ctx.program.xdpPin()
        const verdicts: Array<[string, number]> = []
        if (pinnedProgram(pin)) {
          const fd = objGet(pin)
          try {
            verdicts.push(['ARP', testRun(fd, arp()).retval])
            verdicts.push([`IPv4/TCP ${b.ip} → ${a.ip}:80`, testRun(fd, ipv4Tcp(b.ip, a.ip!, 80)).retval])
          } finally {
            closeFd(fd)
          }
        }
        const wrong = verdicts.filter(([, v]) => v !== XDP_ACT.PASS)
        fail(
          `sleep pod ${b.ip} → httpbin pod ${a.ip}: ${r.detail}${verdicts.length ? `; in a test run the pinned program gives ${verdicts.map(([f, v]) => `${f} ${xdpVerdictName(v)}`).join(', ')}` : ''}`,
          wrong.length
            ? wrong
                .map(([f, v]) =>
                  f === 'ARP'
                    ? `ARP gets ${xdpVerdictName(v)}: the pods cannot learn each other's MAC, so nothing flows. Pass what is not IPv4: \`if (eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;\`.`
                    : `The pods' IPv4 gets ${xdpVerdictName(v)}: the return at the end of your IPv4 path must be XDP_PASS.`,
                )
                .join(' ')
            : undefined,
        )
      }
      return `${b.ip} → ${a.ip} HTTP 200`
    },
  },
  {
    id: 'cni.del.detaches',
    title: 'DEL leaves no XDP attachment behind',
    hint: 'Deleting the host veth detaches the program; if your DEL keeps the veth, detach with: ip link set dev VETH xdpgeneric off',
    run: async (ctx) => {
      const net = ctx.plugin.learnerNet()
      const p = await ctx.pods.attach(net, 'detach')
      if (!p.outcome.ok) throw new CheckSkip(`needs a successful ADD (${p.outcome.problem})`)
      const host = await hostPeer(p.netnsPath, p.att.ifname)
      const del = await ctx.pods.detach(p, {keepNetns: true})
      if (!del.ok) fail(`DEL failed: ${del.problem}`)
      if (host && (await link(host.ifname)) && (await xdpIdOn(host.ifname)))
        fail(`after DEL, ${host.ifname} still exists and still runs an XDP program`)
      await ctx.pods.detach(p).catch(() => undefined)
      return 'after DEL no veth (and no program) is left'
    },
  },
]

/**
 * The plugin's own error says "pinned at" with no path after it: its $xdp_pin is empty, the config's
 * xdpPin never read into it. Then the hint is that, not the attach line the learner already has.
 */
function emptyPinHint(pluginSaid: string | undefined): string | undefined {
  if (!pluginSaid || !/\bpinned at(?!\s*\/)/.test(pluginSaid)) return undefined
  return 'Your plugin printed "pinned at" with no path: its $xdp_pin is empty. Add xdpPin to read_config\'s list and xdp_pin to the read line at the same position: read assigns the values in order.'
}

/** Whether the learner's config names the pin (xdpPin); without it, the plugin's own default decides. */
const configNamesPin = (ctx: Lab2Context): boolean => {
  const named = ctx.plugin.rawConfig().xdpPin
  return typeof named === 'string' && named !== ''
}

/** Where the pin's path comes from, for a message. */
const pinSource = (ctx: Lab2Context): string =>
  configNamesPin(ctx)
    ? " (your config's xdpPin)"
    : " (your config names no xdpPin: your plugin's own default decides, and must be this path)"

/**
 * The plugin's error names a pin under the BPF filesystem other than the one the program is pinned at:
 * the plugin looked elsewhere (a typo in its default, or the config's xdpPin not read). Undefined when
 * the error names no such path, or names the pin itself.
 */
export function otherPin(
  pluginSaid: string | undefined,
  pin: string,
  configNamed: boolean,
): {message: string; hint: string} | undefined {
  const paths: string[] = (pluginSaid ?? '').match(/\/sys\/fs\/bpf\/[^\s"'`,;:()]*[^\s"'`,;:().]/g) ?? []
  const other = paths.find((p) => p !== pin)
  if (!other || paths.includes(pin)) return undefined
  return configNamed
    ? {
        message: `Your plugin looked for the program at ${other}, not at ${pin}, your config's xdpPin, where it is pinned`,
        hint: `Read the config's xdpPin into $xdp_pin: \`.xdpPin // "${DEFAULT_XDP_PIN}"\` in read_config's list, xdp_pin at the same position in the read line. Your plugin used ${other} whatever the config said.`,
      }
    : {
        message: `Your plugin looked for the program at ${other}, not at ${pin}, where the program is pinned (where bpf load pins it): your config names no xdpPin, so your plugin's own default decides`,
        hint: `Your plugin's default pin path is ${other}: make it ${pin} (\`.xdpPin // "${DEFAULT_XDP_PIN}"\` in read_config's list), where bpf load pins the program.`,
      }
}
