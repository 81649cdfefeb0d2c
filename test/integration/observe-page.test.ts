import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa, type ResultPromise} from 'execa'
import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import type {Browser, Page} from 'playwright-core'
import {tempStateDir, repoRoot, requireBuilt, requireRoot, uniq, cliRunner, cliBin} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'
import {prepareObserveNode} from '../helpers/policy-node.js'

// The projector page of `ebpfcni observe --web`, in Chromium at the room's 1280×720: lab 4's
// NetworkPolicy program, three pods, a policy; then what the room sees. No favicon 404; the flow
// table above the fold in a font read from the back; the legend; pause and resume; one row per
// packet with xdp_prog's and to_pod's verdicts; repeats grouped; IPv6 rows named by pod; Hubble's
// filters from the URL and from the page's form, and a filter that does not parse.

const CHROMIUM = '/usr/bin/chromium'

interface Row {
  cls: string
  count: number
  time: string
  cells: string[]
}

describe('observe --web: the page for a room', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `op${id}`
  const pinDir = `/sys/fs/bpf/ebpfcni-op${id}`
  const [W, C, O] = [`web${id}`, `cli${id}`, `oth${id}`]
  // Install targets of its own: reset --all would otherwise find the machine's 10-ebpfcni.conf and
  // remove its bridge and veths, which belong to whoever else uses this machine.
  const env = {
    EBPFCNI_STATE_DIR: t.dir,
    CI: 'true',
    EBPFCNI_CNI_BIN_DIR: join(t.dir, 'bin'),
    EBPFCNI_CNI_CONF_DIR: join(t.dir, 'net.d'),
  }
  const cli = cliRunner(env)
  let before: Awaited<ReturnType<typeof hostSnapshot>>
  let observe: ResultPromise | undefined
  let browser: Browser
  let url = ''

  const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000) => {
    const end = Date.now() + ms
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  /** The table as the room reads it: each row's class, count, time and cells' text. */
  const rowsOf = (page: Page): Promise<Row[]> =>
    page.$$eval('#flows tr', (trs) =>
      trs.map((tr) => ({
        cls: tr.className,
        count: Number((tr as HTMLElement).dataset.count),
        time: (tr as HTMLElement).dataset.time ?? '',
        cells: [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''),
      })),
    )
  /** The denied probe's SYN: other -> web:80, xdp_prog FORWARDED, to_pod DROPPED, isolated. */
  const deniedSyn = (r: Row) =>
    r.cells[1].startsWith(O) && r.cells[2] === `${W}:80` && r.cells[3] === 'TCP SYN' && r.cls === 'DROPPED'
  const open = async (query = '') => {
    const page = await browser.newPage({viewport: {width: 1280, height: 720}})
    const bad: string[] = []
    page.on('response', (r) => void (r.status() >= 400 && bad.push(`${r.status()} ${r.url()}`)))
    page.on('request', (r) => void (r.url().startsWith(url) || r.url().startsWith('data:') || bad.push(r.url())))
    await page.goto(url + query)
    return {page, bad}
  }

  /** A probe to web from `from`, which must pass or fail as the policy says (exit 1 and ✘ when denied). */
  const probe = async (from: string, passes: boolean) => {
    const r = await cli(['pod', 'probe', from, W])
    expect(r.exitCode, r.stdout + r.stderr).toBe(passes ? 0 : 1)
    expect(r.stdout).toMatch(passes ? /✔/ : /✘/)
  }
  /** observe --web in the background; its URL once it serves. */
  const serve = async (args: string[]): Promise<string> => {
    observe = execa('node', [cliBin, 'observe', '--pin-dir', pinDir, '--web', ...args], {
      reject: false,
      env,
      stdin: 'ignore',
      timeout: 300_000,
    })
    const err: string[] = []
    observe.stderr?.on('data', (d: Buffer) => err.push(d.toString()))
    await until('the server', () => /http:\/\/127\.0\.0\.1:\d+\//.test(err.join('')))
    return /http:\/\/127\.0\.0\.1:\d+\//.exec(err.join(''))![0]
  }

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: bash scripts/setup.sh --test-tools installs Debian's chromium`)
    before = await hostSnapshot()
    await prepareObserveNode(cli, {
      dir: t.dir,
      name: `p${id}`,
      bridge,
      subnet: '10.234.0.0/24',
      pinDir,
      pods: [W, C, O],
    })
    url = await serve(['--port', '0'])
    const {chromium} = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    if (observe) {
      observe.kill('SIGINT')
      await observe
    }
    await cli(['reset', '--all', '--yes'])
    await deleteLinkQuietly(bridge)
    rmSync(pinDir, {recursive: true, force: true})
    t.cleanup()
  })

  it('no 404, not even the favicon; the table above the fold at 1280×720 in a font read from the back; the legend', async () => {
    const {page, bad} = await open()
    await page.waitForSelector('#status:text("live")')
    await expect
      .poll(() => page.locator('#topology').innerText(), {timeout: 20_000})
      .toMatch(new RegExp(`${W} 10\\.234\\.0\\.\\d+ app=web`))
    // Timed from before the probe to the dropped SYN's row (a figure; timing belongs to the bench).
    const seen = page
      .waitForFunction(
        (o) =>
          [...document.querySelectorAll<HTMLTableRowElement>('#flows tr.DROPPED')].find(
            (tr) => tr.cells[1].textContent?.startsWith(o) && tr.cells[3].textContent === 'TCP SYN',
          )?.dataset.time ?? false,
        O,
        {timeout: 30_000, polling: 10},
      )
      .then(async (h) => ({at: Date.now(), time: String(await h.jsonValue())}))
    await probe(O, false)
    const first = await seen
    expect((await rowsOf(page)).find(deniedSyn), JSON.stringify(await rowsOf(page))).toBeDefined()
    console.log(
      `observe --web: the dropped SYN's row appeared ${first.at - Date.parse(first.time)} ms after the packet`,
    )

    // The first rows are inside the 720 px, and the table's text is at least 18 px.
    const boxes = await page.$$eval('#flows tr', (trs) =>
      trs.slice(0, 3).map((tr) => tr.getBoundingClientRect().bottom),
    )
    expect(boxes.length).toBeGreaterThan(0)
    for (const bottom of boxes) expect(bottom).toBeLessThanOrEqual(720)
    const px = await page.$eval('#flows td', (td) => parseFloat(getComputedStyle(td).fontSize))
    expect(px).toBeGreaterThanOrEqual(18)
    const heading = await page.$eval(
      '#flows',
      (b) => b.closest('table')!.querySelector('th')!.getBoundingClientRect().top,
    )
    console.log(
      `observe --web at 1280×720: table font ${px} px, header at ${Math.round(heading)} px, first rows end at ${boxes.map(Math.round).join(', ')} px`,
    )
    const legend = await page.locator('#legend').innerText()
    expect(legend).toMatch(/xdp_prog: the sender's program \(XDP: leaving its pod\)/)
    expect(legend).toMatch(/to_pod: the receiver's program \(TC: entering its pod\)/)
    expect(legend).toMatch(/FORWARDED passed · DROPPED dropped/)
    expect(await page.locator('#legend').isVisible()).toBe(true)
    expect(await page.getAttribute('link[rel=icon]', 'href')).toMatch(/^data:image\/svg\+xml,/)
    // A browser that asks for /favicon.ico anyway gets "no content", not a 404.
    expect((await fetch(new URL('/favicon.ico', url))).status).toBe(204)
    mkdirSync(join(repoRoot, 'test-results'), {recursive: true})
    const shot = join(repoRoot, 'test-results/observe-web-1280x720.png')
    await page.screenshot({path: shot})
    console.log(`observe --web screenshot at 1280×720 during a deny: ${shot}`)
    expect(bad, 'a request failed or left the machine').toEqual([])
    await page.close()
  }, 90_000)

  it("one row per packet with both programs' verdicts, and repeated packets grouped on it", async () => {
    const {page} = await open()
    await page.waitForSelector('#status:text("live")')
    await until('the earlier probe on the page', async () => (await rowsOf(page)).some(deniedSyn))
    const counted = (rows: Row[]) => rows.filter(deniedSyn).reduce((n, r) => n + r.count, 0)
    const earlier = await rowsOf(page)
    for (let i = 0; i < 2; i++) await probe(O, false)
    await until('both probes counted', async () => counted(await rowsOf(page)) >= counted(earlier) + 2)
    const rows = await rowsOf(page)
    // One row for both probes (the earlier one's, if it was less than 30 s ago): not one per SYN,
    // and not one per program.
    expect(rows.filter(deniedSyn).length, JSON.stringify(rows)).toBeLessThanOrEqual(
      earlier.filter(deniedSyn).length + 1,
    )
    const syn = rows.find(deniedSyn)!
    expect(syn.count).toBeGreaterThanOrEqual(2)
    expect(syn.cells[0]).toMatch(/^×\d+ last \d\d:\d\d:\d\d$/)
    expect(syn.cells[1]).toBe(O) // different source ports: the grouped row names none
    expect(syn.cells.slice(4, 6)).toEqual(['FORWARDED', 'DROPPED'])
    expect(syn.cells[6]).toMatch(
      new RegExp(
        `^isolated, no rule allows it \\(policy web-from-client-80: allows app=client only; the sender ${O} has app=other\\) · xdp_prog: no rule applies`,
      ),
    )
    // Allowed traffic: the SYN passed both programs, on one row.
    await probe(C, true)
    await until('the allowed SYN', async () =>
      (await rowsOf(page)).some((r) => r.cells[1].startsWith(C) && r.cells[3] === 'TCP SYN' && r.cls === 'FORWARDED'),
    )
    const allowed = (await rowsOf(page)).find((r) => r.cells[1].startsWith(C) && r.cells[3] === 'TCP SYN')!
    expect(allowed.cells.slice(4, 7)).toEqual([
      'FORWARDED',
      'FORWARDED',
      expect.stringMatching(/^allowed by a port rule \(policy web-from-client-80\)/),
    ])
    await page.close()
  }, 90_000)

  it('IPv6 rows name the pod whose veth they ran on, grouped', async () => {
    const {page} = await open()
    await page.waitForSelector('#status:text("live")')
    // All-nodes multicast from other: the bridge floods it to web and client, whose to_pod drops it.
    const ping = await cli(['pod', 'exec', O, '--', 'ping', '-6', '-c', '4', '-i', '0.3', '-W', '1', 'ff02::1%eth0'])
    expect(ping.exitCode, ping.stderr + ping.stdout).toBe(0)
    const v6 = (r: Row) => r.cells[3] === 'IPv6' && r.cells[6].startsWith('not IPv4')
    await until('IPv6 rows for web', async () =>
      (await rowsOf(page)).some((r) => v6(r) && r.cells[2] === W && r.count >= 4),
    )
    const rows = (await rowsOf(page)).filter(v6)
    expect(rows.length).toBeGreaterThan(0)
    // Every IPv6 row names a pod of the test, none a veth.
    for (const r of rows) expect([O, C, W], JSON.stringify(r)).toContain(r.cells[1] || r.cells[2])
    await page.close()
  }, 60_000)

  it('pause stops new rows; resume shows what arrived meanwhile', async () => {
    const {page} = await open()
    await page.waitForSelector('#status:text("live")')
    await until('the earlier probes on the page', async () => (await rowsOf(page)).some(deniedSyn))
    await page.click('#pause')
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/^paused/)
    const frozen = await rowsOf(page)
    const counted = (rows: Row[]) => rows.filter(deniedSyn).reduce((n, r) => n + r.count, 0)
    await probe(O, false)
    await expect.poll(() => page.locator('#pause').innerText(), {timeout: 20_000}).toMatch(/^resume \([1-9]\d* new\)$/)
    await new Promise((r) => setTimeout(r, 500))
    expect(await rowsOf(page)).toEqual(frozen)
    await page.click('#pause')
    expect(await page.locator('#pause').innerText()).toBe('pause')
    expect(counted(await rowsOf(page))).toBeGreaterThan(counted(frozen))
    expect(await page.locator('#status').innerText()).toBe('live')
    await page.close()
  }, 60_000)

  it("Hubble's filters from the URL and the page's form; a filter that does not parse is said, not guessed", async () => {
    const {page} = await open(`?from-pod=${O}&verdict=dropped`)
    await page.waitForSelector('#status:text("live")')
    expect(await page.inputValue('input[name=from-pod]')).toBe(O)
    expect(await page.locator('#filter-note').innerText()).toBe(`showing only from-pod=${O} verdict=dropped`)
    await probe(C, true)
    await probe(O, false)
    await until('the dropped SYN', async () => (await rowsOf(page)).some(deniedSyn))
    const rows = await rowsOf(page)
    for (const r of rows) {
      expect(r.cells[1].startsWith(O), JSON.stringify(r)).toBe(true)
      expect(r.cls).toBe('DROPPED')
    }
    // The form: to-pod and port, as a user types them.
    await page.fill('input[name=from-pod]', '')
    await page.fill('input[name=to-pod]', C)
    await page.fill('input[name=port]', '80')
    await page.selectOption('select[name=verdict]', '')
    await Promise.all([page.waitForURL(/to-pod=/), page.click('#filter button[type=submit]')])
    expect(new URL(page.url()).searchParams.get('to-pod')).toBe(C)
    await page.waitForSelector('#status:text("live")')
    await until('the replies to client', async () => (await rowsOf(page)).length > 0)
    for (const r of await rowsOf(page)) {
      expect(r.cells[2].startsWith(C), JSON.stringify(r)).toBe(true)
      expect(r.cells[1]).toMatch(/:80$/)
    }
    // Broken input: the page says which parameter and why, and shows no flows.
    await page.goto(url + '?port=http')
    await expect
      .poll(() => page.locator('#filter-error').innerText())
      .toBe('not a filter: port: "http" is not a port number (1-65535)')
    expect(await page.locator('#status').innerText()).toBe('no flows: fix the filter')
    expect(await page.locator('#flows tr').count()).toBe(0)
    const refused = await fetch(new URL('/flows?port=http', url))
    expect(refused.status).toBe(400)
    await page.close()
  }, 90_000)

  it('a deny written over an allow policy, then removed: every DROPPED row names what decided it then, also after a restart', async () => {
    // The allow policy web-from-client-80 is applied; `policy deny` client web, probes, `policy remove`.
    const policyRun = (args: string[]) => cli(['policy', ...args, '--pin-dir', pinDir])
    const since = new Date().toISOString()
    expect((await policyRun(['deny', C, W])).exitCode).toBe(0)
    try {
      for (let i = 0; i < 2; i++) await probe(C, false)
      await probe(O, false)
    } finally {
      expect((await policyRun(['remove', C, W])).exitCode).toBe(0)
    }
    await probe(C, true)
    await probe(O, false)
    const isolatedWhy = `isolated, no rule allows it (policy web-from-client-80: allows app=client only; the sender ${O} has app=other)`
    const deniedWhy = `denied by a rule for every port (rule deny ${C} → ${W})`
    /** The name beside every DROPPED row since the deny: the rule for client's, the policy for other's. */
    const checkDropped = async (page: Page) => {
      const dropped = (await rowsOf(page)).filter((r) => r.cls === 'DROPPED')
      const fromC = dropped.filter((r) => r.cells[1].startsWith(C))
      const fromO = dropped.filter((r) => r.cells[1].startsWith(O) && r.cells[2].startsWith(W))
      expect(fromC.length, JSON.stringify(dropped)).toBeGreaterThan(0)
      expect(fromO.length, JSON.stringify(dropped)).toBeGreaterThan(0)
      for (const r of fromC) {
        expect(r.cells[4], JSON.stringify(r)).toBe('DROPPED') // at the source: the deny is xdp_prog's
        expect(r.cells[6], JSON.stringify(r)).toMatch(new RegExp(`^${deniedWhy.replace(/[()]/g, '\\$&')}`))
        expect(r.cells[6]).not.toMatch(/web-from-client-80/)
      }
      for (const r of fromO)
        expect(r.cells[6], JSON.stringify(r)).toMatch(new RegExp(`^${isolatedWhy.replace(/[()]/g, '\\$&')}`))
      return dropped.length
    }
    const query = `?since=${encodeURIComponent(since)}&verdict=dropped`
    const {page} = await open(query)
    await page.waitForSelector('#status:text("live")')
    await until('the denied rows', async () => (await rowsOf(page)).some((r) => r.cells[1].startsWith(C)))
    await checkDropped(page)
    // observe restarted after the rule is gone: the earlier rows are named again from the history, and keep their names.
    observe!.kill('SIGINT')
    expect((await observe!).exitCode).toBe(130)
    expect(await serve(['--port', new URL(url).port, '--last', '500'])).toBe(url)
    const again = await open(query)
    await again.page.waitForSelector('#status:text("live")')
    await until('the history on the page', async () => (await rowsOf(again.page)).some((r) => r.cells[1].startsWith(C)))
    await new Promise((r) => setTimeout(r, 1000)) // past the wait for a to_pod partner
    expect(await checkDropped(again.page)).toBeGreaterThan(0)
    await Promise.all([page.close(), again.page.close()])
  }, 120_000)

  it('a second page on the same port exits 2 with --port N as the fix, not 70', async () => {
    const busy = await cli(['observe', '--pin-dir', pinDir, '--web', '--port', new URL(url).port])
    expect(busy.exitCode, busy.stderr).toBe(2)
    expect(busy.stderr).toMatch(/127\.0\.0\.1:\d+ is already in use/)
    expect(busy.stderr).toMatch(/--port N listens on another port, --port 0 on any free one/)
    expect(busy.stderr).not.toMatch(/bug|at .*\.js:\d+/)
  })

  it('a page that reconnects to a restarted observe counts its history once, as a new page does', async () => {
    const {page} = await open()
    await page.waitForSelector('#status:text("live")')
    await until('the earlier probes', async () => (await rowsOf(page)).some(deniedSyn))
    const counted = (rows: Row[]) => rows.filter(deniedSyn).reduce((n, r) => n + r.count, 0)
    observe!.kill('SIGINT')
    expect((await observe!).exitCode).toBe(130)
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/^disconnected/)
    // The same port, with history: the page's EventSource reconnects and receives it again.
    expect(await serve(['--port', new URL(url).port, '--last', '200'])).toBe(url)
    await page.waitForSelector('#status:text("live")', {timeout: 20_000})
    const fresh = await open()
    await fresh.page.waitForSelector('#status:text("live")')
    await new Promise((r) => setTimeout(r, 1000)) // both past the wait for a to_pod partner
    const [again, anew] = [counted(await rowsOf(page)), counted(await rowsOf(fresh.page))]
    expect(anew).toBeGreaterThan(0)
    expect(again).toBe(anew)
    await Promise.all([page.close(), fresh.page.close()])
  }, 60_000)

  it('leaves nothing once reset', async () => {
    await browser.close()
    observe!.kill('SIGINT')
    expect((await observe!).exitCode).toBe(130)
    observe = undefined
    expect((await cli(['reset', '--all', '--yes'])).exitCode).toBe(0)
    await deleteLinkQuietly(bridge)
    rmSync(pinDir, {recursive: true, force: true})
    expect(await hostSnapshot()).toEqual(before)
  })
})
