import {AsyncLocalStorage} from 'node:async_hooks'

// Which check is running, for what it makes: a pod made while a check runs is the check's, and
// observe marks its flows as a check's (pod-history.ts). Set by the check engine around each check.

const scope = new AsyncLocalStorage<string>()

/** Run `fn` as check `id`: whatever it makes (pods, through any runtime) is recorded as that check's. */
export const runInCheck = <T>(id: string, fn: () => T): T => scope.run(id, fn)

/** The check running now (its id), or undefined outside a check run. */
export const currentCheck = (): string | undefined => scope.getStore()
