import {existsSync, readdirSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {link, links, podAddresses} from '#net/ip.js'
import {httpGet, ping} from '#net/probes.js'
import {PodService} from '#pods/service.js'
import {CheckSkip, fail, type CheckDefinition} from '#checks/engine.js'
import {CRI_CHECK_POD_PREFIX, type Lab1Context} from '../context.js'
import {concurrentAdds, duplicateAddresses, type ConcurrentAdds} from '#checks/cni-assertions.js'
import {AbsentHold, type Held} from '#bpf/hold-absent.js'
import type {NetworkConfig} from '#cni/config.js'
import {setTimeout} from 'node:timers/promises'
import {interrupted} from '#host/interrupt.js'
import {WAVE_TIMEOUT_MS, type CheckPod} from '#checks/check-pods.js'
import {harmDone, podNetState} from '#checks/pod-harm.js'
import {cidrInfo, ip2int} from '#net/ipv4.js'
import {podLink, hostEnd, requireRuntime, criHint, delProblem} from './shared.js'
import {podmanCheckPlan, podmanOnThisMachine} from '#pods/podman-backend.js'
import {run} from '#host/exec.js'

/** Step production's checks (lab.yaml orders the run). */

/**
 * Why pods shared an address, from how the ADDs one after another got theirs (`pods` holds those
 * `sequential` first, then the concurrent wave): scattered, or the same address twice with no ADD
 * running beside them, is an allocator that does not take the next free address (the original's
 * $RANDOM % 255); successive addresses one after another, and sharing only within the wave, is two
 * ADDs choosing at once (no lock from choosing to recording).
 */
export function sharedAddressCause(
  pods: ReadonlyArray<{name: string; ip?: string}>,
  sequential: number,
  dupes: readonly string[],
): {when: string; seen: string; hint: string} {
  const first = pods.slice(0, sequential).map((p) => ip2int(p.ip ?? '0.0.0.0'))
  const steps = first.slice(1).map((n, i) => n - first[i])
  const successive = steps.every((d) => d === 1) || steps.every((d) => d === -1)
  const seqDupes = duplicateAddresses(pods.slice(0, sequential).map((p) => p.ip ?? ''))
  const shown = pods
    .slice(0, Math.min(sequential, 6))
    .map((p) => p.ip)
    .join(', ')
  if (seqDupes.length || !successive)
    return {
      when: seqDupes.length ? ', with no ADD running beside another' : '',
      seen: `the ${sequential} ADDs one after another got ${shown}${sequential > 6 ? ', …' : ''}: not the next free address each time`,
      hint: "Addresses picked at random collide long before the subnet is full ($RANDOM % 255 is the original's bug): take the first address that has no file in the IPAM directory yet and write its file at once, holding a lock (flock) from choosing to recording.",
    }
  const inWave = new Set(pods.slice(sequential).map((p) => p.name))
  const waveOnly = dupes.every((ip) => pods.filter((p) => p.ip === ip).every((p) => inWave.has(p.name)))
  return waveOnly
    ? {
        when: ' while ADDs ran at once',
        seen: `the ${sequential} ADDs one after another got distinct, successive addresses`,
        hint: 'Two ADDs running at once both saw the same address free before either wrote its file. Hold a lock (exec 9>"$ipam/lock"; flock -w 10 9) from choosing the address to recording it, and only that long: the TODO in allocate_address.',
      }
    : {
        when: '',
        seen: `a pod added later got an address a pod made before it still holds`,
        hint: 'An address whose file exists is taken: skip it when choosing, and write the file of the one you choose before another ADD can choose (under a lock: flock).',
      }
}

/**
 * The concurrent ADDs, with the first one that finds an address's file absent in `ipamDir` stopped
 * right there (AbsentHold), before it can write that file: until a second ADD finds the same file
 * absent (no lock kept it out: both will take the address), or for twice as long as the first took to
 * get there, at least 0.5 s and at most 3 s (under a lock, the others wait for it meanwhile). Without
 * the hold, an allocator's test-then-write is microseconds wide and ADDs at once rarely meet in it.
 */
async function waveHeldAtAllocation(
  ctx: Lab1Context,
  net: NetworkConfig,
  ipamDir: string,
  count: number,
): Promise<{wave: ConcurrentAdds; overlap?: Held[]}> {
  const hold = await AbsentHold.open(ipamDir)
  // Interrupted (Ctrl-C) while an ADD is stopped: resume it, so the pods' cleanup can end it.
  ctx.pods.onCleanup('before-pods', () => hold.close())
  try {
    hold.arm(true)
    const start = performance.now()
    let done = false
    const adds = concurrentAdds(ctx.pods, net, count, 'par', WAVE_TIMEOUT_MS).finally(() => (done = true))
    // Heard whatever happens below: interrupted (Ctrl-C closes the hold, the ADDs' children are killed),
    // this function ends early, and a rejection nobody listened to would end the process with a stack
    // trace instead of the interrupt's exit 130.
    adds.catch(() => undefined)
    let first: number | undefined
    let overlap: Held[] | undefined
    while (!done && !interrupted()) {
      await setTimeout(5)
      const stopped = hold.stopped()
      if (!stopped.length) continue
      first ??= performance.now()
      const shared = stopped.filter((h) => stopped.some((o) => o.pid !== h.pid && o.path === h.path))
      if (shared.length) {
        overlap = shared
        hold.release()
        break
      }
      if (performance.now() - first >= Math.min(3000, Math.max(500, 2 * (first - start)))) {
        hold.release()
        break
      }
    }
    return {wave: await adds, overlap}
  } finally {
    hold.close()
  }
}

export const PRODUCTION_CHECKS: Array<CheckDefinition<Lab1Context>> = [
  {
    id: 'cni.add.repeat',
    title: 'a second ADD works with the bridge present; ADD into a pod that already has CNI_IFNAME fails cleanly',
    hint: 'Only create the bridge if it is missing (ip link show dev BRIDGE || ip link add …). Before allocating, refuse an ADD whose CNI_IFNAME already exists in the netns, with an error JSON.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      if (!b.outcome.ok) fail(`a second pod's ADD failed while the bridge already existed: ${b.outcome.problem}`)
      const bridge = ctx.plugin.bridgeOf(a.net)
      const portsBefore = (await links()).filter((l) => l.master === bridge).length
      const stateBefore = await podNetState(a)
      const dup = await ctx.pods.invoke(
        {
          command: 'ADD',
          type: 'ebpfcni',
          stdin: {...a.net.raw},
          containerId: 'ebpfcni-check-dup',
          netns: a.netnsPath,
          ifname: a.att.ifname,
        },
        'a duplicate ADD',
      )
      const portsAfter = (await links()).filter((l) => l.master === bridge).length
      if (dup.run?.exitCode === 0)
        fail(`ADD into a pod that already has ${a.att.ifname} exited 0; it must fail with an error`)
      if (!dup.error) fail(`ADD into a pod that already has ${a.att.ifname}: ${dup.problem}`)
      if (portsAfter !== portsBefore) fail(`the failed ADD left ${portsAfter - portsBefore} extra veth(s) on ${bridge}`)
      const harm = await harmDone(a, stateBefore, cidrInfo(ctx.plugin.podcidrOf(a.net)).gateway)
      if (harm.length)
        fail(
          `the duplicate ADD was refused (code ${dup.error.code}), but it changed the pod it refused: ${harm.join('; ')}`,
          'check that CNI_IFNAME is free before you touch anything in the pod; a refusal must leave the existing pod exactly as it was',
        )
      // The address it may have taken must be free again: DEL of the duplicate id must be harmless.
      await ctx.pods.invoke(
        {
          command: 'DEL',
          type: 'ebpfcni',
          stdin: {...a.net.raw},
          containerId: 'ebpfcni-check-dup',
          netns: a.netnsPath,
          ifname: 'ebpfcni-none',
        },
        'DEL of the duplicate',
      )
      return `second pod ADD ok; duplicate ADD refused with code ${dup.error.code}, nothing left, the existing pod unchanged and reachable`
    },
  },
  {
    id: 'cni.del.cleanup',
    cost: 'heavy',
    title: 'DEL removes the host veth and frees the address for reuse',
    hint: 'On DEL: ip link del the host end (the pod end goes with it), and remove the address from your allocation state. DEL gets the same CNI_CONTAINERID and CNI_IFNAME as ADD.',
    run: async (ctx) => {
      const net = ctx.plugin.checkNet('del') // a /29: 5 addresses for pods
      const pods: CheckPod[] = []
      for (let i = 0; i < 5; i++) {
        const p = await ctx.pods.attach(net, `fill${i}`)
        if (!p.outcome.ok) fail(`ADD ${i + 1} of 5 in a /29 failed: ${p.outcome.problem}`)
        pods.push(p)
      }
      const victim = pods[2]
      const veth = await hostEnd(victim)
      const del = await ctx.pods.detach(victim, {keepNetns: true})
      if (!del.ok) fail(delProblem('DEL', del.problem))
      if (veth && (await link(veth.ifname)))
        fail(`after DEL the host veth ${veth.ifname} still exists`, 'ip link del "$HOSTVETH" in DEL')
      if (await podLink(victim)) fail(`after DEL ${victim.att.ifname} still exists in the pod`)
      await ctx.pods.detach(victim).catch(() => undefined)
      const again = await ctx.pods.attach(net, 'reuse')
      if (!again.outcome.ok)
        fail(
          `the /29 was full (5 pods), one was DELeted, and a new ADD failed: the address was not freed (${again.outcome.problem})`,
          'DEL must release the address in your allocation state',
        )
      // The only free address is the one DEL freed, if it freed the DELeted pod's.
      if (again.ip !== victim.ip)
        fail(
          `the /29 was full (5 pods), ${victim.ip} was DELeted, and the next ADD got ${again.ip}, an address another pod held: DEL released the wrong address`,
          'DEL must release the address of the attachment it deletes (the file holding this CNI_CONTAINERID and CNI_IFNAME), and only that one',
        )
      return `DEL removed ${veth?.ifname ?? 'the veth'}; its address was reused by the next ADD (${again.ip})`
    },
  },
  {
    id: 'cni.add.no-leak-on-failure',
    cost: 'heavy',
    title: 'an ADD that fails half-way leaves no veth and no allocated address',
    hint: 'Allocate the address last, or undo on failure: if any step after allocation fails, delete the veth and free the address before printing the error.',
    run: async (ctx) => {
      const net = ctx.plugin.checkNet('leak') // a /29: 5 addresses
      const bridge = ctx.plugin.bridgeOf(net)
      const bystander = await ctx.pods.attach(net, 'bystander')
      if (!bystander.outcome.ok) fail(`the first ADD in a fresh /29 failed: ${bystander.outcome.problem}`)
      const stateBefore = await podNetState(bystander)
      const bystanderVeth = (await hostEnd(bystander))?.ifname
      // A path that exists but is no netns: early validation passes, moving the veth there fails.
      // One such ADD is enough: an address it kept leaves the fill below one short.
      const bogus = join(ctx.pods.tmp, 'not-a-netns')
      writeFileSync(bogus, '')
      const doomed = await ctx.pods.attach(net, 'doomed', {netns: bogus})
      if (doomed.outcome.ok) fail(`ADD into ${bogus}, a plain file and not a network namespace, succeeded`)
      if (!doomed.outcome.calls.at(-1)?.error) fail(`a failing ADD gave no error JSON: ${doomed.outcome.problem}`)
      ctx.pods.warmNetns(6) // the 5, and the one after the DEL
      const stray = (await links()).filter((l) => l.master === bridge && l.ifname !== bystanderVeth)
      if (stray.length)
        fail(
          `after an ADD failed half-way, ${stray.length} veth(s) are left on ${bridge}: ${stray.map((l) => l.ifname).join(', ')}`,
        )
      const harm = await harmDone(bystander, stateBefore, cidrInfo(ctx.plugin.podcidrOf(net)).gateway)
      if (harm.length)
        fail(
          `an ADD failed half-way, and its undo damaged a pod that was already there: ${harm.join('; ')}`,
          'undo only what this ADD made: the veth it created and the address it allocated, found by CNI_CONTAINERID',
        )
      // The /29 filled to its 5 addresses: had the failed ADD kept its address, the last would find none.
      for (let i = 0; i < 4; i++) {
        const p = await ctx.pods.attach(net, `after${i}`)
        if (!p.outcome.ok)
          fail(
            `after an ADD failed half-way, ADD ${i + 2} of 5 in a /29 failed (${p.outcome.problem}): the failed ADD kept its address`,
          )
      }
      return 'an ADD that failed half-way left nothing and did not touch the existing pod; the /29 still took 5 pods'
    },
  },
  {
    id: 'cni.ipam.unique',
    cost: 'heavy',
    title: 'a /28 filled completely, sequentially then concurrently, gets distinct, usable, reachable addresses',
    hint: 'Keep allocation state (one file per address) and hold a lock (flock) from choosing an address to recording it, and only that long.',
    run: async (ctx) => {
      // Its own state directory, in the run's private temporary one: the hold touches nothing else.
      const dataDir = join(ctx.pods.tmp, 'ipam-state')
      const net = ctx.plugin.checkNet('ipam', {dataDir})
      const c = cidrInfo(ctx.plugin.podcidrOf(net))
      // Every address of a small subnet: a random or racy allocator collides long before it is full.
      const capacity = c.bcast - c.net - 2
      const sequential = Math.floor(capacity / 2)
      const pods: CheckPod[] = []
      for (let i = 0; i < sequential; i++) pods.push(await ctx.pods.attach(net, `seq${i}`))
      const failedSeq = pods.filter((p) => !p.outcome.ok)
      if (failedSeq.length)
        fail(`${failedSeq.length} of ${sequential} sequential ADDs failed; first: ${failedSeq[0].outcome.problem}`)
      const {wave, overlap} = await waveHeldAtAllocation(ctx, net, join(dataDir, net.name), capacity - sequential)
      pods.push(...wave.pods)
      const slowest = wave.slowestMs
      const failed = wave.failed
      if (failed.length) {
        if (wave.hung)
          fail(
            `${failed.length} of ${wave.pods.length} concurrent ADDs failed; one did not finish within ${WAVE_TIMEOUT_MS / 1000} s, a deadline a real runtime would also give up at: ${wave.hung.outcome.problem}`,
            'a concurrent ADD that never finishes is a deadlock: a lock taken twice, or never released on an error path',
          )
        fail(
          `${failed.length} of ${wave.pods.length} concurrent ADDs failed (slowest took ${(slowest / 1000).toFixed(1)} s); first: ${failed[0].outcome.problem}`,
        )
      }
      // Every pod has an address here: a pod whose ADD failed ended the check above.
      const ips = pods.map((p) => p.ip ?? '')
      const dupes = duplicateAddresses(ips)
      if (dupes.length) {
        const cause = sharedAddressCause(pods, sequential, dupes)
        const held = overlap?.length
          ? `; one ADD was paused right after it found ${basename(overlap[0].path)}'s file absent, before it wrote it, and meanwhile another ADD found that file absent too: nothing kept it out between the first one's test and its write`
          : ''
        fail(
          `${dupes.length} address(es) were given to more than one pod${cause.when}: ${dupes
            .slice(0, 5)
            .map(
              (ip) =>
                `${ip} (${pods
                  .filter((p) => p.ip === ip)
                  .map((p) => p.name)
                  .join(', ')})`,
            )
            .join(', ')}${dupes.length > 5 ? '…' : ''}; ${cause.seen}${held}`,
          cause.hint,
        )
      }
      const reserved = ips.filter((ip) => [c.net, c.bcast, ip2int(c.gateway)].includes(ip2int(ip)))
      if (reserved.length) fail(`pods got reserved addresses (network, gateway or broadcast): ${reserved.join(', ')}`)
      const over = await ctx.pods.attach(net, 'overflow')
      if (over.outcome.ok)
        fail(
          `all ${capacity} addresses of ${ctx.plugin.podcidrOf(net)} were taken, yet ADD number ${capacity + 1} succeeded with ${over.ip}`,
          'when no address is free, ADD must fail with an error JSON (code 11, "try again later"), not reuse one',
        )
      const refusal = over.outcome.calls.at(-1)?.error
      if (!refusal)
        fail(`with ${ctx.plugin.podcidrOf(net)} full, ADD failed without an error JSON: ${over.outcome.problem}`)
      const unreachable: string[] = []
      for (let i = 0; i < ips.length; i += 15) {
        const batch = await Promise.all(ips.slice(i, i + 15).map((ip) => ping(pods[0].netnsPath, ip, 1, 2)))
        batch.forEach((r, j) => r.ok || unreachable.push(ips[i + j]))
      }
      if (unreachable.length)
        fail(
          `${unreachable.length} of ${capacity} pods are not reachable from the first: ${unreachable.slice(0, 5).join(', ')}`,
        )
      return `${ctx.plugin.podcidrOf(net)} filled: ${sequential} sequential + ${wave.pods.length} concurrent ADDs (slowest ${(slowest / 1000).toFixed(1)} s), ${capacity} distinct addresses, all reachable; ADD ${capacity + 1} refused with code ${refusal.code}`
    },
  },
  {
    id: 'runtime.podman',
    cost: 'heavy',
    title: 'podman runs two containers on your plugin and they talk',
    hint: 'podman calls VERSION before every operation and DEL on rm with prevResult on stdin; a broken VERSION makes podman drop the network with only a warning.',
    run: async (ctx) => {
      await requireRuntime(ctx, 'podman', 'podman', 'podman runc')
      // A podman built netavark-only (Debian 13's 5.x) cannot call a CNI plugin: not the attendee's to fix.
      const containerd = await run('containerd', ['--version'], {timeoutMs: 5000})
      const podman = await podmanOnThisMachine()
      const plan = podmanCheckPlan(podman, {
        asked: ctx.plugin.opts.runtime === 'podman',
        containerdInstalled: !containerd.startError,
      })
      if ('fail' in plan) fail(plan.fail, plan.fix)
      if ('skip' in plan) throw new CheckSkip(plan.skip)
      const net = ctx.plugin.checkNet('podman')
      const pods = new PodService(ctx.pods.ledger)
      const tag = `${process.pid % 10000}`
      const [a, b] = [`chk-web-${tag}`, `chk-cli-${tag}`]
      try {
        const web = await pods
          .add({name: a, configFile: net.source, cniPath: ctx.pods.cniPath, workload: 'httpbin', lab: 1}, 'podman')
          .catch((e: Error) => fail(`podman run on your plugin failed: ${e.message}`))
        const cli = await pods
          .add({name: b, configFile: net.source, cniPath: ctx.pods.cniPath, workload: 'sleep', lab: 1}, 'podman')
          .catch((e: Error) => fail(`a second podman container failed: ${e.message}`))
        if (!web.ip || !cli.ip)
          fail(
            `podman reports no IP for the containers (${web.ip ?? 'none'}, ${cli.ip ?? 'none'}): did it drop the network after a VERSION problem?`,
          )
        const get = await httpGet(cli.netnsPath, `http://${web.ip}/get`)
        if (!get.ok) fail(`container ${cli.ip} → container ${web.ip}: ${get.detail}`)
        const version = podman.use === 'podman' ? ` ${podman.version}` : ''
        return `podman${version} (CNI backend) ran containers ${cli.ip} → ${web.ip} on your plugin; HTTP ok`
      } finally {
        // Both at once: the removal proves nothing here, and each mostly waits on the runtime.
        await Promise.all([a, b].map((n) => pods.remove(n).catch(() => undefined)))
      }
    },
  },
  {
    id: 'runtime.cri',
    cost: 'heavy',
    title: "the kubelet's path: containerd's CRI plugin runs two pods on your plugin and they talk",
    hint: 'containerd calls your plugin itself: no VERSION call; CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=…;K8S_POD_NAME=…;K8S_POD_INFRA_CONTAINER_ID=…;K8S_POD_UID=… (ignore keys you do not know); CNI_IFNAME=eth0; DEL twice on stop and remove, the second with an empty CNI_NETNS.',
    run: async (ctx) => {
      await requireRuntime(ctx, 'cri', 'containerd', 'containerd')
      const confDir = dirname(ctx.plugin.opts.configFile)
      // libcni, as containerd's CRI plugin uses it, takes the first config file by name, nothing else.
      const first = readdirSync(confDir)
        .filter((f) => /\.(conf|conflist|json)$/.test(f))
        .sort()[0]
      if (first !== basename(ctx.plugin.opts.configFile))
        fail(
          `containerd would use ${join(confDir, String(first))}, not your ${basename(ctx.plugin.opts.configFile)}: the CRI plugin reads only the first config file in ${confDir}, by name`,
          `rename yours to sort first (a lower number, like 05-ebpfcni.conf), or move ${first} away`,
        )
      if (!existsSync(join(ctx.plugin.opts.cniBinDir, 'loopback')))
        fail(
          `there is no loopback plugin in ${ctx.plugin.opts.cniBinDir}: containerd runs it for every pod before yours`,
          `ln -s /usr/lib/cni/loopback ${ctx.plugin.opts.cniBinDir}/loopback (scripts/setup.sh does it)`,
        )
      const pods = new PodService(ctx.pods.ledger)
      const tag = `${process.pid % 10000}`
      const [a, b] = [`${CRI_CHECK_POD_PREFIX}web-${tag}`, `${CRI_CHECK_POD_PREFIX}cli-${tag}`]
      await ctx.plugin.criDaemonForThisRun()
      try {
        const add = (name: string, workload: 'httpbin' | 'sleep') =>
          pods.add(
            {
              name,
              configFile: ctx.plugin.opts.configFile,
              cniPath: [ctx.plugin.opts.cniBinDir],
              workload,
              lab: 1,
              labels: {app: workload},
            },
            'cri',
          )
        const why = (e: Error): never => fail(`${e.message}`, criHint(e.message))
        const web = await add(a, 'httpbin').catch(why)
        const cli = await add(b, 'sleep').catch(why)
        if (!web.ip || !cli.ip)
          fail(
            `containerd reports no pod IP (${web.ip ?? 'none'}, ${cli.ip ?? 'none'}): it takes the IP from your result's "ips" for the interface named CNI_IFNAME (eth0)`,
            'name the pod interface exactly "$CNI_IFNAME", and list it in "interfaces" with its "sandbox", and the address in "ips" pointing at it',
          )
        const onIface = await podAddresses(web.netnsPath, 'eth0')
        if (!onIface.includes(web.ip))
          fail(
            `CRI reports pod IP ${web.ip}, but eth0 in the pod has ${onIface.join(', ') || 'no IPv4 address'}: the IP Kubernetes shows is whatever your result says`,
            'report the address you put on the interface',
          )
        const get = await httpGet(cli.netnsPath, `http://${web.ip}/get`)
        if (!get.ok) fail(`CRI pod ${cli.ip} → CRI pod ${web.ip}: ${get.detail}`)
        return `containerd ran pods ${web.ip} and ${cli.ip} through your plugin (netns ${web.netnsPath.split('/').pop()}); HTTP between them ok`
      } finally {
        // Both at once: the removal proves nothing here, and each mostly waits on the runtime.
        await Promise.all([a, b].map((n) => pods.remove(n).catch(() => undefined)))
      }
    },
  },
]
