import {defineConfig} from 'vitest/config'

// Integration tests share one kernel (netns, links, pins): run files one at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
})
