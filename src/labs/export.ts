import {chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {loadLabs, readStepText, type Lab} from './catalogue.js'
import {UserError} from '../host/errors.js'

// The labs as the platforms instructors already use want them: Instruqt (a track: one challenge
// per step, a check-<host> script each) and Killercoda (a scenario per lab: index.json, each
// step's text and verify.sh). Platforms judge a check by its exit code; each script runs the
// step's real checks (`ebpfcni check N --step S`) and, on failure, says the first failing check's
// message and hint in the form the platform shows: Instruqt's `fail-message`, a FAIL: line for both.

export type Platform = 'instruqt' | 'killercoda'
export const PLATFORMS: Platform[] = ['instruqt', 'killercoda']

/** The check script every platform gets, for one step. */
export function checkScript(lab: number, step: string, platform: Platform): string {
  return `#!/usr/bin/env bash
# ${platform === 'instruqt' ? 'Instruqt check' : 'Killercoda verify'} for lab ${lab}, step ${step} (written by ebpfcni export ${platform}).
# The platform judges by the exit code: 0 when every check of the step passes.
set -uo pipefail
export PATH="$PATH:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
out=$(ebpfcni check ${lab} --step ${step} --json 2>/dev/null)
rc=$?
[ "$rc" -eq 0 ] && exit 0
msg=$(jq -r '[.checks[] | select(.status == "fail")][0] // empty | "\\(.title): \\(.message)" + (if .hint then " Hint: \\(.hint)" else "" end)' <<<"$out" 2>/dev/null)
[ -n "$msg" ] || msg="ebpfcni check ${lab} --step ${step} exited $rc: run it in the terminal to see why"
${platform === 'instruqt' ? 'command -v fail-message >/dev/null && fail-message "FAIL: $msg"\n' : ''}echo "FAIL: $msg"
exit 1
`
}

const slug = (lab: Lab, step: string) => `${String(lab.id).padStart(2, '0')}-${lab.slug}-${step}`
const yamlString = (s: string) => JSON.stringify(s)

function writeExecutable(path: string, text: string): void {
  writeFileSync(path, text)
  chmodSync(path, 0o755)
}

/** Exports write into a new or empty directory: nothing of someone's is overwritten. */
export function requireEmptyDir(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length)
    throw new UserError(`${dir} is not empty`, {hint: 'export into a new directory: nothing there is overwritten'})
}

/** Write the export into `dir` (which must be empty or absent); the files written, relative to it. */
export function exportLabs(platform: Platform, dir: string, labIds?: number[]): string[] {
  requireEmptyDir(dir)
  const labs = loadLabs().filter((l) => !labIds || labIds.includes(l.id))
  if (!labs.length) throw new UserError(`no lab matches ${labIds?.join(', ')}`)
  const written: string[] = []
  const put = (rel: string, text: string, exec = false) => {
    mkdirSync(join(dir, rel, '..'), {recursive: true})
    if (exec) writeExecutable(join(dir, rel), text)
    else writeFileSync(join(dir, rel), text)
    written.push(rel)
  }
  if (platform === 'instruqt') {
    put(
      'track.yml',
      [
        'slug: ebpfcni',
        'title: Build a Kubernetes CNI plugin with eBPF',
        'teaser: A CNI plugin in bash, then XDP and TC programs that count, observe and enforce policy.',
        "description: Each challenge is one step of ebpfcni; its check runs the step's real checks on the VM.",
        'tags: [ebpf, kubernetes, cni]',
        '',
      ].join('\n'),
    )
    for (const lab of labs)
      for (const step of lab.steps) {
        const d = slug(lab, step.id)
        put(
          `${d}/assignment.md`,
          `---\nslug: ${d}\ntype: challenge\ntitle: ${yamlString(`Lab ${lab.id}: ${step.title}`)}\nteaser: ${yamlString(lab.title)}\ntabs:\n- title: Terminal\n  type: terminal\n  hostname: workstation\n---\n\n${readStepText(lab, step)}\nCheck it here with **Check**, or in the terminal: \`ebpfcni check ${lab.id} --step ${step.id}\`. Stuck? \`ebpfcni hint ${lab.id}\`.\n`,
        )
        put(`${d}/check-workstation`, checkScript(lab.id, step.id, platform), true)
        put(
          `${d}/setup-workstation`,
          `#!/usr/bin/env bash\n# Start the step where ebpfcni's guided mode would: its text, its starter files.\nebpfcni lab ${lab.id} --step ${step.id} --yes >/dev/null 2>&1 || true\n`,
          true,
        )
      }
  } else {
    for (const lab of labs) {
      const d = `${String(lab.id).padStart(2, '0')}-${lab.slug}`
      const steps = lab.steps.map((step, i) => {
        put(`${d}/step${i + 1}/text.md`, readStepText(lab, step))
        put(`${d}/step${i + 1}/verify.sh`, checkScript(lab.id, step.id, platform), true)
        return {title: step.title, text: `step${i + 1}/text.md`, verify: `step${i + 1}/verify.sh`}
      })
      put(
        `${d}/intro.md`,
        `# ${lab.title}\n\n${lab.goal}\n\nThe VM runs ebpfcni: each step's **Check** runs \`ebpfcni check ${lab.id} --step STEP\`.\n`,
      )
      put(`${d}/foreground.sh`, `#!/usr/bin/env bash\nebpfcni lab ${lab.id} --yes\n`, true)
      put(
        `${d}/index.json`,
        `${JSON.stringify(
          {
            title: `ebpfcni lab ${lab.id}: ${lab.title}`,
            description: lab.goal,
            details: {intro: {text: 'intro.md', foreground: 'foreground.sh'}, steps, finish: {text: 'intro.md'}},
            backend: {imageid: 'ubuntu'},
          },
          null,
          2,
        )}\n`,
      )
    }
  }
  return written
}
