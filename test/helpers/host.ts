import {execa} from 'execa'

/** Host objects a test might leave: compared before/after to prove it left nothing. */
export async function hostSnapshot(): Promise<{netns: string[]; links: string[]}> {
  const ns = await execa('ip', ['-j', 'netns', 'list'], {reject: false})
  const ln = await execa('ip', ['-j', 'link', 'show'], {reject: false})
  return {
    netns: (JSON.parse(ns.stdout || '[]') as Array<{name: string}>).map((n) => n.name).sort(),
    links: (JSON.parse(ln.stdout || '[]') as Array<{ifname: string}>).map((l) => l.ifname).sort(),
  }
}

export async function deleteLinkQuietly(name: string): Promise<void> {
  await execa('ip', ['link', 'del', name], {reject: false})
}
