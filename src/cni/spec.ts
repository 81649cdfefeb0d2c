// The CNI spec's vocabulary (SPEC.md, version 1.1.0): versions, commands, error codes.

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number]
export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS'

export const ERROR_CODES: Record<number, string> = {
  1: 'Incompatible CNI version',
  2: 'Unsupported field in network configuration',
  3: 'Container unknown or does not exist',
  4: 'Invalid necessary environment variables',
  5: 'I/O failure',
  6: 'Failed to decode content',
  7: 'Invalid network config',
  11: 'Try again later',
  50: 'The plugin is not available',
  51: 'The plugin is not available due to limited connectivity',
}

export const describeCode = (code: number): string =>
  ERROR_CODES[code]
    ? `${code} (${ERROR_CODES[code]})`
    : code >= 100
      ? `${code} (plugin-specific)`
      : `${code} (reserved, not defined by the spec)`

const parts = (v: string): number[] => v.split('.').map(Number)
export function compareVersions(a: string, b: string): number {
  const [x, y] = [parts(a), parts(b)]
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
  return 0
}
export const isKnownVersion = (v: unknown): v is CniVersion =>
  typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v)

/** CHECK exists from 0.4.0; GC and STATUS from 1.1.0. */
export const versionHas = (v: string, command: CniCommand): boolean =>
  command === 'CHECK'
    ? compareVersions(v, '0.4.0') >= 0
    : command === 'GC' || command === 'STATUS'
      ? compareVersions(v, '1.1.0') >= 0
      : true

export interface CniInterface {
  name: string
  mac?: string
  mtu?: number
  sandbox?: string
  socketPath?: string
  pciID?: string
}

export interface CniIpConfig {
  address: string
  gateway?: string
  interface?: number
  version?: string
}

export interface CniRoute {
  dst: string
  gw?: string
}

export interface CniResult {
  cniVersion: string
  interfaces?: CniInterface[]
  ips?: CniIpConfig[]
  routes?: CniRoute[]
  dns?: {nameservers?: string[]; domain?: string; search?: string[]; options?: string[]}
}

export interface CniErrorResult {
  cniVersion?: string
  code: number
  msg: string
  details?: string
}

/** Where in SPEC.md a rule lives, for failures that name the section they break. */
export const SPEC_SECTIONS = {
  env: 'SPEC §Parameters (CNI_* environment variables)',
  result: 'SPEC §Success (result types)',
  error: 'SPEC §Error',
  version: 'SPEC §VERSION',
  add: 'SPEC §ADD',
  del: 'SPEC §DEL',
  check: 'SPEC §CHECK',
  chaining: 'SPEC §Section 4: plugin delegation and chaining',
  ipam: 'SPEC §IP Allocation',
  concurrency: 'SPEC §Section 2: Execution Protocol (plugins must handle concurrent calls for different containers)',
} as const
