import {defineConfig} from 'vitest/config'
import {fileURLToPath} from 'node:url'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))

// Integration tests share one kernel (netns, links, pins): run files one at a time.
// A lab's tests live in its folder (labs/NN-slug/test/). Run from source, package.json's "imports"
// (#engine/…, #bpf/…, which point into dist/ for the built package) resolve to src/ and test/.
export default defineConfig({
  resolve: {
    alias: [
      // The built CLI loads @oclif/core from one bundled file (scripts/vendor-oclif.mjs); from source, the package.
      {find: /^#oclif$/, replacement: '@oclif/core'},
      {find: /^#engine\/(.*)$/, replacement: here('./src/labs/$1')},
      {find: /^#test\/(.*)$/, replacement: here('./test/$1')},
      {find: /^#([a-z]+)\/(.*)$/, replacement: here('./src/$1/$2')},
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'labs/*/test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
