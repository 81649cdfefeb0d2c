import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {EnvironmentError} from './errors.js'

// An HTTP server listening, the one way the tool's servers (metrics exporter, observe --web) do it:
// bind errors (a port in use) reject as the user's problem to fix, port 0 picks a free one, and the
// URL names the real port.

export async function listen(server: Server, host: string, port: number): Promise<{port: number; base: string}> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(bindError(err, host, port)))
    server.listen(port, host, () => resolve())
  })
  const bound = (server.address() as AddressInfo).port
  return {port: bound, base: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`}
}

/** A port in use or an address this machine does not have is not a bug in ebpfcni: say which and what to pass. */
function bindError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE')
    return new EnvironmentError(
      `${host}:${port} is already in use (another ebpfcni observe --web or metrics, or another server)`,
      '--port N listens on another port, --port 0 on any free one',
    )
  if (err.code === 'EADDRNOTAVAIL')
    return new EnvironmentError(`${host} is not an address of this machine`, '--host 127.0.0.1 is the default')
  if (err.code === 'EACCES')
    return new EnvironmentError(`listening on port ${port} was refused`, '--port N with N above 1023')
  return err
}
