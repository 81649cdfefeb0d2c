// A one-line "asked 12/50 hosts" on a terminal, rewritten in place; nothing without one (CI logs
// get the result, not a hundred progress lines).

export interface ProgressLine {
  update(text: string): void
  done(): void
}

export function progressLine(out: NodeJS.WriteStream | undefined): ProgressLine {
  if (!out?.isTTY) return {update: () => {}, done: () => {}}
  let shown = false
  return {
    update(text) {
      out.write(`\r\u001b[2K${text}`)
      shown = true
    },
    done() {
      if (shown) out.write('\r\u001b[2K')
    },
  }
}
