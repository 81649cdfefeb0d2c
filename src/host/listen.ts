import type {Server} from 'node:http'
import type {AddressInfo} from 'node:net'

// An HTTP server listening, the one way the tool's servers (metrics exporter, observe --web) do it:
// bind errors (a port in use) reject, port 0 picks a free one, and the URL names the real port.

export async function listen(server: Server, host: string, port: number): Promise<{port: number; base: string}> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const bound = (server.address() as AddressInfo).port
  return {port: bound, base: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`}
}
