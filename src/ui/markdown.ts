import chalk from 'chalk'

/** Light Markdown for the terminal: headings, code blocks, inline code, bold. Enough for step texts. */
export function renderMarkdown(md: string): string {
  let inCode = false
  return md
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) {
        inCode = !inCode
        return chalk.dim(inCode ? '  ┌─' : '  └─')
      }
      if (inCode) return `  ${chalk.cyan(line)}`
      if (/^#{1,3} /.test(line)) return chalk.bold.underline(line.replace(/^#+ /, ''))
      return line.replace(/\*\*([^*]+)\*\*/g, (_, t: string) => chalk.bold(t)).replace(/`([^`]+)`/g, (_, t: string) => chalk.cyan(t))
    })
    .join('\n')
}
