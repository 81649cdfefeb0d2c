import chalk from 'chalk'

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']

/**
 * Shows what a check is doing once it has run for more than `afterMs`: a spinner with its title on
 * a terminal (redrawn in place, erased when it ends), one "still running" line elsewhere. Quick
 * checks show nothing, so a fast loop stays quiet.
 */
export class SlowCheckSpinner {
  private delay?: NodeJS.Timeout
  private frames?: NodeJS.Timeout
  private drawn = false

  constructor(
    private readonly log: (line: string) => void,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly afterMs = 1000,
  ) {}

  start(title: string): void {
    this.stop()
    const t0 = performance.now()
    this.delay = setTimeout(() => {
      if (!this.out.isTTY) {
        this.log(chalk.dim(`  … ${title} (still running)`))
        return
      }
      let i = 0
      const draw = () => {
        const s = ((performance.now() - t0) / 1000).toFixed(0)
        this.out.write(`\r\x1b[2K${chalk.cyan(FRAMES[i++ % FRAMES.length])} ${title} ${chalk.dim(`${s} s`)}`)
        this.drawn = true
      }
      draw()
      this.frames = setInterval(draw, 100)
    }, this.afterMs)
  }

  stop(): void {
    clearTimeout(this.delay)
    clearInterval(this.frames)
    if (this.drawn) this.out.write('\r\x1b[2K')
    this.drawn = false
  }
}
