import {pinDirFlag as pinDir} from './bpf-flags.js'

/** Flags every `policy` command shares: the same --pin-dir as the bpf commands. */
export const pinDirFlag = {'pin-dir': pinDir}
