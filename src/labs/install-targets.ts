import {CNI_BIN_DIR, CNI_CONF_DIR} from '../host/paths.js'

/** Where a lab's workspace files are installed for a runtime to find them. */
export interface InstallTargets {
  cniBinDir: string
  cniConfDir: string
}

/** The real CNI directories, unless the environment points the tool elsewhere (tests). */
export const realTargets = (): InstallTargets => ({
  cniBinDir: process.env.EBPFCNI_CNI_BIN_DIR ?? CNI_BIN_DIR,
  cniConfDir: process.env.EBPFCNI_CNI_CONF_DIR ?? CNI_CONF_DIR,
})
