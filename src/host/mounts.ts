import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'

/** This process's mounts, from /proc/self/mountinfo: each mount point and its filesystem type, in order. */
export function mounts(): Array<{point: string; type: string}> {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .flatMap((line) => {
      const [left, right] = line.split(' - ')
      if (!right) return []
      return [{point: left.split(' ')[4].replace(/\\040/g, ' '), type: right.split(' ')[0]}]
    })
}

/** The filesystem type holding a path (longest mount point that contains it). */
export function filesystemOf(path: string): string | undefined {
  const target = resolve(path)
  let best: {point: string; type: string} | undefined
  for (const m of mounts())
    if (
      (target === m.point || target.startsWith(m.point.endsWith('/') ? m.point : `${m.point}/`)) &&
      (!best || m.point.length > best.point.length)
    )
      best = m
  return best?.type
}

/** Where a filesystem of this type is first mounted (cgroup2: /sys/fs/cgroup, or …/unified with hybrid cgroups). */
export const mountPointOf = (type: string): string | undefined => mounts().find((m) => m.type === type)?.point
