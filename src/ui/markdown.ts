import chalk from 'chalk'
import {Marked} from 'marked'
import {markedTerminal} from 'marked-terminal'

// Step texts rendered for the terminal by marked with marked-terminal: headings, lists, tables,
// emphasis, links. Code blocks stay exactly as written (indented, no highlighting or box
// characters inside), so a learner can copy a command straight out of them.

function renderer(): Marked {
  const plain = chalk.level === 0
  const style = (f: (s: string) => string) => (plain ? (s: string) => s : f)
  const marked = new Marked(
    markedTerminal({
      code: (s: string) => s,
      codespan: style(chalk.cyan),
      strong: style(chalk.bold),
      em: style(chalk.italic),
      heading: style(chalk.bold),
      firstHeading: style(chalk.bold.underline),
      link: style(chalk.blue),
      href: style(chalk.blue.underline),
      table: style((s) => s),
      blockquote: style(chalk.dim.italic),
      showSectionPrefix: false,
      reflowText: false,
      tab: 2,
      emoji: false,
      tableOptions: plain ? {style: {head: [], border: []}} : {},
    }) as never,
  )
  // marked-terminal prints a list item's text token raw (**bold** and `code` showed as typed):
  // a text token that carries inline tokens is rendered inline, as a paragraph's is.
  marked.use({
    renderer: {
      text(this: {parser: {parseInline(t: unknown[]): string}}, token: {tokens?: unknown[]}) {
        return token.tokens ? this.parser.parseInline(token.tokens) : false
      },
    } as never,
  })
  return marked
}

export function renderMarkdown(md: string): string {
  return (renderer().parse(md) as string).replace(/\n{3,}/g, '\n\n').trimEnd()
}
