import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa, type ResultPromise} from 'execa'
import {copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, cliBin, repoRoot, requireBuilt, requireRoot, uniq} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'
import type {Entry, Group} from '../helpers/documented.js'
import {loadLabs} from '../../src/labs/catalogue.js'

// Every command line the project tells a user to type runs, as typed (documented-commands*.test.ts, by group): through bin/run.js, in
// a scratch workspace, with the lab state it needs built first (once per lab). The lines come from
// the README (command table, code blocks, inline code), every command's examples (the manifest),
// docs/*.md, each lab's README.md and step texts. Each documented line has an entry in TABLE below
// (a lab's own lines in its folder, labs/NN-slug/test/documented.ts): the
// concrete command it stands for (placeholders made real), the lab state it needs and what proves
// it did its job, or says why it cannot here. A documented line without an entry fails the test,
// naming where it was found. Commands that run until stopped are stopped with SIGINT (exit 130)
// once they printed what they are for; commands that need a remote (SSH hosts, a Kubernetes API,
// Prometheus) are pointed at 127.0.0.1 where nothing listens and must say so.

// ---------------------------------------------------------------- collecting the documented lines

type Found = {line: string; where: string}

/** `ebpfcni …` in a piece of shell or inline code: comments off, split at `&&`, `;` and a trailing `&`. */
function commandsIn(text: string): string[] {
  const out: string[] = []
  for (const part of text.replace(/(^|\s)#.*$/, '').split(/&&|;/)) {
    const m = /(?:^|\s|')(ebpfcni [a-z].*)$/.exec(part.trim())
    if (!m) continue
    const cmd = m[1]
      .replace(/'$/, '')
      .replace(/\s+&$/, '')
      .split(/\s{2,}/)[0]
      .replace(/\s*…$/, '')
      .trim()
    out.push(cmd)
  }
  return out
}

function fromMarkdown(file: string): Found[] {
  const rel = file.slice(repoRoot.length + 1)
  const found: Found[] = []
  let inBlock = false
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const where = `${rel}:${i + 1}`
      if (/^\s*```/.test(text)) {
        inBlock = !inBlock
        return
      }
      // A code line that quotes inline code (architecture.md's tree) is prose: take the inline code.
      if (inBlock && !text.includes('`')) {
        for (const line of commandsIn(text)) found.push({line, where})
        return
      }
      for (const m of text.matchAll(/`(ebpfcni [a-z][^`]*)`/g))
        for (const line of commandsIn(m[1])) found.push({line, where})
    })
  return found
}

function fromExamples(): Found[] {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {
    commands: Record<string, {examples?: Array<string | {command: string}>}>
  }
  const found: Found[] = []
  for (const [id, c] of Object.entries(manifest.commands))
    for (const e of c.examples ?? []) {
      const text = (typeof e === 'string' ? e : e.command).replaceAll('<%= config.bin %>', 'ebpfcni')
      for (const line of commandsIn(text)) found.push({line, where: `examples of ${id.replaceAll(':', ' ')}`})
    }
  return found
}

function documentedCommands(): Map<string, string[]> {
  const files = [
    join(repoRoot, 'README.md'),
    ...readdirSync(join(repoRoot, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join(repoRoot, 'docs', f)),
    // Each lab's README.md and step texts.
    ...readdirSync(join(repoRoot, 'labs')).flatMap((lab) => {
      const readme = join(repoRoot, 'labs', lab, 'README.md')
      const steps = join(repoRoot, 'labs', lab, 'steps')
      return [
        ...(existsSync(readme) ? [readme] : []),
        ...(existsSync(steps)
          ? readdirSync(steps)
              .filter((f) => f.endsWith('.md'))
              .map((f) => join(steps, f))
          : []),
      ]
    }),
  ]
  const all = [...files.flatMap(fromMarkdown), ...fromExamples()]
  const byLine = new Map<string, string[]>()
  for (const {line, where} of all) byLine.set(line, [...(byLine.get(line) ?? []), where])
  return byLine
}

// ---------------------------------------------------------------- what each documented line means

/** The lab state a command needs, built in this order, each once: none, then each lab by number, then the end. */
const GROUPS: Group[] = ['none', ...loadLabs().map((l) => `lab${l.id}` as Group), 'end']

/**
 * Which test file runs which groups. Lab 2's group (bpf trace, its printing program) and the end's
 * `lab all --auto` read trace_pipe: their file runs in the one shard that does (scripts/test-shards.mjs).
 * A new lab's group goes in one of them (the table test fails until it does).
 */
export const GROUPS_BY_FILE: Record<string, Group[]> = {
  'documented-commands.test.ts': ['none', 'lab1', 'lab3'],
  'documented-commands-trace.test.ts': ['lab2', 'end'],
  'documented-commands-labs4-6.test.ts': ['lab4', 'lab5', 'lab6'],
}

/** The id of lab N's first step. */
const firstStep = (lab: string): string => loadLabs().find((l) => String(l.id) === lab)!.steps[0].id

/** Inline code the docs quote that is not a command to type (a message, a symptom). */
const NOT_COMMANDS: Record<string, string> = {
  'ebpfcni needs root': "README's troubleshooting: the error a user sees, not a command",
}

const help = (...cmds: string[]): Pick<Entry, 'group' | 'code' | 'out' | 'synopsis'> => ({
  group: 'none',
  code: 0,
  out: /USAGE/,
  synopsis: cmds,
})

/**
 * Every documented line, as found (after comments and surrounding text are cut). Placeholders are
 * made concrete in `run`, through these values: N → the lab whose state the group built, S → one of
 * its steps, DIR → a new directory in the scratch dir, ~/ebpfcni-lab → the test's workspace (the same
 * directory EBPFCNI_WORKSPACE names), hosts.txt → a file naming 127.0.0.1:1 (nothing listens),
 * ~/.ssh/room → a key file in the scratch dir, veth1234 → httpbin's host veth, /sys/fs/bpf/mine → a
 * pin dir of this test's own.
 */
const CENTRAL: Record<string, Entry> = {
  // ---- README's command table: synopses, each subcommand's help and flags
  'ebpfcni lab [N]': help('lab'),
  'ebpfcni lab N --watch': help('lab'),
  'ebpfcni lab all --auto': {
    group: 'end',
    code: 130,
    bound: 60_000,
    out: /lab 1 .*\n(.|\n)*✔/,
  },
  'ebpfcni check N [--step S] [--json] [--runtime netns|podman|cri]': help('check'),
  'ebpfcni hint N [--step S]': help('hint'),
  'ebpfcni agent N [--cgroup DIR] [--api-server URL]': help('agent'),
  // The agent's examples are the DaemonSet's command: on a host that is no pod they say what is missing.
  'ebpfcni agent 6 --files /agent-services --cgroup /host/sys/fs/cgroup': {
    group: 'none',
    code: 2,
    out: /not in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set/,
  },
  'ebpfcni agent 6 --files ./k8s-files --cgroup /sys/fs/cgroup/unified --api-server http://127.0.0.1:8001': {
    group: 'none',
    code: 2,
    out: /no services\.bpf\.o in \.\/k8s-files/,
  },
  'ebpfcni solution N [--step S] [--apply --yes]': help('solution'),
  'ebpfcni status': {group: 'none', code: 0, out: /Lab 1 — The bridge CNI plugin\s+0\/4 steps/},
  'ebpfcni topology [--json]': help('topology'),
  'ebpfcni observe [-f] [--pod P] [--verdict dropped] [--since 5m] [--checks] [--json] [--web] [--node N]':
    help('observe'),
  'ebpfcni pod add|del|list|exec|probe|check': help(
    'pod add',
    'pod del',
    'pod list',
    'pod exec',
    'pod probe',
    'pod check',
  ),
  'ebpfcni node add|del|list [--strict|--open]': help('node add', 'node del', 'node list'),
  'ebpfcni bpf build|load|attach|detach|maps|progs|trace': help(
    'bpf build',
    'bpf load',
    'bpf attach',
    'bpf detach',
    'bpf maps',
    'bpf progs',
    'bpf trace',
  ),
  'ebpfcni metrics [--watch|--once|--background|--stop]': help('metrics'),
  'ebpfcni policy deny|allow|remove FROM TO': help('policy deny', 'policy allow', 'policy remove'),
  'ebpfcni policy apply FILE | delete NAME | list | watch [--pods cri] [--policies kubernetes]': help(
    'policy apply',
    'policy delete',
    'policy list',
    'policy watch',
  ),
  'ebpfcni reset [LAB|--all] [--dry-run] [--yes] [--progress]': help('reset'),
  'ebpfcni doctor [--fix]': help('doctor'),
  'ebpfcni conform --config FILE [--cni-path DIR]': help('conform'),
  'ebpfcni export instruqt|killercoda|kubernetes DIR': help('export'),
  'ebpfcni fleet textfile | user-data': help('fleet textfile', 'fleet user-data'),
  'ebpfcni fleet report|reset HOSTS': help('fleet report', 'fleet reset'),
  'ebpfcni fleet prometheus HOSTS | top': help('fleet prometheus', 'fleet top'),
  'ebpfcni autocomplete': {group: 'none', code: 0, out: /ebpfcni autocomplete script bash/},

  // ---- no lab state: a fresh workspace
  'ebpfcni lab': {group: 'none', code: 0, out: /lab 1: The bridge CNI plugin(.|\n)*lab 5:/},
  'ebpfcni lab 1': {group: 'none', code: 0, out: /Lab 1 — The bridge CNI plugin(.|\n)*ebpfcni check 1 --step skeleton/},
  'ebpfcni lab N': {group: 'none', run: 'lab 1', code: 0, out: /Lab 1 — The bridge CNI plugin/},
  'ebpfcni lab 2': {group: 'none', code: 0, out: /Lab 2 — eBPF basics(.|\n)*ebpfcni check 2 --step program/},
  'ebpfcni lab 2 --step attach': {group: 'none', code: 0, out: /Lab 2 — eBPF basics(.|\n)*--step attach/},
  'ebpfcni lab 3': {group: 'none', code: 0, out: /Lab 3 — Maps and monitoring(.|\n)*ebpfcni check 3 --step counter/},
  'ebpfcni lab 3 --fresh': {group: 'none', code: 0, out: /Lab 3 — Maps and monitoring(.|\n)*lab 3's starter/},
  'ebpfcni lab 4': {group: 'none', code: 0, out: /Lab 4 —(.|\n)*ebpfcni check 4 --step deny/},
  'ebpfcni hint 1': {group: 'none', code: 0, out: /hint 1\/\d+ \(Step 1 — the skeleton/},
  'ebpfcni hint 1 --step add': {group: 'none', code: 0, out: /hint 1\/\d+ \(Step 2 — ADD/},
  'ebpfcni hint 1 --json': {group: 'none', code: 0, out: /"step": "skeleton",\s+"shown": 2/},
  'ebpfcni solution 1': {group: 'none', code: 0, out: /\+\+\+ solution\/ebpfcni/},
  'ebpfcni solution 1 --step add': {group: 'none', code: 0, out: /\+\+\+ solution\/ebpfcni(.|\n)*error 6/},
  'ebpfcni solution N --step S --apply': {
    group: 'none',
    run: 'solution 1 --step skeleton --apply',
    code: 2,
    out: /overwrites your files \(backed up\); without a terminal pass --yes/,
  },
  'ebpfcni status --json': {group: 'none', code: 0, out: /"lab": 1,/},
  'ebpfcni doctor': {group: 'none', code: 0, out: /✔ kernel BTF/},
  'ebpfcni doctor --json': {group: 'none', code: 0, out: /"passed": true/},
  'ebpfcni doctor --fix': {group: 'none', code: 0, out: /✔ bpffs mounted/},
  'ebpfcni reset': {group: 'none', code: 0, out: /Nothing to remove/},
  'ebpfcni reset --dry-run': {group: 'none', code: 0, out: /Nothing to remove for all labs/},
  'ebpfcni reset 1': {group: 'none', code: 0, out: /Nothing to remove for lab 1/},
  'ebpfcni policy': {group: 'none', code: 0, out: /policy apply(.|\n)*policy watch/},
  'ebpfcni observe': {group: 'none', code: 2, out: /no flow_events ring is pinned/},
  // Prose names the command (README troubleshooting, docs/observe.md): without a lab it says what it takes.
  'ebpfcni check': {group: 'none', code: 2, out: /ebpfcni check needs LAB/},
  'ebpfcni observe --checks --last 50': {group: 'lab4', code: 0, out: /flow\(s\) printed/},
  'ebpfcni export killercoda ./scenarios': {group: 'none', code: 0, out: /✔ \d+ files for killercoda in .*scenarios/},
  'ebpfcni export instruqt ./track --lab 1 --lab 2': {
    group: 'none',
    code: 0,
    out: /✔ \d+ files for instruqt in .*track/,
  },
  'ebpfcni export kubernetes DIR': {
    group: 'none',
    run: 'export kubernetes ./k8s-starter',
    code: 0,
    out: /✔ ebpfcni\.yaml, Dockerfile, README\.md in .*k8s-starter/,
  },
  'ebpfcni export kubernetes ./k8s': {group: 'lab4', code: 0, out: /✔ ebpfcni\.yaml, Dockerfile, README\.md in .*k8s/},
  'ebpfcni export instruqt DIR': {
    group: 'none',
    run: 'export instruqt ./instruqt-all',
    code: 0,
    out: /files for instruqt/,
  },
  'ebpfcni export killercoda DIR': {
    group: 'none',
    run: 'export killercoda ./killercoda-all',
    code: 0,
    out: /files for killercoda/,
  },
  'ebpfcni conform --config ./bridge.conflist --cni-path /usr/lib/cni --json': {
    group: 'none',
    code: 0,
    out: /"passed": true/,
  },
  'ebpfcni conform --config my-bridge.conflist --cni-path /usr/lib/cni': {
    group: 'none',
    run: 'conform --config bridge.conflist --cni-path /usr/lib/cni',
    code: 0,
    out: /✔/,
  },
  'ebpfcni conform': help('conform'),
  'ebpfcni node add': help('node add'),
  'ebpfcni fleet textfile': {
    group: 'none',
    code: 0,
    out: /✔ wrote \/var\/lib\/prometheus\/node-exporter\/ebpfcni\.prom/,
  },
  'ebpfcni fleet textfile --stdout': {group: 'none', code: 0, out: /ebpfcni_step_done\{lab="1",step="skeleton"\} 0/},
  'ebpfcni fleet user-data --git https://git.example.org/ebpfcni.git --ref main': {
    group: 'none',
    code: 0,
    out: /#cloud-config(.|\n)*--branch\n\s+- main\n\s+- https:\/\/git\.example\.org\/ebpfcni\.git/,
  },
  'ebpfcni fleet user-data --git URL [--ref TAG]': {
    group: 'none',
    run: 'fleet user-data --git https://git.example.org/ebpfcni.git --ref v1',
    code: 0,
    out: /--branch\n\s+- v1/,
  },
  'ebpfcni fleet user-data --tarball /root/ebpfcni.tgz --ssh-key "ssh-ed25519 AAAA… instructor"': {
    group: 'none',
    code: 0,
    out: /ssh_authorized_keys:\n\s+- ssh-ed25519 AAAA… instructor(.|\n)*\/root\/ebpfcni\.tgz/,
  },
  'ebpfcni fleet user-data --tarball /root/ebpfcni.tgz --bundle /root/ebpfcni-bundle.tar': {
    group: 'none',
    code: 0,
    out: /#cloud-config(.|\n)*\/root\/ebpfcni-bundle\.tar/,
  },
  'ebpfcni fleet report hosts.txt': {
    group: 'none',
    code: 0,
    out: /127\.0\.0\.1:1\s+down.*nothing listens on its SSH port/,
  },
  'ebpfcni fleet report hosts.txt -i ~/.ssh/room': {
    group: 'none',
    run: 'fleet report hosts.txt -i room.key',
    code: 0,
    out: /nothing listens on its SSH port/,
  },
  'ebpfcni fleet report hosts.txt -i ~/.ssh/room -j 128 --json': {
    group: 'none',
    run: 'fleet report hosts.txt -i room.key -j 128 --json',
    code: 0,
    out: /"host": "127\.0\.0\.1:1"(.|\n)*nothing listens/,
  },
  'ebpfcni fleet report hosts.json': {group: 'none', code: 0, out: /127\.0\.0\.1\s+down/},
  'ebpfcni fleet reset hosts.txt': {group: 'none', code: 1, out: /nothing listens(.|\n)*0\/1 host\(s\) clean/},
  'ebpfcni fleet reset hosts.txt -i ~/.ssh/room': {
    group: 'none',
    run: 'fleet reset hosts.txt -i room.key',
    code: 1,
    out: /0\/1 host\(s\) clean/,
  },
  'ebpfcni fleet reset hosts.txt --progress': {group: 'none', code: 1, out: /0\/1 host\(s\) clean/},
  'ebpfcni fleet reset hosts.txt --progress -i ~/.ssh/room --json': {
    group: 'none',
    run: 'fleet reset hosts.txt --progress -i room.key --json',
    code: 1,
    out: /"host": "127\.0\.0\.1:1"/,
  },
  'ebpfcni fleet prometheus hosts.txt --out room': {
    group: 'none',
    code: 0,
    out: /✔ 1 target\(s\) in .*room\/ebpfcni-targets\.json/,
  },
  'ebpfcni fleet top': {
    group: 'none',
    code: 2,
    out: /Prometheus at http:\/\/127\.0\.0\.1:9090 did not answer/,
  },
  'ebpfcni fleet top --once': {group: 'none', code: 2, out: /Prometheus at http:\/\/127\.0\.0\.1:9090 did not answer/},
  'ebpfcni fleet top --prometheus http://10.0.0.2:9090 --once --json': {
    group: 'none',
    // The example's address is a room's; nothing but 127.0.0.0/8 is contacted from here.
    run: 'fleet top --prometheus http://127.0.0.1:1 --once --json',
    code: 2,
    out: /"message": "Prometheus at http:\/\/127\.0\.0\.1:1 did not answer/,
  },

  // ---- lab 1 done (solution applied, checks passed): pods by hand
  'ebpfcni check 1': {group: 'lab1', code: 0, out: /✔(.|\n)*all \d+ checks pass/},
  'ebpfcni check N': {group: 'lab1', run: 'check 1', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 1 --step skeleton': {group: 'lab1', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 1 --step add': {group: 'lab1', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 1 --step del': {group: 'lab1', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 1 --json': {group: 'lab1', code: 0, out: /"passed": true/},
  'ebpfcni check 1 --runtime podman': {group: 'lab1', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 1 --step production --runtime cri': {group: 'lab1', code: 0, out: /all \d+ checks pass/},
  'ebpfcni solution 1 --apply --yes': {
    group: 'lab1',
    code: 0,
    out: /✔ wrote .*ws\/ebpfcni|already matches the solution/,
  },
  'ebpfcni solution N --apply --yes': {
    group: 'lab1',
    run: 'solution 1 --apply --yes',
    code: 0,
    out: /✔ wrote .*ws\/ebpfcni|already matches the solution/,
  },
  'ebpfcni conform --config /etc/cni/net.d/10-ebpfcni.conf': {
    group: 'lab1',
    code: 0,
    out: /✔/,
  },
  'ebpfcni conform --config ~/ebpfcni-lab/10-ebpfcni.conf --cni-path /opt/cni/bin': {
    group: 'lab1',
    run: 'conform --config {ws}/10-ebpfcni.conf --cni-path /opt/cni/bin',
    code: 0,
    out: /✔/,
  },
  'ebpfcni pod add httpbin': {
    group: 'lab1',
    code: 0,
    out: /httpbin.*10\.10\.0\.\d+/,
    capture: {httpbin: /(10\.10\.0\.\d+)/},
  },
  'ebpfcni pod add sleep --workload sleep': {
    group: 'lab1',
    code: 0,
    out: /sleep.*10\.10\.0\.\d+/,
    capture: {sleep: /(10\.10\.0\.\d+)/},
  },
  'ebpfcni pod list': {group: 'lab1', code: 0, out: /httpbin(.|\n)*sleep/},
  'ebpfcni pod list --json': {group: 'lab1', code: 0, out: /"name": "httpbin"/},
  'ebpfcni pod probe sleep httpbin': {group: 'lab1', code: 0, out: /sleep → httpbin/},
  'ebpfcni pod probe sleep httpbin --icmp': {group: 'lab1', code: 0, out: /sleep → httpbin/},
  'ebpfcni pod exec sleep -- ip route': {group: 'lab1', code: 0, out: /default via 10\.10\.0\.1/},
  'ebpfcni pod exec httpbin -- ip addr': {group: 'lab1', code: 0, out: /inet 10\.10\.0\.\d+\/24/},
  'ebpfcni pod exec sleep -- busybox wget -qO- http://10.10.0.2/get': {
    group: 'lab1',
    run: 'pod exec sleep -- busybox wget -qO- http://{httpbin}/get',
    code: 0,
    out: /"url"|"origin"|get/,
  },
  'ebpfcni pod check httpbin': {group: 'lab1', code: 0, out: /httpbin/},
  'ebpfcni pod check httpbin --json': {group: 'lab1', code: 0, out: /"httpbin"|"name"/},
  'ebpfcni pod add a --args "K8S_POD_NAMESPACE=demo"': {group: 'lab1', code: 0, out: /\ba\b.*10\.10\.0\.\d+/},
  'ebpfcni pod probe a 10.10.0.1 --icmp': {group: 'lab1', code: 0, out: /10\.10\.0\.1/},
  'ebpfcni pod add a --config ./my.conflist --cni-path /usr/lib/cni': {
    group: 'lab1',
    run: ['pod del a', 'pod add a --config ./my.conflist --cni-path /usr/lib/cni'],
    code: 0,
    out: /\ba\b.*10\.23[0-9]\.\d+\.\d+/,
  },
  'ebpfcni pod del httpbin': {group: 'lab1', code: 0, out: /httpbin/},
  'ebpfcni pod add httpbin --label app=httpbin': {group: 'lab1', code: 0, out: /httpbin/},
  'ebpfcni pod add sleep --label app=sleep --workload sleep': {
    group: 'lab1',
    run: ['pod del sleep', 'pod add sleep --label app=sleep --workload sleep'],
    code: 0,
    out: /sleep/,
  },
  'ebpfcni pod add web --runtime cri --label app=httpbin': {group: 'lab1', code: 0, out: /web/},
  'ebpfcni topology': {group: 'lab1', code: 0, out: /httpbin(.|\n)*sleep/},
  'ebpfcni topology --json': {group: 'lab1', code: 0, out: /"pods"/},
  'ebpfcni lab 1 --watch': {group: 'lab1', code: 130, bound: 30_000, out: /✔/},
  'ebpfcni pod del --all': {group: 'lab1', code: 0, out: /httpbin|sleep|removed|deleted/},
  'ebpfcni reset --all': {group: 'lab1', code: 2, out: /without a terminal it needs --yes/},

  // ---- lab 2 done: programs
  'ebpfcni pod add httpbin (lab 2)': {
    group: 'lab2',
    run: ['pod add httpbin', 'pod add sleep --workload sleep'],
    code: 0,
    out: /sleep/,
  },
  'ebpfcni check 2': {group: 'lab2', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 2 --step program': {group: 'lab2', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 2 --step attach': {group: 'lab2', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 2 --runtime cri': {group: 'lab2', code: 0, out: /all \d+ checks pass/},
  'ebpfcni bpf build': {group: 'lab2', code: 0, out: /clang/},
  'ebpfcni bpf build --json': {group: 'lab2', code: 0, out: /"object"|\.bpf\.o/},
  'ebpfcni bpf build ./prog.bpf.c -o prog.o': {group: 'lab2', code: 0, out: /prog\.o/},
  // check 2 loaded it already: what a learner sees when loading twice.
  'ebpfcni bpf load': {group: 'lab2', code: 2, out: /xdp_prog is already pinned(.|\n)*hint: load again with --replace/},
  'ebpfcni bpf load --replace': {group: 'lab2', code: 0, out: /xdp_prog/},
  'ebpfcni bpf load ~/ebpfcni-lab/ebpfcni.bpf.o --replace': {
    group: 'lab2',
    run: 'bpf load {ws}/ebpfcni.bpf.o --replace',
    code: 0,
    out: /xdp_prog/,
  },
  'ebpfcni bpf load ./prog.o --pin-dir /sys/fs/bpf/mine': {
    group: 'lab2',
    run: 'bpf load ./prog.o --pin-dir {mine}',
    code: 0,
    out: /xdp_prog/,
  },
  'ebpfcni bpf progs': {group: 'lab2', code: 0, out: /xdp/},
  'ebpfcni bpf progs --json': {group: 'lab2', code: 0, out: /xdp/},
  'ebpfcni bpf attach --pod httpbin': {group: 'lab2', code: 0, out: /httpbin|veth/, capture: {veth: /(veth\w+)/}},
  'ebpfcni bpf attach xdp_prog --dev veth1234': {
    group: 'lab2',
    run: 'bpf attach xdp_prog --dev {veth}',
    code: 0,
    out: /xdp/,
  },
  'ebpfcni bpf detach --pod httpbin': {group: 'lab2', code: 0, out: /httpbin|veth/},
  'ebpfcni bpf trace --for 10': {
    group: 'lab2',
    alongside: 'pod probe sleep httpbin',
    code: 130,
    bound: 15_000,
    out: /ebpfcni/,
  },
  'ebpfcni bpf trace --filter ebpfcni': {
    group: 'lab2',
    alongside: 'pod probe sleep httpbin',
    code: 130,
    bound: 15_000,
    out: /ebpfcni/,
  },
  'ebpfcni bpf trace --for 5 --filter ebpfcni': {
    group: 'lab2',
    alongside: 'pod probe sleep httpbin',
    code: 0,
    out: /ebpfcni/,
  },
  // Lab 2's trace step reads the buffer after its probe; the lines wait there until read.
  'ebpfcni bpf trace --for 3 --filter ebpfcni': {
    group: 'lab2',
    alongside: 'pod probe sleep httpbin',
    code: 0,
    out: /ebpfcni/,
  },
  'ebpfcni bpf trace --for 5 --json': {group: 'lab2', alongside: 'pod probe sleep httpbin', code: 0, out: /\{"/},

  // ---- lab 3 done: the counter map and the exporter
  'ebpfcni pod del --all (lab 3)': {group: 'lab3', run: 'pod del --all', code: 0, out: /./},
  'ebpfcni pod add httpbin (lab 3)': {
    group: 'lab3',
    run: 'pod add httpbin',
    code: 0,
    out: /httpbin/,
    capture: {httpbin: /(10\.10\.0\.\d+)/},
  },
  'ebpfcni pod add sleep --workload sleep (lab 3)': {
    group: 'lab3',
    run: 'pod add sleep --workload sleep',
    code: 0,
    out: /sleep/,
  },
  'ebpfcni pod probe sleep httpbin (lab 3)': {
    group: 'lab3',
    run: 'pod probe sleep httpbin',
    code: 0,
    out: /sleep → httpbin/,
  },
  'ebpfcni check 3': {group: 'lab3', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 3 --step counter': {group: 'lab3', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 3 --step metrics': {group: 'lab3', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 3 --step percpu': {group: 'lab3', code: 0, out: /all \d+ checks pass/},
  'ebpfcni bpf maps': {group: 'lab3', code: 0, out: /counter/},
  'ebpfcni bpf maps counter': {group: 'lab3', code: 0, out: /10\.10\.0\.\d+/},
  'ebpfcni bpf maps /sys/fs/bpf/ebpfcni/counter --json': {group: 'lab3', code: 0, out: /"10\.10\.0\.\d+"/},
  'ebpfcni bpf maps counter --key 10.10.0.5': {
    group: 'lab3',
    run: 'bpf maps counter --key {httpbin}',
    code: 0,
    out: /10\.10\.0\.\d+/,
  },
  'ebpfcni metrics': {group: 'lab3', code: 130, bound: 20_000, out: /127\.0\.0\.1:9435/},
  'ebpfcni metrics --once': {group: 'lab3', code: 0, out: /# TYPE/},
  'ebpfcni metrics --once > scrape.prom': {
    group: 'lab3',
    run: 'metrics --once',
    // … && promtool check metrics < scrape.prom, as the step goes on
    redirect: 'scrape.prom',
    pipe: ['promtool', 'check', 'metrics'],
    code: 0,
    out: /# TYPE ebpfcni_packets_total counter/,
  },
  'ebpfcni metrics --watch': {group: 'lab3', code: 130, bound: 20_000, out: /10\.10\.0\.\d+/},
  'ebpfcni metrics --background': {group: 'lab3', code: 0, out: /127\.0\.0\.1:9435/},
  'ebpfcni metrics --stop': {group: 'lab3', code: 0, out: /stop/i},
  'ebpfcni metrics --background --compat': {group: 'lab3', code: 0, out: /127\.0\.0\.1:9435/},

  // ---- lab 4 done: policy and observe
  'ebpfcni pod add httpbin --label app=httpbin (lab 4)': {
    group: 'lab4',
    run: ['pod del --all', 'pod add httpbin --label app=httpbin'],
    code: 0,
    out: /httpbin/,
    capture: {httpbin: /(10\.10\.0\.\d+)/},
  },
  'ebpfcni pod add sleep --label app=sleep --workload sleep (lab 4)': {
    group: 'lab4',
    run: 'pod add sleep --label app=sleep --workload sleep',
    code: 0,
    out: /sleep/,
    capture: {sleep: /(10\.10\.0\.\d+)/},
  },
  'ebpfcni check 4 --step deny': {group: 'lab4', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 4 --step networkpolicy': {group: 'lab4', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 4 --step conntrack': {group: 'lab4', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 4 --step spoofing': {group: 'lab4', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 4 --step identity': {group: 'lab4', code: 0, out: /all \d+ checks pass/},
  'ebpfcni policy deny sleep httpbin': {group: 'lab4', code: 0, out: /deny sleep → httpbin/},
  'ebpfcni policy deny A B': {group: 'lab4', run: 'policy deny sleep httpbin', code: 0, out: /deny sleep → httpbin/},
  'ebpfcni policy list': {group: 'lab4', code: 0, out: /sleep(.|\n)*httpbin/},
  'ebpfcni policy list --json': {group: 'lab4', code: 0, out: /"rules"/},
  'ebpfcni pod probe sleep httpbin (denied)': {group: 'lab4', run: 'pod probe sleep httpbin', code: 1, out: /sleep/},
  'ebpfcni observe --pod sleep': {group: 'lab4', code: 0, out: /sleep/},
  'ebpfcni observe --pod NAME': {group: 'lab4', run: 'observe --pod sleep', code: 0, out: /sleep/},
  'ebpfcni observe --last 100 --json': {group: 'lab4', code: 0, out: /\{"/},
  'ebpfcni observe --reason isolated --last 100': {group: 'lab4', code: 0, out: /isolated|no flows/i},
  'ebpfcni observe --since 5m': {group: 'lab4', code: 0, out: /flow\(s\) printed/},
  'ebpfcni observe --checks': {group: 'lab4', code: 0, out: /flow\(s\) printed/},
  'ebpfcni observe --follow': {
    group: 'lab4',
    alongside: 'pod probe sleep httpbin',
    code: 130,
    bound: 20_000,
    out: /sleep/,
  },
  'ebpfcni observe -f --pod httpbin --verdict dropped': {
    group: 'lab4',
    alongside: 'pod probe sleep httpbin',
    code: 130,
    bound: 20_000,
    out: /dropped|DROPPED/,
  },
  'ebpfcni observe --follow --pod httpbin --verdict dropped': {
    group: 'lab4',
    alongside: 'pod probe sleep httpbin',
    code: 130,
    bound: 20_000,
    out: /dropped|DROPPED/,
  },
  'ebpfcni observe --kernel --follow': {
    group: 'lab4',
    code: 130,
    bound: 20_000,
    out: /reading flow_events and the kernel's drops; Ctrl-C to stop/,
  },
  'ebpfcni observe --follow --reason isolated': {
    group: 'lab4',
    code: 130,
    bound: 10_000,
    out: /reading flow_events; Ctrl-C to stop/,
  },
  'ebpfcni observe --web': {group: 'lab4', code: 130, bound: 20_000, out: /http:\/\/127\.0\.0\.1:9797/},
  'ebpfcni policy allow sleep httpbin': {group: 'lab4', code: 0, out: /allow sleep → httpbin/},
  'ebpfcni policy allow 10.10.0.3 10.10.0.2': {
    group: 'lab4',
    run: 'policy allow {sleep} {httpbin}',
    code: 0,
    out: /allow/,
  },
  'ebpfcni policy deny 10.10.0.3 10.10.0.2': {
    group: 'lab4',
    run: 'policy deny {sleep} {httpbin}',
    code: 0,
    out: /deny/,
  },
  'ebpfcni policy remove sleep httpbin': {group: 'lab4', code: 0, out: /sleep.*httpbin/},
  'ebpfcni policy apply policy.yaml': {group: 'lab4', cwd: 'workspace', code: 0, out: /httpbin-allow-sleep|applied/},
  'ebpfcni policy apply ~/ebpfcni-lab/policy.yaml': {
    group: 'lab4',
    run: 'policy apply {ws}/policy.yaml',
    code: 0,
    out: /applied|httpbin/,
  },
  'ebpfcni bpf maps conntrack': {group: 'lab4', code: 0, out: /conntrack/},
  'ebpfcni bpf attach to_pod --pod httpbin --hook tc-egress': {
    group: 'lab4',
    // The veth this lab's detach line names (each file captures its own).
    capture: {veth: /(veth\w+)/},
    code: 0,
    out: /to_pod(.|\n)*tc-egress|tc-egress(.|\n)*to_pod|to_pod.*attached/i,
  },
  'ebpfcni bpf attach to_pod --pod httpbin --hook tc-egress --tcx': {
    group: 'lab4',
    code: 0,
    out: /to_pod.*tcx egress through link \d+, pinned at \S+link_tcx_egress_\S+_to_pod/,
  },
  'ebpfcni bpf detach --dev veth1234 --hook tc-egress': {
    group: 'lab4',
    run: 'bpf detach --dev {veth} --hook tc-egress',
    code: 0,
    out: /tc/,
  },
  'ebpfcni policy delete httpbin-allow-sleep': {group: 'lab4', code: 0, out: /httpbin-allow-sleep/},
  'ebpfcni policy watch': {group: 'lab4', code: 130, bound: 20_000, out: /watch/i},
  'ebpfcni policy watch --background': {group: 'lab4', code: 0, out: /background|pid/i},
  'ebpfcni policy watch --stop': {group: 'lab4', code: 0, out: /stop/i},
  'ebpfcni pod add web --runtime cri --label app=httpbin (lab 4: the pods policy watch --pods cri reads)': {
    group: 'lab4',
    run: 'pod add web --runtime cri --label app=web',
    code: 0,
    out: /web/,
  },
  'ebpfcni policy watch --pods cri': {group: 'lab4', code: 130, bound: 20_000, out: /watch/i},
  'ebpfcni pod del web (lab 4)': {group: 'lab4', run: 'pod del web', code: 0, out: /✔ deleted pod web/},
  'ebpfcni policy watch --pods cri --cri-socket /run/containerd/containerd.sock --policies kubernetes': {
    group: 'lab4',
    run: 'policy watch --pods cri --cri-socket {scratch}/no-containerd.sock --policies kubernetes',
    code: 2,
    out: /cannot list pods from the CRI runtime/,
  },
  'ebpfcni policy watch --policies kubernetes --api-server http://127.0.0.1:8001': {
    group: 'lab4',
    // A controller keeps polling an API that is down (kubectl proxy may come back): it says so each time.
    run: 'policy watch --policies kubernetes --api-server http://127.0.0.1:1',
    code: 130,
    bound: 20_000,
    out: /✘ Kubernetes API: GET http:\/\/127\.0\.0\.1:1\/apis\/networking\.k8s\.io\/v1\/networkpolicies: ECONNREFUSED/,
  },

  // ---- lab 5: simulated nodes
  'ebpfcni check 5': {group: 'lab5', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 5 --step routes': {group: 'lab5', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 5 --step overlay': {group: 'lab5', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 5 --step nobridge': {group: 'lab5', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 5 --step fib': {group: 'lab5', code: 0, out: /all \d+ checks pass/},
  // Step 5 passes on a kernel with tcx, and is skipped as unsupported below 6.6 (still "all pass").
  'ebpfcni check 5 --step modern-attach': {group: 'lab5', code: 0, out: /all \d+ checks pass/},
  // The plugin's line (step 5), run without a plugin's pins: it says what is missing.
  'ebpfcni bpf attach "$pin_dir/from_pod" --dev "$hostveth" --hook tc-ingress --tcx': {
    group: 'lab5',
    run: 'bpf attach /sys/fs/bpf/ebpfcni-documented-none/from_pod --dev lo --hook tc-ingress --tcx',
    code: 2,
    out: /nothing is pinned at \/sys\/fs\/bpf\/ebpfcni-documented-none\/from_pod/,
  },
  'ebpfcni node add a b': {group: 'lab5', code: 0, out: /\ba\b(.|\n)*\bb\b/},
  'ebpfcni node add c --json': {group: 'lab5', code: 0, out: /"c"/},
  'ebpfcni node list': {group: 'lab5', code: 0, out: /10\.244\.1\.0\/24(.|\n)*10\.244\.2\.0\/24/},
  'ebpfcni node list --strict': {group: 'lab5', code: 0, out: /strict/i},
  'ebpfcni node list --json': {group: 'lab5', code: 0, out: /"nodes"|"name"/},
  'ebpfcni bpf build ~/ebpfcni-lab/forward.bpf.c (the plugin says so when it is missing)': {
    group: 'lab5',
    run: 'bpf build {ws}/forward.bpf.c',
    code: 0,
    out: /forward\.bpf\.o/,
  },
  'ebpfcni pod add p1 --node a': {group: 'lab5', code: 0, out: /p1.*10\.244\.1\.\d+/},
  'ebpfcni pod add p2 --node b': {group: 'lab5', code: 0, out: /p2.*10\.244\.2\.\d+/},
  'ebpfcni pod probe p1 p2': {group: 'lab5', code: 0, out: /p1 → p2/},
  'ebpfcni observe --node a': {group: 'lab5', code: 0, out: /p1|from_pod|no flows/i},
  'ebpfcni observe --node a --follow': {
    group: 'lab5',
    alongside: 'pod probe p1 p2',
    code: 130,
    bound: 20_000,
    out: /p1/,
  },
  'ebpfcni pod del p1': {group: 'lab5', code: 0, out: /p1/},
  'ebpfcni pod del p2': {group: 'lab5', code: 0, out: /p2/},
  'ebpfcni pod probe p1 p2 (again, after the overlay)': {
    group: 'lab5',
    run: ['pod add p1 --node a', 'pod add p2 --node b', 'pod probe p1 p2'],
    code: 0,
    out: /p1 → p2/,
  },
  'ebpfcni pod add NAME --node a': {group: 'lab5', run: 'pod add p3 --node a', code: 0, out: /p3/},
  'ebpfcni pod add web --node b --label app=web': {group: 'lab5', code: 0, out: /web/},
  'ebpfcni node del b': {group: 'lab5', code: 0, out: /\bb\b/},
  'ebpfcni node del --all': {group: 'lab5', code: 0, out: /./},

  // ---- the end: everything removed
  'ebpfcni reset --all --yes': {group: 'end', code: 0, out: /✔|Nothing to remove/},
  'ebpfcni reset --all --progress --yes': {group: 'end', code: 0, out: /progress|Nothing to remove/i},
}

/** Each lab's own documented lines: labs/NN-slug/test/documented.ts, in the lab's folder. */
const LAB_ENTRIES: Record<string, Entry> = Object.assign(
  {},
  ...(await Promise.all(
    loadLabs()
      .map((lab) => join(lab.dir, 'test', 'documented.ts'))
      .filter((f) => existsSync(f))
      .map(async (f) => ((await import(f)) as {DOCUMENTED: Record<string, Entry>}).DOCUMENTED),
  )),
)
const TABLE: Record<string, Entry> = {...CENTRAL, ...LAB_ENTRIES}

// ---------------------------------------------------------------- running them

/** Split a command line as a shell would (quotes, no expansion). */
function words(line: string): string[] {
  const out: string[] = []
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3])
  return out
}

/**
 * The documented commands of these groups, run as typed, in this file's own scratch workspace and state;
 * then nothing is left. Groups are split across files (they run in different test shards): those that
 * read trace_pipe or run lab 2's printing program must run in the one shard that does (scripts/test-shards.mjs).
 * `withTable`: also the test that every documented line has an entry (in one file only).
 */
export function describeDocumentedCommands(file: keyof typeof GROUPS_BY_FILE, withTable = false): void {
  const groups = GROUPS_BY_FILE[file]
  describe(`every documented command runs, as typed (${groups.join(', ')})`, () => {
    const t = tempStateDir('ebpfcni-doc-')
    const id = uniq()
    const scratch = join(t.dir, 'scratch')
    const ws = join(t.dir, 'ws')
    const mine = `/sys/fs/bpf/ebpfcni-doc${id}`
    const confBridges = [`dc${id}`, `dm${id}`]
    const textfile = '/var/lib/prometheus/node-exporter/ebpfcni.prom'
    const textfileBefore = existsSync(textfile) ? readFileSync(textfile) : undefined
    const env = {
      EBPFCNI_STATE_DIR: join(t.dir, 'state'),
      EBPFCNI_WORKSPACE: ws,
      CI: 'true',
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      // A test shard's own cgroup for lab 6's runs (scripts/private-host.sh), when it runs in one.
      ...(process.env.EBPFCNI_CGROUP_PARENT ? {EBPFCNI_CGROUP_PARENT: process.env.EBPFCNI_CGROUP_PARENT} : {}),
    }
    const values: Record<string, string> = {ws, mine, scratch}
    const concrete = (cmd: string): string[] =>
      words(cmd.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? `{${k}}`)).map((w) => w)
    const spawn = (args: string[], cwd = scratch, timeout = 120_000): ResultPromise<{reject: false}> =>
      execa('node', [cliBin, ...args], {reject: false, env, extendEnv: false, cwd, timeout, stdin: 'ignore'}) as never
    const docs = documentedCommands()
    const results: string[] = []
    let before: Awaited<ReturnType<typeof hostSnapshot>>
    const CNI_DIRS = ['/opt/cni/bin', '/etc/cni/net.d']
    const cniBefore: Record<string, string[]> = {}
    const listing = (d: string) =>
      readdirSync(d)
        .filter((f) => f !== 'cni.lock')
        .map((f) => `${f} ${existsSync(join(d, f)) ? readFileSync(join(d, f)).length : 'dangling'}`)
        .sort()

    beforeAll(async () => {
      requireRoot()
      requireBuilt()
      before = await hostSnapshot()
      for (const d of [scratch, ws]) mkdirSync(d, {recursive: true})
      // The install targets are the real ones, as for a learner: what is there now is there at the end.
      for (const d of CNI_DIRS) cniBefore[d] = listing(d)
      writeFileSync(join(scratch, 'hosts.txt'), '127.0.0.1:1\n')
      writeFileSync(
        join(scratch, 'hosts.json'),
        JSON.stringify({attendee_ips: {value: ['127.0.0.1'], type: ['list', 'string'], sensitive: false}}),
      )
      writeFileSync(join(scratch, 'room.key'), '')
      const conflist = (name: string, bridge: string, subnet: string) =>
        JSON.stringify({
          cniVersion: '1.0.0',
          name,
          plugins: [
            {
              type: 'bridge',
              bridge,
              isGateway: true,
              ipam: {type: 'host-local', ranges: [[{subnet}]], dataDir: join(t.dir, 'ipam')},
            },
          ],
        })
      writeFileSync(join(scratch, 'bridge.conflist'), conflist(`doc${id}`, confBridges[0], '10.237.1.0/24'))
      writeFileSync(join(scratch, 'my.conflist'), conflist(`docm${id}`, confBridges[1], '10.238.1.0/24'))
      copyFileSync(join(repoRoot, 'labs/02-ebpf-basics/solution/program/ebpfcni.bpf.c'), join(scratch, 'prog.bpf.c'))
    })
    afterAll(async () => {
      await spawn(['metrics', '--stop'])
      await spawn(['policy', 'watch', '--stop'])
      await spawn(['reset', '--all', '--progress', '--yes'])
      for (const b of confBridges) await deleteLinkQuietly(b)
      rmSync(mine, {recursive: true, force: true})
      if (textfileBefore) writeFileSync(textfile, textfileBefore)
      else rmSync(textfile, {force: true})
      t.cleanup()
    })

    if (withTable)
      it('every documented command line has an entry in the table; every group runs in one file', () => {
        const missing = [...docs]
          .filter(([line]) => !TABLE[line] && !NOT_COMMANDS[line])
          .map(([line, where]) => `${line}   (${where.join(', ')})`)
        expect(missing, `documented but not in this test's table:\n${missing.join('\n')}`).toEqual([])
        const stale = Object.keys(TABLE).filter((k) => !docs.has(k) && !k.includes(' ('))
        expect(stale, 'in the table but documented nowhere (remove them)').toEqual([])
        const split = Object.values(GROUPS_BY_FILE).flat()
        expect([...split].sort(), 'GROUPS_BY_FILE: each group in exactly one file').toEqual([...GROUPS].sort())
      })

    /** One result per concrete command and group: a line documented twice runs once. */
    const ran = new Map<string, {code: number; out: string}>()

    const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms))

    /** A command that runs until stopped: wait for `out`, then Ctrl-C. */
    async function bounded(args: string[], e: Entry): Promise<{code: number; out: string}> {
      const child = spawn(args, scratch, e.bound! + 30_000)
      let out = ''
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
      const t0 = Date.now()
      let nextAlongside = t0 + 1500
      let probed = false
      while (Date.now() - t0 < e.bound! && !e.out.test(out) && child.exitCode === null) {
        // The traffic goes once the command says it is ready ("Ctrl-C to stop"), else after 1.5 s; again every 1.5 s.
        const ready = !probed && /Ctrl-C to stop/.test(out)
        if (e.alongside && (ready || Date.now() > nextAlongside)) {
          await spawn(concrete(e.alongside), scratch, 15_000)
          probed = true
          nextAlongside = Date.now() + 1500
        }
        await sleepMs(200)
      }
      child.kill('SIGINT')
      const r = await child
      return {code: r.exitCode ?? -1, out}
    }

    async function runOne(cmd: string, e: Entry): Promise<{code: number; out: string}> {
      const args = concrete(cmd)
      if (e.bound) return bounded(args, e)
      const cwd = e.cwd === 'workspace' ? ws : scratch
      const child = spawn(args, cwd)
      if (e.alongside) {
        await sleepMs(1500)
        await spawn(concrete(e.alongside), scratch, 15_000)
      }
      const r = await child
      let out = `${String(r.stdout)}\n${String(r.stderr)}`
      let code = r.exitCode ?? -1
      if (e.redirect) {
        writeFileSync(join(scratch, e.redirect), String(r.stdout))
        out = readFileSync(join(scratch, e.redirect), 'utf8')
      }
      // `a | b` or `a > f && b < f`: b reads what a printed; with &&, only when a succeeded.
      if (e.pipe && !(e.redirect && code !== 0)) {
        const p = await execa(e.pipe[0], e.pipe.slice(1), {input: String(r.stdout), reject: false, timeout: 30_000})
        out = `${p.stdout}\n${p.stderr}\n${out}`
        code = p.exitCode ?? -1
      }
      return {code, out}
    }

    /** Each subcommand's help exists and, together, they name every flag the synopsis shows. */
    async function synopsis(line: string, e: Entry): Promise<string[]> {
      const helps = await Promise.all(e.synopsis!.map((c) => spawn([...c.split(' '), '--help'], scratch, 30_000)))
      const problems: string[] = []
      helps.forEach((h, i) => {
        if (h.exitCode !== 0 || !/USAGE/.test(String(h.stdout)))
          problems.push(`\`ebpfcni ${e.synopsis![i]} --help\` exited ${h.exitCode}: ${String(h.stderr).slice(0, 300)}`)
      })
      const text = helps.map((h) => String(h.stdout)).join('\n')
      for (const flag of line.match(/(?<![\w-])--?[a-z][\w-]*/g) ?? [])
        if (!new RegExp(`(^|[\\s,\\[])${flag}\\b`, 'm').test(text))
          problems.push(`no command in ${e.synopsis!.join(', ')} takes ${flag}`)
      return problems
    }

    /** The last lab whose solution the workspace holds. */
    let solved = 0
    async function setUp(group: Group): Promise<void> {
      const lab = /^lab(\d+)$/.exec(group)?.[1]
      if (!lab) return
      // A learner on lab N has solved the labs before it (lab 3's program runs under lab 2's plugin): this
      // file's workspace gets the earlier labs' solutions its groups leave out, as the learner's has them.
      for (const earlier of loadLabs().filter((l) => l.id > solved && l.id < Number(lab))) {
        const r = await spawn(['solution', String(earlier.id), '--apply', '--yes'])
        expect(r.exitCode, `solving lab ${earlier.id} first: ${String(r.stdout)}${String(r.stderr)}`).toBe(0)
      }
      solved = Number(lab)
      // Solved, then checked: by the whole lab's check where the docs name it (its entry reuses the
      // result); otherwise by the first step's, which loads the solved program and pins what the group's
      // commands read (the steps' own documented lines run in their places, each as typed).
      const check =
        TABLE[`ebpfcni check ${lab}`]?.group === group ? ['check', lab] : ['check', lab, '--step', firstStep(lab)]
      for (const args of [['solution', lab, '--apply', '--yes'], check]) {
        const r = await spawn(args)
        expect(
          r.exitCode,
          `setting up ${group}: ebpfcni ${args.join(' ')}\n${String(r.stdout)}${String(r.stderr)}`,
        ).toBe(0)
        ran.set(`${group}|${args.join(' ')}|`, {
          code: r.exitCode ?? -1,
          out: `${String(r.stdout)}\n${String(r.stderr)}`,
        })
      }
    }

    for (const group of GROUPS.filter((g) => groups.includes(g))) {
      it(`${group}: each documented command does what it says, or says why it cannot here`, async () => {
        await setUp(group)
        const failures: string[] = []
        for (const [line, e] of Object.entries(TABLE).filter(([, e]) => e.group === group)) {
          const where = docs.get(line)?.join(', ') ?? 'this test'
          if (e.synopsis) {
            for (const p of await synopsis(line, e)) failures.push(`${line}  (${where}): ${p}`)
            continue
          }
          const cmds = e.run === undefined ? [line.replace(/^ebpfcni /, '')] : [e.run].flat()
          let res = {code: 0, out: ''}
          const t0 = Date.now()
          for (const [i, cmd] of cmds.entries()) {
            const key = `${group}|${cmd}|${e.bound ?? ''}`
            const last = i === cmds.length - 1
            const cached = last && cmds.length === 1 && ran.get(key)
            res = cached || (await runOne(cmd, e))
            if (!cached) ran.set(key, res)
            if (!last && res.code !== 0) break
          }
          for (const [name, re] of Object.entries(e.capture ?? {})) {
            const m = re.exec(res.out)
            if (m) values[name] = m[1]
          }
          const verdict = res.code === e.code && e.out.test(res.out)
          if (process.env.DOC_CMDS_VERBOSE)
            results.push(`   ${group} > ${res.out.trim().slice(0, 200).replaceAll('\n', ' | ')}`)
          results.push(`${verdict ? 'ok  ' : 'FAIL'} ${group} ${((Date.now() - t0) / 1000).toFixed(1)} s ${line}`)
          if (!verdict)
            failures.push(
              `${line}  (${where})\n    ran: ebpfcni ${cmds.join(' ; ebpfcni ')}\n    exit ${res.code}, expected ${e.code} and ${e.out}\n    ${res.out
                .trim()
                .slice(Math.max(0, res.out.trim().indexOf('✘')), 1200)
                .replaceAll('\n', '\n    ')}`,
            )
        }
        console.log(results.filter((r) => r.includes(` ${group} `)).join('\n'))
        expect(
          failures,
          `${failures.length} documented command(s) do not work as typed:\n${failures.join('\n')}`,
        ).toEqual([])
      }, 300_000)
    }

    it('nothing is left: reset --all removes what the commands made, and the host is as it was', async () => {
      await spawn(['metrics', '--stop'])
      await spawn(['policy', 'watch', '--stop'])
      const reset = await spawn(['reset', '--all', '--yes'])
      expect(reset.exitCode, String(reset.stderr)).toBe(0)
      const dry = await spawn(['reset', '--dry-run'])
      expect(String(dry.stdout)).toMatch(/Nothing to remove for all labs/)
      for (const b of confBridges) await deleteLinkQuietly(b)
      const after = await hostSnapshot()
      expect(after.netns.filter((n) => !before.netns.includes(n))).toEqual([])
      expect(after.links.filter((l) => !before.links.includes(l))).toEqual([])
      expect(existsSync(mine)).toBe(false)
      for (const d of CNI_DIRS) expect(listing(d), d).toEqual(cniBefore[d])
      console.log(results.join('\n'))
    }, 120_000)
  })
}
