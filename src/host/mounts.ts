import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'

/** The filesystem type holding a path, from /proc/self/mountinfo (longest mount point that contains it). */
export function filesystemOf(path: string): string | undefined {
  const target = resolve(path)
  let best: {point: string; type: string} | undefined
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ')
    if (!right) continue
    const point = left.split(' ')[4].replace(/\\040/g, ' ')
    const type = right.split(' ')[0]
    if (
      (target === point || target.startsWith(point.endsWith('/') ? point : `${point}/`)) &&
      (!best || point.length > best.point.length)
    )
      best = {point, type}
  }
  return best?.type
}
