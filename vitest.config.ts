import {defineConfig} from 'vitest/config'
import {fileURLToPath} from 'node:url'

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url))

// Integration tests share one kernel (netns, links, pins): in one vitest run their files run one at a
// time, after the unit files (which run in parallel: they share nothing). scripts/test.sh runs several
// such runs at once, each in a private host of its own (scripts/private-host.sh, test-shards.mjs).
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
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      // Unit tests touch no kernel object (no netns, link, pin or CNI dir; temp dirs of their own):
      // their files run two at a time, and all of them before the first integration file.
      {
        extends: true,
        test: {name: 'unit', include: ['test/unit/**/*.test.ts'], maxWorkers: 2, sequence: {groupOrder: 0}},
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'labs/*/test/**/*.test.ts'],
          fileParallelism: false,
          sequence: {groupOrder: 1},
        },
      },
    ],
  },
})
