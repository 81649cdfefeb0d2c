// Writes oclif.manifest.json so `ebpfcni --help` and command lookup need not import every command.
// (@oclif/core's own Plugin loader; avoids the large `oclif` CLI as a dependency.)
import {Plugin} from '@oclif/core'
import {writeFileSync, rmSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {dirname, join} from 'node:path'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
rmSync(join(root, 'oclif.manifest.json'), {force: true})
const plugin = new Plugin({root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, isRoot: true})
await plugin.load()
writeFileSync(join(root, 'oclif.manifest.json'), JSON.stringify(plugin.manifest, null, 2) + '\n')
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`)
