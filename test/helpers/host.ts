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

/** A hash map shaped as lab 3's counter (4-byte key, 8-byte value, 16 entries, named counter), made and pinned at pin. */
export async function pinCounterMap(pin: string): Promise<void> {
  const args = ['map', 'create', pin, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'counter']
  await execa('bpftool', args, {timeout: 10_000})
}
