import chalk from 'chalk'
import {Marked} from 'marked'
import {markedTerminal} from 'marked-terminal'
import {fitTable, stripAnsi, terminalWidth, visibleWidth, wrapLine} from './wrap.js'

// Step texts rendered for the terminal by marked with marked-terminal: headings, lists, tables,
// emphasis, links. Code blocks stay exactly as written (indented, no highlighting or box
// characters inside), so a learner can copy a command straight out of them.
// Everything else fits the terminal: a paragraph or list item is one line wrapped at words to its
// width (the source's own line breaks are spaces, as Markdown says), and a table is reflowed into
// narrower columns, or a list when it cannot fit.

/** Marks a line drawn to fit already (a table): not wrapped again. */
const KEEP = '\uE000'
/** Marks a line of a code block: never wrapped (it is copied into a shell or a file). */
const CODE = '\uE001'

/**
 * A code line wider than the terminal keeps its words as written; a trailing comment (shell `#`
 * after two spaces, C's `/* … *\/` or `//`) moves to a line of its own above it, valid the same.
 */
export function fitCodeLine(line: string, width: number): string[] {
  if (visibleWidth(line) <= width) return [line]
  const plain = stripAnsi(line)
  const m = plain.match(/^(\s*)(\S.*?)(?: {2,}(#.*)|\s+(\/\*.*\*\/|\/\/.*))$/)
  return m ? [m[1] + (m[3] ?? m[4]), m[1] + m[2]] : [line]
}

/** Inline text as marked-terminal leaves it inside a table cell: its colon guard and entities undone. */
const cellText = (s: string): string =>
  s
    .replace(/\*#COLON\|\*/g, ':')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/\s+/g, ' ')
    .trim()

type Cell = {tokens: unknown[]}

function renderer(width: number): Marked {
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
      blockquote: style(chalk.dim.italic),
      showSectionPrefix: false,
      reflowText: false,
      tab: 2,
      emoji: false,
    }) as never,
  )
  // marked-terminal prints a list item's text token raw (**bold** and `code` showed as typed):
  // a text token that carries inline tokens is rendered inline, as a paragraph's is.
  marked.use({
    renderer: {
      text(this: {parser: {parseInline(t: unknown[]): string}}, token: {tokens?: unknown[]}) {
        return token.tokens ? this.parser.parseInline(token.tokens) : false
      },
      table(this: {parser: {parseInline(t: unknown[]): string}}, token: {header: Cell[]; rows: Cell[][]}) {
        const cell = (c: Cell) => cellText(this.parser.parseInline(c.tokens))
        const drawn = fitTable(
          token.header.map(cell),
          token.rows.map((r) => r.map(cell)),
          width,
        )
        return `${drawn
          .split('\n')
          .map((l) => KEEP + l)
          .join('\n')}\n\n`
      },
    } as never,
    // A line break in the source is a space (a hard break stays a break): wrapping is the terminal
    // width's business. Code blocks are marked to be kept exactly as written.
    walkTokens(token: {type: string; text?: string}) {
      if ((token.type === 'text' || token.type === 'codespan') && token.text)
        token.text = token.text.replace(/\n/g, ' ')
      if (token.type === 'code' && token.text !== undefined)
        token.text = token.text
          .split('\n')
          .map((l) => CODE + l)
          .join('\n')
    },
  })
  return marked
}

/** A step text (Markdown) for a terminal `width` columns wide (the terminal's own by default). */
export function renderMarkdown(md: string, width = terminalWidth()): string {
  return (renderer(width).parse(md) as string)
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()
    .split('\n')
    .flatMap((l) =>
      l.includes(KEEP)
        ? [l.replaceAll(KEEP, '')]
        : l.includes(CODE)
          ? fitCodeLine(l.replaceAll(CODE, ''), width)
          : wrapLine(l, width),
    )
    .join('\n')
}
