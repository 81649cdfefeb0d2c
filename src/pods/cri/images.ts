import {createHash, randomUUID} from 'node:crypto'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import {join} from 'node:path'
import {run, ok, describeRun} from '../../host/exec.js'
import {busyboxRootfs, stateDir} from '../../host/paths.js'
import {EnvironmentError} from '../../host/errors.js'

// Images without a registry: an OCI image archive (layer tar, config, manifest, index) built from
// the busybox rootfs setup made, imported into containerd's k8s.io namespace (the one the CRI
// plugin reads). One image serves as the sandbox ("pause") image and as the workload image.

/** The sandbox image the CRI config names instead of registry.k8s.io/pause (which cannot be pulled here). */
export const SANDBOX_IMAGE = 'ebpfcni.local/pause:1'
/** The workload image: busybox httpd serving /get, or sleep. */
export const WORKLOAD_IMAGE = 'ebpfcni.local/busybox:1'

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const GOARCH: Record<string, string> = {x64: 'amd64', arm64: 'arm64'}

/** What busybox httpd serves at /get in CRI pods, like the netns runtime's httpbin. */
export const GET_BODY = '{"url": "/get", "served-by": "busybox httpd"}\n'

/** Bump when the archive's layout or packing changes: cached archives of the old layout are not reused. */
const ARCHIVE_FORMAT = 1
const platformArch = (): string => GOARCH[process.arch] ?? process.arch
/** The image's own config (what runs, its environment), without the layer it describes. */
const imageRuntimeConfig = () => ({
  config: {Entrypoint: ['/bin/busybox', 'sleep', '2147483647'], Env: ['PATH=/bin:/sbin'], WorkingDir: '/'},
  history: [{created_by: 'ebpfcni: busybox-static rootfs'}],
})

interface Blob {
  digest: string
  size: number
  mediaType: string
}

/**
 * Build one OCI image archive holding both image names. The layer is the busybox rootfs plus the
 * page httpd serves; entrypoint `sleep` makes a sandbox that holds the pod's namespaces.
 */
export async function buildImageArchive(outFile: string): Promise<void> {
  const rootfs = busyboxRootfs()
  if (!existsSync(join(rootfs, 'bin/busybox')))
    throw new EnvironmentError(`the busybox rootfs ${rootfs} is missing`, 'bash scripts/setup.sh builds it')
  const work = mkdtempSync(join(outFile + '.build-'))
  try {
    const blobs = join(work, 'blobs/sha256')
    mkdirSync(blobs, {recursive: true})
    // The layer: the rootfs with a page to serve, in a stable order with neutral owners and times.
    const layerDir = join(work, 'layer')
    const cp = await run('cp', ['-a', `${rootfs}/.`, layerDir], {timeoutMs: 60_000})
    if (!ok(cp)) throw new Error(`copying the busybox rootfs: ${describeRun(cp)}`)
    mkdirSync(join(layerDir, 'var/www'), {recursive: true})
    writeFileSync(join(layerDir, 'var/www/get'), GET_BODY)
    const layerTar = join(work, 'layer.tar')
    const tar = await run(
      'tar',
      ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-cf', layerTar, '-C', layerDir, '.'],
      {timeoutMs: 60_000},
    )
    if (!ok(tar)) throw new Error(`packing the image layer: ${describeRun(tar)}`)
    const layerBytes = readFileSync(layerTar)
    const layer = put(blobs, layerBytes, 'application/vnd.oci.image.layer.v1.tar')
    const config = put(
      blobs,
      JSON.stringify({
        architecture: platformArch(),
        os: 'linux',
        config: imageRuntimeConfig().config,
        rootfs: {type: 'layers', diff_ids: [`sha256:${layer.digest}`]},
        history: imageRuntimeConfig().history,
      }),
      'application/vnd.oci.image.config.v1+json',
    )
    const manifest = put(
      blobs,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: desc(config),
        layers: [desc(layer)],
      }),
      'application/vnd.oci.image.manifest.v1+json',
    )
    const platform = {architecture: platformArch(), os: 'linux'}
    const named = (name: string) => ({
      ...desc(manifest),
      platform,
      annotations: {'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':')[1]},
    })
    writeFileSync(
      join(work, 'index.json'),
      JSON.stringify({schemaVersion: 2, manifests: [named(SANDBOX_IMAGE), named(WORKLOAD_IMAGE)]}),
    )
    writeFileSync(join(work, 'oci-layout'), JSON.stringify({imageLayoutVersion: '1.0.0'}))
    const pack = await run(
      'tar',
      [
        '--sort=name',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--mtime=@0',
        '-cf',
        outFile,
        '-C',
        work,
        'oci-layout',
        'index.json',
        'blobs',
      ],
      {timeoutMs: 60_000},
    )
    if (!ok(pack)) throw new Error(`packing the image archive: ${describeRun(pack)}`)
  } finally {
    rmSync(work, {recursive: true, force: true})
  }

  function put(dir: string, content: Buffer | string, mediaType: string): Blob {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content
    const digest = sha256(bytes)
    writeFileSync(join(dir, digest), bytes)
    return {digest, size: bytes.length, mediaType}
  }
  function desc(b: Blob) {
    return {mediaType: b.mediaType, digest: `sha256:${b.digest}`, size: b.size}
  }
}

/**
 * The image archive, built once into the state dir's cache (beside the BPF objects) and reused by every
 * containerd this tool starts: its state dir, images included, goes at the end of each run, the archive
 * need not. Named by a hash of all it is built from (the rootfs's names, modes, links and bytes, the
 * page, the image's config and names, the format), so a rebuilt rootfs or an upgrade builds a new one.
 * Written under another name and renamed: a run never imports a half-written archive.
 */
export async function cachedImageArchive(): Promise<string> {
  const rootfs = busyboxRootfs()
  const hash = createHash('sha256').update(
    JSON.stringify({
      format: ARCHIVE_FORMAT,
      arch: platformArch(),
      names: [SANDBOX_IMAGE, WORKLOAD_IMAGE],
      page: GET_BODY,
      image: imageRuntimeConfig(),
    }),
  )
  if (existsSync(rootfs))
    for (const rel of (readdirSync(rootfs, {recursive: true}) as string[]).sort()) {
      const path = join(rootfs, rel)
      const st = lstatSync(path)
      hash.update(`\0${rel}\0${st.mode}\0${st.uid}:${st.gid}:${st.rdev}\0`)
      if (st.isSymbolicLink()) hash.update(readlinkSync(path))
      else if (st.isFile()) hash.update(readFileSync(path))
    }
  const dir = join(stateDir(), 'cache')
  const name = `cri-images-${hash.digest('hex').slice(0, 16)}.tar`
  const archive = join(dir, name)
  if (existsSync(archive)) return archive
  // Two pods of one check start at once: they share one build (a second would race the first's rename).
  let build = building.get(archive)
  if (!build) {
    build = buildOnce(dir, name, archive).finally(() => building.delete(archive))
    building.set(archive, build)
  }
  return build
}

/** The archive builds under way in this process, by path. */
const building = new Map<string, Promise<string>>()

async function buildOnce(dir: string, name: string, archive: string): Promise<string> {
  mkdirSync(dir, {recursive: true})
  // Unique per build: another process may build the same archive at the same time.
  const partial = `${archive}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`
  try {
    await buildImageArchive(partial)
    renameSync(partial, archive)
  } finally {
    rmSync(partial, {force: true})
  }
  // The archives of an older rootfs or format are never imported again.
  for (const f of readdirSync(dir))
    if (f.startsWith('cri-images-') && f.endsWith('.tar') && f !== name) rmSync(join(dir, f), {force: true})
  return archive
}

/** Import the archive into the k8s.io namespace of the daemon at `address`, unpacked for `snapshotter`. */
export async function importImages(address: string, archive: string, snapshotter: string): Promise<void> {
  if (!existsSync(archive) || statSync(archive).size === 0) throw new Error(`no image archive at ${archive}`)
  const r = await run(
    'ctr',
    ['--address', address, '--namespace', 'k8s.io', 'images', 'import', '--snapshotter', snapshotter, archive],
    {timeoutMs: 120_000},
  )
  if (r.startError)
    throw new EnvironmentError(
      "ctr (containerd's client) is not installed",
      'apt-get install -y containerd (or bash scripts/setup.sh)',
    )
  if (!ok(r)) throw new Error(`importing the images into containerd: ${describeRun(r)}`)
}
