import {readFileSync} from 'node:fs'
import {request as httpRequest} from 'node:http'
import {request as httpsRequest} from 'node:https'
import {UserError} from '../host/errors.js'

// The few reads the node's policy controller makes of the Kubernetes API: a GET that returns
// JSON, with the pod's service-account token and the cluster's CA (in-cluster), or a URL given
// by hand. No client library: two list calls do not need one.

/** Where a service account's credentials are mounted in every pod (unless automount is off). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

export interface ApiServer {
  url: string
  /** Read on every request: projected service-account tokens are rotated by the kubelet. */
  tokenFile?: string
  ca?: Buffer
}

/** The API server as a pod sees it: KUBERNETES_SERVICE_HOST/PORT and the mounted service account. */
export function inClusterApi(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): ApiServer {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT ?? '443'
  if (!host)
    throw new UserError('not in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set', {
      hint: 'run this in the DaemonSet that ebpfcni export kubernetes writes, or give --api-server URL',
    })
  let ca: Buffer
  try {
    ca = readFileSync(`${dir}/ca.crt`)
  } catch {
    throw new UserError(`no service-account CA at ${dir}/ca.crt`, {
      hint: 'the pod needs automountServiceAccountToken (the exported DaemonSet has it)',
    })
  }
  return {url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, tokenFile: `${dir}/token`, ca}
}

/** An API server's URL given by hand (--api-server), checked: http(s) only. */
export function apiServerUrl(raw: string): string {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new UserError(`--api-server "${raw}" is not a URL`, {hint: 'e.g. http://127.0.0.1:8001 (kubectl proxy)'})
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UserError(`--api-server "${raw}" is not http or https`, {
      hint: 'e.g. http://127.0.0.1:8001 (kubectl proxy)',
    })
  return u.href
}

/** GET `path` from the API server and parse the JSON; an error says what answered, in words. */
export function getJson(api: ApiServer, path: string, timeoutMs = 10_000): Promise<unknown> {
  const url = new URL(path, api.url)
  const headers: Record<string, string> = {accept: 'application/json'}
  if (api.tokenFile) headers.authorization = `Bearer ${readFileSync(api.tokenFile, 'utf8').trim()}`
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  // A connection per poll (agent: false): a kept-alive socket the API server dropped in between
  // would fail the next read with ECONNRESET, an error that is not the server's answer.
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {method: 'GET', headers, ...(api.ca ? {ca: api.ca} : {}), timeout: timeoutMs, agent: false},
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          // A list of every NetworkPolicy is small; anything this large is not what was asked for.
          if (size > 32 * 1024 * 1024) req.destroy(new Error('answer larger than 32 MiB'))
          else chunks.push(c)
        })
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          if (res.statusCode !== 200) {
            let why = body.slice(0, 200)
            try {
              why = (JSON.parse(body) as {message?: string}).message ?? why
            } catch {
              // not a Status object: the raw start of the body says enough
            }
            return reject(new Error(`GET ${url.pathname}: ${res.statusCode} ${res.statusMessage ?? ''}: ${why}`.trim()))
          }
          try {
            resolve(JSON.parse(body))
          } catch {
            reject(new Error(`GET ${url.pathname}: the answer is not JSON (${JSON.stringify(body.slice(0, 60))})`))
          }
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: no answer within ${timeoutMs / 1000} s`)))
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code ? new Error(`GET ${url.href}: ${err.code} (${err.message})`) : err),
    )
    req.end()
  })
}
