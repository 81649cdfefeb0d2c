import {readJsonOrMoveAside, writeFileAtomic, sweepStaleTemps} from './atomic-file.js'
import {withFileLockSync} from './lock.js'

/**
 * A JSON file shared by concurrent CLI processes: read-modify-write under a lock,
 * written atomically, a corrupt file moved aside with a warning instead of crashing.
 */
export class LockedJsonFile<T> {
  constructor(
    private readonly path: string,
    private readonly isValid: (v: unknown) => v is T,
    private readonly empty: () => T,
    private readonly onMovedAside: (aside: string) => void,
  ) {}

  read(): T {
    const {value, movedAside} = readJsonOrMoveAside(this.path, this.isValid)
    if (movedAside) this.onMovedAside(movedAside)
    return value ?? this.empty()
  }

  mutate<R>(fn: (file: T) => R): R {
    return withFileLockSync(`${this.path}.lock`, () => {
      sweepStaleTemps(this.path)
      const file = this.read()
      const result = fn(file)
      writeFileAtomic(this.path, JSON.stringify(file, null, 1) + '\n')
      return result
    })
  }
}
