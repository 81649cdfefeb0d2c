import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {cliBin} from './env.js'
import {pinCounterMap} from './host.js'
import {processStartTime} from '../../src/host/processes.js'

/** A run of ebpfcni that is still running, and one that has ended: what reset must tell apart. */
export interface LiveAndDeadRuns {
  /** The live run: `ebpfcni metrics` in the foreground over a map pinned for it (kill it to end the run). */
  holder: ResultPromise
  live: {pid: number; startTime?: number}
  /** A run that has ended (`ebpfcni --version`), its pid recorded while it ran. */
  dead: {pid: number}
}

/** Start the live run over a hash map pinned at pinDir/counter (pinDir is made) and run the dead one to its end. */
export async function liveAndDeadRuns(env: Record<string, string>, pinDir: string): Promise<LiveAndDeadRuns> {
  mkdirSync(pinDir)
  const map = join(pinDir, 'counter')
  await pinCounterMap(map)
  const port = String(20_000 + Math.floor(Math.random() * 20_000))
  const holder = execa('node', [cliBin, 'metrics', '--map', map, '--port', port, '--for', '120'], {
    env,
    reject: false,
    stdin: 'ignore',
  })
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (d: Buffer) => /serving/.test(String(d)) && resolve())
    void holder.then((r) => reject(new Error(`the exporter ended: ${r.stderr}`)))
  })
  const live = {pid: holder.pid!, startTime: processStartTime(holder.pid!)}
  const ended = execa('node', [cliBin, '--version'], {env})
  const dead = {pid: ended.pid!}
  await ended
  return {holder, live, dead}
}
