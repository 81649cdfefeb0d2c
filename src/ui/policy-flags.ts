import {Flags} from '@oclif/core'
import {BPF_PIN_ROOT} from '../host/paths.js'

/** Flags every `policy` command shares. */
export const pinDirFlag = {'pin-dir': Flags.string({description: 'Where lab 4\'s maps are pinned.', default: BPF_PIN_ROOT})}
