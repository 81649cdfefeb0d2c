#!/usr/bin/env node
// Entry point: oclif reads oclif.manifest.json, so --help loads no command module.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
